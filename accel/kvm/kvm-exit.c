/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * KVM exit dispatch: turns a struct kvm_run that KVM_RUN filled in into
 * address-space accesses and run-state requests, and tells the vCPU loop
 * what to do next. No KVM ioctl here, so tests/unit/test-kvm-exit.c can
 * drive it with fabricated exits; parking and register dumps are the
 * caller's (kvm-cpu.c).
 */
#include "util/osdep.h"

#include "system/memory.h"
#include "system/runstate.h"
#include "util/error-report.h"

#include "kvm-internal.h"
#include "trace.h"

static const KVMExitHooks kvm_exit_hooks = {
    .ld = address_space_ld,
    .st = address_space_st,
    .rw = address_space_rw,
    .request_reset = request_reset,
    .request_shutdown = request_shutdown,
};

const KVMExitHooks *kvm_exit_default_hooks(void)
{
    return &kvm_exit_hooks;
}

/* Little-endian loads/stores of 1..8 bytes (guest byte order). */
static uint64_t ld_le(const uint8_t *p, unsigned int size)
{
    uint64_t val = 0;

    for (unsigned int i = 0; i < size; i++) {
        val |= (uint64_t)p[i] << (i * 8);
    }
    return val;
}

static void st_le(uint8_t *p, uint64_t val, unsigned int size)
{
    for (unsigned int i = 0; i < size; i++) {
        p[i] = val >> (i * 8);
    }
}

/*
 * Port I/O: COUNT items of SIZE bytes (count > 1 for rep ins/outs) at
 * DATA_OFFSET inside the kvm_run mapping, all to the same port.
 */
static KVMExitAction kvm_handle_io(struct kvm_run *run, size_t run_size,
                                   int cpu_index, const KVMExitHooks *hooks)
{
    unsigned int size = run->io.size;
    uint32_t count = run->io.count;
    uint64_t offset = run->io.data_offset;
    uint16_t port = run->io.port;
    uint8_t *data;

    if (size != 1 && size != 2 && size != 4) {
        error_report("CPU %d: PIO exit for port 0x%x has size %u", cpu_index,
                     port, size);
        return KVM_EXIT_ACTION_ERROR;
    }
    if (offset > run_size || count > (run_size - offset) / size) {
        error_report("CPU %d: PIO exit for port 0x%x has %u items at offset "
                     "0x%" PRIx64 ", outside the %zu-byte kvm_run area",
                     cpu_index, port, count, offset, run_size);
        return KVM_EXIT_ACTION_ERROR;
    }
    data = (uint8_t *)run + offset;
    for (uint32_t i = 0; i < count; i++, data += size) {
        if (run->io.direction == KVM_EXIT_IO_OUT) {
            hooks->st(&address_space_io, port, ld_le(data, size), size);
        } else {
            st_le(data, hooks->ld(&address_space_io, port, size), size);
        }
    }
    return KVM_EXIT_ACTION_CONTINUE;
}

/*
 * MMIO: up to 8 bytes. KVM splits accesses at page boundaries, so odd
 * lengths (3, 5...) happen; address_space_rw() splits those further.
 */
static KVMExitAction kvm_handle_mmio(struct kvm_run *run, int cpu_index,
                                     const KVMExitHooks *hooks)
{
    hwaddr addr = run->mmio.phys_addr;
    uint32_t len = run->mmio.len;
    uint8_t *data = run->mmio.data;

    if (len == 0 || len > sizeof(run->mmio.data)) {
        error_report("CPU %d: MMIO exit at 0x%" HWADDR_PRIx " has length %u",
                     cpu_index, addr, len);
        return KVM_EXIT_ACTION_ERROR;
    }
    if (len & (len - 1)) {
        hooks->rw(&address_space_memory, addr, data, len, run->mmio.is_write);
    } else if (run->mmio.is_write) {
        hooks->st(&address_space_memory, addr, ld_le(data, len), len);
    } else {
        st_le(data, hooks->ld(&address_space_memory, addr, len), len);
    }
    return KVM_EXIT_ACTION_CONTINUE;
}

static const char *kvm_internal_error_name(uint32_t suberror)
{
    switch (suberror) {
    case KVM_INTERNAL_ERROR_EMULATION:
        return "emulation failure";
    case KVM_INTERNAL_ERROR_SIMUL_EX:
        return "simultaneous exceptions";
    case KVM_INTERNAL_ERROR_DELIVERY_EV:
        return "event delivery failure";
    case KVM_INTERNAL_ERROR_UNEXPECTED_EXIT_REASON:
        return "unexpected exit reason";
    default:
        return "unknown";
    }
}

static KVMExitAction kvm_handle_internal_error(struct kvm_run *run,
                                               int cpu_index)
{
    uint32_t ndata = run->internal.ndata;

    error_report("CPU %d: KVM internal error, suberror %u (%s)", cpu_index,
                 run->internal.suberror,
                 kvm_internal_error_name(run->internal.suberror));
    if (ndata > ARRAY_SIZE(run->internal.data)) {
        ndata = ARRAY_SIZE(run->internal.data);
    }
    for (uint32_t i = 0; i < ndata; i++) {
        error_report("CPU %d: extra data[%u]: 0x%016" PRIx64, cpu_index, i,
                     (uint64_t)run->internal.data[i]);
    }
    return KVM_EXIT_ACTION_ERROR;
}

static KVMExitAction kvm_handle_system_event(struct kvm_run *run, int cpu_index,
                                             const KVMExitHooks *hooks)
{
    switch (run->system_event.type) {
    case KVM_SYSTEM_EVENT_SHUTDOWN:
        hooks->request_shutdown(SHUTDOWN_CAUSE_GUEST_SHUTDOWN);
        return KVM_EXIT_ACTION_WAIT_RESET;
    case KVM_SYSTEM_EVENT_RESET:
        hooks->request_reset(SHUTDOWN_CAUSE_GUEST_RESET);
        return KVM_EXIT_ACTION_WAIT_RESET;
    default:
        error_report("CPU %d: unhandled KVM system event %u", cpu_index,
                     run->system_event.type);
        return KVM_EXIT_ACTION_ERROR;
    }
}

KVMExitAction kvm_handle_exit(struct kvm_run *run, size_t run_size,
                              int cpu_index, const KVMExitHooks *hooks)
{
    trace_kvm_run_exit(cpu_index, run->exit_reason);
    switch (run->exit_reason) {
    case KVM_EXIT_IO:
        return kvm_handle_io(run, run_size, cpu_index, hooks);
    case KVM_EXIT_MMIO:
        return kvm_handle_mmio(run, cpu_index, hooks);
    case KVM_EXIT_HLT:
        /* Only without the in-kernel irqchip, which handles HLT itself. */
        return KVM_EXIT_ACTION_HALT;
    case KVM_EXIT_SHUTDOWN:
        /* Triple fault: a real PC resets; -no-reboot is runstate's call. */
        hooks->request_reset(SHUTDOWN_CAUSE_GUEST_RESET);
        return KVM_EXIT_ACTION_WAIT_RESET;
    case KVM_EXIT_SYSTEM_EVENT:
        return kvm_handle_system_event(run, cpu_index, hooks);
    case KVM_EXIT_INTR:
        /* A signal arrived; the loop looks at its flags again. */
        return KVM_EXIT_ACTION_CONTINUE;
    case KVM_EXIT_INTERNAL_ERROR:
        return kvm_handle_internal_error(run, cpu_index);
    case KVM_EXIT_FAIL_ENTRY:
        error_report("CPU %d: KVM failed to enter the guest, hardware entry "
                     "failure reason 0x%" PRIx64,
                     cpu_index,
                     (uint64_t)run->fail_entry.hardware_entry_failure_reason);
        return KVM_EXIT_ACTION_ERROR;
    default:
        error_report("CPU %d: unhandled KVM exit reason %u", cpu_index,
                     run->exit_reason);
        return KVM_EXIT_ACTION_ERROR;
    }
}
