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
#include <sys/uio.h>

#include <glib.h>

typedef struct MigStream MigStream;

/*
 * Wrap FD (the stream owns it and closes it in mig_stream_close). IS_WRITER
 * picks the direction. CAN_PASS_FDS enables SCM_RIGHTS (UNIX sockets only).
 * NAME is used in error messages ("migration channel 'unix:/tmp/s'").
 */
MigStream *mig_stream_new_fd(int fd, bool is_writer, bool can_pass_fds,
                             const char *name);
/*
 * A reader over a copy of BUF (LEN bytes); FDS (may be NULL; the caller
 * keeps them) are duplicated into its queue of received descriptors.
 */
MigStream *mig_stream_new_mem_reader(const void *buf, size_t len,
                                     const int *fds, unsigned int nfds);
/* A writer into memory; mig_stream_mem_data() returns what was written. */
MigStream *mig_stream_new_mem_writer(void);
const uint8_t *mig_stream_mem_data(MigStream *f, size_t *len);
/*
 * A memory writer whose mig_put_fd() notes each fd (the caller's, not a
 * duplicate: it must stay open while the stream is used):
 * mig_stream_mem_fds() lists them in order, for a record whose
 * descriptors travel apart from its bytes (CPR sections).
 */
MigStream *mig_stream_new_mem_fd_writer(void);
const int *mig_stream_mem_fds(MigStream *f, unsigned int *n);
/*
 * Memory streams that share PARENT's descriptor queue, for parsing or
 * building one record of PARENT's stream (migration/savevm.c): a child
 * reader takes mig_get_fd() from what PARENT received, a child writer's
 * mig_put_fd() queues on PARENT (the fd travels with PARENT's next flush).
 * The child reader does NOT copy BUF, which must outlive it. PARENT must
 * outlive the child. Errors stay on the child.
 */
MigStream *mig_stream_new_mem_child_reader(MigStream *parent, const void *buf,
                                           size_t len);
MigStream *mig_stream_new_mem_child_writer(MigStream *parent);
/*
 * Memory writers: the length of what was written, and each piece of it in
 * order (REF: a piece put with mig_put_buffer_ref(), not copied).
 * mig_stream_mem_data() is only for writers that hold no references.
 */
size_t mig_stream_mem_len(MigStream *f);
bool mig_stream_mem_has_refs(MigStream *f);
typedef void (*MigStreamPieceFn)(const void *p, size_t len, bool ref,
                                 void *opaque);
void mig_stream_mem_foreach(MigStream *f, MigStreamPieceFn fn, void *opaque);
/* A reference a memory child writer holds (stream.c's business). */
typedef struct MigStreamRef {
    size_t at;
    const void *ptr;
    size_t len;
} MigStreamRef;
/* Memory writers: forget what was written (the byte counter keeps going). */
void mig_stream_mem_reset(MigStream *f);
/*
 * Memory readers: bytes not yet consumed; SIZE_MAX for fd streams. In a
 * window (below): what is left of it.
 */
size_t mig_stream_remaining(MigStream *f);
/*
 * Readers outside a window: the bytes already read from the channel (or
 * held in memory) and not consumed yet, which gets return without
 * blocking; *AVAIL is their number.
 */
const uint8_t *mig_stream_peek(MigStream *f, size_t *avail);
/* Flush (writers) and close; returns false + errp if anything failed. */
bool mig_stream_close(MigStream *f, GError **errp);
void mig_stream_close_noerr(MigStream *f);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(MigStream, mig_stream_close_noerr)

/* The wrapped descriptor (-1 for memory streams); the stream keeps it. */
int mig_stream_fd(MigStream *f);
const char *mig_stream_name(MigStream *f);
/* Whether mig_put_fd()/mig_get_fd() can work on this stream. */
bool mig_stream_can_pass_fds(MigStream *f);

/* ---- writing ---- */
void mig_put_u8(MigStream *f, uint8_t v);
void mig_put_be16(MigStream *f, uint16_t v);
void mig_put_be32(MigStream *f, uint32_t v);
void mig_put_be64(MigStream *f, uint64_t v);
void mig_put_buffer(MigStream *f, const void *buf, size_t len);
/*
 * Like mig_put_buffer(), but BUF may be sent from where it is instead of
 * being copied: by an fd writer at the next flush (sockets splice it, so
 * the peer reads BUF's pages themselves; other descriptors writev() it),
 * by a memory child writer when its record is framed onto its parent
 * (which then references it in turn, or copies it). BUF must stay valid
 * and unchanged until the peer has read it, i.e. until the migration
 * ends: a stopped guest's RAM, during the switchover.
 */
void mig_put_buffer_ref(MigStream *f, const void *buf, size_t len);
/* A string as u8 length + bytes (at most 255 bytes, asserted). */
void mig_put_str(MigStream *f, const char *s);
/*
 * Queue FD to travel with the next flushed bytes (SCM_RIGHTS). The stream
 * sends a duplicate, so the caller keeps FD. Fails with a sticky error on
 * streams that cannot pass fds. At most 16 descriptors go per sendmsg().
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
/*
 * Read exactly the bytes IOV describes (at most 1024 pieces); short read →
 * sticky error. What is not buffered yet is read from the channel straight
 * into IOV: one copy fewer for page-sized pieces.
 */
void mig_get_iov(MigStream *f, const struct iovec *iov, int iovcnt);
/* Read a u8-length string into BUF (nul-terminated, BUF has 256 bytes). */
void mig_get_str(MigStream *f, char buf[256]);
/*
 * Next received descriptor, in order (the caller owns it; received with
 * close-on-exec); -1 + sticky error if none arrived. Descriptors are read
 * from the socket together with the bytes they were sent with, so they
 * are available once the bytes written after mig_put_fd() have been read.
 */
int mig_get_fd(MigStream *f);
/* Received descriptors mig_get_fd() has not returned yet. */
unsigned int mig_get_fd_pending(MigStream *f);
/* True at a clean end of stream (no partial data), or of the window. */
bool mig_stream_eof(MigStream *f);

/*
 * Readers: a window of the next LEN bytes (one record's payload, read in
 * place from the channel instead of copied out first). Gets past its end
 * fail ("unexpected end of record"), mig_stream_eof() is true at its end
 * and mig_stream_remaining() counts what is left of it. The window also
 * sums every byte consumed in it into a CRC-32C seeded with CRC, which
 * mig_stream_window_end() returns as it closes the window (whatever was
 * left unread stays in the stream). mig_stream_window_skip() consumes
 * the rest of the window unread (but summed).
 */
void mig_stream_window_begin(MigStream *f, size_t len, uint32_t crc);
uint32_t mig_stream_window_end(MigStream *f);
void mig_stream_window_skip(MigStream *f);

/* ---- state ---- */
/* First error, or NULL. The stream keeps ownership. */
const GError *mig_stream_error(MigStream *f);
/* Set the sticky error (first one wins); takes ownership of ERR. */
void mig_stream_set_error(MigStream *f, GError *err);
/*
 * Copy the sticky error into errp, prefixed with the stream's name
 * ("migration channel 'unix:/tmp/s': unexpected end of stream"); false if
 * there was one.
 */
bool mig_stream_check(MigStream *f, GError **errp);
/*
 * Bytes written (fd writers: handed to the kernel by a flush; memory
 * writers: put) or consumed (readers) so far.
 */
uint64_t mig_stream_bytes(MigStream *f);

/*
 * Rate limit for writers: at most BYTES_PER_SEC (0 = unlimited). The
 * writer sleeps in mig_stream_flush() when over budget, in slices short
 * enough that cancellation is noticed (mig_stream_shutdown()).
 */
void mig_stream_set_rate_limit(MigStream *f, uint64_t bytes_per_sec);
/*
 * Make blocked and future I/O fail at once (cancel); thread-safe. On
 * sockets it also calls shutdown(SHUT_RDWR) so a blocked read or write
 * returns; a blocked read on a pipe or file is not interrupted.
 */
void mig_stream_shutdown(MigStream *f);
bool mig_stream_is_shutdown(MigStream *f);

#endif
