/* SPDX-License-Identifier: GPL-2.0-or-later */
/* backends' trace events (declared in backends/trace-events;
 * docs/devel/tracing.md). */
#include "trace/trace-backends.h"
