/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * INTx routing: a function's pin goes up through the bridges, swizzled by
 * slot at each (PCI-to-PCI Bridge 1.2, table 9-1), to a root-bus line
 * (PIRQ) that the host's ISA bridge routes to an ISA IRQ; each PIRQ is a
 * SharedIRQ (wired-OR) whose output the ISA bridge routes.
 */
#include "util/osdep.h"

#include "hw/core/machine.h"
#include "pci-internal.h"
#include "trace.h"

int pci_swizzled_irq(PCIDevice *d, int pin, PCIBus **root)
{
    PCIBus *bus = d->bus;

    while (bus->parent_dev) {
        pin = (pin + PCI_SLOT(d->devfn)) % PCI_NUM_PINS;
        d = bus->parent_dev;
        bus = d->bus;
    }
    *root = bus;
    return bus->map_irq ? bus->map_irq(d, pin) : -1;
}

int pci_intx_route(PCIDevice *d)
{
    int pin = d->config[PCI_INTERRUPT_PIN];
    PCIBus *root;
    int irq;

    if (pin < 1 || pin > PCI_NUM_PINS) {
        return -1;
    }
    irq = pci_swizzled_irq(d, pin - 1, &root);
    if (irq < 0 || irq >= root->nirq || !root->route_irq) {
        return -1;
    }
    return root->route_irq(root->irq_opaque, irq);
}

int pci_device_intx_gsi(PCIDevice *d)
{
    int pin = d->config[PCI_INTERRUPT_PIN];
    PCIBus *root;
    int irq;

    if (pin < 1 || pin > PCI_NUM_PINS ||
        (pci_get_word(d->config + PCI_COMMAND) & PCI_COMMAND_INTX_DISABLE)) {
        return -1;
    }
    irq = pci_swizzled_irq(d, pin - 1, &root);
    if (irq < 0 || irq >= root->nirq) {
        return -1;
    }
    if (root->route_gsi) {
        return root->route_gsi(root->irq_opaque, irq);
    }
    return root->route_irq ? root->route_irq(root->irq_opaque, irq) : -1;
}

void pci_device_set_intx_routing_notifier(PCIDevice *d,
                                          PCIINTxRoutingNotifier fn)
{
    d->intx_routing_notifier = fn;
}

static void pci_intx_routing_notify(PCIDevice *d, void *opaque)
{
    if (d->intx_routing_notifier) {
        d->intx_routing_notifier(d);
    }
}

void pci_bus_fire_intx_routing_notifier(PCIBus *bus)
{
    pci_for_each_device(bus, pci_intx_routing_notify, NULL);
}

/*
 * One more (CHANGE 1) or one less (-1) asserted pin on D's PIRQ: a
 * SharedIRQ per PIRQ of the root bus, so one function lowering its pin
 * leaves a shared PIRQ high while another still asserts it (wired-OR).
 */
static void pci_change_irq_level(PCIDevice *d, int pin, int change)
{
    PCIBus *root;
    int irq = pci_swizzled_irq(d, pin, &root);

    if (irq < 0 || irq >= root->nirq || !root->pirq) {
        return;
    }
    shared_irq_adjust(root->pirq[irq], change);
}

void pci_intx_update(PCIDevice *d)
{
    int pin = d->config[PCI_INTERRUPT_PIN] - 1;
    bool want = d->irq_state && !(pci_get_word(d->config + PCI_COMMAND) &
                                  PCI_COMMAND_INTX_DISABLE);

    if (pin < 0 || pin >= PCI_NUM_PINS || want == d->intx_asserted) {
        return;
    }
    d->intx_asserted = want;
    trace_pci_intx(object_get_typename(OBJECT(d)), pci_bus_num(d->bus),
                   PCI_SLOT(d->devfn), PCI_FUNC(d->devfn), pin, want);
    pci_change_irq_level(d, pin, want ? 1 : -1);
}

void pci_set_irq(PCIDevice *d, int level)
{
    uint16_t status = pci_get_word(d->config + PCI_STATUS);

    d->irq_state = level != 0;
    pci_set_word(d->config + PCI_STATUS, d->irq_state
                                             ? status | PCI_STATUS_INTERRUPT
                                             : status & ~PCI_STATUS_INTERRUPT);
    pci_intx_update(d);
}

void pci_pirq_router_init(PCIPirqRouter *r)
{
    memset(r, 0, sizeof(*r));
    for (unsigned int i = 0; i < ARRAY_SIZE(r->isa_irq); i++) {
        r->isa_irq[i] = current_machine_get() ? machine_get_gsi(i) : NULL;
    }
}

void pci_pirq_router_update(PCIPirqRouter *r, int pirq, int level, int npirqs,
                            int (*route)(void *, int), void *opaque)
{
    uint16_t levels = 0;

    if (pirq >= 0 && level >= 0) {
        r->pirq_levels = level ? r->pirq_levels | (1u << pirq)
                               : r->pirq_levels & ~(1u << pirq);
    }
    for (int p = 0; p < npirqs; p++) {
        int irq = route(opaque, p);

        if ((r->pirq_levels & (1u << p)) && irq >= 0 && irq < 16) {
            levels |= (uint16_t)(1u << irq);
        }
    }
    /* Lines that go low first: a re-routed PIRQ leaves before it lands. */
    for (int pass = 0; pass < 2; pass++) {
        for (int irq = 0; irq < 16; irq++) {
            uint16_t bit = (uint16_t)(1u << irq);

            if (((levels ^ r->isa_levels) & bit) &&
                !!(levels & bit) == (pass == 1)) {
                qemu_set_irq(r->isa_irq[irq], pass);
            }
        }
    }
    r->isa_levels = levels;
}
