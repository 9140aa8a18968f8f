/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Memory backend objects (-object memory-backend-ram|memfd|file): host
 * memory that a machine maps as guest RAM, named by the backend's id.
 */
#ifndef BATON_SYSTEM_HOSTMEM_H
#define BATON_SYSTEM_HOSTMEM_H

#include <stdbool.h>
#include <stdint.h>

#include "hw/core/object.h"
#include "system/memory.h"

/* The backend's RAM block; NULL if OBJ is not a memory backend. */
RAMBlock *host_memory_backend_get_ram(Object *obj);
uint64_t host_memory_backend_get_size(Object *obj);
/* Claim the backend for one user (a backend maps into one place only). */
bool host_memory_backend_claim(Object *obj, const char *user, GError **errp);

#endif
