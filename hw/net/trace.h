/* SPDX-License-Identifier: GPL-2.0-or-later */
/* hw/net's trace events (declared in hw/net/trace-events;
 * docs/devel/tracing.md). */
#include "trace/trace-hw_net.h"
