/* SPDX-License-Identifier: GPL-2.0-or-later */
/* chardev's trace events (declared in chardev/trace-events; docs/devel/tracing.md). */
#include "trace/trace-chardev.h"
