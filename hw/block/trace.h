/* SPDX-License-Identifier: GPL-2.0-or-later */
/* hw/block's trace events (declared in hw/block/trace-events;
 * docs/devel/tracing.md). */
#include "trace/trace-hw_block.h"
