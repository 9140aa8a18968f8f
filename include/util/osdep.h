/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Included first by every baton source file: feature macros, the standard
 * headers everything uses, GLib, and the project-wide error domain.
 */
#ifndef BATON_UTIL_OSDEP_H
#define BATON_UTIL_OSDEP_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <unistd.h>
#include <fcntl.h>
#include <sys/types.h>
#include <glib.h>

#include "util/error.h"

typedef uint64_t hwaddr;
#define HWADDR_PRIx PRIx64

#define BATON_VERSION_MAJOR 9
#define BATON_VERSION_MINOR 2
#define BATON_VERSION_MICRO 0
#define BATON_VERSION "9.2.0"
#define BATON_PACKAGE "baton"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
/* N rounded up to a multiple of D, a power of two. */
#define ROUND_UP(n, d) (((n) + (d)-1) & ~((__typeof__(n))(d)-1))

#define container_of(ptr, type, member) \
    ((type *)((char *)(ptr) - offsetof(type, member)))

#endif
