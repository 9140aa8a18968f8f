/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * hostsimd: the simulated host kernel for VFIO and iommufd (tests only,
 * docs/devel/hostsim.md). This file owns the command line, the /dev and
 * /sys tree the preload shows, the listening socket, one connection per
 * simulated open file, and request dispatch under the big lock. Object
 * semantics live in container.c, iommufd.c and dmatest.c.
 */
#include <errno.h>
#include <ftw.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <unistd.h>
#include <glib-unix.h>

#include "hostsim.h"

GMutex hs_lock;

typedef struct HsConn {
    int fd;
    int kind;
    void *obj;
    uint64_t ino;
} HsConn;

static GPtrArray *hs_devices;
static GHashTable *hs_conns_by_ino;
/* HOSTSIMD_FAULT: name -> how many more matching calls fail. */
static GHashTable *hs_faults;
static char *hs_root;
static GMainLoop *hs_loop;
/* HOSTSIMD_TRACE=1: a line per connection event and request (debugging). */
static bool hs_trace;

void hs_log(const char *fmt, ...)
{
    g_autofree char *msg = NULL;
    va_list ap;

    va_start(ap, fmt);
    msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    fprintf(stderr, "hostsimd: %s\n", msg);
}

HsDevice *hs_device_by_bdf(const char *bdf)
{
    guint i;

    for (i = 0; i < hs_devices->len; i++) {
        if (!strcmp(hs_device_bdf(hs_devices->pdata[i]), bdf)) {
            return hs_devices->pdata[i];
        }
    }
    return NULL;
}

HsDevice *hs_device_by_index(int index)
{
    return index >= 0 && (guint)index < hs_devices->len
               ? hs_devices->pdata[index]
               : NULL;
}

int hs_device_count(void)
{
    return hs_devices->len;
}

void *hs_conn_object_of_fd(int fd, int *kind)
{
    struct stat st;
    HsConn *cn;
    uint64_t ino;

    if (fstat(fd, &st) < 0 || !S_ISSOCK(st.st_mode)) {
        return NULL;
    }
    ino = st.st_ino;
    cn = g_hash_table_lookup(hs_conns_by_ino, &ino);
    if (!cn) {
        return NULL;
    }
    *kind = cn->kind;
    return cn->obj;
}

/* ---- failure injection (HOSTSIMD_FAULT) ---- */

/*
 * Failures a kernel may produce but a test cannot provoke otherwise, each
 * documented in docs/devel/hostsim.md and answered where the call is
 * simulated (container.c, iommufd.c).
 */
static const char *const hs_fault_names[] = {
    "unmap-vaddr-partial",
    "change-process-enomem",
    NULL,
};

/* HOSTSIMD_FAULT=NAME[,NAME...]: each listing arms the next such call. */
static bool hs_faults_parse(const char *spec, GError **errp)
{
    g_auto(GStrv) names = g_strsplit(spec, ",", -1);

    hs_faults = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    for (guint i = 0; names[i]; i++) {
        const char *n = names[i];
        guint count;

        if (!*n) {
            continue;
        }
        if (!g_strv_contains(hs_fault_names, n)) {
            g_autofree char *known = g_strjoinv(", ",
                                                (char **)hs_fault_names);

            g_set_error(errp, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                        "unknown fault '%s' (known: %s)", n, known);
            return false;
        }
        count = GPOINTER_TO_UINT(g_hash_table_lookup(hs_faults, n));
        g_hash_table_insert(hs_faults, g_strdup(n),
                            GUINT_TO_POINTER(count + 1));
    }
    return true;
}

bool hs_fault_take(const char *name)
{
    guint count;

    g_assert(g_strv_contains(hs_fault_names, name));
    count = hs_faults ? GPOINTER_TO_UINT(g_hash_table_lookup(hs_faults, name))
                      : 0;
    if (!count) {
        return false;
    }
    g_hash_table_insert(hs_faults, g_strdup(name), GUINT_TO_POINTER(count - 1));
    hs_log("fault '%s' injected (HOSTSIMD_FAULT)", name);
    return true;
}

/* ---- the /dev and /sys tree ($socket.root) ---- */

static void hs_tree_file(const char *rel, const char *contents)
{
    g_autofree char *path = g_strconcat(hs_root, rel, NULL);
    g_autofree char *dir = g_path_get_dirname(path);

    g_mkdir_with_parents(dir, 0755);
    if (!g_file_set_contents(path, contents, -1, NULL)) {
        hs_log("cannot write %s", path);
    }
}

static void hs_tree_link(const char *rel, const char *target)
{
    g_autofree char *path = g_strconcat(hs_root, rel, NULL);
    g_autofree char *dir = g_path_get_dirname(path);

    g_mkdir_with_parents(dir, 0755);
    if (symlink(target, path) < 0) {
        hs_log("cannot link %s: %s", path, g_strerror(errno));
    }
}

/*
 * Device nodes are real character-device nodes (stat shows S_IFCHR and
 * the numbers a VMM compares with vfio-dev/vfioN/dev); without CAP_MKNOD
 * they fall back to empty regular files.
 */
static void hs_tree_node(const char *rel, unsigned maj, unsigned min)
{
    g_autofree char *path = g_strconcat(hs_root, rel, NULL);
    g_autofree char *dir = g_path_get_dirname(path);

    g_mkdir_with_parents(dir, 0755);
    if (mknod(path, S_IFCHR | 0666, makedev(maj, min)) < 0) {
        hs_log("mknod %s: %s; using a regular file", path, g_strerror(errno));
        g_file_set_contents(path, "", 0, NULL);
    }
}

static int hs_rm_entry(const char *path, const struct stat *st, int flag,
                       struct FTW *ftw)
{
    return remove(path);
}

static void hs_tree_remove(void)
{
    nftw(hs_root, hs_rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static void hs_tree_build(void)
{
    GHashTable *groups = g_hash_table_new(NULL, NULL);
    guint i;

    hs_tree_remove();
    g_mkdir_with_parents(hs_root, 0755);
    hs_tree_node("/dev/vfio/vfio", HOSTSIM_MAJOR_MISC, HOSTSIM_MINOR_VFIO);
    hs_tree_node("/dev/iommu", HOSTSIM_MAJOR_MISC, HOSTSIM_MINOR_IOMMU);
    for (i = 0; i < hs_devices->len; i++) {
        HsDevice *d = hs_devices->pdata[i];
        const char *bdf = hs_device_bdf(d);
        int grp = hs_device_group(d);
        g_autofree char *base = g_strdup_printf("/sys/devices/hostsim/%s", bdf);
        g_autofree char *rel = NULL;
        g_autofree char *val = NULL;
        g_autofree char *tgt = NULL;

#define HS_FILE(name, contents)                                  \
    do {                                                         \
        g_autofree char *p_ = g_strconcat(base, "/" name, NULL); \
        hs_tree_file(p_, contents);                              \
    } while (0)
        HS_FILE("vendor", "0xba70\n");
        HS_FILE("device", "0x0001\n");
        HS_FILE("subsystem_vendor", "0xba70\n");
        HS_FILE("subsystem_device", "0x0001\n");
        HS_FILE("class", "0xff0000\n");
        HS_FILE("revision", "0x01\n");
#undef HS_FILE
        rel = g_strdup_printf("%s/vfio-dev/vfio%u/dev", base, i);
        val = g_strdup_printf("%d:%u\n", HOSTSIM_MAJOR_CDEV, i);
        hs_tree_file(rel, val);
        g_free(rel);
        rel = g_strdup_printf("%s/iommu_group", base);
        tgt = g_strdup_printf("../../../kernel/iommu_groups/%d", grp);
        hs_tree_link(rel, tgt);
        g_free(rel);
        rel = g_strdup_printf("%s/driver", base);
        hs_tree_link(rel, "../../../bus/pci/drivers/vfio-pci");
        g_free(rel);
        rel = g_strdup_printf("/sys/bus/pci/devices/%s", bdf);
        g_free(tgt);
        tgt = g_strdup_printf("../../../devices/hostsim/%s", bdf);
        hs_tree_link(rel, tgt);
        g_free(rel);
        rel =
            g_strdup_printf("/sys/kernel/iommu_groups/%d/devices/%s", grp, bdf);
        g_free(tgt);
        tgt = g_strdup_printf("../../../../devices/hostsim/%s", bdf);
        hs_tree_link(rel, tgt);
        g_free(rel);
        rel = g_strdup_printf("/dev/vfio/devices/vfio%u", i);
        hs_tree_node(rel, HOSTSIM_MAJOR_CDEV, i);
        if (!g_hash_table_contains(groups, GINT_TO_POINTER(grp + 1))) {
            g_hash_table_add(groups, GINT_TO_POINTER(grp + 1));
            g_free(rel);
            rel = g_strdup_printf("/dev/vfio/%d", grp);
            hs_tree_node(rel, HOSTSIM_MAJOR_GROUP, grp);
        }
    }
    {
        g_autofree char *drv =
            g_strconcat(hs_root, "/sys/bus/pci/drivers/vfio-pci", NULL);
        g_mkdir_with_parents(drv, 0755);
    }
    g_hash_table_destroy(groups);
}

/* ---- connections and dispatch ---- */

static int64_t hs_open_path(HsConn *cn, HsCall *c, const char *path)
{
    const char *p;
    int64_t n;
    char *end;
    int ret;

    if (!strcmp(path, "/dev/vfio/vfio")) {
        ret = hs_container_open(c, &cn->obj);
        cn->kind = HS_OBJ_CONTAINER;
    } else if (!strcmp(path, "/dev/iommu")) {
        ret = hs_iommufd_open(c, &cn->obj);
        cn->kind = HS_OBJ_IOMMUFD;
    } else if (g_str_has_prefix(path, "/dev/vfio/devices/vfio")) {
        HsDevice *d;

        p = path + strlen("/dev/vfio/devices/vfio");
        n = g_ascii_strtoll(p, &end, 10);
        d = *p && !*end ? hs_device_by_index(n) : NULL;
        if (!d) {
            return -ENOENT;
        }
        /* The device is opened (and reset) only at BIND_IOMMUFD. */
        cn->obj = hs_devfile_new(d, NULL, true);
        cn->kind = HS_OBJ_DEVICE;
        ret = 0;
    } else if (g_str_has_prefix(path, "/dev/vfio/")) {
        p = path + strlen("/dev/vfio/");
        n = g_ascii_strtoll(p, &end, 10);
        if (!*p || *end || n < 0 || n >= HS_MAX_GROUPS ||
            !hs_group_get(n, false)) {
            return -ENOENT;
        }
        ret = hs_group_open(c, n, &cn->obj);
        cn->kind = HS_OBJ_GROUP;
    } else {
        return -ENOENT;
    }
    if (ret < 0) {
        cn->kind = HS_OBJ_NONE;
        cn->obj = NULL;
    }
    return ret;
}

/*
 * What fstat() shows for an open file: the character device it was opened
 * from, or, for a device file from VFIO_GROUP_GET_DEVICE_FD, an anonymous
 * inode (mode 0600, no type).
 */
static int64_t hs_stat(HsConn *cn, HsCall *c)
{
    const mode_t chr = S_IFCHR | 0600;

    switch (cn->kind) {
    case HS_OBJ_CONTAINER:
        c->out_aux = makedev(HOSTSIM_MAJOR_MISC, HOSTSIM_MINOR_VFIO);
        return chr;
    case HS_OBJ_IOMMUFD:
        c->out_aux = makedev(HOSTSIM_MAJOR_MISC, HOSTSIM_MINOR_IOMMU);
        return chr;
    case HS_OBJ_GROUP:
        c->out_aux = makedev(HOSTSIM_MAJOR_GROUP, hs_group_id(cn->obj));
        return chr;
    case HS_OBJ_MIGFILE:
        c->out_aux = 0;
        return 0600; /* an anonymous inode, as the kernel's */
    case HS_OBJ_DEVICE:
        if (((HsDevFile *)cn->obj)->cdev) {
            c->out_aux = makedev(HOSTSIM_MAJOR_CDEV,
                                 hs_device_index(((HsDevFile *)cn->obj)->dev));
            return chr;
        }
        c->out_aux = 0;
        return 0600;
    }
    return -EBADF;
}

/* The SET of MIG_DEVICE_STATE; the connection may become the data fd. */
static int64_t hs_mig_set(HsConn *cn, HsCall *c)
{
    int kind = HS_OBJ_NONE;
    void *df = c->nfds == 1 ? hs_conn_object_of_fd(c->fds[0], &kind) : NULL;
    HsMigFile *f = NULL;
    int64_t ret;

    if (cn->kind != HS_OBJ_NONE) {
        return -EINVAL;
    }
    if (!df || kind != HS_OBJ_DEVICE) {
        return -EBADF;
    }
    ret = hs_mig_feature(df, c, &f);
    if (ret == 0 && f) {
        cn->kind = HS_OBJ_MIGFILE;
        cn->obj = f;
        cn->ino = c->req->ino;
        g_hash_table_insert(hs_conns_by_ino, &cn->ino, cn);
        hs_migfile_bind(f, cn->fd);
        c->out_aux = 1;
    }
    return ret;
}

void hs_conn_drain_writes(int fd, HsMigFile *f)
{
    static uint8_t buf[sizeof(HostsimReq) + HOSTSIM_MAX_PAYLOAD];
    char cbuf[CMSG_SPACE(sizeof(struct ucred)) +
              CMSG_SPACE(sizeof(int) * (HOSTSIM_MAX_FDS + 1))];
    struct iovec iov = {buf, sizeof(buf)};
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};
    struct cmsghdr *cm;
    bool request;
    ssize_t n;

    for (;;) {
        /* A peek installs passed fds too: close them, the loop serves it. */
        msg.msg_control = cbuf;
        msg.msg_controllen = sizeof(cbuf);
        n = recvmsg(fd, &msg, MSG_PEEK | MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
        if (n <= 0) {
            return;
        }
        request = false;
        for (cm = CMSG_FIRSTHDR(&msg); cm; cm = CMSG_NXTHDR(&msg, cm)) {
            if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS) {
                int k = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
                int *fds = (int *)CMSG_DATA(cm);

                while (k--) {
                    close(fds[k]);
                }
                request = true;
            }
        }
        if (request) {
            return;
        }
        msg.msg_control = NULL;
        msg.msg_controllen = 0;
        n = recvmsg(fd, &msg, MSG_DONTWAIT);
        if (n <= 0) {
            return;
        }
        if (hs_trace) {
            hs_log("trace: conn fd %d: %zd bytes drained", fd, n);
        }
        hs_migfile_write(f, buf, n, msg.msg_flags & MSG_TRUNC);
    }
}

static int64_t hs_dispatch(HsConn *cn, HsCall *c)
{
    const HostsimReq *req = c->req;
    int64_t ret;

    switch (req->op) {
    case HOSTSIM_OP_MIG_SET:
        return hs_mig_set(cn, c);
    case HOSTSIM_OP_OPEN:
    case HOSTSIM_OP_GET_DEVICE_FD:
        if (cn->kind != HS_OBJ_NONE || !c->in_len ||
            c->in[c->in_len - 1] != '\0') {
            return -EINVAL;
        }
        if (req->op == HOSTSIM_OP_OPEN) {
            ret = hs_open_path(cn, c, (const char *)c->in);
        } else {
            int kind = HS_OBJ_NONE;
            void *g =
                c->nfds == 1 ? hs_conn_object_of_fd(c->fds[0], &kind) : NULL;

            if (!g || kind != HS_OBJ_GROUP) {
                return -EBADF;
            }
            ret = hs_group_open_device(c, g, (const char *)c->in, &cn->obj);
            if (ret == 0) {
                cn->kind = HS_OBJ_DEVICE;
            }
        }
        if (ret == 0) {
            cn->ino = req->ino;
            g_hash_table_insert(hs_conns_by_ino, &cn->ino, cn);
        }
        return ret;
    case HOSTSIM_OP_IOCTL:
        switch (cn->kind) {
        case HS_OBJ_CONTAINER:
            return hs_container_ioctl(cn->obj, c);
        case HS_OBJ_GROUP:
            return hs_group_ioctl(cn->obj, c);
        case HS_OBJ_DEVICE:
            return hs_devfile_ioctl(cn->obj, c);
        case HS_OBJ_IOMMUFD:
            return hs_iommufd_ioctl(cn->obj, c);
        case HS_OBJ_MIGFILE:
            return hs_migfile_ioctl(cn->obj, c);
        }
        return -ENOTTY;
    case HOSTSIM_OP_READ:
        return cn->kind == HS_OBJ_MIGFILE ? hs_migfile_read(cn->obj, c)
                                          : -EINVAL;
    case HOSTSIM_OP_PREAD:
        return cn->kind == HS_OBJ_DEVICE ? hs_devfile_pread(cn->obj, c)
                                         : -EINVAL;
    case HOSTSIM_OP_PWRITE:
        return cn->kind == HS_OBJ_DEVICE ? hs_devfile_pwrite(cn->obj, c)
                                         : -EINVAL;
    case HOSTSIM_OP_STAT:
        return hs_stat(cn, c);
    case HOSTSIM_OP_MMAP:
        return cn->kind == HS_OBJ_DEVICE ? hs_devfile_mmap(cn->obj, c)
                                         : -ENODEV;
    }
    return -EINVAL;
}

/* The last reference to the open file is gone: the kernel's ->release. */
static void hs_conn_release(HsConn *cn)
{
    if (hs_trace) {
        hs_log("trace: conn fd %d kind %d released", cn->fd, cn->kind);
    }
    g_mutex_lock(&hs_lock);
    if (cn->ino) {
        g_hash_table_remove(hs_conns_by_ino, &cn->ino);
    }
    switch (cn->kind) {
    case HS_OBJ_CONTAINER:
        hs_container_release(cn->obj);
        break;
    case HS_OBJ_GROUP:
        hs_group_release(cn->obj);
        break;
    case HS_OBJ_DEVICE:
        hs_devfile_release(cn->obj);
        break;
    case HS_OBJ_IOMMUFD:
        hs_iommufd_release(cn->obj);
        break;
    case HS_OBJ_MIGFILE:
        hs_migfile_release(cn->obj);
        break;
    }
    g_mutex_unlock(&hs_lock);
    close(cn->fd);
    g_free(cn);
}

static bool hs_is_pipe(int fd)
{
    struct stat st;

    return fstat(fd, &st) == 0 && S_ISFIFO(st.st_mode);
}

/* A reply on a pipe: written whole; the caller reads as it goes. */
static bool hs_write_full(int fd, const void *buf, size_t len)
{
    const uint8_t *p = buf;
    ssize_t n;

    while (len) {
        n = write(fd, p, len);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return false;
        }
        p += n;
        len -= n;
    }
    return true;
}

/*
 * The reply goes to the channel that came with the request: a pipe, or a
 * socket when it returns fds (docs/devel/hostsim.md).
 */
static void hs_reply(int rfd, HsCall *c, int64_t ret)
{
    HostsimRep rep = {.ret = ret};
    struct iovec iov[2] = {
        {&rep, sizeof(rep)},
        {c->out, 0},
    };
    struct msghdr msg = {.msg_iov = iov, .msg_iovlen = 2};
    char cbuf[CMSG_SPACE(sizeof(int))];
    struct cmsghdr *cm;

    if (ret >= 0 || ret == -EMSGSIZE) {
        rep.payload_len = c->out_len;
        rep.aux_len = c->aux_len;
        rep.aux = c->out_aux;
        iov[1].iov_len = c->out_len;
    }
    if (ret >= 0 && c->out_fd >= 0) {
        memset(cbuf, 0, sizeof(cbuf));
        msg.msg_control = cbuf;
        msg.msg_controllen = sizeof(cbuf);
        cm = CMSG_FIRSTHDR(&msg);
        cm->cmsg_level = SOL_SOCKET;
        cm->cmsg_type = SCM_RIGHTS;
        cm->cmsg_len = CMSG_LEN(sizeof(int));
        memcpy(CMSG_DATA(cm), &c->out_fd, sizeof(int));
        rep.nfds = 1;
    }
    if (hs_is_pipe(rfd)) {
        /* The preload asks for a socket when the reply carries fds. */
        if (rep.nfds || !hs_write_full(rfd, &rep, sizeof(rep)) ||
            !hs_write_full(rfd, iov[1].iov_base, iov[1].iov_len)) {
            hs_log("pid %d: reply lost: %s", (int)c->pid,
                   rep.nfds ? "fds returned on a pipe" : g_strerror(errno));
        }
        return;
    }
    if (sendmsg(rfd, &msg, MSG_NOSIGNAL) < 0) {
        hs_log("pid %d: reply lost: %s", (int)c->pid, g_strerror(errno));
    }
}

/*
 * One message from a connection: its bytes, the fds passed with it and
 * the sending process (SCM_CREDENTIALS, 0 if absent). Returns what
 * recvmsg returned; *flags gets msg_flags.
 */
static ssize_t hs_recv(int fd, uint8_t *buf, size_t cap, int *fds, int *nfds,
                       pid_t *pid, int *flags)
{
    char cbuf[CMSG_SPACE(sizeof(struct ucred)) +
              CMSG_SPACE(sizeof(int) * (HOSTSIM_MAX_FDS + 1))];
    struct iovec iov = {buf, cap};
    struct msghdr msg = {
        .msg_iov = &iov,
        .msg_iovlen = 1,
        .msg_control = cbuf,
        .msg_controllen = sizeof(cbuf),
    };
    struct cmsghdr *cm;
    ssize_t n;

    *nfds = 0;
    *pid = 0;
    n = recvmsg(fd, &msg, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
    if (n < 0) {
        return n;
    }
    for (cm = CMSG_FIRSTHDR(&msg); cm; cm = CMSG_NXTHDR(&msg, cm)) {
        if (cm->cmsg_level != SOL_SOCKET) {
            continue;
        }
        if (cm->cmsg_type == SCM_CREDENTIALS) {
            struct ucred uc;

            memcpy(&uc, CMSG_DATA(cm), sizeof(uc));
            *pid = uc.pid;
        } else if (cm->cmsg_type == SCM_RIGHTS) {
            int k = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);

            memcpy(fds + *nfds, CMSG_DATA(cm), k * sizeof(int));
            *nfds += k;
        }
    }
    *flags = msg.msg_flags;
    return n;
}

/* A request, or EOF (the open file's last reference went away). */
static gboolean hs_conn_readable(gint fd, GIOCondition cond, gpointer opaque)
{
    HsConn *cn = opaque;
    static uint8_t in[sizeof(HostsimReq) + HOSTSIM_MAX_PAYLOAD];
    static uint8_t out[HOSTSIM_MAX_PAYLOAD * 2];
    int fds[HOSTSIM_MAX_FDS + 1];
    int nfds, i, flags = 0;
    pid_t pid;
    HostsimReq req;
    HsCall call = {.req = &req, .out = out, .out_fd = -1};
    int64_t ret;
    ssize_t n;

    n = hs_recv(fd, in, sizeof(in), fds, &nfds, &pid, &flags);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
        return G_SOURCE_CONTINUE;
    }
    if (n > 0 && nfds == 0 && cn->kind == HS_OBJ_MIGFILE) {
        /* write() on a data fd: the message is the data. */
        g_mutex_lock(&hs_lock);
        hs_migfile_write(cn->obj, in, n, flags & MSG_TRUNC);
        g_mutex_unlock(&hs_lock);
        return G_SOURCE_CONTINUE;
    }
    if (n <= 0 || nfds == 0) {
        for (i = 0; i < nfds; i++) {
            close(fds[i]);
        }
        if (n > 0) {
            hs_log("request without a reply socket%s; dropped",
                   flags & MSG_CTRUNC ? " (its descriptors were cut off)"
                                      : "");
            return G_SOURCE_CONTINUE;
        }
        if (n < 0) {
            hs_log("receiving on a connection failed: %s; released",
                   g_strerror(errno));
        }
        hs_conn_release(cn);
        return G_SOURCE_REMOVE;
    }
    memcpy(&req, in, MIN((size_t)n, sizeof(req)));
    call.pid = pid;
    call.in = in + sizeof(req);
    call.fds = fds + 1;
    call.nfds = nfds - 1;
    if ((size_t)n < sizeof(req) || req.magic != HOSTSIM_PROTO_MAGIC ||
        req.payload_len != n - sizeof(req) || req.nfds != (uint32_t)nfds - 1 ||
        (flags & (MSG_TRUNC | MSG_CTRUNC))) {
        hs_log("malformed request (%zd bytes, %d fds)", n, nfds);
        ret = -EINVAL;
    } else if (!pid) {
        hs_log("request without credentials; refused");
        ret = -EPERM;
    } else {
        call.in_len = req.payload_len;
        g_mutex_lock(&hs_lock);
        ret = hs_dispatch(cn, &call);
        g_mutex_unlock(&hs_lock);
    }
    hs_reply(fds[0], &call, ret);
    if (hs_trace) {
        hs_log("trace: conn fd %d kind %d: pid %d op %u cmd 0x%llx %d fds "
               "(reply fd %d) -> %lld", fd, cn->kind, (int)pid, req.op,
               (unsigned long long)req.cmd, nfds, fds[0], (long long)ret);
    }
    /* The reply channel, and passed fds no handler kept (kept ones are -1). */
    for (i = 0; i < nfds; i++) {
        if (fds[i] >= 0) {
            close(fds[i]);
        }
    }
    if (call.out_fd >= 0) {
        close(call.out_fd);
    }
    return G_SOURCE_CONTINUE;
}

static gboolean hs_accept(gint lfd, GIOCondition cond, gpointer opaque)
{
    int one = 1;
    HsConn *cn;
    int fd;

    fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
    if (fd < 0) {
        return G_SOURCE_CONTINUE;
    }
    setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &one, sizeof(one));
    cn = g_new0(HsConn, 1);
    cn->fd = fd;
    if (hs_trace) {
        hs_log("trace: conn fd %d accepted", fd);
    }
    g_unix_fd_add(fd, G_IO_IN | G_IO_HUP | G_IO_ERR, hs_conn_readable, cn);
    return G_SOURCE_CONTINUE;
}

static gboolean hs_quit(gpointer opaque)
{
    g_main_loop_quit(hs_loop);
    return G_SOURCE_CONTINUE;
}

static int hs_listen(const char *path)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    int one = 1;
    int fd;

    if (strlen(path) >= sizeof(sa.sun_path)) {
        fprintf(stderr, "hostsimd: socket path '%s' is too long\n", path);
        return -1;
    }
    strcpy(sa.sun_path, path);
    fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
    unlink(path);
    if (fd < 0 ||
        setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &one, sizeof(one)) < 0 ||
        bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
        listen(fd, 64) < 0) {
        fprintf(stderr, "hostsimd: cannot listen on '%s': %s\n", path,
                g_strerror(errno));
        return -1;
    }
    return fd;
}

static void hs_usage(FILE *f)
{
    fprintf(f,
            "usage: hostsimd --socket PATH --device SPEC [--device SPEC...]\n"
            "  SPEC: BDF,type=dmatest[,group=N][,mdev=on|off]"
            "[,migration=on|off]\n"
            "        [,precopy=on|off][,state-size=SIZE]"
            "[,state-dirty-rate=BYTES_PER_S]\n"
            "        [,dma-logging=on|off][,dma-logging-max-ranges=N]"
            "[,iommu-dirty=on|off]\n"
            "Runs until SIGTERM. Processes started with\n"
            "  LD_PRELOAD=.../libhostsim.so HOSTSIM_SOCKET=PATH\n"
            "see the simulated /dev/vfio, /dev/iommu and /sys entries.\n"
            "HOSTSIMD_FAULT=NAME[,NAME...] fails the next such call (tests):\n"
            "  unmap-vaddr-partial, change-process-enomem\n"
            "HOSTSIMD_TRACE=1 logs every connection and request.\n");
}

int main(int argc, char **argv)
{
    g_autoptr(GPtrArray) specs = g_ptr_array_new();
    const char *sock = NULL;
    g_autofree char *abs_sock = NULL;
    g_autoptr(GError) err = NULL;
    int lfd, i;
    guint j;

    for (i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *val = NULL;

        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            hs_usage(stdout);
            return 0;
        }
        if (!strcmp(a, "--socket") || !strcmp(a, "--device")) {
            if (i + 1 >= argc) {
                fprintf(stderr, "hostsimd: option '%s' needs a value\n", a);
                return 1;
            }
            val = argv[++i];
        } else if (g_str_has_prefix(a, "--socket=")) {
            val = a + strlen("--socket=");
            a = "--socket";
        } else if (g_str_has_prefix(a, "--device=")) {
            val = a + strlen("--device=");
            a = "--device";
        } else {
            fprintf(stderr, "hostsimd: unknown option '%s'\n", a);
            hs_usage(stderr);
            return 1;
        }
        if (!strcmp(a, "--socket")) {
            sock = val;
        } else {
            g_ptr_array_add(specs, (gpointer)val);
        }
    }
    if (!sock) {
        fprintf(stderr, "hostsimd: --socket PATH is required\n");
        return 1;
    }
    if (!specs->len) {
        fprintf(stderr, "hostsimd: at least one --device SPEC is required\n");
        return 1;
    }
    if (g_getenv("HOSTSIMD_FAULT") &&
        !hs_faults_parse(g_getenv("HOSTSIMD_FAULT"), &err)) {
        fprintf(stderr, "hostsimd: HOSTSIMD_FAULT: %s\n", err->message);
        return 1;
    }
    signal(SIGPIPE, SIG_IGN);
    hs_trace = g_strcmp0(g_getenv("HOSTSIMD_TRACE"), "1") == 0;
    hs_devices = g_ptr_array_new();
    hs_conns_by_ino = g_hash_table_new(g_int64_hash, g_int64_equal);
    for (j = 0; j < specs->len; j++) {
        HsDevice *d = hs_dmatest_new(specs->pdata[j], j, &err);

        if (!d) {
            fprintf(stderr, "hostsimd: --device '%s': %s\n",
                    (char *)specs->pdata[j], err->message);
            return 1;
        }
        if (hs_device_by_bdf(hs_device_bdf(d))) {
            fprintf(stderr, "hostsimd: --device '%s': duplicate BDF\n",
                    (char *)specs->pdata[j]);
            return 1;
        }
        g_ptr_array_add(hs_devices, d);
        hs_group_add_device(hs_group_get(hs_device_group(d), true), d);
    }
    /* Clients compare getpeername() with their absolute path. */
    sock = abs_sock = g_canonicalize_filename(sock, NULL);
    hs_root = g_strconcat(sock, ".root", NULL);
    lfd = hs_listen(sock);
    if (lfd < 0) {
        return 1;
    }
    hs_tree_build();
    hs_loop = g_main_loop_new(NULL, FALSE);
    g_unix_fd_add(lfd, G_IO_IN, hs_accept, NULL);
    g_unix_signal_add(SIGTERM, hs_quit, NULL);
    g_unix_signal_add(SIGINT, hs_quit, NULL);
    for (j = 0; j < hs_devices->len; j++) {
        hs_dmatest_start(hs_devices->pdata[j]);
    }
    hs_log("listening on %s with %u device(s); tree at %s", sock,
           hs_devices->len, hs_root);
    printf("hostsimd: ready\n");
    fflush(stdout);
    g_main_loop_run(hs_loop);
    for (j = 0; j < hs_devices->len; j++) {
        hs_dmatest_stop(hs_devices->pdata[j]);
    }
    close(lfd);
    unlink(sock);
    hs_tree_remove();
    hs_log("exiting");
    return 0;
}
