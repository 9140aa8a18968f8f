/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * MigStream: a buffered, byte-counted migration stream over a file
 * descriptor (socket, pipe, file) or over memory (tests, fuzzing, cpr-exec
 * memfd). On UNIX sockets it can carry file descriptors (SCM_RIGHTS).
 *
 * Errors are sticky: after the first failure every put is dropped and every
 * get returns zeroes, and mig_stream_error() reports the first error, so
 * callers check once per record instead of after every byte. Integers are
 * big-endian on the wire.
 *
 * A stream is used by one thread at a time (the migration thread on the
 * source, the main thread on the destination).
 */
#ifndef BATON_MIGRATION_STREAM_H
#define BATON_MIGRATION_STREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <glib.h>

typedef struct MigStream MigStream;

/*
 * Wrap FD (the stream owns it and closes it in mig_stream_close). IS_WRITER
 * picks the direction. CAN_PASS_FDS enables SCM_RIGHTS (UNIX sockets only).
 * NAME is used in error messages ("migration channel 'unix:/tmp/s'").
 */
MigStream *mig_stream_new_fd(int fd, bool is_writer, bool can_pass_fds,
                             const char *name);
/* A reader over a copy of BUF (LEN bytes); FDS (may be NULL) are its queue. */
MigStream *mig_stream_new_mem_reader(const void *buf, size_t len,
                                     const int *fds, unsigned int nfds);
/* A writer into memory; mig_stream_mem_data() returns what was written. */
MigStream *mig_stream_new_mem_writer(void);
const uint8_t *mig_stream_mem_data(MigStream *f, size_t *len);
/* Flush (writers) and close; returns false + errp if anything failed. */
bool mig_stream_close(MigStream *f, GError **errp);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(MigStream, mig_stream_close_noerr)
void mig_stream_close_noerr(MigStream *f);

int mig_stream_fd(MigStream *f);
const char *mig_stream_name(MigStream *f);

/* ---- writing ---- */
void mig_put_u8(MigStream *f, uint8_t v);
void mig_put_be16(MigStream *f, uint16_t v);
void mig_put_be32(MigStream *f, uint32_t v);
void mig_put_be64(MigStream *f, uint64_t v);
void mig_put_buffer(MigStream *f, const void *buf, size_t len);
/* A string as u8 length + bytes (at most 255 bytes, asserted). */
void mig_put_str(MigStream *f, const char *s);
/*
 * Queue FD to travel with the next flushed bytes (SCM_RIGHTS). Fails with
 * a sticky error on streams that cannot pass fds.
 */
void mig_put_fd(MigStream *f, int fd);
bool mig_stream_flush(MigStream *f);

/* ---- reading ---- */
uint8_t mig_get_u8(MigStream *f);
uint16_t mig_get_be16(MigStream *f);
uint32_t mig_get_be32(MigStream *f);
uint64_t mig_get_be64(MigStream *f);
/* Read exactly LEN bytes; short read → sticky error. */
void mig_get_buffer(MigStream *f, void *buf, size_t len);
/* Read a u8-length string into BUF (nul-terminated, BUF has 256 bytes). */
void mig_get_str(MigStream *f, char buf[256]);
/* Next received descriptor, in order; -1 + sticky error if none arrived. */
int mig_get_fd(MigStream *f);
/* True at a clean end of stream (no partial data). */
bool mig_stream_eof(MigStream *f);

/* ---- state ---- */
/* First error, or NULL. The stream keeps ownership. */
const GError *mig_stream_error(MigStream *f);
/* Set the sticky error (first one wins); takes ownership of ERR. */
void mig_stream_set_error(MigStream *f, GError *err);
/* Copy the sticky error into errp (with a prefix); false if there was one. */
bool mig_stream_check(MigStream *f, GError **errp);
/* Bytes written (after flush) or consumed so far. */
uint64_t mig_stream_bytes(MigStream *f);

/*
 * Rate limit for writers: at most BYTES_PER_SEC (0 = unlimited). The
 * writer sleeps in mig_stream_flush() when over budget, in slices short
 * enough that cancellation is noticed (mig_stream_shutdown()).
 */
void mig_stream_set_rate_limit(MigStream *f, uint64_t bytes_per_sec);
/* Make blocked and future I/O fail at once (cancel); thread-safe. */
void mig_stream_shutdown(MigStream *f);

#endif
