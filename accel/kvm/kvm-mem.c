/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * KVM memory slots, ioeventfds and dirty logging as memory listeners: one
 * on address_space_memory (RAM sections become slots, eventfds become MMIO
 * ioeventfds, global dirty logging toggles KVM_MEM_LOG_DIRTY_PAGES) and
 * one on address_space_io (PIO ioeventfds). Slots follow the memory map at
 * any time, so a region mapped, moved or removed at runtime is reflected
 * at the next commit. Called with the big lock held.
 */
#include "util/osdep.h"

#include "util/error-report.h"

#include "kvm-internal.h"

/* QEMU's MEMORY_LISTENER_PRIORITY_ACCEL: accelerators go first. */
#define KVM_LISTENER_PRIORITY 10

static uint64_t host_page_size(void)
{
    return (uint64_t)sysconf(_SC_PAGESIZE);
}

/*
 * Errors while registering (accelerator init) fail the init; later ones
 * (a guest remapping memory) can only be reported: the tree edit that
 * caused them has no error path, as in QEMU (which aborts instead).
 */
static void kvm_mem_fail(KVMState *s, GError *err)
{
    if (s->mem_collect_err) {
        if (!s->mem_err) {
            s->mem_err = err;
            return;
        }
    } else {
        error_report("%s", err->message);
    }
    g_error_free(err);
}

static bool kvm_set_slot(KVMState *s, const KVMSlot *slot, uint64_t size,
                         GError **errp)
{
    struct kvm_userspace_memory_region mem = {
        .slot = slot->slot,
        .flags = slot->flags,
        .guest_phys_addr = slot->gpa,
        .memory_size = size,
        .userspace_addr = (uintptr_t)slot->host,
    };
    int ret = kvm_vm_ioctl(s, KVM_SET_USER_MEMORY_REGION, &mem);

    if (ret < 0) {
        error_setg_errno(errp, -ret,
                         "KVM_SET_USER_MEMORY_REGION failed for "
                         "'%s' (slot %u, 0x%" HWADDR_PRIx "+0x%" PRIx64 ")",
                         slot->name, slot->slot, slot->gpa, size);
        return false;
    }
    return true;
}

/*
 * The page-aligned part of a RAM section: KVM maps whole host pages, and
 * a sub-page MMIO overlay leaves the partial pages around it to userspace
 * exits. False if no whole page remains.
 */
static bool kvm_section_pages(const MemoryRegionSection *sec, hwaddr *gpa,
                              uint64_t *size, uint64_t *off)
{
    uint64_t page = host_page_size();
    hwaddr start = sec->offset_within_address_space;
    uint64_t delta = (page - (start & (page - 1))) & (page - 1);

    if (delta >= sec->size) {
        return false;
    }
    *gpa = start + delta;
    *size = (sec->size - delta) & ~(page - 1);
    *off = sec->offset_within_region + delta;
    return *size != 0;
}

static KVMSlot *kvm_slot_find(KVMState *s, hwaddr gpa, uint64_t size)
{
    for (guint i = 0; i < s->slots->len; i++) {
        KVMSlot *slot = g_ptr_array_index(s->slots, i);

        if (slot->gpa == gpa && slot->size == size) {
            return slot;
        }
    }
    return NULL;
}

/* The lowest slot id not in use (ids are reused after a region_del). */
static uint32_t kvm_slot_free_id(KVMState *s)
{
    uint32_t id = 0;

    for (;;) {
        bool used = false;

        for (guint i = 0; i < s->slots->len && !used; i++) {
            used = ((KVMSlot *)g_ptr_array_index(s->slots, i))->slot == id;
        }
        if (!used) {
            return id;
        }
        id++;
    }
}

static uint64_t kvm_slot_pages(const KVMSlot *slot)
{
    return slot->size >> RAM_DIRTY_PAGE_BITS;
}

static void kvm_slot_bitmap_alloc(KVMSlot *slot)
{
    uint64_t words = (kvm_slot_pages(slot) + RAM_DIRTY_BITS_PER_WORD - 1) /
                     RAM_DIRTY_BITS_PER_WORD;

    /* KVM writes whole longs (its bitmaps are long-aligned). */
    slot->dirty_bmap = g_new0(unsigned long, MAX(words, 1));
}

static void kvm_slot_free(KVMSlot *slot)
{
    g_free(slot->dirty_bmap);
    g_free(slot->name);
    g_free(slot);
}

/* Fetch-and-clear KVM's log for SLOT and fold it into its RAM block. */
static bool kvm_slot_sync(KVMState *s, KVMSlot *slot, GError **errp)
{
    struct kvm_dirty_log log = {
        .slot = slot->slot,
        .dirty_bitmap = slot->dirty_bmap,
    };
    int ret;

    if (!slot->dirty_bmap || s->vm_fd < 0) {
        return true;
    }
    ret = kvm_vm_ioctl(s, KVM_GET_DIRTY_LOG, &log);
    if (ret < 0) {
        error_setg_errno(errp, -ret, "KVM_GET_DIRTY_LOG failed for '%s' "
                         "(slot %u)", slot->name, slot->slot);
        return false;
    }
    /* KVM's bits are already cleared for us. */
    ram_block_set_dirty_bits(slot->rb, slot->rb_offset >> RAM_DIRTY_PAGE_BITS,
                             slot->dirty_bmap, kvm_slot_pages(slot));
    return true;
}

static bool kvm_slot_check(KVMState *s, const KVMSlot *slot, GError **errp)
{
    if (slot->slot >= s->max_slots) {
        error_setg(errp, "RAM region '%s' needs KVM memory slot %u, "
                   "but kvm supports only %u slots",
                   slot->name, slot->slot, s->max_slots);
        return false;
    }
    if ((uintptr_t)slot->host & (host_page_size() - 1)) {
        error_setg(errp, "RAM region '%s' (0x%" HWADDR_PRIx "+0x%" PRIx64
                   ") is not page aligned in its RAM block",
                   slot->name, slot->gpa, slot->size);
        return false;
    }
    if ((slot->flags & KVM_MEM_READONLY) &&
        !kvm_cap(s, KVM_CAP_READONLY_MEM)) {
        g_set_error(errp, BATON_ERROR, BATON_ERROR_KVM_MISSING_CAP,
                    "kvm does not support KVM_CAP_READONLY_MEM "
                    "(read-only RAM region '%s')", slot->name);
        return false;
    }
    return true;
}

static void kvm_region_add(MemoryListener *l, MemoryRegionSection *sec)
{
    KVMState *s = container_of(l, KVMState, mem_listener);
    GError *err = NULL;
    KVMSlot *slot;
    hwaddr gpa;
    uint64_t size, off;

    if (!memory_region_is_ram(sec->mr) ||
        !kvm_section_pages(sec, &gpa, &size, &off)) {
        return;
    }
    slot = g_new0(KVMSlot, 1);
    slot->slot = kvm_slot_free_id(s);
    slot->gpa = gpa;
    slot->size = size;
    slot->host = (uint8_t *)memory_region_get_ram_ptr(sec->mr) + off;
    slot->rb = memory_region_get_ram_block(sec->mr);
    slot->rb_offset = memory_region_get_ram_offset(sec->mr) + off;
    slot->name = g_strdup(memory_region_name(sec->mr));
    if (sec->readonly) {
        /* Writes exit as MMIO and are dropped by address_space_rw(). */
        slot->flags |= KVM_MEM_READONLY;
    } else if (s->dirty_log) {
        slot->flags |= KVM_MEM_LOG_DIRTY_PAGES;
        kvm_slot_bitmap_alloc(slot);
    }
    if (!kvm_slot_check(s, slot, &err) ||
        !kvm_set_slot(s, slot, slot->size, &err)) {
        kvm_mem_fail(s, err);
        kvm_slot_free(slot);
        return;
    }
    g_ptr_array_add(s->slots, slot);
}

static void kvm_region_del(MemoryListener *l, MemoryRegionSection *sec)
{
    KVMState *s = container_of(l, KVMState, mem_listener);
    GError *err = NULL;
    KVMSlot *slot;
    hwaddr gpa;
    uint64_t size, off;

    if (!memory_region_is_ram(sec->mr) ||
        !kvm_section_pages(sec, &gpa, &size, &off)) {
        return;
    }
    slot = kvm_slot_find(s, gpa, size);
    if (!slot) {
        return; /* its region_add failed (and was reported) */
    }
    if (s->vm_fd >= 0) {
        /* Pages the guest dirtied through this slot must not be lost. */
        if (!kvm_slot_sync(s, slot, &err)) {
            kvm_mem_fail(s, err);
            err = NULL;
        }
        if (!kvm_set_slot(s, slot, 0, &err)) {
            kvm_mem_fail(s, err);
        }
    }
    g_ptr_array_remove(s->slots, slot);
    kvm_slot_free(slot);
}

static void kvm_ioeventfd(KVMState *s, MemoryRegionSection *sec,
                          bool match_data, uint64_t data, int fd, bool pio,
                          bool assign)
{
    struct kvm_ioeventfd io = {
        .datamatch = match_data ? data : 0,
        .addr = sec->offset_within_address_space,
        .len = sec->size,
        .fd = fd,
        .flags = (match_data ? KVM_IOEVENTFD_FLAG_DATAMATCH : 0) |
                 (pio ? KVM_IOEVENTFD_FLAG_PIO : 0) |
                 (assign ? 0 : KVM_IOEVENTFD_FLAG_DEASSIGN),
    };
    GError *err = NULL;
    int ret;

    if (s->vm_fd < 0) {
        return;
    }
    if (!kvm_cap(s, KVM_CAP_IOEVENTFD)) {
        g_set_error(&err, BATON_ERROR, BATON_ERROR_KVM_MISSING_CAP,
                    "kvm does not support KVM_CAP_IOEVENTFD (eventfd of "
                    "'%s')", memory_region_name(sec->mr));
        kvm_mem_fail(s, err);
        return;
    }
    ret = kvm_vm_ioctl(s, KVM_IOEVENTFD, &io);
    if (ret < 0) {
        error_setg_errno(&err, -ret,
                         "KVM_IOEVENTFD failed to %s fd %d at %s 0x%" PRIx64
                         " size %" PRIu64 " ('%s')",
                         assign ? "assign" : "deassign", fd,
                         pio ? "port" : "address",
                         (uint64_t)io.addr, sec->size,
                         memory_region_name(sec->mr));
        kvm_mem_fail(s, err);
    }
}

static void kvm_mem_eventfd_add(MemoryListener *l, MemoryRegionSection *sec,
                                bool match_data, uint64_t data, int fd)
{
    kvm_ioeventfd(container_of(l, KVMState, mem_listener), sec, match_data,
                  data, fd, false, true);
}

static void kvm_mem_eventfd_del(MemoryListener *l, MemoryRegionSection *sec,
                                bool match_data, uint64_t data, int fd)
{
    kvm_ioeventfd(container_of(l, KVMState, mem_listener), sec, match_data,
                  data, fd, false, false);
}

static void kvm_io_eventfd_add(MemoryListener *l, MemoryRegionSection *sec,
                               bool match_data, uint64_t data, int fd)
{
    kvm_ioeventfd(container_of(l, KVMState, io_listener), sec, match_data,
                  data, fd, true, true);
}

static void kvm_io_eventfd_del(MemoryListener *l, MemoryRegionSection *sec,
                               bool match_data, uint64_t data, int fd)
{
    kvm_ioeventfd(container_of(l, KVMState, io_listener), sec, match_data,
                  data, fd, true, false);
}

/*
 * Dirty logging uses the classic KVM_GET_DIRTY_LOG, not the manual-protect
 * mode (KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2 + KVM_CLEAR_DIRTY_LOG) nor the
 * dirty ring: one ioctl per slot both fetches and clears KVM's bitmap and
 * write-protects the reported pages again before it returns. So every
 * guest write that completes after the ioctl lands in the next sync, and
 * migration (which takes a page's bit only after the sync and reads the
 * page only after taking its bit) never misses one. Manual protect would
 * spread the re-protection cost over the pass on huge guests; the classic
 * mode keeps one ordering rule and no per-chunk ioctls. Read-only slots
 * are not logged: the guest cannot write them.
 */
static bool kvm_dirty_set_flags(KVMState *s, bool on, GError **errp)
{
    for (guint i = 0; i < s->slots->len; i++) {
        KVMSlot *slot = g_ptr_array_index(s->slots, i);
        uint32_t old = slot->flags;

        if (slot->flags & KVM_MEM_READONLY) {
            continue;
        }
        if (on) {
            slot->flags |= KVM_MEM_LOG_DIRTY_PAGES;
        } else {
            slot->flags &= ~KVM_MEM_LOG_DIRTY_PAGES;
        }
        if (old != slot->flags && s->vm_fd >= 0 &&
            !kvm_set_slot(s, slot, slot->size, errp)) {
            slot->flags = old;
            g_prefix_error(errp, "cannot %s dirty logging: ",
                           on ? "enable" : "disable");
            return false;
        }
    }
    return true;
}

static void kvm_dirty_free(KVMState *s)
{
    for (guint i = 0; i < s->slots->len; i++) {
        KVMSlot *slot = g_ptr_array_index(s->slots, i);

        g_clear_pointer(&slot->dirty_bmap, g_free);
    }
    s->dirty_log = false;
}

static bool kvm_log_global_start(MemoryListener *l, GError **errp)
{
    KVMState *s = container_of(l, KVMState, mem_listener);

    if (s->vm_fd < 0) {
        error_setg(errp, "cannot start dirty logging: no KVM VM");
        return false;
    }
    /* KVM logs per host page; the RAM block bitmaps assume 4 KiB. */
    g_assert(host_page_size() == RAM_DIRTY_PAGE_SIZE);
    for (guint i = 0; i < s->slots->len; i++) {
        KVMSlot *slot = g_ptr_array_index(s->slots, i);

        if (!(slot->flags & KVM_MEM_READONLY)) {
            kvm_slot_bitmap_alloc(slot);
        }
    }
    if (!kvm_dirty_set_flags(s, true, errp)) {
        GError *ignored = NULL;

        /* Undo on the slots that took the flag (the failed one did not). */
        kvm_dirty_set_flags(s, false, &ignored);
        g_clear_error(&ignored);
        kvm_dirty_free(s);
        return false;
    }
    s->dirty_log = true;
    return true;
}

static void kvm_log_global_stop(MemoryListener *l)
{
    KVMState *s = container_of(l, KVMState, mem_listener);
    GError *local_err = NULL;

    if (!kvm_dirty_set_flags(s, false, &local_err)) {
        /* Only costs write-protection faults; the guest keeps running. */
        warn_report("%s", local_err->message);
        g_clear_error(&local_err);
    }
    kvm_dirty_free(s);
}

static bool kvm_log_sync(MemoryListener *l, MemoryRegionSection *sec,
                         GError **errp)
{
    KVMState *s = container_of(l, KVMState, mem_listener);
    hwaddr start = sec->offset_within_address_space;

    if (!s->dirty_log) {
        return true;
    }
    for (guint i = 0; i < s->slots->len; i++) {
        KVMSlot *slot = g_ptr_array_index(s->slots, i);

        /* Slots are whole pages inside one section each. */
        if (slot->gpa >= start && slot->gpa - start < sec->size &&
            !kvm_slot_sync(s, slot, errp)) {
            return false;
        }
    }
    return true;
}

bool kvm_memory_init(KVMState *s, GError **errp)
{
    int max = kvm_cap(s, KVM_CAP_NR_MEMSLOTS);

    /* KVM's minimum before the capability existed. */
    s->max_slots = max > 0 ? (unsigned int)max : 32;
    s->slots = g_ptr_array_new();
    s->mem_listener = (MemoryListener){
        .name = "kvm-memory",
        .priority = KVM_LISTENER_PRIORITY,
        .region_add = kvm_region_add,
        .region_del = kvm_region_del,
        .eventfd_add = kvm_mem_eventfd_add,
        .eventfd_del = kvm_mem_eventfd_del,
        .log_global_start = kvm_log_global_start,
        .log_global_stop = kvm_log_global_stop,
        .log_sync = kvm_log_sync,
    };
    s->io_listener = (MemoryListener){
        .name = "kvm-io",
        .priority = KVM_LISTENER_PRIORITY,
        .eventfd_add = kvm_io_eventfd_add,
        .eventfd_del = kvm_io_eventfd_del,
    };
    /* The replay creates a slot per RAM section of the map built so far. */
    s->mem_collect_err = true;
    memory_listener_register(&s->mem_listener, &address_space_memory);
    memory_listener_register(&s->io_listener, &address_space_io);
    s->mem_collect_err = false;
    if (s->mem_err) {
        g_propagate_error(errp, s->mem_err);
        s->mem_err = NULL;
        return false;
    }
    return true;
}

/*
 * Called once the VM fd is released (vm_fd -1): the listeners' dels then
 * only free the bookkeeping (the slots die with the VM).
 */
void kvm_memory_cleanup(KVMState *s)
{
    if (!s->slots) {
        return;
    }
    memory_listener_unregister(&s->io_listener);
    memory_listener_unregister(&s->mem_listener);
    for (guint i = 0; i < s->slots->len; i++) {
        kvm_slot_free(g_ptr_array_index(s->slots, i));
    }
    g_ptr_array_free(s->slots, TRUE);
    s->slots = NULL;
    s->dirty_log = false;
}

unsigned int kvm_memory_slot_count(KVMState *s)
{
    return s->slots ? s->slots->len : 0;
}
