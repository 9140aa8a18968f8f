# SPDX-License-Identifier: GPL-2.0-or-later
# Thin front end: the build itself is meson + ninja (see ./configure).
BUILD ?= build
# ASan+UBSan build of the same tree: `make check` runs the unit, fuzz and
# qtest-based tests there too (docs/devel/testing.md).
SAN_BUILD ?= build-san

.PHONY: all san deps check demo bench clean

all: $(BUILD)/build.ninja
	ninja -C $(BUILD)

$(BUILD)/build.ninja:
	@scripts/install-deps.sh
	./configure --builddir=$(BUILD)

san: $(SAN_BUILD)/build.ninja
	ninja -C $(SAN_BUILD)

$(SAN_BUILD)/build.ninja:
	@scripts/install-deps.sh
	./configure --builddir=$(SAN_BUILD) -Db_sanitize=address,undefined

deps:
	@scripts/install-deps.sh

check: deps all san
	scripts/run-tests.sh --sanitized $(SAN_BUILD) $(BUILD)

demo: deps all
	scripts/demo.sh $(BUILD)

bench: deps all
	scripts/run-bench.sh $(BUILD)

# Long libFuzzer run of the migration stream loader (clang, own build dir):
# make fuzz FUZZ_SECONDS=600. `make check` runs a short standalone pass.
FUZZ_SECONDS ?= 300
.PHONY: fuzz
fuzz: deps
	scripts/fuzz.sh $(FUZZ_SECONDS)

clean:
	rm -rf $(BUILD) $(SAN_BUILD)
