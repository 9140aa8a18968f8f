/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * libhostsim.so: LD_PRELOAD library that makes a process see hostsimd's
 * simulated /dev/vfio, /dev/iommu and /sys entries. It owns path rewriting
 * (sysfs and /dev nodes live in a real directory tree the daemon builds at
 * $HOSTSIM_SOCKET.root) and forwarding of open/ioctl/pread/pwrite/mmap on
 * simulated fds; the semantics live in the daemon. Plain libc, no GLib, no
 * global state besides resolved symbols: a simulated fd is recognised by
 * asking the socket itself (getpeername), so dup, exec and SCM_RIGHTS need
 * no bookkeeping here.
 */
/* Both the plain and the *64 entry points are defined here. */
#undef _FILE_OFFSET_BITS
#undef _FORTIFY_SOURCE
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <unistd.h>
#include <linux/kvm.h>
#include <linux/vfio.h>

#include "standard-headers/linux/iommufd.h"
#include "standard-headers/linux/vfio-extra.h"
#include "hostsim-proto.h"

#define HS_EXPORT __attribute__((visibility("default")))

/* The next definition of NAME (libc's), resolved on first use. */
#define REAL(name)                                                 \
    static __typeof__(name) *real_##name;                          \
    if (!real_##name) {                                            \
        real_##name = (__typeof__(name) *)dlsym(RTLD_NEXT, #name); \
    }

/*
 * $HOSTSIM_SOCKET, made absolute against the working directory if it is
 * not (hostsimd binds the absolute path, which getpeername reports).
 */
static const char *hs_socket_path(void)
{
    static __thread char abs[PATH_MAX];
    const char *s = getenv("HOSTSIM_SOCKET");
    int saved = errno;

    if (!s || !*s) {
        return NULL;
    }
    if (s[0] == '/') {
        return s;
    }
    if (!getcwd(abs, sizeof(abs) - strlen(s) - 2)) {
        errno = saved;
        return NULL;
    }
    strcat(abs, "/");
    strcat(abs, s);
    return abs;
}

/* True if fd is a connection to hostsimd (errno preserved). */
static bool hs_is_sim_fd(int fd)
{
    const char *sock = hs_socket_path();
    struct sockaddr_un sa;
    socklen_t len = sizeof(sa);
    int saved = errno;
    bool ret;

    if (!sock || fd < 0) {
        return false;
    }
    memset(&sa, 0, sizeof(sa));
    ret = getpeername(fd, (struct sockaddr *)&sa, &len) == 0 &&
          sa.sun_family == AF_UNIX &&
          strncmp(sa.sun_path, sock, sizeof(sa.sun_path)) == 0;
    errno = saved;
    return ret;
}

static bool hs_has_prefix(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* "/dev/vfio/vfio", "/dev/iommu", "/dev/vfio/N", "/dev/vfio/devices/vfioN" */
static bool hs_is_dev_node(const char *path)
{
    const char *p;

    if (!strcmp(path, "/dev/vfio/vfio") || !strcmp(path, "/dev/iommu")) {
        return true;
    }
    if (hs_has_prefix(path, "/dev/vfio/devices/vfio")) {
        p = path + strlen("/dev/vfio/devices/vfio");
    } else if (hs_has_prefix(path, "/dev/vfio/")) {
        p = path + strlen("/dev/vfio/");
    } else {
        return false;
    }
    if (!*p) {
        return false;
    }
    for (; *p; p++) {
        if (*p < '0' || *p > '9') {
            return false;
        }
    }
    return true;
}

/*
 * The path a file call should really use: paths of simulated objects map
 * into the daemon's tree ($HOSTSIM_SOCKET.root + path); everything else is
 * returned unchanged. /dev/vfio and /dev/iommu are shadowed entirely (this
 * host has none); under /sys only the simulated devices and groups are.
 */
static const char *hs_rewrite(const char *path, char *buf, size_t n)
{
    REAL(lstat);
    const char *sock = hs_socket_path();
    static const char *const by_entry[] = {
        "/sys/bus/pci/devices/",
        "/sys/kernel/iommu_groups/",
    };
    bool match = false;
    struct stat st;
    size_t i;
    int saved = errno;

    if (!sock || !path || path[0] != '/') {
        return path;
    }
    if ((hs_has_prefix(path, "/dev/vfio") &&
         (path[9] == '\0' || path[9] == '/')) ||
        !strcmp(path, "/dev/iommu") ||
        hs_has_prefix(path, "/sys/devices/hostsim/") ||
        !strcmp(path, "/sys/devices/hostsim")) {
        match = true;
    }
    for (i = 0; !match && i < sizeof(by_entry) / sizeof(by_entry[0]); i++) {
        const char *entry;
        size_t elen;

        if (!hs_has_prefix(path, by_entry[i])) {
            continue;
        }
        entry = path + strlen(by_entry[i]);
        elen = strcspn(entry, "/");
        if (elen == 0 ||
            (size_t)snprintf(buf, n, "%s.root%.*s", sock,
                             (int)(entry - path + elen), path) >= n) {
            continue;
        }
        match = real_lstat(buf, &st) == 0;
    }
    errno = saved;
    if (!match || (size_t)snprintf(buf, n, "%s.root%s", sock, path) >= n) {
        return path;
    }
    return buf;
}

/* A new connection to the daemon, with credentials on every message. */
static int hs_connect(bool cloexec)
{
    const char *sock = hs_socket_path();
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    int one = 1;
    int fd;

    if (!sock || strlen(sock) >= sizeof(sa.sun_path)) {
        errno = ENOENT;
        return -1;
    }
    strcpy(sa.sun_path, sock);
    fd = socket(AF_UNIX, SOCK_SEQPACKET | (cloexec ? SOCK_CLOEXEC : 0), 0);
    if (fd < 0) {
        return -1;
    }
    if (setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &one, sizeof(one)) < 0 ||
        connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        close(fd);
        /* No daemon behind the path: the device node does not exist. */
        errno = ENOENT;
        return -1;
    }
    return fd;
}

typedef struct HsReply {
    HostsimRep rep;
    uint8_t *payload; /* caller's buffer, cap bytes */
    size_t cap;
    int fds[4];
    int nfds;
} HsReply;

static int hs_real_fstat(int fd, struct stat *st)
{
    REAL(fstat);
    return real_fstat(fd, st);
}

/*
 * A call that gets no answer reaches the caller as EIO, as from a dead
 * device; the test's log says which and why (the daemon logs its side).
 */
static void hs_call_lost(int fd, const HostsimReq *req, const char *what,
                         int err)
{
    REAL(write);
    REAL(ioctl);
    char line[300];
    int len;
    struct pollfd pfd = {.fd = fd, .events = POLLIN | POLLOUT};
    struct stat st = {0};
    int outq = -1;

    /* The connection's state tells a daemon that dropped the request
     * (nothing left unread, still connected) from a connection cut. */
    (void)!poll(&pfd, 1, 0);
    /* libc's own: this library's ioctl and fstat would forward. */
    (void)!real_ioctl(fd, TIOCOUTQ, &outq);
    (void)!hs_real_fstat(fd, &st);
    len = snprintf(line, sizeof(line),
                   "libhostsim: pid %d: op %u cmd 0x%llx on fd %d (ino %llu, "
                   "revents 0x%x, %d bytes unread by the daemon): %s "
                   "failed%s%s; EIO\n",
                   (int)getpid(), req->op, (unsigned long long)req->cmd, fd,
                   (unsigned long long)st.st_ino, pfd.revents, outq, what,
                   err ? ": " : "", err ? strerror(err) : "");
    if (len > 0) {
        (void)!real_write(2, line, len < (int)sizeof(line) ? (size_t)len
                                                           : sizeof(line) - 1);
    }
}

/* All of len bytes from a pipe: what was read (less only at EOF). */
static ssize_t hs_read_full(int fd, void *buf, size_t len)
{
    REAL(read);
    size_t got = 0;
    ssize_t n;

    while (got < len) {
        n = real_read(fd, (uint8_t *)buf + got, len - got);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            return got ? (ssize_t)got : -1;
        }
        if (n == 0) {
            break;
        }
        got += n;
    }
    return got;
}

/*
 * The reply of a call that returns no fds, from its pipe: the header, the
 * payload up to the caller's cap (the rest is dropped, as a datagram's
 * would be). Returns the bytes of the header read, or -1.
 */
static ssize_t hs_read_reply(int pfd, HsReply *r)
{
    uint8_t sink[4096];
    size_t want, left;
    ssize_t n;

    n = hs_read_full(pfd, &r->rep, sizeof(r->rep));
    if (n < (ssize_t)sizeof(r->rep)) {
        return n;
    }
    want = r->rep.payload_len < r->cap ? r->rep.payload_len : r->cap;
    if (hs_read_full(pfd, r->payload, want) != (ssize_t)want) {
        return 0;
    }
    for (left = r->rep.payload_len - want; left > 0; left -= n) {
        n = hs_read_full(pfd, sink, left < sizeof(sink) ? left : sizeof(sink));
        if (n <= 0) {
            return 0;
        }
    }
    return sizeof(r->rep);
}

/*
 * One round trip on the object connection fd: the request and its fds go
 * there, the reply comes back on a private channel passed with it, so two
 * processes or threads using one fd at once never read each other's
 * replies. The channel is a pipe unless the call returns fds (mmap): with
 * a socket in flight on every call, requests vanished under load with
 * their reply socket (docs/devel/hostsim.md). Returns rep.ret (>= 0 or
 * -errno).
 */
static int64_t hs_call(int fd, HostsimReq *req, const void *payload,
                       const int *fds, int nfds, HsReply *r)
{
    bool want_fds = req->op == HOSTSIM_OP_MMAP;
    int pair[2];
    int all[HOSTSIM_MAX_FDS + 1];
    char cbuf[CMSG_SPACE(sizeof(all))];
    struct iovec iov[2] = {
        {req, sizeof(*req)},
        {(void *)payload, req->payload_len},
    };
    struct msghdr msg = {.msg_iov = iov, .msg_iovlen = payload ? 2 : 1};
    struct cmsghdr *cm;
    char rbuf[CMSG_SPACE(sizeof(int) * 4)];
    ssize_t n;
    int i;

    if (nfds > HOSTSIM_MAX_FDS) {
        return -EINVAL;
    }
    /* pipe: [0] reads, [1] writes, as the socketpair's [0] and [1]. */
    if ((want_fds
             ? socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair)
             : pipe2(pair, O_CLOEXEC)) < 0) {
        return -errno;
    }
    req->magic = HOSTSIM_PROTO_MAGIC;
    req->nfds = nfds;
    all[0] = pair[1];
    for (i = 0; i < nfds; i++) {
        all[i + 1] = fds[i];
    }
    memset(cbuf, 0, sizeof(cbuf));
    msg.msg_control = cbuf;
    msg.msg_controllen = CMSG_SPACE(sizeof(int) * (nfds + 1));
    cm = CMSG_FIRSTHDR(&msg);
    cm->cmsg_level = SOL_SOCKET;
    cm->cmsg_type = SCM_RIGHTS;
    cm->cmsg_len = CMSG_LEN(sizeof(int) * (nfds + 1));
    memcpy(CMSG_DATA(cm), all, sizeof(int) * (nfds + 1));
    do {
        n = sendmsg(fd, &msg, MSG_NOSIGNAL);
    } while (n < 0 && errno == EINTR);
    close(pair[1]);
    if (n < 0) {
        int err = errno;

        close(pair[0]);
        if (err == EPIPE || err == ECONNRESET) {
            hs_call_lost(fd, req, "sending the request", err);
            return -EIO;
        }
        return -err;
    }

    r->nfds = 0;
    if (want_fds) {
        iov[0].iov_base = &r->rep;
        iov[0].iov_len = sizeof(r->rep);
        iov[1].iov_base = r->payload;
        iov[1].iov_len = r->cap;
        memset(&msg, 0, sizeof(msg));
        msg.msg_iov = iov;
        msg.msg_iovlen = r->cap ? 2 : 1;
        msg.msg_control = rbuf;
        msg.msg_controllen = sizeof(rbuf);
        do {
            n = recvmsg(pair[0], &msg, MSG_CMSG_CLOEXEC);
        } while (n < 0 && errno == EINTR);
        for (cm = CMSG_FIRSTHDR(&msg); cm; cm = CMSG_NXTHDR(&msg, cm)) {
            if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS) {
                r->nfds = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
                memcpy(r->fds, CMSG_DATA(cm), sizeof(int) * r->nfds);
            }
        }
    } else {
        n = hs_read_reply(pair[0], r);
    }
    close(pair[0]);
    if (n < (ssize_t)sizeof(r->rep)) {
        /* The daemon went away: what a dead device looks like. */
        char what[48];

        snprintf(what, sizeof(what), n < 0 ? "receiving the reply"
                                           : "a reply (%zd bytes)", n);
        hs_call_lost(fd, req, what, n < 0 ? errno : 0);
        for (i = 0; i < r->nfds; i++) {
            close(r->fds[i]);
        }
        r->nfds = 0;
        return -EIO;
    }
    return r->rep.ret;
}

/* open() of a simulated device node: a new connection that names it. */
static int hs_open_dev(const char *path, int flags)
{
    HostsimReq req = {.op = HOSTSIM_OP_OPEN};
    HsReply r = {0};
    struct stat st;
    int64_t ret;
    int fd;

    fd = hs_connect(flags & O_CLOEXEC);
    if (fd < 0) {
        return -1;
    }
    fstat(fd, &st);
    req.ino = st.st_ino;
    req.payload_len = strlen(path) + 1;
    ret = hs_call(fd, &req, path, NULL, 0, &r);
    if (ret < 0) {
        close(fd);
        errno = -ret;
        return -1;
    }
    return fd;
}

static int hs_openat(int dirfd, const char *path, int flags, mode_t mode)
{
    REAL(openat);
    char buf[PATH_MAX];

    if (path && hs_socket_path() && hs_is_dev_node(path)) {
        return hs_open_dev(path, flags);
    }
    return real_openat(dirfd, hs_rewrite(path, buf, sizeof(buf)), flags, mode);
}

static mode_t hs_mode(int flags, va_list ap)
{
    return (flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE
               ? (mode_t)va_arg(ap, int)
               : 0;
}

HS_EXPORT int open(const char *path, int flags, ...)
{
    va_list ap;
    mode_t mode;

    va_start(ap, flags);
    mode = hs_mode(flags, ap);
    va_end(ap);
    return hs_openat(AT_FDCWD, path, flags, mode);
}

HS_EXPORT int open64(const char *path, int flags, ...)
{
    va_list ap;
    mode_t mode;

    va_start(ap, flags);
    mode = hs_mode(flags, ap);
    va_end(ap);
    return hs_openat(AT_FDCWD, path, flags, mode);
}

HS_EXPORT int openat(int dirfd, const char *path, int flags, ...)
{
    va_list ap;
    mode_t mode;

    va_start(ap, flags);
    mode = hs_mode(flags, ap);
    va_end(ap);
    return hs_openat(dirfd, path, flags, mode);
}

HS_EXPORT int openat64(int dirfd, const char *path, int flags, ...)
{
    va_list ap;
    mode_t mode;

    va_start(ap, flags);
    mode = hs_mode(flags, ap);
    va_end(ap);
    return hs_openat(dirfd, path, flags, mode);
}

/* The _FORTIFY_SOURCE entry points (no mode: O_CREAT is not allowed). */
HS_EXPORT int __open_2(const char *path, int flags);
HS_EXPORT int __open64_2(const char *path, int flags);
HS_EXPORT int __openat_2(int dirfd, const char *path, int flags);
HS_EXPORT int __openat64_2(int dirfd, const char *path, int flags);

int __open_2(const char *path, int flags)
{
    return hs_openat(AT_FDCWD, path, flags, 0);
}

int __open64_2(const char *path, int flags)
{
    return hs_openat(AT_FDCWD, path, flags, 0);
}

int __openat_2(int dirfd, const char *path, int flags)
{
    return hs_openat(dirfd, path, flags, 0);
}

int __openat64_2(int dirfd, const char *path, int flags)
{
    return hs_openat(dirfd, path, flags, 0);
}

HS_EXPORT FILE *fopen(const char *path, const char *mode)
{
    REAL(fopen);
    char buf[PATH_MAX];

    return real_fopen(hs_rewrite(path, buf, sizeof(buf)), mode);
}

HS_EXPORT FILE *fopen64(const char *path, const char *mode)
{
    REAL(fopen64);
    char buf[PATH_MAX];

    return real_fopen64(hs_rewrite(path, buf, sizeof(buf)), mode);
}

HS_EXPORT DIR *opendir(const char *path)
{
    REAL(opendir);
    char buf[PATH_MAX];

    return real_opendir(hs_rewrite(path, buf, sizeof(buf)));
}

/* stat family: the daemon's tree has real character-device nodes. */
#define HS_PATH_WRAPPER(ret, name, params, call_args)       \
    HS_EXPORT ret name params                               \
    {                                                       \
        REAL(name);                                         \
        char buf[PATH_MAX];                                 \
        const char *p = hs_rewrite(path, buf, sizeof(buf)); \
        return real_##name call_args;                       \
    }

HS_PATH_WRAPPER(int, stat, (const char *path, struct stat *st), (p, st))
HS_PATH_WRAPPER(int, stat64, (const char *path, struct stat64 *st), (p, st))
HS_PATH_WRAPPER(int, lstat, (const char *path, struct stat *st), (p, st))
HS_PATH_WRAPPER(int, lstat64, (const char *path, struct stat64 *st), (p, st))
/*
 * fstat of a simulated fd shows what the kernel's would (the character
 * device it was opened from): a VMM checks st_rdev of a device cdev fd
 * against vfio-dev/vfioN/dev. Only sockets are asked about.
 */
static bool hs_sim_stat(int fd, mode_t *mode, dev_t *rdev)
{
    HostsimReq req = {.op = HOSTSIM_OP_STAT};
    HsReply r = {0};
    int saved = errno;
    int64_t ret;

    if (!hs_is_sim_fd(fd)) {
        return false;
    }
    ret = hs_call(fd, &req, NULL, NULL, 0, &r);
    errno = saved;
    if (ret < 0) {
        return false;
    }
    *mode = ret;
    *rdev = r.rep.aux;
    return true;
}

#define HS_FIX_STAT(fd, st)                                         \
    do {                                                            \
        mode_t m_;                                                  \
        dev_t r_;                                                   \
        if (S_ISSOCK((st)->st_mode) && hs_sim_stat(fd, &m_, &r_)) { \
            (st)->st_mode = m_;                                     \
            (st)->st_rdev = r_;                                     \
        }                                                           \
    } while (0)

HS_EXPORT int fstat(int fd, struct stat *st)
{
    REAL(fstat);
    int ret = real_fstat(fd, st);

    if (ret == 0) {
        HS_FIX_STAT(fd, st);
    }
    return ret;
}

HS_EXPORT int fstat64(int fd, struct stat64 *st)
{
    REAL(fstat64);
    int ret = real_fstat64(fd, st);

    if (ret == 0) {
        HS_FIX_STAT(fd, st);
    }
    return ret;
}

HS_EXPORT int fstatat(int dirfd, const char *path, struct stat *st, int flags)
{
    REAL(fstatat);
    char buf[PATH_MAX];
    int ret =
        real_fstatat(dirfd, hs_rewrite(path, buf, sizeof(buf)), st, flags);

    if (ret == 0 && (flags & AT_EMPTY_PATH) && !*path) {
        HS_FIX_STAT(dirfd, st);
    }
    return ret;
}

HS_EXPORT int fstatat64(int dirfd, const char *path, struct stat64 *st,
                        int flags)
{
    REAL(fstatat64);
    char buf[PATH_MAX];
    int ret =
        real_fstatat64(dirfd, hs_rewrite(path, buf, sizeof(buf)), st, flags);

    if (ret == 0 && (flags & AT_EMPTY_PATH) && !*path) {
        HS_FIX_STAT(dirfd, st);
    }
    return ret;
}

HS_EXPORT int statx(int dirfd, const char *path, int flags, unsigned int mask,
                    struct statx *stx)
{
    REAL(statx);
    char buf[PATH_MAX];
    int ret =
        real_statx(dirfd, hs_rewrite(path, buf, sizeof(buf)), flags, mask, stx);
    mode_t m;
    dev_t r;

    if (ret == 0 && (flags & AT_EMPTY_PATH) && !*path &&
        S_ISSOCK(stx->stx_mode) && hs_sim_stat(dirfd, &m, &r)) {
        stx->stx_mode = m;
        stx->stx_rdev_major = major(r);
        stx->stx_rdev_minor = minor(r);
    }
    return ret;
}

HS_PATH_WRAPPER(int, access, (const char *path, int mode), (p, mode))
HS_PATH_WRAPPER(int, faccessat,
                (int dirfd, const char *path, int mode, int flags),
                (dirfd, p, mode, flags))
HS_PATH_WRAPPER(ssize_t, readlink, (const char *path, char *out, size_t size),
                (p, out, size))
HS_PATH_WRAPPER(ssize_t, readlinkat,
                (int dirfd, const char *path, char *out, size_t size),
                (dirfd, p, out, size))

/*
 * realpath: resolve inside the daemon's tree, then show the result as the
 * /sys or /dev path it stands for.
 */
HS_EXPORT char *realpath(const char *path, char *resolved)
{
    REAL(realpath);
    char buf[PATH_MAX], out[PATH_MAX], root[PATH_MAX], rootreal[PATH_MAX];
    const char *p = hs_rewrite(path, buf, sizeof(buf));
    size_t rlen;

    if (p == path) {
        return real_realpath(path, resolved);
    }
    if (!real_realpath(p, out)) {
        return NULL;
    }
    snprintf(root, sizeof(root), "%s.root", hs_socket_path());
    if (real_realpath(root, rootreal)) {
        rlen = strlen(rootreal);
        if (!strncmp(out, rootreal, rlen) && out[rlen] == '/') {
            memmove(out, out + rlen, strlen(out + rlen) + 1);
        }
    }
    if (resolved) {
        strcpy(resolved, out);
        return resolved;
    }
    return strdup(out);
}

/* fstat without asking the daemon (a new connection is not an object yet). */

/* VFIO and iommufd ioctls whose argument is a size-prefixed struct. */
static bool hs_takes_struct(unsigned long request)
{
    unsigned nr = _IOC_NR(request);

    if (nr >= IOMMUFD_CMD_DESTROY && nr <= IOMMUFD_CMD_IOAS_CHANGE_PROCESS) {
        return true;
    }
    switch (nr - VFIO_BASE) {
    case 3: /* GROUP_GET_STATUS */
    case 7:
    case 8:
    case 9:
    case 10: /* device info, regions, irqs */
    case 12:
    case 13:
    case 14: /* IOMMU_GET_INFO, MAP/UNMAP_DMA, hot reset */
    case 15:
    case 16:
    case 17: /* gfx, ioeventfd, DEVICE_FEATURE */
    case 18:
    case 19:
    case 20: /* cdev: bind, attach, detach */
    case 21: /* VFIO_MIG_GET_PRECOPY_INFO */
        return true;
    }
    return false;
}

/*
 * The range of a VFIO_IOMMU_DIRTY_PAGES GET_BITMAP call, whose bitmap the
 * reply's trailing part fills, or NULL. The number is also
 * VFIO_DEVICE_FEATURE's; only a container answers with a bitmap.
 */
static struct vfio_iommu_type1_dirty_bitmap_get *
hs_dirty_range(unsigned long request, void *argp, uint32_t len)
{
    struct vfio_iommu_type1_dirty_bitmap *d = argp;

    if (request != VFIO_IOMMU_DIRTY_PAGES ||
        len < sizeof(*d) + sizeof(struct vfio_iommu_type1_dirty_bitmap_get) ||
        d->flags != VFIO_IOMMU_DIRTY_PAGES_FLAG_GET_BITMAP) {
        return NULL;
    }
    return (void *)d->data;
}

/* Largest message a plain write() on a data fd sends (SO_SNDBUF). */
#define HS_DATA_SNDBUF 32768

/* VFIO_DEVICE_FEATURE SET of MIG_DEVICE_STATE (may return a data fd). */
static bool hs_is_mig_set(unsigned long request, const void *argp)
{
    const struct vfio_device_feature *f = argp;
    uint32_t flags;

    if (request != VFIO_DEVICE_FEATURE || !argp ||
        f->argsz < sizeof(*f) + sizeof(struct vfio_device_feature_mig_state)) {
        return false;
    }
    flags = f->flags;
    return (flags & VFIO_DEVICE_FEATURE_MASK) ==
               VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE &&
           (flags & VFIO_DEVICE_FEATURE_SET) &&
           !(flags & (VFIO_DEVICE_FEATURE_GET | VFIO_DEVICE_FEATURE_PROBE));
}

/*
 * The SET goes on a new connection that names the device file; if the
 * arc starts a data transfer session, that connection is the data fd
 * (close-on-exec, as the kernel's): its reading side is shut down, so
 * read() returns 0 at once and comes here (HOSTSIM_OP_READ), and its
 * send buffer keeps a plain write() to one message the daemon can take.
 */
static int hs_mig_set_sim(int fd, struct vfio_device_feature *f)
{
    HostsimReq req = {.op = HOSTSIM_OP_MIG_SET};
    struct vfio_device_feature_mig_state *mig = (void *)f->data;
    uint8_t buf[sizeof(*f) + sizeof(*mig)];
    HsReply r = {0};
    int sndbuf = HS_DATA_SNDBUF;
    struct stat st;
    int64_t ret;
    int dfd, i;

    dfd = hs_connect(true);
    if (dfd < 0) {
        errno = EIO;
        return -1;
    }
    if (hs_real_fstat(dfd, &st) == 0) {
        req.ino = st.st_ino;
    }
    setsockopt(dfd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
    req.payload_len = sizeof(buf);
    r.payload = buf;
    r.cap = sizeof(buf);
    ret = hs_call(dfd, &req, f, &fd, 1, &r);
    for (i = 0; i < r.nfds; i++) {
        close(r.fds[i]);
    }
    if (ret >= 0 && r.rep.payload_len == sizeof(buf)) {
        memcpy(f, buf, sizeof(buf));
    }
    mig->data_fd = -1;
    if (ret < 0 || r.rep.aux != 1) {
        close(dfd);
        if (ret < 0) {
            errno = -ret;
            return -1;
        }
        return 0;
    }
    shutdown(dfd, SHUT_RD);
    mig->data_fd = dfd;
    return 0;
}

/* VFIO_DEVICE_FEATURE of a feature with any of the given operations. */
static bool hs_is_feature(unsigned long request, const void *argp,
                          uint32_t feature, uint32_t ops, uint32_t datasz)
{
    const struct vfio_device_feature *f = argp;

    return request == VFIO_DEVICE_FEATURE && argp &&
           f->argsz >= sizeof(*f) + datasz &&
           (f->flags & VFIO_DEVICE_FEATURE_MASK) == feature &&
           (f->flags & ops) && !(f->flags & VFIO_DEVICE_FEATURE_PROBE);
}

/*
 * DMA_LOGGING_START: the ranges behind control.ranges travel after the
 * argument; the argument comes back (page_size as the device chose it).
 */
static int hs_log_start_sim(int fd, struct vfio_device_feature *f)
{
    HostsimReq req = {.op = HOSTSIM_OP_IOCTL, .cmd = VFIO_DEVICE_FEATURE};
    struct vfio_device_feature_dma_logging_control *ctl = (void *)f->data;
    uint32_t argsz = f->argsz, rbytes;
    HsReply r = {0};
    uint8_t *buf;
    int64_t ret;
    int i;

    if (argsz > 4096) {
        argsz = 4096;
    }
    rbytes = HOSTSIM_MAX_PAYLOAD - argsz;
    if ((uint64_t)ctl->num_ranges * 16 < rbytes) {
        rbytes = ctl->num_ranges * 16;
    }
    if (rbytes && !ctl->ranges) {
        errno = EFAULT;
        return -1;
    }
    buf = malloc(argsz + rbytes);
    if (!buf) {
        errno = ENOMEM;
        return -1;
    }
    memcpy(buf, f, argsz);
    memcpy(buf + argsz, (void *)(uintptr_t)ctl->ranges, rbytes);
    req.payload_len = argsz + rbytes;
    r.payload = buf;
    r.cap = argsz;
    ret = hs_call(fd, &req, buf, NULL, 0, &r);
    for (i = 0; i < r.nfds; i++) {
        close(r.fds[i]);
    }
    if (ret >= 0 && r.rep.payload_len == argsz) {
        memcpy(f, buf, argsz);
    }
    free(buf);
    if (ret < 0) {
        errno = -ret;
        return -1;
    }
    return ret;
}

/*
 * A dirty bitmap behind a pointer of the argument (DMA logging REPORT,
 * IOMMU_HWPT_GET_DIRTY_BITMAP): one bit per page_size of [iova, iova +
 * length), and the kernel only sets bits in it. A reply carries at most
 * HOSTSIM_MAX_PAYLOAD bytes of bitmap, so a larger one is asked for in
 * pieces of whole bytes; each piece's bits are ORed into the caller's.
 * The offsets say where iova, length, page_size and the pointer are.
 */
static int hs_bitmap_sim(int fd, unsigned long request, void *argp,
                         uint32_t argsz, size_t iova_off, size_t len_off,
                         size_t pgsz_off, size_t ptr_off)
{
    const uint64_t piece_bits = (uint64_t)HOSTSIM_MAX_PAYLOAD * 8;
    HostsimReq req = {.op = HOSTSIM_OP_IOCTL, .cmd = request};
    uint8_t arg[128], *out, *user;
    uint64_t iova, length, pgsz, ptr, nbits, done = 0, bits;
    HsReply r = {0};
    int64_t ret = 0;
    uint32_t i;
    int k;

    if (argsz > sizeof(arg)) {
        argsz = sizeof(arg);
    }
    memcpy(arg, argp, argsz);
    memcpy(&iova, arg + iova_off, 8);
    memcpy(&length, arg + len_off, 8);
    memcpy(&pgsz, arg + pgsz_off, 8);
    memcpy(&ptr, arg + ptr_off, 8);
    user = (uint8_t *)(uintptr_t)ptr;
    /* What the daemon refuses anyway goes as it is, in one piece. */
    if (!pgsz || (pgsz & (pgsz - 1)) || !length || iova + length < iova) {
        nbits = 0;
    } else {
        nbits = (length - 1) / pgsz + 1;
    }
    out = malloc(argsz + HOSTSIM_MAX_PAYLOAD);
    if (!out) {
        errno = ENOMEM;
        return -1;
    }
    do {
        bits = nbits - done < piece_bits ? nbits - done : piece_bits;
        if (nbits) {
            uint64_t piova = iova + done * pgsz;
            uint64_t plen = done + bits == nbits ? length - done * pgsz
                                                 : bits * pgsz;

            memcpy(arg + iova_off, &piova, 8);
            memcpy(arg + len_off, &plen, 8);
        }
        req.payload_len = argsz;
        r.payload = out;
        r.cap = argsz + (bits + 63) / 64 * 8;
        ret = hs_call(fd, &req, arg, NULL, 0, &r);
        for (k = 0; k < r.nfds; k++) {
            close(r.fds[k]);
        }
        if (ret < 0) {
            break;
        }
        if (r.rep.aux_len && user) {
            uint8_t *aux = out + r.rep.payload_len - r.rep.aux_len;

            for (i = 0; i < r.rep.aux_len; i++) {
                user[done / 8 + i] |= aux[i];
            }
        }
        done += bits;
    } while (done < nbits);
    free(out);
    if (ret < 0) {
        errno = -ret;
        return -1;
    }
    return ret;
}

/*
 * How a simulated ioctl's argument travels: a scalar, nothing, an int fd,
 * or a struct whose first u32 is its size (argsz / size).
 */
static int hs_ioctl_sim(int fd, unsigned long request, void *argp)
{
    HostsimReq req = {.op = HOSTSIM_OP_IOCTL, .cmd = request};
    HsReply r = {0};
    uint8_t small[512];
    int fds[HOSTSIM_MAX_FDS];
    int nfds = 0;
    uint8_t *buf = NULL;
    uint32_t argsz;
    int64_t ret;
    int i;

    if (hs_is_mig_set(request, argp)) {
        return hs_mig_set_sim(fd, argp);
    }
    if (hs_is_feature(request, argp, VFIO_DEVICE_FEATURE_DMA_LOGGING_START,
                      VFIO_DEVICE_FEATURE_SET,
                      sizeof(struct vfio_device_feature_dma_logging_control))) {
        return hs_log_start_sim(fd, argp);
    }
    if (hs_is_feature(request, argp, VFIO_DEVICE_FEATURE_DMA_LOGGING_REPORT,
                      VFIO_DEVICE_FEATURE_GET,
                      sizeof(struct vfio_device_feature_dma_logging_report))) {
        const size_t d = offsetof(struct vfio_device_feature, data);

        return hs_bitmap_sim(
            fd, request, argp, *(uint32_t *)argp,
            d + offsetof(struct vfio_device_feature_dma_logging_report, iova),
            d + offsetof(struct vfio_device_feature_dma_logging_report, length),
            d + offsetof(struct vfio_device_feature_dma_logging_report,
                         page_size),
            d + offsetof(struct vfio_device_feature_dma_logging_report,
                         bitmap));
    }
    if (request == IOMMU_HWPT_GET_DIRTY_BITMAP && argp &&
        *(uint32_t *)argp >= sizeof(struct iommu_hwpt_get_dirty_bitmap)) {
        return hs_bitmap_sim(
            fd, request, argp, *(uint32_t *)argp,
            offsetof(struct iommu_hwpt_get_dirty_bitmap, iova),
            offsetof(struct iommu_hwpt_get_dirty_bitmap, length),
            offsetof(struct iommu_hwpt_get_dirty_bitmap, page_size),
            offsetof(struct iommu_hwpt_get_dirty_bitmap, data));
    }
    switch (request) {
    case VFIO_GET_API_VERSION:
    case VFIO_GROUP_UNSET_CONTAINER:
    case VFIO_DEVICE_RESET:
        break;
    case VFIO_CHECK_EXTENSION:
    case VFIO_SET_IOMMU:
        req.arg = (unsigned long)argp;
        break;
    case VFIO_GROUP_SET_CONTAINER:
        if (!argp) {
            errno = EFAULT;
            return -1;
        }
        fds[nfds++] = *(int *)argp;
        if (fds[0] < 0) {
            errno = EBADF;
            return -1;
        }
        break;
    case VFIO_GROUP_GET_DEVICE_FD: {
        /* A new object: its own connection, told which group it is from. */
        HostsimReq oreq = {.op = HOSTSIM_OP_GET_DEVICE_FD};
        size_t len = argp ? strnlen(argp, 256) : 0;
        struct stat st;
        int dfd;

        if (!argp) {
            errno = EFAULT;
            return -1;
        }
        dfd = hs_connect(true);
        if (dfd < 0) {
            errno = EIO;
            return -1;
        }
        if (hs_real_fstat(dfd, &st) == 0) {
            oreq.ino = st.st_ino; /* so that the fd can be passed later */
        }
        oreq.payload_len = len + 1;
        buf = calloc(1, len + 1);
        memcpy(buf, argp, len);
        ret = hs_call(dfd, &oreq, buf, &fd, 1, &r);
        free(buf);
        if (ret < 0) {
            close(dfd);
            errno = -ret;
            return -1;
        }
        return dfd;
    }
    default:
        if (!argp || !hs_takes_struct(request)) {
            /*
             * Unknown numbers are not dereferenced (the daemon answers
             * ENOTTY), known ones with a NULL pointer get EFAULT.
             */
            break;
        }
        argsz = *(uint32_t *)argp;
        if (argsz < 4) {
            argsz = 4;
        }
        if (argsz > HOSTSIM_MAX_PAYLOAD) {
            argsz = HOSTSIM_MAX_PAYLOAD;
        }
        req.payload_len = argsz;
        if (request == VFIO_DEVICE_BIND_IOMMUFD &&
            argsz >= sizeof(struct vfio_device_bind_iommufd)) {
            fds[nfds++] = ((struct vfio_device_bind_iommufd *)argp)->iommufd;
        } else if (request == IOMMU_IOAS_MAP_FILE &&
                   argsz >= sizeof(struct iommu_ioas_map_file)) {
            fds[nfds++] = ((struct iommu_ioas_map_file *)argp)->fd;
        } else if (request == VFIO_DEVICE_SET_IRQS &&
                   argsz >= sizeof(struct vfio_irq_set)) {
            struct vfio_irq_set *s = argp;

            if ((s->flags & VFIO_IRQ_SET_DATA_EVENTFD) &&
                s->count <= HOSTSIM_MAX_FDS &&
                argsz >= sizeof(*s) + s->count * sizeof(int32_t)) {
                for (i = 0; i < (int)s->count; i++) {
                    int32_t efd = ((int32_t *)s->data)[i];

                    if (efd >= 0) {
                        fds[nfds++] = efd;
                    }
                }
            }
        }
        for (i = 0; i < nfds; i++) {
            if (fcntl(fds[i], F_GETFD) < 0) {
                errno = EBADF;
                return -1;
            }
        }
        break;
    }

    /* The struct comes back, plus what goes behind its pointers. */
    r.cap = req.payload_len;
    if (request == IOMMU_IOAS_IOVA_RANGES &&
        req.payload_len >= sizeof(struct iommu_ioas_iova_ranges)) {
        r.cap += ((struct iommu_ioas_iova_ranges *)argp)->num_iovas *
                 sizeof(struct iommu_iova_range);
    } else if (request == IOMMU_GET_HW_INFO &&
               req.payload_len >= sizeof(struct iommu_hw_info)) {
        r.cap += ((struct iommu_hw_info *)argp)->data_len;
    } else if (hs_dirty_range(request, argp, req.payload_len)) {
        r.cap += hs_dirty_range(request, argp, req.payload_len)->bitmap.size;
    }
    if (r.cap > HOSTSIM_MAX_PAYLOAD * 2) {
        r.cap = HOSTSIM_MAX_PAYLOAD * 2;
    }
    r.payload = r.cap <= sizeof(small) ? small : malloc(r.cap);
    if (!r.payload) {
        errno = ENOMEM;
        return -1;
    }
    ret = hs_call(fd, &req, req.payload_len ? argp : NULL, fds, nfds, &r);
    for (i = 0; i < r.nfds; i++) {
        close(r.fds[i]);
    }
    if (ret >= 0 || ret == -EMSGSIZE) {
        uint32_t main_len = r.rep.payload_len - r.rep.aux_len;
        uint8_t *aux = r.payload + main_len;

        if (main_len > req.payload_len) {
            main_len = req.payload_len;
        }
        if (main_len) {
            memcpy(argp, r.payload, main_len);
        }
        /* Out-of-line results behind pointers in the struct. */
        if (request == IOMMU_IOAS_IOVA_RANGES && r.rep.aux_len) {
            struct iommu_ioas_iova_ranges *rg = argp;

            memcpy((void *)(uintptr_t)rg->allowed_iovas, aux, r.rep.aux_len);
        } else if (request == IOMMU_GET_HW_INFO && r.rep.aux_len) {
            struct iommu_hw_info *hi = argp;

            memcpy((void *)(uintptr_t)hi->data_uptr, aux, r.rep.aux_len);
        } else if (r.rep.aux_len &&
                   hs_dirty_range(request, argp, req.payload_len)) {
            memcpy(hs_dirty_range(request, argp, req.payload_len)->bitmap.data,
                   aux, r.rep.aux_len);
        }
    }
    if (r.payload != small) {
        free(r.payload);
    }
    if (ret < 0) {
        errno = -ret;
        return -1;
    }
    return ret;
}

/*
 * KVM's VFIO pseudo device (KVM_DEV_TYPE_VFIO) takes a VFIO group or
 * device file with KVM_DEV_VFIO_FILE_ADD/_DEL; this host's KVM knows no
 * VFIO and refuses a simulated one. Answer as the kernel does for a real
 * file: 0 for a group or device file, EINVAL for a container or iommufd.
 * Returns -2 when the call is not one of those (the real ioctl runs).
 */
static int hs_kvm_vfio_attr(int fd, unsigned long request, void *argp)
{
    REAL(readlink);
    struct kvm_device_attr *a = argp;
    char self[64], target[64];
    ssize_t n;
    int32_t vfd;
    mode_t mode;
    dev_t rdev;
    int saved = errno;

    if (request != KVM_SET_DEVICE_ATTR || !a ||
        a->group != KVM_DEV_VFIO_GROUP ||
        (a->attr != KVM_DEV_VFIO_GROUP_ADD &&
         a->attr != KVM_DEV_VFIO_GROUP_DEL) ||
        !a->addr) {
        return -2;
    }
    memcpy(&vfd, (void *)(uintptr_t)a->addr, sizeof(vfd));
    snprintf(self, sizeof(self), "/proc/self/fd/%d", fd);
    n = real_readlink(self, target, sizeof(target) - 1);
    errno = saved;
    if (n < 0) {
        return -2;
    }
    target[n] = '\0';
    if (strcmp(target, "anon_inode:kvm-vfio") ||
        !hs_sim_stat(vfd, &mode, &rdev)) {
        return -2;
    }
    if (S_ISCHR(mode) && major(rdev) == HOSTSIM_MAJOR_MISC) {
        errno = EINVAL; /* not a VFIO file */
        return -1;
    }
    return 0;
}

HS_EXPORT int ioctl(int fd, unsigned long request, ...)
{
    REAL(ioctl);
    va_list ap;
    void *argp;
    int ret;

    va_start(ap, request);
    argp = va_arg(ap, void *);
    va_end(ap);
    /* VFIO and iommufd ioctls are all type ';' with no size encoded. */
    if (_IOC_TYPE(request) == VFIO_TYPE && _IOC_SIZE(request) == 0 &&
        hs_is_sim_fd(fd)) {
        return hs_ioctl_sim(fd, request, argp);
    }
    if (_IOC_TYPE(request) == KVMIO &&
        (ret = hs_kvm_vfio_attr(fd, request, argp)) != -2) {
        return ret;
    }
    return real_ioctl(fd, request, argp);
}

static ssize_t hs_pread_sim(int fd, void *buf, size_t count, off_t offset)
{
    HostsimReq req = {.op = HOSTSIM_OP_PREAD};
    HsReply r = {0};
    int64_t ret;

    if (count > HOSTSIM_MAX_PAYLOAD) {
        count = HOSTSIM_MAX_PAYLOAD;
    }
    req.offset = offset;
    req.len = count;
    r.payload = buf;
    r.cap = count;
    ret = hs_call(fd, &req, NULL, NULL, 0, &r);
    if (ret < 0) {
        errno = -ret;
        return -1;
    }
    return ret;
}

static ssize_t hs_pwrite_sim(int fd, const void *buf, size_t count,
                             off_t offset)
{
    HostsimReq req = {.op = HOSTSIM_OP_PWRITE};
    HsReply r = {0};
    int64_t ret;

    if (count > HOSTSIM_MAX_PAYLOAD) {
        count = HOSTSIM_MAX_PAYLOAD;
    }
    req.offset = offset;
    req.payload_len = count;
    ret = hs_call(fd, &req, buf, NULL, 0, &r);
    if (ret < 0) {
        errno = -ret;
        return -1;
    }
    return ret;
}

/* A socket answers pread/pwrite with ESPIPE: only then ask the daemon. */
HS_EXPORT ssize_t pread(int fd, void *buf, size_t count, off_t offset)
{
    REAL(pread);
    ssize_t n = real_pread(fd, buf, count, offset);

    if (n < 0 && errno == ESPIPE && hs_is_sim_fd(fd)) {
        return hs_pread_sim(fd, buf, count, offset);
    }
    return n;
}

HS_EXPORT ssize_t pread64(int fd, void *buf, size_t count, off64_t offset)
{
    REAL(pread64);
    ssize_t n = real_pread64(fd, buf, count, offset);

    if (n < 0 && errno == ESPIPE && hs_is_sim_fd(fd)) {
        return hs_pread_sim(fd, buf, count, offset);
    }
    return n;
}

HS_EXPORT ssize_t pwrite(int fd, const void *buf, size_t count, off_t offset)
{
    REAL(pwrite);
    ssize_t n = real_pwrite(fd, buf, count, offset);

    if (n < 0 && errno == ESPIPE && hs_is_sim_fd(fd)) {
        return hs_pwrite_sim(fd, buf, count, offset);
    }
    return n;
}

HS_EXPORT ssize_t pwrite64(int fd, const void *buf, size_t count,
                           off64_t offset)
{
    REAL(pwrite64);
    ssize_t n = real_pwrite64(fd, buf, count, offset);

    if (n < 0 && errno == ESPIPE && hs_is_sim_fd(fd)) {
        return hs_pwrite_sim(fd, buf, count, offset);
    }
    return n;
}

/*
 * read() and write() of a migration data fd. Its reading side is shut
 * down, so a plain read() returns 0 at once: only then is the daemon
 * asked. A write() is a message to the daemon; one larger than the send
 * buffer fails with EMSGSIZE and is sent in pieces.
 */
static ssize_t hs_read_sim(int fd, void *buf, size_t count)
{
    HostsimReq req = {.op = HOSTSIM_OP_READ};
    HsReply r = {0};
    int64_t ret;

    if (count > HOSTSIM_MAX_PAYLOAD) {
        count = HOSTSIM_MAX_PAYLOAD;
    }
    req.len = count;
    r.payload = buf;
    r.cap = count;
    ret = hs_call(fd, &req, NULL, NULL, 0, &r);
    if (ret < 0) {
        errno = -ret;
        return -1;
    }
    return ret;
}

HS_EXPORT ssize_t read(int fd, void *buf, size_t count)
{
    REAL(read);
    ssize_t n = real_read(fd, buf, count);

    if (n == 0 && count && hs_is_sim_fd(fd)) {
        return hs_read_sim(fd, buf, count);
    }
    return n;
}

HS_EXPORT ssize_t __read_chk(int fd, void *buf, size_t count, size_t buflen);

ssize_t __read_chk(int fd, void *buf, size_t count, size_t buflen)
{
    return read(fd, buf, count < buflen ? count : buflen);
}

HS_EXPORT ssize_t write(int fd, const void *buf, size_t count)
{
    REAL(write);
    const uint8_t *p = buf;
    size_t done = 0;
    ssize_t n;

    if (!count && hs_is_sim_fd(fd)) {
        return 0; /* an empty message would read as a close */
    }
    n = real_write(fd, buf, count);
    if (n >= 0 || errno != EMSGSIZE || !hs_is_sim_fd(fd)) {
        return n;
    }
    while (done < count) {
        size_t k =
            count - done < HS_DATA_SNDBUF ? count - done : HS_DATA_SNDBUF;

        n = real_write(fd, p + done, k);
        if (n < 0) {
            return done ? (ssize_t)done : -1;
        }
        done += n;
    }
    return done;
}

/*
 * The _FORTIFY_SOURCE entry points (Debian builds its packages with it):
 * buflen is the caller's buffer, already known to be large enough.
 */
HS_EXPORT ssize_t __pread_chk(int fd, void *buf, size_t count, off_t offset,
                              size_t buflen);
HS_EXPORT ssize_t __pread64_chk(int fd, void *buf, size_t count, off64_t offset,
                                size_t buflen);
HS_EXPORT ssize_t __readlink_chk(const char *path, char *out, size_t size,
                                 size_t buflen);
HS_EXPORT ssize_t __readlinkat_chk(int dirfd, const char *path, char *out,
                                   size_t size, size_t buflen);
HS_EXPORT char *__realpath_chk(const char *path, char *resolved,
                               size_t resolvedlen);

ssize_t __pread_chk(int fd, void *buf, size_t count, off_t offset,
                    size_t buflen)
{
    return pread(fd, buf, count < buflen ? count : buflen, offset);
}

ssize_t __pread64_chk(int fd, void *buf, size_t count, off64_t offset,
                      size_t buflen)
{
    return pread64(fd, buf, count < buflen ? count : buflen, offset);
}

ssize_t __readlink_chk(const char *path, char *out, size_t size, size_t buflen)
{
    return readlink(path, out, size < buflen ? size : buflen);
}

ssize_t __readlinkat_chk(int dirfd, const char *path, char *out, size_t size,
                         size_t buflen)
{
    return readlinkat(dirfd, path, out, size < buflen ? size : buflen);
}

char *__realpath_chk(const char *path, char *resolved, size_t resolvedlen)
{
    return realpath(path, resolved);
}

/*
 * mmap of a region: the daemon checks the range and returns the memfd
 * behind it, which is mapped in its place (so every process mapping the
 * BAR shares the same pages, as with a real BAR).
 */
static void *hs_mmap_sim(void *addr, size_t len, int prot, int flags, int fd,
                         off_t offset)
{
    REAL(mmap);
    HostsimReq req = {.op = HOSTSIM_OP_MMAP};
    HsReply r = {0};
    int64_t ret;
    void *p;
    int i;

    req.offset = offset;
    req.len = len;
    req.arg = (uint32_t)prot | (uint64_t)(uint32_t)flags << 32;
    ret = hs_call(fd, &req, NULL, NULL, 0, &r);
    if (ret < 0 || r.nfds != 1) {
        for (i = 0; i < r.nfds; i++) {
            close(r.fds[i]);
        }
        errno = ret < 0 ? -ret : EIO;
        return MAP_FAILED;
    }
    p = real_mmap(addr, len, prot, flags, r.fds[0], r.rep.aux);
    i = errno;
    close(r.fds[0]);
    errno = i;
    return p;
}

HS_EXPORT void *mmap(void *addr, size_t len, int prot, int flags, int fd,
                     off_t offset)
{
    REAL(mmap);
    void *p = real_mmap(addr, len, prot, flags, fd, offset);

    if (p == MAP_FAILED && errno == ENODEV && hs_is_sim_fd(fd)) {
        return hs_mmap_sim(addr, len, prot, flags, fd, offset);
    }
    return p;
}

HS_EXPORT void *mmap64(void *addr, size_t len, int prot, int flags, int fd,
                       off64_t offset)
{
    return mmap(addr, len, prot, flags, fd, offset);
}
