/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * INTx routing: a function's pin goes up through the bridges, swizzled by
 * slot at each (PCI-to-PCI Bridge 1.2, table 9-1), to a root-bus line
 * (PIRQ) that the host's ISA bridge routes to an ISA IRQ.
 */
#include "util/osdep.h"

#include "pci-internal.h"

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
