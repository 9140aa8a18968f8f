/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The migration-stream fuzz target's entry points, shared by the libFuzzer
 * build and the standalone driver that `make check` runs.
 */
#ifndef BATON_TESTS_FUZZ_MIGRATION_H
#define BATON_TESTS_FUZZ_MIGRATION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <glib.h>

/* libFuzzer's interface (also called by tests/fuzz/standalone-main.c). */
int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max_size,
                               unsigned int seed);
/* Provided by libFuzzer itself. */
size_t LLVMFuzzerMutate(uint8_t *data, size_t size, size_t max_size);

/* Valid streams of the target's sections in several states (GBytes). */
GPtrArray *fuzz_migration_seeds(void);
/*
 * Rewrite every complete record's CRC so mutations get past the checksum
 * and reach the parsers behind it.
 */
void fuzz_migration_fix_crcs(uint8_t *data, size_t len);
/* Whether the last LLVMFuzzerTestOneInput() loaded successfully. */
bool fuzz_migration_last_ok(void);
/* The last input's error message, or NULL. */
const char *fuzz_migration_last_error(void);

#endif
