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
 * payload_len bytes; SCM_RIGHTS carries the reply channel first, then any
 * fds the call passes (eventfds, the container fd of SET_CONTAINER, ...).
 * The reply channel is the writing end of a pipe (HostsimRep, then its
 * payload, as a byte stream), or, for a call that returns fds (MMAP), a
 * SOCK_SEQPACKET socket that gets the reply as one message.
 * The sender sets SO_PASSCRED so the kernel attaches the sending process's
 * credentials to every message: the daemon learns the caller per request,
 * not per connection, because the fd may since have moved to another
 * process. The reply goes to the per-request channel, so two processes or
 * threads using one fd at once never read each other's replies.
 *
 * A migration data fd (HOSTSIM_OP_MIG_SET) is such a connection too, but
 * the preload shuts its reading side down, so a plain read() returns 0 at
 * once and the preload sends HOSTSIM_OP_READ instead; a plain write() goes
 * to the daemon as a message without fds (no reply socket), which is the
 * data written. The client's SO_SNDBUF keeps such a message below
 * HOSTSIM_MAX_PAYLOAD; the preload splits a larger write().
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
    HOSTSIM_OP_STAT,          /* ret = st_mode, aux = st_rdev */
    /*
     * First request of a new connection: VFIO_DEVICE_FEATURE SET of
     * MIG_DEVICE_STATE on the device file fds[0], payload = the argument.
     * If the arc starts a data transfer session, rep.aux = 1 and this
     * connection is its data fd from now on.
     */
    HOSTSIM_OP_MIG_SET,
    HOSTSIM_OP_READ, /* read() of a data fd: len */
} HostsimOp;

/*
 * Character device numbers of the simulated nodes: what stat() of the
 * path and fstat() of an open fd show.
 */
#define HOSTSIM_MAJOR_MISC 10
#define HOSTSIM_MINOR_VFIO 196
#define HOSTSIM_MINOR_IOMMU 123
#define HOSTSIM_MAJOR_CDEV 242
#define HOSTSIM_MAJOR_GROUP 243

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
