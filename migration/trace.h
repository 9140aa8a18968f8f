/* SPDX-License-Identifier: GPL-2.0-or-later */
/* migration's trace events (declared in migration/trace-events; docs/devel/tracing.md). */
#include "trace/trace-migration.h"
