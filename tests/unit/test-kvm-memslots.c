/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * KVM memory slots and ioeventfds follow the memory map at runtime: a RAM
 * region mapped, moved, made read-only and removed after the VM exists
 * shows up in the kernel at once. The kernel is asked directly: a probe
 * slot at an address refuses with EEXIST exactly when a slot covers it,
 * and assigning an ioeventfd a second time refuses with EEXIST exactly
 * when the first one is there. Skips (visibly) without /dev/kvm.
 */
#include "util/osdep.h"

#include <sys/eventfd.h>
#include <sys/mman.h>

#include "system/cpus.h"
#include "system/memory.h"

#include "../../accel/kvm/kvm-internal.h"

#define PAGE 0x1000

static void *probe_page;

/* 0 if no slot covers GPA (probed with a spare slot), else -EEXIST. */
static int probe(KVMState *s, hwaddr gpa)
{
    struct kvm_userspace_memory_region mem = {
        .slot = s->max_slots - 1,
        .guest_phys_addr = gpa,
        .memory_size = PAGE,
        .userspace_addr = (uintptr_t)probe_page,
    };
    int ret = kvm_vm_ioctl(s, KVM_SET_USER_MEMORY_REGION, &mem);

    if (ret == 0) {
        mem.memory_size = 0;
        g_assert_cmpint(kvm_vm_ioctl(s, KVM_SET_USER_MEMORY_REGION, &mem), ==,
                        0);
    }
    g_assert(ret == 0 || ret == -EEXIST);
    return ret;
}

static const KVMSlot *slot_at(KVMState *s, hwaddr gpa)
{
    for (guint i = 0; i < s->slots->len; i++) {
        const KVMSlot *slot = g_ptr_array_index(s->slots, i);

        if (slot->gpa == gpa) {
            return slot;
        }
    }
    return NULL;
}

static bool vm_open(KVMState *s)
{
    const AccelOps *kvm = accel_find("kvm");
    GError *err = NULL;
    int ret;

    if (access("/dev/kvm", R_OK | W_OK) < 0) {
        g_test_skip("no usable /dev/kvm on this host");
        return false;
    }
    g_assert_true(kvm->available(&err));
    g_assert_no_error(err);
    do {
        ret = kvm_ioctl(s, KVM_CREATE_VM, KVM_ARG(0));
    } while (ret == -EINTR);
    g_assert_cmpint(ret, >=, 0);
    s->vm_fd = ret;
    g_assert_true(kvm_memory_init(s, &err));
    g_assert_no_error(err);
    return true;
}

static void vm_close(KVMState *s)
{
    close(s->vm_fd);
    s->vm_fd = -1;
    kvm_memory_cleanup(s);
    g_assert_null(s->slots);
}

static void test_slots_follow_map(void)
{
    KVMState *s = kvm_state();
    GError *err = NULL;
    RAMBlock *rb;
    MemoryRegion ram, win, mmio;
    const KVMSlot *slot;
    guint before;

    if (!vm_open(s)) {
        return;
    }
    before = s->slots->len;
    rb = ram_block_new_anon("t.slots", 16 * PAGE, false, &err);
    g_assert_no_error(err);
    memory_region_init_ram_from_block(&ram, NULL, "t.slots", rb, 0,
                                      16 * PAGE);
    memory_region_init_alias(&win, NULL, "t.win", &ram, 4 * PAGE, 8 * PAGE);
    g_assert_cmpint(probe(s, 0x40000000), ==, 0);

    /* Mapped at runtime: a slot appears with the block's pages. */
    memory_region_add_subregion(get_system_memory(), 0x40000000, &win);
    g_assert_cmpint(probe(s, 0x40000000), ==, -EEXIST);
    g_assert_cmpint(probe(s, 0x40000000 + 7 * PAGE), ==, -EEXIST);
    g_assert_cmpint(probe(s, 0x40000000 + 8 * PAGE), ==, 0);
    slot = slot_at(s, 0x40000000);
    g_assert_nonnull(slot);
    g_assert_cmphex(slot->size, ==, 8 * PAGE);
    g_assert_true(slot->host == (uint8_t *)rb->host + 4 * PAGE);
    g_assert_cmpuint(s->slots->len, ==, before + 1);

    /* Moved: gone from the old address, present at the new one. */
    memory_region_set_address(&win, 0x50000000);
    g_assert_cmpint(probe(s, 0x40000000), ==, 0);
    g_assert_cmpint(probe(s, 0x50000000), ==, -EEXIST);
    g_assert_cmpuint(s->slots->len, ==, before + 1);

    /* An MMIO page over the middle splits it into two slots. */
    memory_region_init_io(&mmio, NULL, NULL, NULL, "t.mmio", PAGE);
    memory_region_add_subregion_overlap(get_system_memory(),
                                        0x50000000 + 2 * PAGE, &mmio, 1);
    g_assert_cmpint(probe(s, 0x50000000 + 2 * PAGE), ==, 0);
    g_assert_cmpint(probe(s, 0x50000000 + 3 * PAGE), ==, -EEXIST);
    g_assert_cmpuint(s->slots->len, ==, before + 2);
    memory_region_finalize(&mmio);
    g_assert_cmpuint(s->slots->len, ==, before + 1);

    /* Read-only: still a slot, now with KVM_MEM_READONLY. */
    if (kvm_cap(s, KVM_CAP_READONLY_MEM)) {
        memory_region_set_readonly(&win, true);
        g_assert_cmpint(probe(s, 0x50000000), ==, -EEXIST);
        slot = slot_at(s, 0x50000000);
        g_assert_nonnull(slot);
        g_assert_cmphex(slot->flags & KVM_MEM_READONLY, ==, KVM_MEM_READONLY);
        memory_region_set_readonly(&win, false);
    }

    /* Dirty logging: writable slots get the flag, also ones added later. */
    g_assert_true(memory_global_dirty_log_start(&err));
    g_assert_no_error(err);
    g_assert_cmphex(slot_at(s, 0x50000000)->flags & KVM_MEM_LOG_DIRTY_PAGES,
                    ==, KVM_MEM_LOG_DIRTY_PAGES);
    memory_region_set_address(&win, 0x60000000);
    g_assert_cmphex(slot_at(s, 0x60000000)->flags & KVM_MEM_LOG_DIRTY_PAGES,
                    ==, KVM_MEM_LOG_DIRTY_PAGES);
    g_assert_true(memory_global_dirty_log_sync(&err));
    g_assert_no_error(err);
    memory_global_dirty_log_stop();
    g_assert_cmphex(slot_at(s, 0x60000000)->flags, ==, 0);

    /* Removed: the slot goes, and its id is reused by the next one. */
    {
        uint32_t id = slot_at(s, 0x60000000)->slot;

        memory_region_del_subregion(get_system_memory(), &win);
        g_assert_cmpint(probe(s, 0x60000000), ==, 0);
        g_assert_cmpuint(s->slots->len, ==, before);
        memory_region_add_subregion(get_system_memory(), 0x70000000, &win);
        g_assert_cmpuint(slot_at(s, 0x70000000)->slot, ==, id);
    }

    memory_region_finalize(&win);
    g_assert_cmpint(probe(s, 0x70000000), ==, 0);
    memory_region_finalize(&ram);
    vm_close(s);
    ram_block_free(rb);
}

/* 0 if FD can be assigned at PORT now (then undone), else -EEXIST. */
static int probe_pio_eventfd(KVMState *s, uint16_t port, int fd,
                             uint64_t data)
{
    struct kvm_ioeventfd io = {
        .datamatch = data,
        .addr = port,
        .len = 2,
        .fd = fd,
        .flags = KVM_IOEVENTFD_FLAG_PIO | KVM_IOEVENTFD_FLAG_DATAMATCH,
    };
    int ret = kvm_vm_ioctl(s, KVM_IOEVENTFD, &io);

    if (ret == 0) {
        io.flags |= KVM_IOEVENTFD_FLAG_DEASSIGN;
        g_assert_cmpint(kvm_vm_ioctl(s, KVM_IOEVENTFD, &io), ==, 0);
    }
    g_assert(ret == 0 || ret == -EEXIST);
    return ret;
}

static void test_pio_eventfd(void)
{
    KVMState *s = kvm_state();
    MemoryRegion bus, dev;
    int fd;

    if (!vm_open(s)) {
        return;
    }
    if (!kvm_cap(s, KVM_CAP_IOEVENTFD)) {
        vm_close(s);
        g_test_skip("kvm has no KVM_CAP_IOEVENTFD");
        return;
    }
    fd = eventfd(0, EFD_CLOEXEC);
    g_assert_cmpint(fd, >=, 0);
    memory_region_init(&bus, NULL, "t.bus", 0x100);
    memory_region_init_io(&dev, NULL, NULL, NULL, "t.dev", 0x10);
    memory_region_add_subregion(&bus, 0x10, &dev);
    memory_region_add_subregion(get_system_io(), 0xc000, &bus);

    /* At its I/O-space address: 0xc000 + 0x10 + 4. */
    memory_region_add_eventfd(&dev, 4, 2, true, 0x1234, fd);
    g_assert_cmpint(probe_pio_eventfd(s, 0xc014, fd, 0x1234), ==, -EEXIST);
    memory_region_set_address(&bus, 0xd000);
    g_assert_cmpint(probe_pio_eventfd(s, 0xc014, fd, 0x1234), ==, 0);
    g_assert_cmpint(probe_pio_eventfd(s, 0xd014, fd, 0x1234), ==, -EEXIST);
    memory_region_del_eventfd(&dev, 4, 2, true, 0x1234, fd);
    g_assert_cmpint(probe_pio_eventfd(s, 0xd014, fd, 0x1234), ==, 0);

    memory_region_finalize(&dev);
    memory_region_finalize(&bus);
    vm_close(s);
    close(fd);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    probe_page = mmap(NULL, PAGE, PROT_READ | PROT_WRITE,
                      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    g_assert(probe_page != MAP_FAILED);
    g_test_add_func("/kvm/memslots/follow-map", test_slots_follow_map);
    g_test_add_func("/kvm/memslots/pio-eventfd", test_pio_eventfd);
    return g_test_run();
}
