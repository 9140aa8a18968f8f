/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Names of KVM ioctl requests for the kvm_*ioctl trace events: a table
 * looked up only while one of those events is enabled. A request missing
 * here is traced as "unknown" with its number.
 */
#include "util/osdep.h"

#include <linux/kvm.h>

#include "kvm-internal.h"

typedef struct KVMIoctlName {
    unsigned long req;
    const char *name;
} KVMIoctlName;

#define IOCTL(x) { x, #x }

static const KVMIoctlName kvm_ioctl_names[] = {
    /* /dev/kvm */
    IOCTL(KVM_GET_API_VERSION),
    IOCTL(KVM_CREATE_VM),
    IOCTL(KVM_CHECK_EXTENSION),
    IOCTL(KVM_GET_VCPU_MMAP_SIZE),
    IOCTL(KVM_GET_SUPPORTED_CPUID),
    IOCTL(KVM_GET_MSR_INDEX_LIST),
    /* VM */
    IOCTL(KVM_CREATE_VCPU),
    IOCTL(KVM_SET_TSS_ADDR),
    IOCTL(KVM_SET_IDENTITY_MAP_ADDR),
    IOCTL(KVM_SET_USER_MEMORY_REGION),
    IOCTL(KVM_GET_DIRTY_LOG),
    IOCTL(KVM_CLEAR_DIRTY_LOG),
    IOCTL(KVM_RESET_DIRTY_RINGS),
    IOCTL(KVM_CREATE_IRQCHIP),
    IOCTL(KVM_GET_IRQCHIP),
    IOCTL(KVM_SET_IRQCHIP),
    IOCTL(KVM_CREATE_PIT2),
    IOCTL(KVM_GET_PIT2),
    IOCTL(KVM_SET_PIT2),
    IOCTL(KVM_IRQ_LINE),
    IOCTL(KVM_IRQFD),
    IOCTL(KVM_IOEVENTFD),
    IOCTL(KVM_SET_GSI_ROUTING),
    IOCTL(KVM_SIGNAL_MSI),
    IOCTL(KVM_GET_CLOCK),
    IOCTL(KVM_SET_CLOCK),
    IOCTL(KVM_ENABLE_CAP),
    /* vCPU */
    IOCTL(KVM_RUN),
    IOCTL(KVM_GET_REGS),
    IOCTL(KVM_SET_REGS),
    IOCTL(KVM_GET_SREGS),
    IOCTL(KVM_SET_SREGS),
    IOCTL(KVM_GET_SREGS2),
    IOCTL(KVM_SET_SREGS2),
    IOCTL(KVM_GET_FPU),
    IOCTL(KVM_SET_FPU),
    IOCTL(KVM_GET_XSAVE),
    IOCTL(KVM_GET_XSAVE2),
    IOCTL(KVM_SET_XSAVE),
    IOCTL(KVM_GET_XCRS),
    IOCTL(KVM_SET_XCRS),
    IOCTL(KVM_GET_MSRS),
    IOCTL(KVM_SET_MSRS),
    IOCTL(KVM_SET_CPUID2),
    IOCTL(KVM_GET_LAPIC),
    IOCTL(KVM_SET_LAPIC),
    IOCTL(KVM_GET_MP_STATE),
    IOCTL(KVM_SET_MP_STATE),
    IOCTL(KVM_GET_VCPU_EVENTS),
    IOCTL(KVM_SET_VCPU_EVENTS),
    IOCTL(KVM_GET_DEBUGREGS),
    IOCTL(KVM_SET_DEBUGREGS),
    IOCTL(KVM_GET_TSC_KHZ),
    IOCTL(KVM_SET_TSC_KHZ),
    IOCTL(KVM_SET_GUEST_DEBUG),
};

const char *kvm_ioctl_name(unsigned long req)
{
    for (size_t i = 0; i < ARRAY_SIZE(kvm_ioctl_names); i++) {
        if (kvm_ioctl_names[i].req == req) {
            return kvm_ioctl_names[i].name;
        }
    }
    return "unknown";
}
