/* SPDX-License-Identifier: GPL-2.0-or-later */
/* system's trace events (declared in system/trace-events; docs/devel/tracing.md). */
#include "trace/trace-system.h"
