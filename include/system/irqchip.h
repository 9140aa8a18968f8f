/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The interrupt controller as devices and machines see it, independent of
 * the accelerator (no KVM headers here): GSI inputs, MSI delivery, and the
 * GSI routing table with irqfds for devices that own eventfds (VFIO,
 * virtio). The current accelerator implements it (accel/kvm/kvm-irqchip.c,
 * accel/qtest/qtest.c) through AccelOps.irqchip; with no accelerator every
 * call is a no-op or fails with an error saying so.
 *
 * Ownership: a route (virq) and an irqfd belong to the device that added
 * them; it releases/removes them when it stops using them. Nothing here
 * survives the VM: after a live update the new process's VM starts with
 * the default routes only, and each owner adds its routes and irqfds
 * again from its device state (realize or post_load), then commits, all
 * before the guest resumes. irqfds are attached only while the vCPUs
 * run, so no signal is lost in the pause. docs/devel/interrupts.md
 * ("Hand-over") has the whole story.
 *
 * Threading: main thread or a vCPU thread with the big lock held.
 */
#ifndef BATON_SYSTEM_IRQCHIP_H
#define BATON_SYSTEM_IRQCHIP_H

#include <stdbool.h>
#include <stdint.h>
#include <glib.h>

/* The PC's interrupt controller inputs: IOAPIC pins (ISA IRQs are 0-15). */
#define IRQCHIP_NR_GSIS 24

/* The x86 MSI window: a 4-byte write of data at address signals an MSI. */
#define MSI_WINDOW_BASE 0xfee00000ULL
#define MSI_WINDOW_SIZE 0x100000ULL

typedef struct MSIMessage {
    uint64_t address;
    uint32_t data;
} MSIMessage;

/*
 * Drive interrupt controller input GSI (< IRQCHIP_NR_GSIS) to LEVEL: the
 * receiving end of the machine's GSI lines (hw/i386/pc.c) and of qtest's
 * set_irq_in. Devices use qemu_irq lines (hw/core/irq.h), not this.
 */
void irqchip_set_gsi(unsigned int gsi, bool level);

/*
 * Deliver one MSI now (KVM_SIGNAL_MSI). The machine's MSI window calls
 * this for each 4-byte write an emulated device makes there.
 */
void irqchip_send_msi(MSIMessage msg);

/*
 * True when MSI routes and irqfds work (KVM with its in-kernel irqchip and
 * GSI routing). When false, an eventfd owner reads its eventfd itself and
 * signals the MSI by writing to the MSI window.
 */
bool irqchip_msi_via_routes(void);

/*
 * Add an MSI route for MSG; returns its virq (a GSI above the irqchip's
 * pins) or -1 + errp (no routing, or the table is full). Not active until
 * irqchip_commit_routes().
 */
int irqchip_add_msi_route(MSIMessage msg, GError **errp);
/* Point VIRQ at MSG (takes effect at the next commit); false + errp if
 * VIRQ is not an MSI route that was added. */
bool irqchip_update_msi_route(int virq, MSIMessage msg, GError **errp);
/* Drop VIRQ's route and free the number (at the next commit). */
void irqchip_release_virq(int virq);
/*
 * Give the kernel the whole table, irqchip pins and MSI routes, in one
 * KVM_SET_GSI_ROUTING; a no-op when nothing changed since the last one.
 * The accelerator also commits before the vCPUs resume, so routes added
 * while the VM is stopped (post_load) are never left out.
 */
void irqchip_commit_routes(void);

/*
 * Have the kernel inject VIRQ when FD (an eventfd) is written: KVM_IRQFD.
 * RESAMPLEFD >= 0 makes it a level-triggered irqfd: the line stays
 * asserted until the guest EOIs it, then the kernel writes RESAMPLEFD so
 * the owner can check and re-assert (INTx). -1: edge (MSI). May be called
 * as soon as the accelerator is initialised, running or not; VIRQ's
 * route may be committed before or after. The accelerator attaches it to
 * KVM only while the vCPUs run (a pause detaches every irqfd, so that
 * signals wait in their eventfds across a save, and the resume after a
 * load attaches them and writes each RESAMPLEFD once: the owner then
 * re-checks its level). Owners need not care. False + errp on failure
 * (FD already added: EBUSY; while stopped, KVM's own refusals are only
 * logged, at the resume).
 */
bool irqchip_add_irqfd(int fd, int resamplefd, int virq, GError **errp);
/* Forget FD's irqfd on VIRQ (both as given to irqchip_add_irqfd). */
void irqchip_remove_irqfd(int fd, int virq);

/*
 * The accelerator's implementation (AccelOps.irqchip). set_gsi and
 * send_msi are required; the routing hooks may be NULL (no routing).
 */
typedef struct IrqchipOps {
    void (*set_gsi)(unsigned int gsi, bool level);
    void (*send_msi)(MSIMessage msg);
    bool (*msi_via_routes)(void);
    int (*add_msi_route)(MSIMessage msg, GError **errp);
    bool (*update_msi_route)(int virq, MSIMessage msg, GError **errp);
    void (*release_virq)(int virq);
    void (*commit_routes)(void);
    bool (*add_irqfd)(int fd, int resamplefd, int virq, GError **errp);
    void (*remove_irqfd)(int fd, int virq);
} IrqchipOps;

#endif
