/* SPDX-License-Identifier: GPL-2.0-or-later */
/* hw/pci's trace events (declared in hw/pci/trace-events;
 * docs/devel/tracing.md). */
#include "trace/trace-hw_pci.h"
