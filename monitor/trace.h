/* SPDX-License-Identifier: GPL-2.0-or-later */
/* monitor's trace events (declared in monitor/trace-events; docs/devel/tracing.md). */
#include "trace/trace-monitor.h"
