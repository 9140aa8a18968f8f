/* SPDX-License-Identifier: GPL-2.0-or-later */
/* hw/vfio's trace events (declared in hw/vfio/trace-events;
 * docs/devel/tracing.md). */
#include "trace/trace-hw_vfio.h"
