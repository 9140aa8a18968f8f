/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Human-facing messages (stderr, prefixed with the program name) and the
 * -d log mask (QEMU's names: guest_errors, unimp).
 */
#ifndef BATON_UTIL_ERROR_REPORT_H
#define BATON_UTIL_ERROR_REPORT_H

#include <stdbool.h>
#include <glib.h>

void error_report(const char *fmt, ...) G_GNUC_PRINTF(1, 2);
void warn_report(const char *fmt, ...) G_GNUC_PRINTF(1, 2);
void info_report(const char *fmt, ...) G_GNUC_PRINTF(1, 2);
/* Report err's message once and free it. */
void error_report_err(GError *err);

#define LOG_GUEST_ERROR (1u << 0)
#define LOG_UNIMP       (1u << 1)

/* Cheap test used by log_mask(); the mask itself stays private. */
bool log_mask_enabled(unsigned int mask);
/*
 * Parse QEMU's -d list ("guest_errors,unimp,trace:PATTERN"); false + errp
 * on an unknown item or event. trace: items enable events at once.
 */
bool log_set_mask_str(const char *str, GError **errp);
/* Redirect log and trace output (-D FILE); NULL means stderr. */
bool log_set_file(const char *path, GError **errp);
void log_printf(const char *fmt, ...) G_GNUC_PRINTF(1, 2);

#define log_mask(mask, ...)                          \
    do {                                             \
        if (G_UNLIKELY(log_mask_enabled(mask))) { \
            log_printf(__VA_ARGS__);                 \
        }                                            \
    } while (0)

#endif
