/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The BATON_ERROR GError domain: its quark, the mapping from codes to QMP
 * error class names, and error_setg_errno(). Printing errors for humans
 * lives in error-report.c.
 */
#include "util/osdep.h"

G_DEFINE_QUARK(baton-error-quark, baton_error)

/* Indexed by BatonErrorClass; the strings are QMP's "class" member values. */
static const char *const error_class_names[] = {
    [BATON_ERROR_GENERIC] = "GenericError",
    [BATON_ERROR_COMMAND_NOT_FOUND] = "CommandNotFound",
    [BATON_ERROR_DEVICE_NOT_ACTIVE] = "DeviceNotActive",
    [BATON_ERROR_DEVICE_NOT_FOUND] = "DeviceNotFound",
    [BATON_ERROR_KVM_MISSING_CAP] = "KVMMissingCap",
};

const char *baton_error_class_name(const GError *err)
{
    /*
     * Errors from GLib or json-glib (G_IO_ERROR, JSON_PARSER_ERROR, ...)
     * have no QMP class of their own; QEMU reports such failures as
     * GenericError too.
     */
    if (!err || err->domain != BATON_ERROR || err->code < 0 ||
        (size_t)err->code >= ARRAY_SIZE(error_class_names)) {
        return error_class_names[BATON_ERROR_GENERIC];
    }
    return error_class_names[err->code];
}

void error_setg_errno(GError **errp, int errnum, const char *fmt, ...)
{
    va_list ap;
    g_autofree char *msg = NULL;

    if (!errp) {
        return;
    }
    va_start(ap, fmt);
    msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);

    /* Like QEMU, errno 0 adds nothing rather than ": Success". */
    if (errnum) {
        g_set_error(errp, BATON_ERROR, BATON_ERROR_GENERIC, "%s: %s", msg,
                    g_strerror(errnum));
    } else {
        g_set_error_literal(errp, BATON_ERROR, BATON_ERROR_GENERIC, msg);
    }
}
