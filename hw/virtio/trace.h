/* SPDX-License-Identifier: GPL-2.0-or-later */
/* hw/virtio's trace events (declared in hw/virtio/trace-events;
 * docs/devel/tracing.md). */
#include "trace/trace-hw_virtio.h"
