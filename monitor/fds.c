/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Descriptors passed to baton over a monitor's UNIX socket (SCM_RIGHTS):
 * the named ones of getfd / closefd, the fd sets of add-fd / remove-fd /
 * query-fdsets, and the lookups other subsystems use to turn "NAME",
 * "N" or "/dev/fdset/N" arguments into descriptors (include/monitor/fds.h).
 * Everything runs in the main loop with the big lock held.
 */
#include "util/osdep.h"

#include <limits.h>

#include "chardev/char.h"
#include "monitor/fds.h"
#include "monitor/monitor.h"

/* Named descriptors (getfd): name -> fd, both owned here. */
static GHashTable *named_fds;

typedef struct FdsetFd {
    int fd;
    char *opaque;
} FdsetFd;

typedef struct Fdset {
    int64_t id;
    GList *fds;   /* FdsetFd *, newest first as QEMU lists them */
} Fdset;

static GList *fdsets; /* Fdset *, sorted by id */

static void close_fd_value(gpointer data)
{
    close(GPOINTER_TO_INT(data));
}

static GHashTable *named_table(void)
{
    if (!named_fds) {
        named_fds = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
                                          close_fd_value);
    }
    return named_fds;
}

/* The descriptor that came with the command being executed, or -1. */
static int take_msgfd(GError **errp)
{
    int fd = chardev_get_msgfd(NULL);

    if (fd < 0) {
        error_setg(errp, "No file descriptor supplied via SCM_RIGHTS");
    }
    return fd;
}

static bool monitor_add_named_fd(int fd, const char *name, GError **errp)
{
    if (g_ascii_isdigit(name[0])) {
        close(fd);
        error_setg(errp, "Parameter 'fdname' expects a name not starting "
                   "with a digit");
        return false;
    }
    /* A name given again replaces (and closes) the older descriptor. */
    g_hash_table_insert(named_table(), g_strdup(name), GINT_TO_POINTER(fd));
    return true;
}

static bool monitor_close_named_fd(const char *name, GError **errp)
{
    if (!g_hash_table_remove(named_table(), name)) {
        error_setg(errp, "File descriptor named '%s' not found", name);
        return false;
    }
    return true;
}

/* Hand over the named fd (QEMU's monitor_get_fd). */
static int monitor_take_named_fd(const char *name, GError **errp)
{
    gpointer key, value;

    if (!g_hash_table_steal_extended(named_table(), name, &key, &value)) {
        error_setg(errp, "File descriptor named '%s' has not been found",
                   name);
        return -1;
    }
    g_free(key);
    return GPOINTER_TO_INT(value);
}

/* ---- fd sets ---- */

static Fdset *fdset_find(int64_t id)
{
    for (GList *l = fdsets; l; l = l->next) {
        Fdset *set = l->data;

        if (set->id == id) {
            return set;
        }
    }
    return NULL;
}

static gint fdset_compare(gconstpointer a, gconstpointer b)
{
    const Fdset *x = a, *y = b;

    return x->id < y->id ? -1 : x->id > y->id;
}

/* The lowest id no set uses (QEMU's choice for add-fd without fdset-id). */
static int64_t fdset_free_id(void)
{
    int64_t id = 0;

    for (GList *l = fdsets; l; l = l->next) {
        Fdset *set = l->data;

        if (set->id != id) {
            break;
        }
        id++;
    }
    return id;
}

static void fdset_fd_free(gpointer data)
{
    FdsetFd *f = data;

    close(f->fd);
    g_free(f->opaque);
    g_free(f);
}

static void fdset_remove_if_empty(Fdset *set)
{
    if (!set->fds) {
        fdsets = g_list_remove(fdsets, set);
        g_free(set);
    }
}

static bool qmp_add_fd(JsonObject *args, JsonNode **ret, GError **errp)
{
    bool has_id = qmp_arg_has(args, "fdset-id");
    int64_t id = qmp_arg_int(args, "fdset-id", 0);
    g_autoptr(JsonBuilder) b = NULL;
    FdsetFd *f;
    Fdset *set;
    int fd;

    fd = take_msgfd(errp);
    if (fd < 0) {
        return false;
    }
    if (has_id && id < 0) {
        close(fd);
        error_setg(errp, "Parameter 'fdset-id' expects a non-negative value");
        return false;
    }
    set = has_id ? fdset_find(id) : NULL;
    if (!set) {
        set = g_new0(Fdset, 1);
        set->id = has_id ? id : fdset_free_id();
        fdsets = g_list_insert_sorted(fdsets, set, fdset_compare);
    }
    f = g_new0(FdsetFd, 1);
    f->fd = fd;
    f->opaque = g_strdup(qmp_arg_str(args, "opaque"));
    set->fds = g_list_prepend(set->fds, f);

    b = json_builder_new();
    json_builder_begin_object(b);
    json_builder_set_member_name(b, "fdset-id");
    json_builder_add_int_value(b, set->id);
    json_builder_set_member_name(b, "fd");
    json_builder_add_int_value(b, fd);
    json_builder_end_object(b);
    *ret = json_builder_get_root(b);
    return true;
}

static bool qmp_remove_fd(JsonObject *args, JsonNode **ret, GError **errp)
{
    int64_t id = qmp_arg_int(args, "fdset-id", 0);
    bool has_fd = qmp_arg_has(args, "fd");
    int64_t fd = qmp_arg_int(args, "fd", -1);
    Fdset *set = fdset_find(id);

    if (set && !has_fd) {
        g_list_free_full(g_steal_pointer(&set->fds), fdset_fd_free);
        fdset_remove_if_empty(set);
        return true;
    }
    for (GList *l = set ? set->fds : NULL; l; l = l->next) {
        FdsetFd *f = l->data;

        if (f->fd == fd) {
            set->fds = g_list_delete_link(set->fds, l);
            fdset_fd_free(f);
            fdset_remove_if_empty(set);
            return true;
        }
    }
    if (has_fd) {
        error_setg(errp, "File descriptor named 'fdset-id:%" PRId64 ", fd:%"
                   PRId64 "' not found", id, fd);
    } else {
        error_setg(errp, "File descriptor named 'fdset-id:%" PRId64 "' not "
                   "found", id);
    }
    return false;
}

static bool qmp_query_fdsets(JsonObject *args, JsonNode **ret,
                             GError **errp)
{
    g_autoptr(JsonBuilder) b = json_builder_new();

    json_builder_begin_array(b);
    for (GList *l = fdsets; l; l = l->next) {
        Fdset *set = l->data;

        json_builder_begin_object(b);
        json_builder_set_member_name(b, "fdset-id");
        json_builder_add_int_value(b, set->id);
        json_builder_set_member_name(b, "fds");
        json_builder_begin_array(b);
        for (GList *m = set->fds; m; m = m->next) {
            FdsetFd *f = m->data;

            json_builder_begin_object(b);
            json_builder_set_member_name(b, "fd");
            json_builder_add_int_value(b, f->fd);
            if (f->opaque) {
                json_builder_set_member_name(b, "opaque");
                json_builder_add_string_value(b, f->opaque);
            }
            json_builder_end_object(b);
        }
        json_builder_end_array(b);
        json_builder_end_object(b);
    }
    json_builder_end_array(b);
    *ret = json_builder_get_root(b);
    return true;
}

/* "/dev/fdset/N" -> N, or -1 if PATH is not an fd set path. */
static int64_t fdset_path_id(const char *path, bool *is_fdset)
{
    const char *p = g_str_has_prefix(path, "/dev/fdset/")
                        ? path + strlen("/dev/fdset/") : NULL;
    guint64 id;

    *is_fdset = p != NULL;
    if (!p || !g_ascii_string_to_unsigned(p, 10, 0, INT64_MAX, &id, NULL)) {
        return -1;
    }
    return id;
}

/* A duplicate of the first fd of set ID whose access mode is ACCMODE. */
static int fdset_dup(const char *path, int64_t id, int accmode, bool any,
                     GError **errp)
{
    Fdset *set = fdset_find(id);

    for (GList *l = set ? set->fds : NULL; l; l = l->next) {
        FdsetFd *f = l->data;
        int fl = fcntl(f->fd, F_GETFL);
        int dup;

        if (fl < 0 || (!any && (fl & O_ACCMODE) != accmode)) {
            continue;
        }
        dup = fcntl(f->fd, F_DUPFD_CLOEXEC, 0);
        if (dup < 0) {
            error_setg_errno(errp, errno, "Could not dup FD for %s", path);
        }
        return dup;
    }
    error_setg_errno(errp, set ? EACCES : ENOENT,
                     "Could not dup FD for %s flags %x", path, accmode);
    return -1;
}

int monitor_fdset_open(const char *path, int flags, mode_t mode,
                       GError **errp)
{
    bool is_fdset;
    int64_t id = fdset_path_id(path, &is_fdset);
    int fd;

    if (is_fdset) {
        if (id < 0) {
            error_setg(errp, "Could not parse fdset %s", path);
            return -1;
        }
        return fdset_dup(path, id, flags & O_ACCMODE, false, errp);
    }
    fd = open(path, flags | O_CLOEXEC, mode);
    if (fd < 0) {
        error_setg_errno(errp, errno, "Could not open '%s'", path);
    }
    return fd;
}

int monitor_fd_param(const char *name, GError **errp)
{
    bool is_fdset;
    int64_t id = fdset_path_id(name, &is_fdset);
    guint64 num;

    if (is_fdset) {
        if (id < 0) {
            error_setg(errp, "Could not parse fdset %s", name);
            return -1;
        }
        return fdset_dup(name, id, 0, true, errp);
    }
    if (!g_ascii_isdigit(name[0])) {
        return monitor_take_named_fd(name, errp);
    }
    if (!g_ascii_string_to_unsigned(name, 10, 0, INT_MAX, &num, NULL) ||
        fcntl(num, F_GETFD) < 0) {
        error_setg(errp, "Invalid file descriptor number '%s'", name);
        return -1;
    }
    return num;
}

/* ---- getfd / closefd ---- */

static bool qmp_getfd(JsonObject *args, JsonNode **ret, GError **errp)
{
    int fd = take_msgfd(errp);

    return fd >= 0 &&
           monitor_add_named_fd(fd, qmp_arg_str(args, "fdname"), errp);
}

static bool qmp_closefd(JsonObject *args, JsonNode **ret, GError **errp)
{
    return monitor_close_named_fd(qmp_arg_str(args, "fdname"), errp);
}

static const QmpArgSpec fdname_args[] = {
    { "fdname", QMP_ARG_STR, false },
    { NULL }
};

static const QmpArgSpec add_fd_args[] = {
    { "fdset-id", QMP_ARG_INT, true },
    { "opaque", QMP_ARG_STR, true },
    { NULL }
};

static const QmpArgSpec remove_fd_args[] = {
    { "fdset-id", QMP_ARG_INT, false },
    { "fd", QMP_ARG_INT, true },
    { NULL }
};

static const QmpCommandDef fds_qmp_commands[] = {
    { "getfd", qmp_getfd, fdname_args },
    { "closefd", qmp_closefd, fdname_args },
    { "add-fd", qmp_add_fd, add_fd_args },
    { "remove-fd", qmp_remove_fd, remove_fd_args },
    { "query-fdsets", qmp_query_fdsets },
};

static void hmp_fd_cmd(Monitor *mon, int argc, char **argv)
{
    GError *err = NULL;
    int fd;

    if (argc != 2) {
        monitor_printf(mon, "%s: %s\n", argv[0],
                       argc < 2 ? "missing argument"
                                : "extraneous characters at the end of line");
        monitor_printf(mon, "Try \"help %s\" for more information\n",
                       argv[0]);
        return;
    }
    if (!strcmp(argv[0], "closefd")) {
        monitor_close_named_fd(argv[1], &err);
    } else if ((fd = take_msgfd(&err)) >= 0) {
        monitor_add_named_fd(fd, argv[1], &err);
    }
    hmp_handle_error(mon, err);
}

static const HmpCommandDef fds_hmp_commands[] = {
    { "getfd", "getfd name",
      "receive a file descriptor via SCM rights and assign it a name",
      hmp_fd_cmd },
    { "closefd", "closefd name",
      "close a file descriptor previously passed via SCM rights",
      hmp_fd_cmd },
};

static void __attribute__((constructor)) monitor_fds_register(void)
{
    qmp_register_commands(fds_qmp_commands, ARRAY_SIZE(fds_qmp_commands));
    hmp_register_commands(fds_hmp_commands, ARRAY_SIZE(fds_hmp_commands));
}
