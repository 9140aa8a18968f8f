/* SPDX-License-Identifier: GPL-2.0-or-later */
/* accel/kvm's trace events (declared in accel/kvm/trace-events; docs/devel/tracing.md). */
#include "trace/trace-accel_kvm.h"
