/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * system/irqchip.h's calls, forwarded to the current accelerator's
 * IrqchipOps, with the trace points every accelerator shares (GSI levels,
 * MSIs). The routing table itself is the accelerator's (kvm-irqchip.c).
 */
#include "util/osdep.h"

#include "system/cpus.h"
#include "system/irqchip.h"

#include "trace.h"

static const IrqchipOps *irqchip_ops(void)
{
    const AccelOps *accel = accel_current();

    return accel ? accel->irqchip : NULL;
}

void irqchip_set_gsi(unsigned int gsi, bool level)
{
    const IrqchipOps *ops = irqchip_ops();

    trace_irqchip_set_gsi(gsi, level);
    if (ops) {
        ops->set_gsi(gsi, level);
    }
}

void irqchip_send_msi(MSIMessage msg)
{
    const IrqchipOps *ops = irqchip_ops();

    trace_irqchip_send_msi(msg.address, msg.data);
    if (ops) {
        ops->send_msi(msg);
    }
}

bool irqchip_msi_via_routes(void)
{
    const IrqchipOps *ops = irqchip_ops();

    return ops && ops->msi_via_routes && ops->msi_via_routes();
}

static bool irqchip_check_routes(const char *what, GError **errp)
{
    if (!irqchip_msi_via_routes()) {
        const AccelOps *accel = accel_current();

        error_setg(errp,
                   "cannot %s: the %s accelerator has no interrupt routing "
                   "(needs KVM with its in-kernel irqchip)",
                   what, accel ? accel->name : "(none)");
        return false;
    }
    return true;
}

int irqchip_add_msi_route(MSIMessage msg, GError **errp)
{
    if (!irqchip_check_routes("add an MSI route", errp)) {
        return -1;
    }
    return irqchip_ops()->add_msi_route(msg, errp);
}

bool irqchip_update_msi_route(int virq, MSIMessage msg, GError **errp)
{
    if (!irqchip_check_routes("update an MSI route", errp)) {
        return false;
    }
    return irqchip_ops()->update_msi_route(virq, msg, errp);
}

void irqchip_release_virq(int virq)
{
    if (irqchip_msi_via_routes()) {
        irqchip_ops()->release_virq(virq);
    }
}

void irqchip_commit_routes(void)
{
    if (irqchip_msi_via_routes()) {
        irqchip_ops()->commit_routes();
    }
}

bool irqchip_add_irqfd(int fd, int resamplefd, int virq, GError **errp)
{
    if (!irqchip_check_routes("attach an irqfd", errp)) {
        return false;
    }
    return irqchip_ops()->add_irqfd(fd, resamplefd, virq, errp);
}

void irqchip_remove_irqfd(int fd, int virq)
{
    if (irqchip_msi_via_routes()) {
        irqchip_ops()->remove_irqfd(fd, virq);
    }
}
