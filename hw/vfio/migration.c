/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * vfio-pci device migration, VFIO migration protocol v2 (linux/vfio.h):
 * the migration feature probe and QEMU's enable-migration blockers, the
 * device's live section ("BDF/vfio": its internal state read from and
 * written to the data fd), pre-copy, and the device state arcs tied to
 * the guest's stop and start (VM change state handlers). The device's
 * config space and interrupts travel in its vmstate section (cpr.c);
 * dirty tracking of its DMA is the container listener's.
 */
#include "util/osdep.h"

#include <errno.h>
#include <unistd.h>

#include <json-glib/json-glib.h>

#include "migration/migration.h"
#include "migration/register.h"
#include "migration/stream.h"
#include "standard-headers/linux/vfio-extra.h"
#include "util/fault-inject.h"
#include "system/runstate.h"
#include "trace.h"
#include "util/error-report.h"
#include "vfio-internal.h"

/*
 * The section's items, each a be64 tag (QEMU's magic, 0xef10, in bits
 * 16-31) and its payload; docs/devel/migration-stream.md.
 */
#define VFIO_MIG_TAG_SETUP 0xffffffffef100003ULL
#define VFIO_MIG_TAG_DATA 0xffffffffef100004ULL
#define VFIO_MIG_TAG_INIT_DATA_SENT 0xffffffffef100005ULL
#define VFIO_MIG_TAG_COMPLETE 0xffffffffef100010ULL

/* What one save_iterate reads (register.h: a bounded chunk). */
#define VFIO_MIG_ITERATE_CHUNK (256 * 1024)
/* Buffer for the switchover and for loading. */
#define VFIO_MIG_BUFFER_SIZE (1024 * 1024)
/* Pending when the device cannot say (QEMU's: never fits a downtime). */
#define VFIO_MIG_STOP_COPY_UNKNOWN (100ULL << 30)

struct VFIOMigration {
    VFIOPCIDevice *vdev;
    uint64_t mig_flags;    /* VFIO_MIGRATION_* */
    uint32_t device_state; /* enum vfio_device_mig_state */
    int data_fd;
    uint8_t *buf;
    uint64_t precopy_init, precopy_dirty;
    bool initial_data_sent;
    bool loading; /* destination: RESUMING entered for this load */
    bool loaded;  /* destination: COMPLETE applied (device in STOP) */
    char *idstr;  /* the live section */
    /*
     * An arc the guest's stop or start failed (a run state handler cannot
     * fail the change): a migration in progress fails with it, as QEMU's
     * migration_file_set_error().
     */
    GError *vm_state_error;
    VmChangeStateEntry *vm_state;
};

/* Bytes of device state sent by this process's migrations (query-migrate). */
static uint64_t vfio_bytes_transferred;
/* Devices with migration set up (live sections registered). */
static GPtrArray *vfio_migrating_devices;

static const char *vfio_mig_state_name(uint32_t state)
{
    static const char *const names[] = {
        [VFIO_DEVICE_STATE_ERROR] = "ERROR",
        [VFIO_DEVICE_STATE_STOP] = "STOP",
        [VFIO_DEVICE_STATE_RUNNING] = "RUNNING",
        [VFIO_DEVICE_STATE_STOP_COPY] = "STOP_COPY",
        [VFIO_DEVICE_STATE_RESUMING] = "RESUMING",
        [VFIO_DEVICE_STATE_RUNNING_P2P] = "RUNNING_P2P",
        [VFIO_DEVICE_STATE_PRE_COPY] = "PRE_COPY",
        [VFIO_DEVICE_STATE_PRE_COPY_P2P] = "PRE_COPY_P2P",
    };

    return state < G_N_ELEMENTS(names) && names[state] ? names[state]
                                                       : "UNKNOWN";
}

/* VFIO_DEVICE_FEATURE with a payload of LEN bytes; 0 or -errno. */
static int vfio_feature(VFIOPCIDevice *vdev, uint32_t flags, void *data,
                        size_t len)
{
    uint64_t buf[(sizeof(struct vfio_device_feature) + 64) / 8] = {0};
    struct vfio_device_feature *f = (struct vfio_device_feature *)buf;
    int ret;

    g_assert(len <= 64);
    f->argsz = sizeof(*f) + len;
    f->flags = flags;
    memcpy(f->data, data, len);
    ret = VFIO_IOCTL(vdev->fd, VFIO_DEVICE_FEATURE, f);
    if (ret >= 0) {
        memcpy(data, f->data, len);
    }
    return ret < 0 ? ret : 0;
}

/* One MIG_DEVICE_STATE SET; the kernel walks the arcs in between. */
static int vfio_mig_set(VFIOMigration *m, uint32_t state)
{
    struct vfio_device_feature_mig_state st = {
        .device_state = state,
        .data_fd = -1,
    };
    int ret = vfio_feature(
        m->vdev, VFIO_DEVICE_FEATURE_SET | VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE,
        &st, sizeof(st));

    trace_vfio_migration_set_state(m->vdev->name,
                                   vfio_mig_state_name(m->device_state),
                                   vfio_mig_state_name(state), ret);
    if (ret < 0) {
        return ret;
    }
    m->device_state = state;
    if (st.data_fd >= 0) {
        if (m->data_fd >= 0) {
            /* A reset ended the previous transfer behind our back. */
            close(st.data_fd);
            return -EBADF;
        }
        m->data_fd = st.data_fd;
    }
    return 0;
}

/* The device went back to RUNNING on its own (reset): no transfer left. */
static void vfio_mig_after_reset(VFIOMigration *m)
{
    m->device_state = VFIO_DEVICE_STATE_RUNNING;
    if (m->data_fd >= 0) {
        close(m->data_fd);
        m->data_fd = -1;
    }
}

/*
 * Move the device to STATE. On failure try RECOVER; if that fails too,
 * or RECOVER is ERROR (nothing sane to go back to), reset the device,
 * which the kernel returns to RUNNING with any transfer discarded
 * (QEMU's behaviour). Returns false + errp naming the device.
 */
static bool vfio_mig_set_state(VFIOMigration *m, uint32_t state,
                               uint32_t recover, GError **errp)
{
    VFIOPCIDevice *vdev = m->vdev;
    int ret, ret2;

    if (m->device_state == state) {
        return true;
    }
    ret = vfio_mig_set(m, state);
    if (!ret) {
        return true;
    }
    if (recover != VFIO_DEVICE_STATE_ERROR &&
        (ret2 = vfio_mig_set(m, recover)) == 0) {
        error_setg(errp,
                   "%s: Failed setting device state to %s, err: %s. "
                   "Setting device in recover state %s",
                   vdev->name, vfio_mig_state_name(state), g_strerror(-ret),
                   vfio_mig_state_name(recover));
        return false;
    }
    error_setg(errp,
               "%s: Failed setting device state to %s, err: %s. "
               "Resetting device",
               vdev->name, vfio_mig_state_name(state), g_strerror(-ret));
    ret2 = VFIO_IOCTL(vdev->fd, VFIO_DEVICE_RESET, NULL);
    if (ret2 < 0) {
        g_prefix_error(errp, "%s: reset failed too (%s); ", vdev->name,
                       g_strerror(-ret2));
    }
    vfio_mig_after_reset(m);
    return false;
}

static bool vfio_mig_precopy_supported(VFIOMigration *m)
{
    return m->mig_flags & VFIO_MIGRATION_PRE_COPY;
}

static bool vfio_mig_in_precopy(VFIOMigration *m)
{
    return m->device_state == VFIO_DEVICE_STATE_PRE_COPY ||
           m->device_state == VFIO_DEVICE_STATE_PRE_COPY_P2P;
}

/* ---- source ---- */

static void vfio_mig_query_precopy(VFIOMigration *m)
{
    struct vfio_precopy_info info = {.argsz = sizeof(info)};

    m->precopy_init = m->precopy_dirty = 0;
    if (m->data_fd >= 0 &&
        VFIO_IOCTL(m->data_fd, VFIO_MIG_GET_PRECOPY_INFO, &info) >= 0) {
        m->precopy_init = info.initial_bytes;
        m->precopy_dirty = info.dirty_bytes;
    }
}

/* MIG_DATA_SIZE: what STOP_COPY would still produce. */
static uint64_t vfio_mig_stop_copy_size(VFIOMigration *m)
{
    struct vfio_device_feature_mig_data_size sz = {0};

    if (vfio_feature(m->vdev,
                     VFIO_DEVICE_FEATURE_GET |
                         VFIO_DEVICE_FEATURE_MIG_DATA_SIZE,
                     &sz, sizeof(sz)) < 0) {
        return VFIO_MIG_STOP_COPY_UNKNOWN;
    }
    return sz.stop_copy_length;
}

/*
 * Read up to MAX bytes from the data fd into one DATA item of F. Returns
 * the bytes read (0: nothing more for now, ENOMSG in pre-copy, or the
 * end of the state in STOP_COPY), -1 + errp.
 */
static ssize_t vfio_mig_save_block(VFIOMigration *m, MigStream *f, size_t max,
                                   GError **errp)
{
    ssize_t n;

    do {
        n = read(m->data_fd, m->buf, max);
    } while (n < 0 && errno == EINTR);
    if (n < 0) {
        if (errno == ENOMSG) {
            return 0; /* pre-copy: everything for now (uAPI) */
        }
        error_setg_errno(errp, errno, "%s: failed reading the device state",
                         m->vdev->name);
        return -1;
    }
    if (n > 0) {
        mig_put_be64(f, VFIO_MIG_TAG_DATA);
        mig_put_be64(f, (uint64_t)n);
        mig_put_buffer(f, m->buf, (size_t)n);
        __atomic_fetch_add(&vfio_bytes_transferred, (uint64_t)n,
                           __ATOMIC_RELAXED);
    }
    trace_vfio_save_block(m->vdev->name, n);
    return n;
}

static bool vfio_save_setup(MigStream *f, void *opaque, GError **errp)
{
    VFIOMigration *m = opaque;

    m->buf = g_malloc(VFIO_MIG_BUFFER_SIZE);
    m->initial_data_sent = false;
    g_clear_error(&m->vm_state_error);
    mig_put_be64(f, VFIO_MIG_TAG_SETUP);
    if (fault_inject_fail("vfio-save-setup")) {
        error_setg(errp, "%s: save setup failed (fault injected)",
                   m->vdev->name);
        return false;
    }
    /* A guest already stopped goes straight to STOP_COPY at completion. */
    if (vfio_mig_precopy_supported(m) &&
        m->device_state == VFIO_DEVICE_STATE_RUNNING) {
        if (!vfio_mig_set_state(m, VFIO_DEVICE_STATE_PRE_COPY,
                                VFIO_DEVICE_STATE_RUNNING, errp)) {
            return false;
        }
        vfio_mig_query_precopy(m);
    }
    trace_vfio_save_setup(m->vdev->name, vfio_mig_state_name(m->device_state));
    return true;
}

static int vfio_save_iterate(MigStream *f, void *opaque, GError **errp)
{
    VFIOMigration *m = opaque;
    ssize_t n;

    if (!vfio_mig_in_precopy(m) || m->data_fd < 0) {
        return 1;
    }
    n = vfio_mig_save_block(m, f, VFIO_MIG_ITERATE_CHUNK, errp);
    if (n < 0) {
        return -1;
    }
    if (n == 0) {
        m->precopy_init = m->precopy_dirty = 0;
    } else {
        uint64_t k = MIN(m->precopy_init, (uint64_t)n);

        m->precopy_init -= k;
        m->precopy_dirty -= MIN(m->precopy_dirty, (uint64_t)n - k);
    }
    if (migration_switchover_ack_enabled() && !m->precopy_init &&
        !m->initial_data_sent) {
        /* The destination acknowledges once it has loaded this far. */
        mig_put_be64(f, VFIO_MIG_TAG_INIT_DATA_SENT);
        m->initial_data_sent = true;
    }
    trace_vfio_save_iterate(m->vdev->name, m->precopy_init, m->precopy_dirty);
    return !m->precopy_init && !m->precopy_dirty;
}

static uint64_t vfio_save_pending(void *opaque, bool sync)
{
    VFIOMigration *m = opaque;
    uint64_t pending;

    if (!sync) {
        return vfio_mig_in_precopy(m) ? m->precopy_init + m->precopy_dirty : 0;
    }
    /* What the switchover will send counts toward its downtime. */
    pending = vfio_mig_stop_copy_size(m);
    if (vfio_mig_in_precopy(m)) {
        vfio_mig_query_precopy(m);
        pending += m->precopy_init + m->precopy_dirty;
    }
    trace_vfio_save_pending(m->vdev->name, pending, m->precopy_init,
                            m->precopy_dirty);
    return pending;
}

/* vCPUs stopped: the device is in STOP or STOP_COPY (vm_state_change). */
static bool vfio_save_complete(MigStream *f, void *opaque, GError **errp)
{
    VFIOMigration *m = opaque;
    ssize_t n;

    /* The device failed as the guest stopped: its state is gone. */
    if (m->vm_state_error) {
        g_propagate_error(errp, g_steal_pointer(&m->vm_state_error));
        return false;
    }
    if (!vfio_mig_set_state(m, VFIO_DEVICE_STATE_STOP_COPY,
                            VFIO_DEVICE_STATE_STOP, errp)) {
        return false;
    }
    if (fault_inject_fail("vfio-stop-copy")) {
        error_setg(errp,
                   "%s: reading the device state failed (fault "
                   "injected)",
                   m->vdev->name);
        return false;
    }
    do {
        n = vfio_mig_save_block(m, f, VFIO_MIG_BUFFER_SIZE, errp);
        if (n > 0 && !savevm_live_split(f)) {
            error_setg(errp, "%s: the migration stream failed", m->vdev->name);
            return false;
        }
    } while (n > 0);
    if (n < 0) {
        return false;
    }
    mig_put_be64(f, VFIO_MIG_TAG_COMPLETE);
    trace_vfio_save_complete(m->vdev->name);
    return true;
}

/*
 * After success, failure or cancel. STOP_COPY ends in STOP (after the
 * switchover, so that it costs no downtime); a device still in pre-copy
 * means the guest never stopped: it runs on. A stopped guest that resumes
 * after a failure takes its devices back to RUNNING (vm_state_change).
 */
static void vfio_save_cleanup(void *opaque)
{
    VFIOMigration *m = opaque;
    g_autoptr(GError) err = NULL;

    if (m->device_state == VFIO_DEVICE_STATE_STOP_COPY) {
        vfio_mig_set_state(m, VFIO_DEVICE_STATE_STOP, VFIO_DEVICE_STATE_ERROR,
                           &err);
    } else if (vfio_mig_in_precopy(m)) {
        vfio_mig_set_state(m, VFIO_DEVICE_STATE_RUNNING,
                           VFIO_DEVICE_STATE_ERROR, &err);
    }
    if (err) {
        error_report_err(g_steal_pointer(&err));
    }
    if (m->data_fd >= 0) {
        close(m->data_fd);
        m->data_fd = -1;
    }
    g_clear_pointer(&m->buf, g_free);
    g_clear_error(&m->vm_state_error);
    m->precopy_init = m->precopy_dirty = 0;
    trace_vfio_save_cleanup(m->vdev->name,
                            vfio_mig_state_name(m->device_state));
}

/* In pre-copy after setup: INIT_DATA_SENT will follow its initial bytes. */
static bool vfio_switchover_ack_needed(void *opaque)
{
    return vfio_mig_in_precopy(opaque);
}

/* Normal migration only: the CPR modes keep the device as it runs. */
static bool vfio_is_active(void *opaque)
{
    return migration_mode() == MIG_MODE_NORMAL;
}

/* ---- destination ---- */

/* LEN bytes of F into the data fd, through the buffer. */
static bool vfio_mig_load_data(VFIOMigration *m, MigStream *f, uint64_t len,
                               GError **errp)
{
    if (len > mig_stream_remaining(f)) {
        error_setg(errp,
                   "%s: device state of %" PRIu64 " bytes overruns "
                   "its record",
                   m->vdev->name, len);
        return false;
    }
    if (!m->buf) {
        m->buf = g_malloc(VFIO_MIG_BUFFER_SIZE);
    }
    while (len) {
        size_t chunk = MIN(len, (uint64_t)VFIO_MIG_BUFFER_SIZE), done = 0;

        mig_get_buffer(f, m->buf, chunk);
        if (!mig_stream_check(f, errp)) {
            return false;
        }
        while (done < chunk) {
            ssize_t n = write(m->data_fd, m->buf + done, chunk - done);

            if (n < 0 && errno == EINTR) {
                continue;
            }
            if (n <= 0) {
                error_setg_errno(errp, n < 0 ? errno : EIO,
                                 "%s: the device refused its state",
                                 m->vdev->name);
                return false;
            }
            done += (size_t)n;
        }
        len -= chunk;
    }
    return true;
}

/*
 * The device leaves RESUMING as soon as the whole state is written: the
 * arc out of it is where it checks what it got, and a refusal fails the
 * load while the source can still take the guest back (QEMU leaves this
 * to the guest's start, when it is too late).
 */
static bool vfio_mig_load_complete(VFIOMigration *m, GError **errp)
{
    if (m->device_state != VFIO_DEVICE_STATE_RESUMING) {
        error_setg(errp, "%s: device state complete without its setup",
                   m->vdev->name);
        return false;
    }
    /*
     * The fd stays open across the arc: a driver may read the last of
     * the state then (and hostsim refuses the arc without it).
     */
    if (!vfio_mig_set_state(m, VFIO_DEVICE_STATE_STOP, VFIO_DEVICE_STATE_ERROR,
                            errp)) {
        return false;
    }
    if (m->data_fd >= 0) {
        close(m->data_fd);
        m->data_fd = -1;
    }
    m->loaded = true;
    return true;
}

static bool vfio_load_item(VFIOMigration *m, MigStream *f, uint64_t tag,
                           GError **errp)
{
    switch (tag) {
    case VFIO_MIG_TAG_SETUP:
        if (m->loading) {
            error_setg(errp, "%s: a second device state setup", m->vdev->name);
            return false;
        }
        m->loading = true;
        return vfio_mig_set_state(m, VFIO_DEVICE_STATE_RESUMING,
                                  m->device_state, errp) ||
               (g_prefix_error(errp, "%s: Failed to set RESUMING state; ",
                               m->vdev->name),
                false);
    case VFIO_MIG_TAG_DATA: {
        uint64_t len = mig_get_be64(f);

        if (!m->loading || m->loaded || m->data_fd < 0) {
            error_setg(errp, "%s: device state outside RESUMING",
                       m->vdev->name);
            return false;
        }
        return mig_stream_check(f, errp) && vfio_mig_load_data(m, f, len, errp);
    }
    case VFIO_MIG_TAG_INIT_DATA_SENT:
        if (!vfio_mig_precopy_supported(m) ||
            !migration_switchover_ack_enabled()) {
            error_setg(errp,
                       "%s: Received INIT_DATA_SENT but switchover ack "
                       "is not used",
                       m->vdev->name);
            return false;
        }
        return migration_switchover_approve(errp);
    case VFIO_MIG_TAG_COMPLETE:
        return vfio_mig_load_complete(m, errp);
    default:
        error_setg(errp, "%s: Unknown tag 0x%" PRIx64, m->vdev->name, tag);
        return false;
    }
}

static bool vfio_load_state(MigStream *f, void *opaque, int version_id,
                            GError **errp)
{
    VFIOMigration *m = opaque;

    while (mig_stream_remaining(f)) {
        uint64_t tag = mig_get_be64(f);

        if (!mig_stream_check(f, errp)) {
            return false;
        }
        trace_vfio_load_item(m->vdev->name, tag);
        if (!vfio_load_item(m, f, tag, errp)) {
            return false;
        }
    }
    return true;
}

/*
 * After the load, whatever its outcome: a device left in RESUMING holds
 * part of a state; reset it, which discards it (the guest never ran on
 * it here). A loaded device waits in STOP for the guest's start.
 */
static void vfio_load_cleanup(void *opaque)
{
    VFIOMigration *m = opaque;

    if (m->data_fd >= 0) {
        close(m->data_fd);
        m->data_fd = -1;
    }
    if (m->loading && !m->loaded) {
        int ret = VFIO_IOCTL(m->vdev->fd, VFIO_DEVICE_RESET, NULL);

        trace_vfio_migration_discard(m->vdev->name, ret);
        vfio_mig_after_reset(m);
    }
    m->loading = m->loaded = false;
    g_clear_pointer(&m->buf, g_free);
}

static const SaveVMHandlers vfio_savevm_handlers = {
    .save_setup = vfio_save_setup,
    .save_iterate = vfio_save_iterate,
    .save_pending = vfio_save_pending,
    .save_complete = vfio_save_complete,
    .save_cleanup = vfio_save_cleanup,
    .load_cleanup = vfio_load_cleanup,
    .load_state = vfio_load_state,
    .is_active = vfio_is_active,
    .switchover_ack_needed = vfio_switchover_ack_needed,
};

/* ---- the guest's stop and start ---- */

/*
 * Whether the device follows the guest's run state now: not during a
 * live update (the device keeps running, DMA-ing, for the next process),
 * nor while it is being resumed by a load.
 */
static bool vfio_mig_follows_vm(VFIOMigration *m)
{
    if (migration_is_active() && migration_mode() != MIG_MODE_NORMAL) {
        return false;
    }
    return !m->loading && !m->vdev->handed_over;
}

static void vfio_mig_report(VFIOMigration *m, GError *err)
{
    if (!err) {
        return;
    }
    if (migration_is_active() && !m->vm_state_error) {
        m->vm_state_error = g_error_copy(err);
    }
    error_report_err(err);
}

/* Every device quiesces its P2P first (stop) or starts it (start). */
static void vfio_vm_state_prepare(void *opaque, bool running, RunState state)
{
    VFIOMigration *m = opaque;
    GError *err = NULL;
    uint32_t next = m->device_state == VFIO_DEVICE_STATE_PRE_COPY
                        ? VFIO_DEVICE_STATE_PRE_COPY_P2P
                        : VFIO_DEVICE_STATE_RUNNING_P2P;

    /* A device that runs already has nothing to prepare for a start. */
    if (!vfio_mig_follows_vm(m) ||
        (running && m->device_state == VFIO_DEVICE_STATE_RUNNING)) {
        return;
    }
    vfio_mig_set_state(m, next, VFIO_DEVICE_STATE_ERROR, &err);
    trace_vfio_vm_state_change(m->vdev->name, running, runstate_name(state),
                               vfio_mig_state_name(m->device_state));
    vfio_mig_report(m, err);
}

/*
 * Then each device runs, or stops: into STOP_COPY straight from
 * pre-copy when a migration stops the guest (the rest of the state is
 * read from the same data fd), else STOP.
 */
static void vfio_vm_state_change(void *opaque, bool running, RunState state)
{
    VFIOMigration *m = opaque;
    GError *err = NULL;
    uint32_t next;

    if (!vfio_mig_follows_vm(m)) {
        return;
    }
    if (running) {
        next = VFIO_DEVICE_STATE_RUNNING;
    } else if (vfio_mig_in_precopy(m) && (state == RUN_STATE_FINISH_MIGRATE ||
                                          state == RUN_STATE_PAUSED)) {
        next = VFIO_DEVICE_STATE_STOP_COPY;
    } else {
        next = VFIO_DEVICE_STATE_STOP;
    }
    vfio_mig_set_state(m, next, VFIO_DEVICE_STATE_ERROR, &err);
    trace_vfio_vm_state_change(m->vdev->name, running, runstate_name(state),
                               vfio_mig_state_name(m->device_state));
    vfio_mig_report(m, err);
}

/* ---- realize, blockers ---- */

static int vfio_mig_query_flags(VFIOPCIDevice *vdev, uint64_t *flags)
{
    struct vfio_device_feature_migration mig = {0};
    int ret = vfio_feature(
        vdev, VFIO_DEVICE_FEATURE_GET | VFIO_DEVICE_FEATURE_MIGRATION, &mig,
        sizeof(mig));

    *flags = mig.flags;
    return ret;
}

/* A live update's new process: the device is as the old one left it. */
static uint32_t vfio_mig_current_state(VFIOPCIDevice *vdev)
{
    struct vfio_device_feature_mig_state st = {0};

    if (vfio_feature(vdev,
                     VFIO_DEVICE_FEATURE_GET |
                         VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE,
                     &st, sizeof(st)) < 0) {
        return VFIO_DEVICE_STATE_RUNNING;
    }
    return st.device_state;
}

/*
 * With enable-migration=on a reason is a realize error; otherwise it
 * becomes the device's migration blocker (normal mode only).
 */
static bool vfio_mig_block(VFIOPCIDevice *vdev, GError *reason, GError **errp)
{
    if (vdev->enable_migration == ON_OFF_AUTO_ON) {
        g_propagate_error(errp, reason);
        return false;
    }
    trace_vfio_migration_blocked(vdev->name, reason->message);
    vdev->migration_blocker = reason;
    return true;
}

bool vfio_migration_realize(VFIOPCIDevice *vdev, GError **errp)
{
    g_autofree char *path = NULL;
    GError *reason = NULL;
    VFIOMigration *m;
    uint64_t flags = 0;
    int ret;

    if (vdev->enable_migration == ON_OFF_AUTO_OFF) {
        g_set_error(&reason, BATON_ERROR, BATON_ERROR_GENERIC,
                    "%s: Migration is disabled for VFIO device", vdev->name);
        return vfio_mig_block(vdev, reason, errp);
    }
    ret = vfio_mig_query_flags(vdev, &flags);
    if (ret == -ENOTTY) {
        g_set_error(&reason, BATON_ERROR, BATON_ERROR_GENERIC,
                    "%s: VFIO migration is not supported in kernel",
                    vdev->name);
        return vfio_mig_block(vdev, reason, errp);
    }
    if (!ret && !(flags & VFIO_MIGRATION_STOP_COPY)) {
        ret = -EOPNOTSUPP; /* protocol v2's minimum */
    }
    if (ret < 0) {
        g_set_error(&reason, BATON_ERROR, BATON_ERROR_GENERIC,
                    "%s: Migration couldn't be initialized for VFIO device, "
                    "err: %d (%s)",
                    vdev->name, ret, g_strerror(-ret));
        return vfio_mig_block(vdev, reason, errp);
    }
    vdev->dma_logging = vfio_dma_logging_probe(vdev);
    if ((!vdev->dma_logging ||
         vdev->device_dirty_page_tracking == ON_OFF_AUTO_OFF) &&
        !vdev->dma->iommu_dirty) {
        /*
         * QEMU's rule: without any tracking every mapped page is resent
         * at every pass, which only enable-migration=on asks for.
         */
        if (vdev->enable_migration == ON_OFF_AUTO_AUTO) {
            g_set_error(&reason, BATON_ERROR, BATON_ERROR_GENERIC,
                        "%s: VFIO device doesn't support device and IOMMU "
                        "dirty tracking",
                        vdev->name);
            return vfio_mig_block(vdev, reason, errp);
        }
        warn_report("%s: VFIO device doesn't support device and IOMMU dirty "
                    "tracking",
                    vdev->name);
    }
    m = g_new0(VFIOMigration, 1);
    m->vdev = vdev;
    m->mig_flags = flags;
    m->data_fd = -1;
    m->device_state = vdev->cpr_reused ? vfio_mig_current_state(vdev)
                                       : VFIO_DEVICE_STATE_RUNNING;
    path = qdev_get_dev_path(DEVICE(vdev));
    m->idstr = g_strdup_printf("%s/vfio", path ? path : vdev->name);
    savevm_register_live(m->idstr, 0, 1, &vfio_savevm_handlers, m);
    m->vm_state = vm_add_change_state_handler(
        vfio_vm_state_change,
        (flags & VFIO_MIGRATION_P2P) ? vfio_vm_state_prepare : NULL, m,
        VM_CHANGE_STATE_PRIO_VFIO);
    vdev->migration = m;
    if (!vfio_migrating_devices) {
        vfio_migrating_devices = g_ptr_array_new();
    }
    g_ptr_array_add(vfio_migrating_devices, vdev);
    trace_vfio_migration_realize(vdev->name, flags,
                                 vfio_mig_state_name(m->device_state));
    return true;
}

void vfio_migration_exit(VFIOPCIDevice *vdev)
{
    VFIOMigration *m = vdev->migration;

    g_clear_error(&vdev->migration_blocker);
    if (!m) {
        return;
    }
    vm_del_change_state_handler(m->vm_state);
    vmstate_unregister_opaque(m);
    if (m->data_fd >= 0) {
        close(m->data_fd);
    }
    g_free(m->buf);
    g_clear_error(&m->vm_state_error);
    g_free(m->idstr);
    g_free(m);
    vdev->migration = NULL;
    g_ptr_array_remove(vfio_migrating_devices, vdev);
}

void vfio_migration_reset(VFIOPCIDevice *vdev)
{
    if (vdev->migration) {
        vfio_mig_after_reset(vdev->migration);
    }
}

bool vfio_migration_check(VFIOPCIDevice *vdev, unsigned int mode, GError **errp)
{
    if (MIG_MODE_BIT(mode) & CPR_MODES_PRESERVING) {
        return true; /* the device stays; its state needs no migration */
    }
    if (mode != MIG_MODE_NORMAL) {
        DeviceState *dev = DEVICE(vdev);

        error_setg(errp,
                   "device '%s' (vfio-pci) does not support migration "
                   "mode %s",
                   dev->id ? dev->id : vdev->name, migrate_mode_name(mode));
        return false;
    }
    if (vdev->migration_blocker) {
        g_propagate_error(errp, g_error_copy(vdev->migration_blocker));
        return false;
    }
    /* P2P is what keeps one device's DMA out of another stopped one. */
    if (vfio_migrating_devices && vfio_migrating_devices->len > 1) {
        for (guint i = 0; i < vfio_migrating_devices->len; i++) {
            VFIOPCIDevice *d = g_ptr_array_index(vfio_migrating_devices, i);

            if (!(d->migration->mig_flags & VFIO_MIGRATION_P2P)) {
                error_setg(errp, "Multiple VFIO devices migration is "
                                 "supported only if all of them support "
                                 "P2P migration");
                return false;
            }
        }
    }
    return true;
}

/* query-migrate's "vfio" while a device can migrate (QEMU's). */
static JsonNode *vfio_migration_info(void)
{
    g_autoptr(JsonBuilder) b = NULL;

    if (!vfio_migrating_devices || !vfio_migrating_devices->len) {
        return NULL;
    }
    b = json_builder_new();
    json_builder_begin_object(b);
    json_builder_set_member_name(b, "transferred");
    json_builder_add_int_value(
        b, (gint64)__atomic_load_n(&vfio_bytes_transferred, __ATOMIC_RELAXED));
    json_builder_end_object(b);
    return json_builder_get_root(b);
}

static void vfio_migration_begin(void)
{
    __atomic_store_n(&vfio_bytes_transferred, 0, __ATOMIC_RELAXED);
}

void vfio_migration_init(void)
{
    migration_add_info("vfio", vfio_migration_info, vfio_migration_begin);
}
