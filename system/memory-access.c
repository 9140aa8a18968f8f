/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Accesses through an address space: look the address up in the current
 * flat view, copy RAM (marking it dirty while logging is on) or call the
 * region's MMIO/PIO callbacks. Unassigned reads return all ones and
 * unassigned writes are dropped, both logged with -d guest_errors.
 * Called with the big lock held (vCPU exits, qtest, monitor, devices).
 */
#include "util/osdep.h"

#include "system/memory.h"
#include "util/error-report.h"

#include "memory-internal.h"

static uint64_t all_ones(unsigned size)
{
    return size >= 8 ? UINT64_MAX : (1ULL << (size * 8)) - 1;
}

static uint8_t *range_host(const FlatRange *fr, hwaddr addr)
{
    return (uint8_t *)memory_region_get_ram_ptr(fr->mr) +
           fr->offset_in_region + (addr - fr->addr);
}

/* Too wide for ops->valid: rejected like an unassigned access. */
static bool io_access_valid(AddressSpace *as, const FlatRange *fr,
                            hwaddr addr, unsigned size, bool is_write)
{
    unsigned max = fr->mr->ops ? fr->mr->ops->valid.max_access_size : 0;

    if (!max || size <= max) {
        return true;
    }
    log_mask(LOG_GUEST_ERROR,
             "invalid %s access to '%s' at 0x%" HWADDR_PRIx " (%s) size %u\n",
             is_write ? "write" : "read", memory_region_name(fr->mr), addr,
             as->name, size);
    return false;
}

static uint64_t io_read(AddressSpace *as, const FlatRange *fr, hwaddr addr,
                        unsigned size)
{
    const MemoryRegionOps *ops = fr->mr->ops;
    hwaddr off = fr->offset_in_region + (addr - fr->addr);
    unsigned step = ops ? ops->impl.max_access_size : 0;
    uint64_t v = 0;

    if (!io_access_valid(as, fr, addr, size, false)) {
        return all_ones(size);
    }
    if (!ops || !ops->read) {
        return 0;
    }
    if (!step || size <= step) {
        return ops->read(fr->mr->opaque, off, size);
    }
    for (unsigned i = 0; i < size; i += step) {
        v |= ops->read(fr->mr->opaque, off + i, step) << (i * 8);
    }
    return v;
}

static void io_write(AddressSpace *as, const FlatRange *fr, hwaddr addr,
                     uint64_t val, unsigned size)
{
    const MemoryRegionOps *ops = fr->mr->ops;
    hwaddr off = fr->offset_in_region + (addr - fr->addr);
    unsigned step = ops ? ops->impl.max_access_size : 0;

    if (!io_access_valid(as, fr, addr, size, true) || !ops || !ops->write) {
        return;
    }
    if (!step || size <= step) {
        ops->write(fr->mr->opaque, off, val, size);
        return;
    }
    for (unsigned i = 0; i < size; i += step) {
        ops->write(fr->mr->opaque, off + i,
                   (val >> (i * 8)) & all_ones(step), step);
    }
}

/* A RAM write: dropped (and logged) if the section is read-only. */
static bool ram_write(AddressSpace *as, const FlatRange *fr, hwaddr addr,
                      const void *buf, uint64_t len)
{
    if (fr->readonly) {
        log_mask(LOG_GUEST_ERROR,
                 "write to read-only '%s' at 0x%" HWADDR_PRIx
                 " (%s) size %" PRIu64 " dropped\n",
                 memory_region_name(fr->mr), addr, as->name, len);
        return false;
    }
    memcpy(range_host(fr, addr), buf, len);
    ram_block_set_dirty(memory_region_get_ram_block(fr->mr),
                        memory_region_get_ram_offset(fr->mr) +
                            fr->offset_in_region + (addr - fr->addr),
                        len);
    return true;
}

uint64_t address_space_ld(AddressSpace *as, hwaddr addr, unsigned size)
{
    const FlatRange *fr = address_space_lookup(as, addr);
    uint64_t val = 0;

    g_assert(size == 1 || size == 2 || size == 4 || size == 8);
    if (!fr) {
        log_mask(LOG_GUEST_ERROR,
                 "unassigned %s read at 0x%" HWADDR_PRIx " size %u\n",
                 as->name, addr, size);
        return all_ones(size);
    }
    if (size > fr->addr + fr->size - addr) {
        /* Straddles a section end: assemble byte by byte. */
        for (unsigned i = 0; i < size; i++) {
            val |= address_space_ld(as, addr + i, 1) << (i * 8);
        }
        return val;
    }
    if (memory_region_is_ram(fr->mr)) {
        memcpy(&val, range_host(fr, addr), size);
        return val;
    }
    return io_read(as, fr, addr, size);
}

void address_space_st(AddressSpace *as, hwaddr addr, uint64_t val,
                      unsigned size)
{
    const FlatRange *fr = address_space_lookup(as, addr);

    g_assert(size == 1 || size == 2 || size == 4 || size == 8);
    if (!fr) {
        log_mask(LOG_GUEST_ERROR,
                 "unassigned %s write at 0x%" HWADDR_PRIx
                 " size %u value 0x%" PRIx64 "\n",
                 as->name, addr, size, val);
        return;
    }
    if (size > fr->addr + fr->size - addr) {
        for (unsigned i = 0; i < size; i++) {
            address_space_st(as, addr + i, (val >> (i * 8)) & 0xff, 1);
        }
        return;
    }
    if (memory_region_is_ram(fr->mr)) {
        ram_write(as, fr, addr, &val, size);
        return;
    }
    io_write(as, fr, addr, val, size);
}

/* Largest naturally aligned access size that fits LEN at ADDR. */
static unsigned access_size(hwaddr addr, uint64_t len)
{
    unsigned size = 8;

    while (size > 1 && (size > len || (addr & (size - 1)))) {
        size >>= 1;
    }
    return size;
}

bool address_space_rw(AddressSpace *as, hwaddr addr, void *buf, uint64_t len,
                      bool is_write)
{
    uint8_t *p = buf;
    bool ok = true;

    while (len) {
        const FlatRange *fr = address_space_lookup(as, addr);
        uint64_t chunk;

        if (fr && memory_region_is_ram(fr->mr)) {
            chunk = MIN(len, fr->addr + fr->size - addr);
            if (is_write) {
                ok &= ram_write(as, fr, addr, p, chunk);
            } else {
                memcpy(p, range_host(fr, addr), chunk);
            }
        } else {
            unsigned size = access_size(addr, len);
            uint64_t v = 0;

            chunk = size;
            ok &= fr != NULL;
            if (is_write) {
                memcpy(&v, p, size);
                address_space_st(as, addr, v, size);
            } else {
                v = address_space_ld(as, addr, size);
                memcpy(p, &v, size);
            }
        }
        p += chunk;
        addr += chunk;
        len -= chunk;
    }
    return ok;
}

void *address_space_map_ram(AddressSpace *as, hwaddr addr, uint64_t len)
{
    const FlatRange *fr = address_space_lookup(as, addr);

    if (!fr || !memory_region_is_ram(fr->mr) ||
        len > fr->addr + fr->size - addr) {
        return NULL;
    }
    return range_host(fr, addr);
}
