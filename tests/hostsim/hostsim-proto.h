/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The wire protocol between libhostsim.so (the preload) and hostsimd.
 *
 * Every simulated kernel object (container, group, device file, iommufd)
 * is one SOCK_SEQPACKET connection to the daemon's socket, opened by the
 * preload: its first request (OPEN or GET_DEVICE_FD) says what the
 * connection is, and the connection lives exactly as long as the open file
 * description does (dup, exec, SCM_RIGHTS keep it; the daemon sees EOF when
 * the last reference closes, as the kernel calls ->release).
 *
 * A request is one message on the object's connection: a HostsimReq, then
 * payload_len bytes; SCM_RIGHTS carries the reply socket first, then any
 * fds the call passes (eventfds, the container fd of SET_CONTAINER, ...).
 * The sender sets SO_PASSCRED so the kernel attaches the sending process's
 * credentials to every message: the daemon learns the caller per request,
 * not per connection, because the fd may since have moved to another
 * process. The reply (HostsimRep, payload, SCM_RIGHTS of returned fds)
 * goes to the per-request reply socket, so two processes or threads using
 * one fd at once never read each other's replies.
 */
#ifndef HOSTSIM_PROTO_H
#define HOSTSIM_PROTO_H

#include <stdint.h>

#define HOSTSIM_PROTO_MAGIC 0x48534d31u /* "HSM1" */
/* Largest ioctl argument or pread/pwrite chunk carried in one message. */
#define HOSTSIM_MAX_PAYLOAD 65536
/* Fds passed with one request besides the reply socket. */
#define HOSTSIM_MAX_FDS 64

typedef enum HostsimOp {
    HOSTSIM_OP_OPEN = 1,      /* first request: payload = path */
    HOSTSIM_OP_GET_DEVICE_FD, /* first request: fds[0] = group, payload = name
                               */
    HOSTSIM_OP_IOCTL,         /* cmd, arg (scalar) or payload (struct) */
    HOSTSIM_OP_PREAD,         /* offset, len */
    HOSTSIM_OP_PWRITE,        /* offset, payload */
    HOSTSIM_OP_MMAP,          /* offset, len, arg = prot | flags << 32 */
} HostsimOp;

typedef struct HostsimReq {
    uint32_t magic;
    uint32_t op;
    uint64_t cmd;    /* ioctl request */
    uint64_t arg;    /* scalar ioctl argument, mmap prot/flags */
    uint64_t offset; /* pread/pwrite/mmap offset */
    uint64_t len;    /* pread/mmap length */
    uint64_t ino;    /* OPEN: inode of the caller's socket end */
    uint32_t nfds;   /* fds after the reply socket */
    uint32_t payload_len;
} HostsimReq;

typedef struct HostsimRep {
    int64_t ret;          /* >= 0: result; < 0: -errno */
    uint32_t payload_len; /* bytes copied back (struct, then aux data) */
    uint32_t aux_len;     /* of which trailing out-of-line data */
    uint32_t nfds;        /* fds returned (mmap: the backing memfd) */
    uint32_t pad;
    uint64_t aux; /* mmap: file offset of the region */
} HostsimRep;

#endif
