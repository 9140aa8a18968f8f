/* SPDX-License-Identifier: GPL-2.0-or-later */
/* hw/misc's trace events (declared in hw/misc/trace-events; docs/devel/tracing.md). */
#include "trace/trace-hw_misc.h"
