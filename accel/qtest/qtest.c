/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The qtest accelerator (no vCPUs: the guest never runs; interrupt lines
 * and MSIs are only recorded and reported to the qtest client, and there
 * is no routing table, so irqfd owners use the MSI window) and the -qtest
 * server that connects one protocol session (qtest-proto.c) to a chardev
 * and the -qtest-log file.
 */
#include "util/osdep.h"

#include "accel/qtest.h"
#include "chardev/char.h"
#include "hw/core/object.h"
#include "migration/cpr.h"
#include "system/cpus.h"
#include "util/error-report.h"

/* How much the chardev may hand us at once; lines may span reads. */
#define QTEST_READ_CHUNK 65536

typedef struct QtestServer {
    Chardev *chr;
    QtestSession *session;
    FILE *log;
} QtestServer;

static QtestServer qtest_server;

/* Level of each interrupt line as devices last drove it. */
static bool qtest_irq_levels[QTEST_MAX_IRQ];

/* The server */

static void qtest_server_send(void *opaque, const char *line)
{
    Chardev *chr = opaque;

    /* With no client connected the chardev drops data, as in QEMU. */
    chardev_write(chr, (const uint8_t *)line, strlen(line));
}

static size_t qtest_server_can_read(void *opaque)
{
    return QTEST_READ_CHUNK;
}

static void qtest_server_read(void *opaque, const uint8_t *buf, size_t len)
{
    qtest_session_feed(opaque, buf, len);
}

static void qtest_server_event(void *opaque, ChardevEvent event)
{
    switch (event) {
    case CHR_EVENT_OPENED:
        qtest_session_opened(opaque);
        break;
    case CHR_EVENT_CLOSED:
        qtest_session_closed(opaque);
        break;
    }
}

static const ChardevFrontendOps qtest_server_ops = {
    .can_read = qtest_server_can_read,
    .read = qtest_server_read,
    .event = qtest_server_event,
};

static bool qtest_server_open_log(const char *log_path, FILE **fp,
                                  GError **errp)
{
    *fp = NULL;
    if (!log_path || strcmp(log_path, "none") == 0) {
        return true;
    }
    *fp = fopen(log_path, "w");
    if (!*fp) {
        error_setg_errno(errp, errno, "cannot open qtest log '%s'", log_path);
        return false;
    }
    /* Line buffered so a test can read the log while baton runs. */
    setvbuf(*fp, NULL, _IOLBF, 0);
    return true;
}

bool qtest_server_init(const char *spec, const char *log_path, GError **errp)
{
    GError *local_err = NULL;
    QtestSession *session;
    Chardev *chr;
    FILE *log;

    if (qtest_server.session) {
        error_setg(errp, "only one instance of qtest can be created");
        return false;
    }
    if (!qtest_server_open_log(log_path, &log, errp)) {
        return false;
    }
    chr = chardev_new_from_spec(spec, "qtest", &local_err);
    if (!chr) {
        if (local_err) {
            g_propagate_error(errp, local_err);
        } else {
            error_setg(errp, "failed to initialize device for qtest: '%s'",
                       spec);
        }
        goto fail;
    }
    session = qtest_session_new(qtest_server_send, chr);
    qtest_session_set_log(session, log);
    if (!chardev_attach(chr, &qtest_server_ops, session, errp)) {
        qtest_session_free(session);
        goto fail;
    }
    qtest_server.chr = chr;
    qtest_server.session = session;
    qtest_server.log = log;
    return true;

fail:
    if (log) {
        fclose(log);
    }
    return false;
}

void qtest_server_cleanup(void)
{
    if (!qtest_server.session) {
        return;
    }
    chardev_detach(qtest_server.chr);
    qtest_session_free(qtest_server.session);
    if (qtest_server.log) {
        fclose(qtest_server.log);
    }
    memset(&qtest_server, 0, sizeof(qtest_server));
}

/* The accelerator */

static bool qtest_accel_available(GError **errp)
{
    return true;
}

static bool qtest_accel_init(MachineState *ms, GError **errp)
{
    memset(qtest_irq_levels, 0, sizeof(qtest_irq_levels));
    return true;
}

/* No vCPUs exist, so there is nothing to run, stop or reset. */
static void qtest_accel_resume_all(void)
{
}

static void qtest_accel_pause_all(void)
{
}

static void qtest_accel_reset_all(MachineState *ms)
{
}

static void qtest_accel_cleanup(bool wait)
{
}

static void qtest_irqchip_set_gsi(unsigned int gsi, bool level)
{
    if (gsi >= QTEST_MAX_IRQ) {
        log_mask(LOG_GUEST_ERROR,
                 "qtest: interrupt line %u is out of range "
                 "(max %u)\n",
                 gsi, QTEST_MAX_IRQ - 1);
        return;
    }
    qtest_irq_levels[gsi] = level;
    qtest_irq_notify(gsi, level);
}

static void qtest_irqchip_send_msi(MSIMessage msg)
{
    qtest_msi_notify(msg.address, msg.data);
}

/* No routing hooks: irqchip_msi_via_routes() is false under qtest. */
static const IrqchipOps qtest_irqchip_ops = {
    .set_gsi = qtest_irqchip_set_gsi,
    .send_msi = qtest_irqchip_send_msi,
};

static const AccelOps qtest_accel_ops = {
    .name = "qtest",
    .available = qtest_accel_available,
    .init = qtest_accel_init,
    .resume_all = qtest_accel_resume_all,
    .pause_all = qtest_accel_pause_all,
    .reset_all = qtest_accel_reset_all,
    .irqchip = &qtest_irqchip_ops,
    .dump_registers = NULL,
    .cleanup = qtest_accel_cleanup,
};

static void qtest_accel_class_init(ObjectClass *oc, const void *data)
{
    /* No guest ever runs: nothing to lose. */
    oc->cpr_modes = MIG_MODE_BIT(MIG_MODE_CPR_REBOOT) | CPR_MODES_PRESERVING;
    oc->desc = "qtest accelerator: devices only, the guest never runs";
}

static const TypeInfo qtest_accel_type = {
    .name = "qtest-accel",
    .parent = TYPE_ACCEL,
    .class_init = qtest_accel_class_init,
};

bool qtest_enabled(void)
{
    return accel_current() == &qtest_accel_ops;
}

static void qtest_accel_register(void)
{
    type_register(&qtest_accel_type);
    accel_register(&qtest_accel_ops);
}

type_init(qtest_accel_register)
