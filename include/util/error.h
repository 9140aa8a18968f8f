/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * baton's single GError domain. The codes are QMP's error classes so that
 * an error raised anywhere can be returned to a QMP client unchanged.
 */
#ifndef BATON_UTIL_ERROR_H
#define BATON_UTIL_ERROR_H

#include <glib.h>

#define BATON_ERROR (baton_error_quark())

typedef enum BatonErrorClass {
    BATON_ERROR_GENERIC,           /* GenericError */
    BATON_ERROR_COMMAND_NOT_FOUND, /* CommandNotFound */
    BATON_ERROR_DEVICE_NOT_ACTIVE, /* DeviceNotActive */
    BATON_ERROR_DEVICE_NOT_FOUND,  /* DeviceNotFound */
    BATON_ERROR_KVM_MISSING_CAP,   /* KVMMissingCap */
} BatonErrorClass;

GQuark baton_error_quark(void);

/* QMP name of an error's class; GenericError for foreign domains. */
const char *baton_error_class_name(const GError *err);

/* Shorthand for the common case: a GenericError with a formatted message. */
#define error_setg(errp, ...) \
    g_set_error((errp), BATON_ERROR, BATON_ERROR_GENERIC, __VA_ARGS__)

/* Like error_setg(), appending ": strerror(errnum)". */
void error_setg_errno(GError **errp, int errnum, const char *fmt, ...)
    G_GNUC_PRINTF(3, 4);

#endif
