/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * KVM exit dispatch (accel/kvm/kvm-exit.c) fed with fabricated kvm_run
 * structures: PIO and MMIO reach the address space with the right space,
 * address, size and value; lifecycle exits map to the right requests and
 * loop actions. Also checks the "info registers" text layout. No /dev/kvm.
 */
#include "util/osdep.h"

#include "../../accel/kvm/kvm-internal.h"

/* Where real KVM puts PIO data: the page after struct kvm_run. */
#define RUN_SIZE 8192
#define DATA_OFFSET 4096

typedef struct Access {
    AddressSpace *space;
    hwaddr addr;
    uint64_t val; /* value written, or value returned to a read */
    unsigned int size;
    bool is_write;
    bool via_rw;
} Access;

static GArray *accesses;
static uint64_t next_read_val;
static int resets, shutdowns;
static ShutdownCause last_cause;

static uint64_t rec_ld(AddressSpace *space, hwaddr addr, unsigned int size)
{
    Access a = {space, addr, next_read_val, size, false, false};

    next_read_val += 0x01010101;
    g_array_append_val(accesses, a);
    return a.val & (size == 8 ? ~0ULL : (1ULL << (size * 8)) - 1);
}

static void rec_st(AddressSpace *space, hwaddr addr, uint64_t val,
                   unsigned int size)
{
    Access a = {space, addr, val, size, true, false};

    g_array_append_val(accesses, a);
}

static bool rec_rw(AddressSpace *space, hwaddr addr, void *buf, uint64_t len,
                   bool is_write)
{
    Access a = {space, addr, 0, len, is_write, true};

    if (!is_write) {
        memset(buf, 0xab, len);
    } else {
        memcpy(&a.val, buf, len);
    }
    g_array_append_val(accesses, a);
    return true;
}

static void rec_reset(ShutdownCause cause)
{
    resets++;
    last_cause = cause;
}

static void rec_shutdown(ShutdownCause cause)
{
    shutdowns++;
    last_cause = cause;
}

static const KVMExitHooks hooks = {
    .ld = rec_ld,
    .st = rec_st,
    .rw = rec_rw,
    .request_reset = rec_reset,
    .request_shutdown = rec_shutdown,
};

static struct kvm_run *new_run(uint32_t reason)
{
    struct kvm_run *run = g_malloc0(RUN_SIZE);

    run->exit_reason = reason;
    if (accesses) {
        g_array_free(accesses, TRUE);
    }
    accesses = g_array_new(FALSE, TRUE, sizeof(Access));
    next_read_val = 0x11223344;
    resets = shutdowns = 0;
    last_cause = SHUTDOWN_CAUSE_NONE;
    return run;
}

static Access *acc(unsigned int i)
{
    g_assert_cmpuint(i, <, accesses->len);
    return &g_array_index(accesses, Access, i);
}

static KVMExitAction dispatch(struct kvm_run *run)
{
    return kvm_handle_exit(run, RUN_SIZE, 0, &hooks);
}

static void set_io(struct kvm_run *run, uint8_t dir, uint16_t port,
                   uint8_t size, uint32_t count)
{
    run->io.direction = dir;
    run->io.port = port;
    run->io.size = size;
    run->io.count = count;
    run->io.data_offset = DATA_OFFSET;
}

/* rep outsb/outsw/outsl: every item, in order, little-endian, same port. */
static void test_pio_out(void)
{
    static const uint8_t bytes[12] = {
        'a', 'b', 'c', 0x44, 0x33, 0x22, 0x11, 0x88, 0x77, 0x66, 0x55, 0x99,
    };
    static const struct {
        uint8_t size;
        uint32_t count;
        uint64_t vals[3];
    } cases[] = {
        {1, 3, {'a', 'b', 'c'}},
        {2, 3, {0x6261, 0x4463, 0x2233}},
        {4, 3, {0x44636261, 0x88112233, 0x99556677}},
    };

    for (size_t c = 0; c < ARRAY_SIZE(cases); c++) {
        g_autofree struct kvm_run *run = new_run(KVM_EXIT_IO);

        set_io(run, KVM_EXIT_IO_OUT, 0x3f8, cases[c].size, cases[c].count);
        memcpy((uint8_t *)run + DATA_OFFSET, bytes, sizeof(bytes));
        g_assert_cmpint(dispatch(run), ==, KVM_EXIT_ACTION_CONTINUE);
        g_assert_cmpuint(accesses->len, ==, cases[c].count);
        for (uint32_t i = 0; i < cases[c].count; i++) {
            g_assert_true(acc(i)->space == &address_space_io);
            g_assert_cmphex(acc(i)->addr, ==, 0x3f8);
            g_assert_cmpuint(acc(i)->size, ==, cases[c].size);
            g_assert_true(acc(i)->is_write);
            g_assert_cmphex(acc(i)->val, ==, cases[c].vals[i]);
        }
    }
}

/* rep insb/insw/insl: each read lands in the data area, little-endian. */
static void test_pio_in(void)
{
    static const uint8_t sizes[] = {1, 2, 4};

    for (size_t c = 0; c < ARRAY_SIZE(sizes); c++) {
        g_autofree struct kvm_run *run = new_run(KVM_EXIT_IO);
        uint8_t *data = (uint8_t *)run + DATA_OFFSET;
        uint8_t size = sizes[c];

        set_io(run, KVM_EXIT_IO_IN, 0x60, size, 2);
        memset(data, 0xee, 16);
        g_assert_cmpint(dispatch(run), ==, KVM_EXIT_ACTION_CONTINUE);
        g_assert_cmpuint(accesses->len, ==, 2);
        for (unsigned int i = 0; i < 2; i++) {
            uint64_t expect = acc(i)->val;

            g_assert_true(acc(i)->space == &address_space_io);
            g_assert_cmphex(acc(i)->addr, ==, 0x60);
            g_assert_cmpuint(acc(i)->size, ==, size);
            g_assert_false(acc(i)->is_write);
            for (unsigned int b = 0; b < size; b++) {
                g_assert_cmphex(data[i * size + b], ==,
                                (expect >> (b * 8)) & 0xff);
            }
        }
        /* Nothing past the last item is touched. */
        g_assert_cmphex(data[2 * size], ==, 0xee);
    }
}

static void test_pio_bad(void)
{
    g_autofree struct kvm_run *run = new_run(KVM_EXIT_IO);

    set_io(run, KVM_EXIT_IO_OUT, 0x80, 3, 1);
    g_assert_cmpint(dispatch(run), ==, KVM_EXIT_ACTION_ERROR);
    g_assert_cmpuint(accesses->len, ==, 0);

    /* Data that would run past the mapping is refused, not read. */
    set_io(run, KVM_EXIT_IO_OUT, 0x80, 4, 1025);
    g_assert_cmpint(dispatch(run), ==, KVM_EXIT_ACTION_ERROR);
    run->io.count = 1;
    run->io.data_offset = RUN_SIZE - 2;
    g_assert_cmpint(dispatch(run), ==, KVM_EXIT_ACTION_ERROR);
    g_assert_cmpuint(accesses->len, ==, 0);
}

static void test_mmio_write(void)
{
    static const uint8_t lens[] = {1, 2, 4, 8};

    for (size_t c = 0; c < ARRAY_SIZE(lens); c++) {
        g_autofree struct kvm_run *run = new_run(KVM_EXIT_MMIO);
        static const uint8_t bytes[8] = {1, 2, 3, 4, 5, 6, 7, 8};
        uint64_t expect = 0;

        memcpy(&expect, bytes, lens[c]);
        run->mmio.phys_addr = 0xfed00010;
        run->mmio.len = lens[c];
        run->mmio.is_write = 1;
        memcpy(run->mmio.data, bytes, sizeof(bytes));
        g_assert_cmpint(dispatch(run), ==, KVM_EXIT_ACTION_CONTINUE);
        g_assert_cmpuint(accesses->len, ==, 1);
        g_assert_true(acc(0)->space == &address_space_memory);
        g_assert_cmphex(acc(0)->addr, ==, 0xfed00010);
        g_assert_cmpuint(acc(0)->size, ==, lens[c]);
        g_assert_true(acc(0)->is_write);
        g_assert_false(acc(0)->via_rw);
        g_assert_cmphex(acc(0)->val, ==, expect);
    }
}

static void test_mmio_read(void)
{
    g_autofree struct kvm_run *run = new_run(KVM_EXIT_MMIO);

    run->mmio.phys_addr = 0xfee00030;
    run->mmio.len = 4;
    memset(run->mmio.data, 0xee, sizeof(run->mmio.data));
    g_assert_cmpint(dispatch(run), ==, KVM_EXIT_ACTION_CONTINUE);
    g_assert_cmpuint(accesses->len, ==, 1);
    g_assert_true(acc(0)->space == &address_space_memory);
    g_assert_cmphex(acc(0)->addr, ==, 0xfee00030);
    g_assert_cmpuint(acc(0)->size, ==, 4);
    g_assert_false(acc(0)->is_write);
    g_assert_cmphex(run->mmio.data[0], ==, 0x44);
    g_assert_cmphex(run->mmio.data[3], ==, 0x11);
    g_assert_cmphex(run->mmio.data[4], ==, 0xee);

    run->mmio.len = 8;
    g_assert_cmpint(dispatch(run), ==, KVM_EXIT_ACTION_CONTINUE);
    g_assert_cmpuint(acc(1)->size, ==, 8);
}

/* A 4-byte access split by KVM at a page boundary gives a 3-byte piece. */
static void test_mmio_odd(void)
{
    g_autofree struct kvm_run *run = new_run(KVM_EXIT_MMIO);

    run->mmio.phys_addr = 0xfebff001;
    run->mmio.len = 3;
    run->mmio.is_write = 1;
    memcpy(run->mmio.data, "\x01\x02\x03", 3);
    g_assert_cmpint(dispatch(run), ==, KVM_EXIT_ACTION_CONTINUE);
    g_assert_cmpuint(accesses->len, ==, 1);
    g_assert_true(acc(0)->via_rw);
    g_assert_cmpuint(acc(0)->size, ==, 3);
    g_assert_cmphex(acc(0)->val, ==, 0x030201);

    run->mmio.is_write = 0;
    g_assert_cmpint(dispatch(run), ==, KVM_EXIT_ACTION_CONTINUE);
    g_assert_cmphex(run->mmio.data[2], ==, 0xab);

    run->mmio.len = 9;
    g_assert_cmpint(dispatch(run), ==, KVM_EXIT_ACTION_ERROR);
    run->mmio.len = 0;
    g_assert_cmpint(dispatch(run), ==, KVM_EXIT_ACTION_ERROR);
    g_assert_cmpuint(accesses->len, ==, 2);
}

static void test_lifecycle(void)
{
    g_autofree struct kvm_run *run = new_run(KVM_EXIT_SHUTDOWN);

    g_assert_cmpint(dispatch(run), ==, KVM_EXIT_ACTION_WAIT_RESET);
    g_assert_cmpint(resets, ==, 1);
    g_assert_cmpint(last_cause, ==, SHUTDOWN_CAUSE_GUEST_RESET);

    run->exit_reason = KVM_EXIT_HLT;
    g_assert_cmpint(dispatch(run), ==, KVM_EXIT_ACTION_HALT);

    run->exit_reason = KVM_EXIT_SYSTEM_EVENT;
    run->system_event.type = KVM_SYSTEM_EVENT_SHUTDOWN;
    g_assert_cmpint(dispatch(run), ==, KVM_EXIT_ACTION_WAIT_RESET);
    g_assert_cmpint(shutdowns, ==, 1);
    g_assert_cmpint(last_cause, ==, SHUTDOWN_CAUSE_GUEST_SHUTDOWN);
    run->system_event.type = KVM_SYSTEM_EVENT_RESET;
    g_assert_cmpint(dispatch(run), ==, KVM_EXIT_ACTION_WAIT_RESET);
    g_assert_cmpint(resets, ==, 2);

    run->exit_reason = KVM_EXIT_INTR;
    g_assert_cmpint(dispatch(run), ==, KVM_EXIT_ACTION_CONTINUE);
    g_assert_cmpuint(accesses->len, ==, 0);
}

static void test_errors(void)
{
    g_autofree struct kvm_run *run = new_run(KVM_EXIT_INTERNAL_ERROR);

    run->internal.suberror = KVM_INTERNAL_ERROR_EMULATION;
    run->internal.ndata = 100; /* clamped to the array */
    g_assert_cmpint(dispatch(run), ==, KVM_EXIT_ACTION_ERROR);

    run->exit_reason = KVM_EXIT_FAIL_ENTRY;
    run->fail_entry.hardware_entry_failure_reason = 0x80000021;
    g_assert_cmpint(dispatch(run), ==, KVM_EXIT_ACTION_ERROR);

    run->exit_reason = 0xdead;
    g_assert_cmpint(dispatch(run), ==, KVM_EXIT_ACTION_ERROR);
    g_assert_cmpuint(accesses->len, ==, 0);
    g_assert_cmpint(resets + shutdowns, ==, 0);
}

static struct kvm_segment seg(uint16_t sel, uint64_t base, uint32_t limit,
                              uint8_t type, bool s)
{
    return (struct kvm_segment){
        .selector = sel,
        .base = base,
        .limit = limit,
        .type = type,
        .s = s,
        .present = 1,
    };
}

/* The x86 reset state, as qemu-system-x86_64's "info registers" shows it. */
static void test_dump_real_mode(void)
{
    g_autofree KVMRegSnapshot *snap = g_new0(KVMRegSnapshot, 1);
    g_autofree char *text = NULL;
    g_auto(GStrv) lines = NULL;

    snap->regs.rip = 0xfff0;
    snap->regs.rflags = 0x2;
    snap->regs.rdx = 0x600;
    snap->sregs.cs = seg(0xf000, 0xffff0000, 0xffff, 0xb, true);
    snap->sregs.ds = seg(0, 0, 0xffff, 0x3, true);
    snap->sregs.es = snap->sregs.ss = snap->sregs.ds;
    snap->sregs.fs = snap->sregs.gs = snap->sregs.ds;
    snap->sregs.ldt = seg(0, 0, 0xffff, 0x2, false);
    snap->sregs.tr = seg(0, 0, 0xffff, 0xb, false);
    snap->sregs.gdt.limit = snap->sregs.idt.limit = 0xffff;
    snap->sregs.cr0 = 0x60000010;
    snap->dregs.dr6 = 0xffff0ff0;
    snap->dregs.dr7 = 0x400;
    snap->fpu.fcw = 0x37f;
    snap->fpu.mxcsr = 0x1f80;
    text = kvm_format_registers(snap);
    lines = g_strsplit(text, "\n", -1);

    g_assert_cmpstr(lines[0], ==,
                    "EAX=00000000 EBX=00000000 ECX=00000000 EDX=00000600");
    g_assert_cmpstr(lines[2], ==,
                    "EIP=0000fff0 EFL=00000002 [-------] "
                    "CPL=0 II=0 A20=1 SMM=0 HLT=0");
    g_assert_cmpstr(lines[3], ==, "ES =0000 00000000 0000ffff 00009300");
    g_assert_cmpstr(lines[4], ==, "CS =f000 ffff0000 0000ffff 00009b00");
    g_assert_cmpstr(lines[9], ==, "LDT=0000 00000000 0000ffff 00008200");
    g_assert_cmpstr(lines[10], ==, "TR =0000 00000000 0000ffff 00008b00");
    g_assert_cmpstr(lines[11], ==, "GDT=     00000000 0000ffff");
    g_assert_cmpstr(lines[13], ==,
                    "CR0=60000010 CR2=00000000 CR3=00000000 CR4=00000000");
    g_assert_cmpstr(lines[14], ==,
                    "DR0=0000000000000000 "
                    "DR1=0000000000000000 DR2=0000000000000000 "
                    "DR3=0000000000000000 ");
    g_assert_cmpstr(lines[15], ==, "DR6=00000000ffff0ff0 DR7=0000000000000400");
    g_assert_cmpstr(lines[16], ==, "EFER=0000000000000000");
    g_assert_cmpstr(lines[17], ==,
                    "FCW=037f FSW=0000 [ST=0] FTW=00 MXCSR=00001f80");
    g_assert_cmpstr(lines[18], ==,
                    "FPR0=0000000000000000 0000 FPR1=0000000000000000 0000");
    g_assert_cmpstr(lines[22], ==,
                    "XMM00=0000000000000000 "
                    "0000000000000000 XMM01=0000000000000000 "
                    "0000000000000000");
    g_assert_cmpstr(lines[26], ==, "");
    g_assert_null(lines[27]);
}

static void test_dump_long_mode(void)
{
    g_autofree KVMRegSnapshot *snap = g_new0(KVMRegSnapshot, 1);
    g_autofree char *text = NULL;
    g_auto(GStrv) lines = NULL;

    snap->regs.rip = 0xffffffff81000000ULL;
    snap->regs.rflags = 0x246;
    snap->regs.r8 = 8;
    snap->sregs.cs = seg(0x10, 0, 0xffffffff, 0xb, true);
    snap->sregs.cs.l = 1;
    snap->sregs.cs.g = 1;
    snap->sregs.ss = seg(0x18, 0, 0xffffffff, 0x3, true);
    snap->sregs.ss.db = 1;
    snap->sregs.ss.g = 1;
    snap->sregs.tr = seg(0x40, 0xfffffe0000003000ULL, 0x4087, 0xb, false);
    snap->sregs.cr0 = 0x80050033;
    snap->sregs.efer = 0xd01;
    snap->mp_state.mp_state = KVM_MP_STATE_HALTED;
    text = kvm_format_registers(snap);
    lines = g_strsplit(text, "\n", -1);

    g_assert_true(g_str_has_prefix(lines[0], "RAX=0000000000000000 RBX="));
    g_assert_cmpstr(lines[2], ==,
                    "R8 =0000000000000008 R9 =0000000000000000 "
                    "R10=0000000000000000 R11=0000000000000000");
    g_assert_cmpstr(lines[4], ==,
                    "RIP=ffffffff81000000 RFL=00000246 "
                    "[---Z-P-] CPL=0 II=0 A20=1 SMM=0 HLT=1");
    g_assert_cmpstr(lines[5], ==,
                    "ES =0000 0000000000000000 00000000 "
                    "00000000");
    g_assert_cmpstr(lines[6], ==,
                    "CS =0010 0000000000000000 ffffffff "
                    "00a09b00 DPL=0 CS64 [-RA]");
    g_assert_cmpstr(lines[7], ==,
                    "SS =0018 0000000000000000 ffffffff "
                    "00c09300 DPL=0 DS   [-WA]");
    g_assert_cmpstr(lines[12], ==,
                    "TR =0040 fffffe0000003000 00004087 "
                    "00008b00 DPL=0 TSS64-busy");
    g_assert_cmpstr(lines[13], ==, "GDT=     0000000000000000 00000000");
    g_assert_cmpstr(lines[15], ==,
                    "CR0=80050033 CR2=0000000000000000 "
                    "CR3=0000000000000000 CR4=00000000");
    g_assert_cmpstr(lines[18], ==, "EFER=0000000000000d01");
    /* 16 XMM registers in 64-bit mode, two per line. */
    g_assert_true(g_str_has_prefix(lines[24], "XMM00="));
    g_assert_true(g_str_has_prefix(lines[31], "XMM14="));
}

static void test_dump_avx(void)
{
    g_autofree KVMRegSnapshot *snap = g_new0(KVMRegSnapshot, 1);
    g_autofree char *text = NULL;
    uint64_t lo = 0x1111, hi = 0x2222;

    snap->have_xsave = true;
    snap->xcr0 = 0x7;
    memcpy((uint8_t *)snap->xsave.region + 160 + 16, &lo, 8);
    memcpy((uint8_t *)snap->xsave.region + 576 + 16 + 8, &hi, 8);
    text = kvm_format_registers(snap);
    g_assert_nonnull(strstr(text, "\nYMM01=0000000000002222 "
                                  "0000000000000000 0000000000000000 "
                                  "0000000000001111\n"));
    g_assert_null(strstr(text, "XMM"));
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/kvm/exit/pio-out", test_pio_out);
    g_test_add_func("/kvm/exit/pio-in", test_pio_in);
    g_test_add_func("/kvm/exit/pio-bad", test_pio_bad);
    g_test_add_func("/kvm/exit/mmio-write", test_mmio_write);
    g_test_add_func("/kvm/exit/mmio-read", test_mmio_read);
    g_test_add_func("/kvm/exit/mmio-odd", test_mmio_odd);
    g_test_add_func("/kvm/exit/lifecycle", test_lifecycle);
    g_test_add_func("/kvm/exit/errors", test_errors);
    g_test_add_func("/kvm/dump/real-mode", test_dump_real_mode);
    g_test_add_func("/kvm/dump/long-mode", test_dump_long_mode);
    g_test_add_func("/kvm/dump/avx", test_dump_avx);
    return g_test_run();
}
