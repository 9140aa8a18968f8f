# SPDX-License-Identifier: GPL-2.0-or-later
# Thin front end: the build itself is meson + ninja (see ./configure).
BUILD ?= build

.PHONY: all deps check demo bench clean

all: $(BUILD)/build.ninja
	ninja -C $(BUILD)

$(BUILD)/build.ninja:
	@scripts/install-deps.sh
	./configure --builddir=$(BUILD)

deps:
	@scripts/install-deps.sh

check: deps all
	scripts/run-tests.sh $(BUILD)

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
	rm -rf $(BUILD)
