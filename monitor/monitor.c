/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Monitor objects: a QMP session or an HMP line editor attached to a
 * chardev as its frontend, plus the in-memory "capture" monitor that
 * human-monitor-command runs HMP in. Output conventions (CRLF line ends)
 * live here; the protocols are in qmp.c and hmp.c.
 */
#include "util/osdep.h"

#include "monitor-internal.h"

/* Chardev-attached monitors; protected by the big lock. */
static GList *monitors;

void monitor_write(Monitor *mon, const char *data, size_t len)
{
    if (mon->capture) {
        g_string_append_len(mon->capture, data, len);
    } else if (mon->chr) {
        /* No peer (socket not yet accepted): dropped, as in QEMU. */
        chardev_write(mon->chr, (const uint8_t *)data, len);
    }
}

void monitor_puts(Monitor *mon, const char *str)
{
    g_autoptr(GString) out = g_string_new(NULL);

    monitor_crlf_append(out, str, strlen(str));
    monitor_write(mon, out->str, out->len);
}

void monitor_printf(Monitor *mon, const char *fmt, ...)
{
    g_autofree char *str = NULL;
    va_list ap;

    va_start(ap, fmt);
    str = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    monitor_puts(mon, str);
}

void hmp_handle_error(Monitor *mon, GError *err)
{
    if (err) {
        monitor_printf(mon, "Error: %s\n", err->message);
        g_error_free(err);
    }
}

static void monitor_qmp_output(void *opaque, const char *data, size_t len)
{
    monitor_write(opaque, data, len);
}

static Monitor *monitor_alloc(bool is_qmp, bool pretty)
{
    Monitor *mon = g_new0(Monitor, 1);

    mon->is_qmp = is_qmp;
    mon->last_format = 'x';
    mon->last_size = 4;
    if (is_qmp) {
        qmp_session_init(&mon->qmp, pretty, monitor_qmp_output, mon);
    } else {
        hmp_readline_init(&mon->rl);
    }
    return mon;
}

static void monitor_free(Monitor *mon)
{
    if (mon->is_qmp) {
        qmp_session_destroy(&mon->qmp);
    } else {
        hmp_readline_destroy(&mon->rl);
    }
    if (mon->capture) {
        g_string_free(mon->capture, true);
    }
    g_free(mon);
}

static size_t monitor_can_read(void *opaque)
{
    /* Commands run synchronously, so there is never a backlog. */
    return 4096;
}

static void monitor_read(void *opaque, const uint8_t *buf, size_t len)
{
    Monitor *mon = opaque;

    if (mon->is_qmp) {
        qmp_session_feed(&mon->qmp, (const char *)buf, len);
    } else {
        hmp_input(mon, (const char *)buf, len);
    }
}

static void monitor_event(void *opaque, ChardevEvent event)
{
    Monitor *mon = opaque;

    switch (event) {
    case CHR_EVENT_OPENED:
        if (mon->is_qmp) {
            qmp_session_open(&mon->qmp);
        } else {
            hmp_open(mon);
        }
        break;
    case CHR_EVENT_CLOSED:
        if (mon->is_qmp) {
            qmp_session_close(&mon->qmp);
        } else {
            hmp_close(mon);
        }
        break;
    }
}

static const ChardevFrontendOps monitor_chr_ops = {
    .can_read = monitor_can_read,
    .read = monitor_read,
    .event = monitor_event,
};

Monitor *monitor_new(Chardev *chr, bool is_qmp, bool pretty, GError **errp)
{
    Monitor *mon = monitor_alloc(is_qmp, pretty);

    mon->chr = chr;
    if (!chardev_attach(chr, &monitor_chr_ops, mon, errp)) {
        monitor_free(mon);
        return NULL;
    }
    monitors = g_list_append(monitors, mon);
    return mon;
}

Monitor *monitor_new_capture(void)
{
    Monitor *mon = monitor_alloc(false, false);

    mon->capture = g_string_new(NULL);
    return mon;
}

char *monitor_free_capture(Monitor *mon)
{
    char *out = g_string_free(mon->capture, false);

    mon->capture = NULL;
    monitor_free(mon);
    return out;
}

void monitor_cleanup_all(void)
{
    /* Events still queued by other threads are sent before closing. */
    qmp_event_flush();
    while (monitors) {
        Monitor *mon = monitors->data;

        monitors = g_list_delete_link(monitors, monitors);
        chardev_detach(mon->chr);
        monitor_free(mon);
    }
    qmp_event_discard_queue();
}
