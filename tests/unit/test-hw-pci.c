/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The PCI core without a machine: an i440FX host bridge and x-pci-test
 * functions on its bus, reached through 0xCF8/0xCFC in the I/O address
 * space. Config masks (RW, read-only, W1C), capability placement and its
 * errors, the migration check of read-only bits, and reset assignment
 * with many BARs (aligned, disjoint, inside their windows), and the INTx
 * routing notifier (PIIX3's PIRQ registers, COMMAND.INTX_DISABLE).
 */
#include "util/osdep.h"

#include "hw/pci-host/i440fx.h"
#include "hw/pci-host/q35.h"
#include "hw/pci/msix.h"
#include "hw/pci/pci-host.h"
#include "migration/vmstate.h"
#include "system/memory.h"

typedef struct Fixture {
    PCIHostState *host;
    PCIDevice *dev[8];
    int ndev;
} Fixture;

static uint32_t cfg_read(uint8_t devfn, uint32_t reg, unsigned size)
{
    address_space_st(&address_space_io, 0xcf8,
                     0x80000000u | devfn << 8 | (reg & 0xfc), 4);
    return address_space_ld(&address_space_io, 0xcfc + (reg & 3), size);
}

static void cfg_write(uint8_t devfn, uint32_t reg, uint32_t val, unsigned size)
{
    address_space_st(&address_space_io, 0xcf8,
                     0x80000000u | devfn << 8 | (reg & 0xfc), 4);
    address_space_st(&address_space_io, 0xcfc + (reg & 3), val, size);
}

static PCIDevice *add_dev(Fixture *f, const char *type, const char *addr,
                          const char *bar2)
{
    DeviceState *dev = qdev_new(type);
    GError *err = NULL;

    g_assert_true(object_property_parse(OBJECT(dev), "addr", addr, &err));
    if (bar2) {
        g_assert_true(
            object_property_parse(OBJECT(dev), "bar2-size", bar2, &err));
    }
    g_assert_true(qdev_realize(dev, &f->host->bus->qbus, &err));
    g_assert_no_error(err);
    f->dev[f->ndev++] = PCI_DEVICE(dev);
    return PCI_DEVICE(dev);
}

static void fixture_setup(Fixture *f, gconstpointer data)
{
    GError *err = NULL;
    DeviceState *host = qdev_new(TYPE_I440FX_PCI_HOST_BRIDGE);

    memset(f, 0, sizeof(*f));
    g_assert_true(qdev_realize(host, NULL, &err));
    g_assert_no_error(err);
    f->host = PCI_HOST_BRIDGE(host);
    add_dev(f, TYPE_I440FX_PCI_DEVICE, "0", NULL);
    add_dev(f, "x-pci-test", "3", NULL);
}

static void fixture_teardown(Fixture *f, gconstpointer data)
{
    while (f->ndev) {
        Object *obj = OBJECT(f->dev[--f->ndev]);

        object_unparent(obj);
        object_unref(obj);
    }
    object_unparent(OBJECT(f->host));
    object_unref(OBJECT(f->host));
}

static void test_masks(Fixture *f, gconstpointer data)
{
    PCIDevice *d = f->dev[1];
    uint8_t devfn = PCI_DEVFN(3, 0);
    uint16_t status;

    /* Read-only ids; RW latency timer; command bits outside wmask stay. */
    cfg_write(devfn, PCI_VENDOR_ID, 0x12345678, 4);
    g_assert_cmphex(cfg_read(devfn, PCI_VENDOR_ID, 4), ==, 0x00fe1b36);
    cfg_write(devfn, PCI_LATENCY_TIMER, 0x40, 1);
    g_assert_cmphex(cfg_read(devfn, PCI_LATENCY_TIMER, 1), ==, 0x40);
    cfg_write(devfn, PCI_COMMAND, 0xffff, 2);
    g_assert_cmphex(cfg_read(devfn, PCI_COMMAND, 2), ==, 0x0547);

    /* W1C: a device-set error bit clears on writing 1, not on 0. */
    status = pci_get_word(d->config + PCI_STATUS);
    pci_set_word(d->config + PCI_STATUS,
                 status | PCI_STATUS_REC_MASTER_ABORT | PCI_STATUS_PARITY);
    cfg_write(devfn, PCI_STATUS, 0, 2);
    g_assert_cmphex(cfg_read(devfn, PCI_STATUS, 2), ==,
                    status | PCI_STATUS_REC_MASTER_ABORT | PCI_STATUS_PARITY);
    cfg_write(devfn, PCI_STATUS, PCI_STATUS_REC_MASTER_ABORT, 2);
    g_assert_cmphex(cfg_read(devfn, PCI_STATUS, 2), ==,
                    status | PCI_STATUS_PARITY);
    /* A byte write to the high half clears only what it names. */
    cfg_write(devfn, PCI_STATUS + 1, PCI_STATUS_PARITY >> 8, 1);
    g_assert_cmphex(cfg_read(devfn, PCI_STATUS, 2), ==, status);
}

static void test_capabilities(Fixture *f, gconstpointer data)
{
    PCIDevice *d = f->dev[1];
    uint8_t first = d->config[PCI_CAPABILITY_LIST];
    GError *err = NULL;
    int pos;

    /* Overlapping the capability at the head (x-pci-test's MSI-X). */
    g_assert_cmpint(pci_add_capability(d, PCI_CAP_ID_PM, first, 8, &err), ==,
                    -1);
    g_assert_nonnull(strstr(err->message, "overlaps"));
    g_clear_error(&err);
    g_assert_cmpint(pci_add_capability(d, PCI_CAP_ID_PM, 0x3c, 8, &err), ==,
                    -1);
    g_clear_error(&err);
    g_assert_cmpint(pci_add_capability(d, PCI_CAP_ID_PM, 0x42, 8, &err), ==,
                    -1);
    g_clear_error(&err);
    /* Free room: the new one heads the list and points at the old. */
    pos = pci_add_capability(d, PCI_CAP_ID_PM, 0, 8, &err);
    g_assert_no_error(err);
    g_assert_cmpint(pos & 3, ==, 0);
    g_assert_cmpint(pos, >=, 0x40);
    g_assert_cmpint(cfg_read(d->devfn, PCI_CAPABILITY_LIST, 1), ==, pos);
    g_assert_cmpint(cfg_read(d->devfn, pos + 1, 1), ==, first);
    g_assert_cmpint(pci_find_capability(d, PCI_CAP_ID_MSIX), ==, first);
    g_assert_cmpint(pci_find_capability(d, PCI_CAP_ID_VNDR), >=, 0x40);
    g_assert_cmpint(pci_find_capability(d, PCI_CAP_ID_PM), ==, pos);
    g_assert_cmpint(pci_find_capability(d, PCI_CAP_ID_SSVID), ==, 0);
    /* Deleting unlinks it: the list goes on from its successor. */
    pci_del_capability(d, PCI_CAP_ID_PM, 8);
    g_assert_cmpint(cfg_read(d->devfn, PCI_CAPABILITY_LIST, 1), ==, first);
    g_assert_cmpint(pci_find_capability(d, PCI_CAP_ID_PM), ==, 0);
    /* Fill the rest: then there is no room. */
    while (pci_add_capability(d, PCI_CAP_ID_VNDR, 0, 32, &err) > 0) {
    }
    g_assert_nonnull(strstr(err->message, "no room"));
    g_clear_error(&err);
}

static void test_load_checks_read_only(Fixture *f, gconstpointer data)
{
    PCIDevice *d = f->dev[1];
    GError *err = NULL;

    /* What pre_save makes, with a guest-writable change: accepted. */
    g_assert_true(vmstate_pci_device.pre_save(d, &err));
    d->mig_config[PCI_INTERRUPT_LINE] = 7;
    g_assert_true(vmstate_pci_device.post_load(d, 1, &err));
    g_assert_no_error(err);
    g_assert_cmpint(d->config[PCI_INTERRUPT_LINE], ==, 7);
    /* Another device id: refused, config untouched. */
    g_assert_true(vmstate_pci_device.pre_save(d, &err));
    d->mig_config[PCI_DEVICE_ID] ^= 1;
    d->mig_config[PCI_INTERRUPT_LINE] = 9;
    g_assert_false(vmstate_pci_device.post_load(d, 1, &err));
    g_assert_nonnull(strstr(err->message, "bad config data at 0x2"));
    g_clear_error(&err);
    g_assert_cmpint(d->config[PCI_INTERRUPT_LINE], ==, 7);
    /* A config space of another size (conventional vs express). */
    g_assert_true(vmstate_pci_device.pre_save(d, &err));
    d->mig_config_size = PCIE_CONFIG_SPACE_SIZE;
    g_assert_false(vmstate_pci_device.post_load(d, 1, &err));
    g_assert_nonnull(strstr(err->message, "4096 bytes in the stream"));
    g_clear_error(&err);
}

static void test_fw_assignment(Fixture *f, gconstpointer data)
{
    static const char *const sizes[] = {"16", "4K", "2M", "64M", "1M", "0"};
    PCIFwConfig cfg = {
        .io_base = 0xc000,
        .io_end = 0x10000,
        .mem_base = 0x80000000,
        .mem_end = 0xfec00000,
        .mem64_base = 0x100000000ULL,
    };

    for (size_t i = 0; i < ARRAY_SIZE(sizes); i++) {
        g_autofree char *addr = g_strdup_printf("%zx", 4 + i);

        add_dev(f, "x-pci-test", addr, sizes[i]);
    }
    pci_fw_assign(f->host->bus, &cfg);
    for (int i = 0; i < f->ndev; i++) {
        PCIDevice *a = f->dev[i];

        g_assert_cmphex(pci_get_word(a->config + PCI_COMMAND) & 7, ==, 7);
        for (int r = 0; r < PCI_NUM_REGIONS; r++) {
            PCIIORegion *ra = &a->io_regions[r];
            bool io = ra->type & PCI_BASE_ADDRESS_SPACE_IO;

            if (!ra->size) {
                continue;
            }
            g_assert_cmphex(ra->addr, !=, PCI_BAR_UNMAPPED);
            g_assert_cmphex(ra->addr % ra->size, ==, 0);
            g_assert_cmphex(ra->addr, >=, io ? cfg.io_base : cfg.mem_base);
            g_assert_cmphex(ra->addr + ra->size, <=,
                            io ? cfg.io_end : cfg.mem_end);
            for (int j = 0; j < f->ndev; j++) {
                for (int s = 0; s < PCI_NUM_REGIONS; s++) {
                    PCIIORegion *rb = &f->dev[j]->io_regions[s];

                    if ((i == j && r == s) || !rb->size ||
                        io != !!(rb->type & PCI_BASE_ADDRESS_SPACE_IO)) {
                        continue;
                    }
                    g_assert_true(ra->addr + ra->size <= rb->addr ||
                                  rb->addr + rb->size <= ra->addr);
                }
            }
        }
    }
    /* A hole too small for the 64 MiB BAR: 64-bit ones move above 4 GiB. */
    cfg.mem_end = cfg.mem_base + 0x2000000;
    pci_fw_assign(f->host->bus, &cfg);
    g_assert_cmphex(pci_get_bar_addr(f->dev[5], 2), >=, 0x100000000ULL);
    g_assert_cmphex(pci_get_bar_addr(f->dev[5], 0), <, 0x100000000ULL);
}

/* ---- MSI-X vector notifiers ---- */

static GString *events;

static int note_use(PCIDevice *d, unsigned int vector, MSIMessage msg)
{
    g_string_append_printf(events, "use %u 0x%" PRIx64 " 0x%x;", vector,
                           msg.address, msg.data);
    return vector == 7 ? -1 : 0;
}

static void note_release(PCIDevice *d, unsigned int vector)
{
    g_string_append_printf(events, "release %u;", vector);
}

static void test_msix_notifiers(Fixture *f, gconstpointer data)
{
    PCIFwConfig cfg = {
        .io_base = 0xc000,
        .io_end = 0x10000,
        .mem_base = 0x80000000,
        .mem_end = 0xfec00000,
        .mem64_base = 0x100000000ULL,
    };
    PCIDevice *d = f->dev[1];
    uint8_t x = pci_find_capability(d, PCI_CAP_ID_MSIX);
    uint64_t table;

    pci_fw_assign(f->host->bus, &cfg);
    table = pci_get_bar_addr(d, 4);
    events = g_string_new(NULL);
    /* Vector 2 unmasked before registration: told at once. */
    address_space_st(&address_space_memory, table + 2 * 16 + 8, 0x22, 4);
    address_space_st(&address_space_memory, table + 2 * 16 + 12, 0, 4);
    cfg_write(d->devfn, x + PCI_MSIX_FLAGS, PCI_MSIX_FLAGS_ENABLE, 2);
    g_assert_cmpint(msix_set_vector_notifiers(d, note_use, note_release), ==,
                    0);
    g_assert_cmpstr(events->str, ==, "use 2 0x0 0x22;");
    g_string_truncate(events, 0);
    /* New data while unmasked, then mask, the function mask, unmask. */
    address_space_st(&address_space_memory, table + 2 * 16 + 8, 0x23, 4);
    address_space_st(&address_space_memory, table + 2 * 16 + 12, 1, 4);
    address_space_st(&address_space_memory, table + 2 * 16 + 12, 0, 4);
    cfg_write(d->devfn, x + PCI_MSIX_FLAGS,
              PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL, 2);
    cfg_write(d->devfn, x + PCI_MSIX_FLAGS, PCI_MSIX_FLAGS_ENABLE, 2);
    g_assert_cmpstr(events->str, ==,
                    "use 2 0x0 0x23;release 2;use 2 0x0 0x23;release 2;"
                    "use 2 0x0 0x23;");
    g_string_truncate(events, 0);
    msix_unset_vector_notifiers(d);
    g_assert_cmpstr(events->str, ==, "release 2;");
    /* A user that refuses a vector: nothing stays registered. */
    g_string_truncate(events, 0);
    address_space_st(&address_space_memory, table + 7 * 16 + 12, 0, 4);
    g_assert_cmpint(msix_set_vector_notifiers(d, note_use, note_release), <, 0);
    g_assert_cmpstr(events->str, ==,
                    "use 2 0x0 0x23;use 7 0x0 0x0;"
                    "release 2;");
    g_assert_null(d->msix_vector_use_notifier);
    g_string_free(events, true);
}

static void test_msix_load_checks_sizes(Fixture *f, gconstpointer data)
{
    PCIDevice *d = f->dev[1];
    GError *err = NULL;

    g_assert_true(vmstate_msix.pre_save(d, &err));
    g_assert_true(vmstate_msix.post_load(d, 1, &err));
    d->msix_mig_table_len += 16;
    g_assert_false(vmstate_msix.post_load(d, 1, &err));
    g_assert_nonnull(strstr(err->message, "MSI-X table of 144 bytes"));
    g_clear_error(&err);
}

static int intx_notes;

static void note_intx_route(PCIDevice *d)
{
    intx_notes++;
}

/*
 * A function whose INTx goes around baton's lines (VFIO's irqfd) is told
 * when its GSI may change and finds the new one: the PIRQ route the
 * guest writes in PIIX3, disabled routes, COMMAND.INTX_DISABLE.
 */
static void test_intx_routing_notifier(Fixture *f, gconstpointer data)
{
    PCIDevice *d = f->dev[1];
    PCIDevice *other;
    uint8_t piix = PCI_DEVFN(1, 0);
    /* piix3_map_irq: slot 3's INTA is PIRQC, slot 4's PIRQD. */
    uint32_t pirqc = 0x60 + 2;

    add_dev(f, TYPE_PIIX3_PCI_DEVICE, "1", NULL);
    other = add_dev(f, "x-pci-test", "4", NULL);
    intx_notes = 0;
    pci_device_set_intx_routing_notifier(d, note_intx_route);
    g_assert_cmpint(pci_device_intx_gsi(d), ==, -1); /* 0x80: disabled */
    cfg_write(piix, pirqc, 11, 1);
    g_assert_cmpint(intx_notes, ==, 1);
    g_assert_cmpint(pci_device_intx_gsi(d), ==, 11);
    g_assert_cmpint(pci_device_intx_gsi(other), ==, -1);
    cfg_write(piix, pirqc, 5, 1);
    g_assert_cmpint(intx_notes, ==, 2);
    g_assert_cmpint(pci_device_intx_gsi(d), ==, 5);
    /* The function's own INTx disable: told, and no GSI while it holds. */
    cfg_write(d->devfn, PCI_COMMAND, PCI_COMMAND_INTX_DISABLE, 2);
    g_assert_cmpint(intx_notes, ==, 3);
    g_assert_cmpint(pci_device_intx_gsi(d), ==, -1);
    cfg_write(d->devfn, PCI_COMMAND, PCI_COMMAND_INTX_DISABLE, 2);
    g_assert_cmpint(intx_notes, ==, 3); /* no change, no note */
    cfg_write(d->devfn, PCI_COMMAND, 0, 2);
    g_assert_cmpint(intx_notes, ==, 4);
    g_assert_cmpint(pci_device_intx_gsi(d), ==, 5);
    /* Another function's command register is not this one's business. */
    cfg_write(other->devfn, PCI_COMMAND, PCI_COMMAND_INTX_DISABLE, 2);
    g_assert_cmpint(intx_notes, ==, 4);
    /* A route disabled again; then no notifier, no note. */
    cfg_write(piix, pirqc, 0x80, 1);
    g_assert_cmpint(intx_notes, ==, 5);
    g_assert_cmpint(pci_device_intx_gsi(d), ==, -1);
    pci_device_set_intx_routing_notifier(d, NULL);
    cfg_write(piix, pirqc, 10, 1);
    g_assert_cmpint(intx_notes, ==, 5);
}

/*
 * q35: a PIRQ routed to the 8259 reaches the GSI of its ISA IRQ; one whose
 * 8259 route is off still reaches its IOAPIC pin, 16 + PIRQ.
 */
static void test_intx_gsi_q35(void)
{
    DeviceState *host = qdev_new(TYPE_Q35_HOST_DEVICE);
    PCIBus *bus;
    DeviceState *lpc, *dev;
    GError *err = NULL;
    /* ich9_map_irq: slot 3's INTA is PIRQ 4 + (3 & 3) = PIRQH (0x6b). */
    uint32_t pirqh = 0x68 + 3;

    g_assert_true(qdev_realize(host, NULL, &err));
    bus = PCI_HOST_BRIDGE(host)->bus;
    lpc = qdev_new(TYPE_ICH9_LPC_DEVICE);
    g_assert_true(object_property_parse(OBJECT(lpc), "addr", "1f", &err));
    g_assert_true(qdev_realize(lpc, &bus->qbus, &err));
    dev = qdev_new("x-pci-test");
    g_assert_true(object_property_parse(OBJECT(dev), "addr", "3", &err));
    g_assert_true(qdev_realize(dev, &bus->qbus, &err));
    g_assert_no_error(err);
    g_assert_cmpint(pci_device_intx_gsi(PCI_DEVICE(dev)), ==, 16 + 7);
    cfg_write(ICH9_LPC_DEVFN, pirqh, 11, 1);
    g_assert_cmpint(pci_device_intx_gsi(PCI_DEVICE(dev)), ==, 11);
    cfg_write(ICH9_LPC_DEVFN, pirqh, 0x80 | 11, 1);
    g_assert_cmpint(pci_device_intx_gsi(PCI_DEVICE(dev)), ==, 16 + 7);
    object_unparent(OBJECT(dev));
    object_unref(OBJECT(dev));
    object_unparent(OBJECT(lpc));
    object_unref(OBJECT(lpc));
    object_unparent(OBJECT(host));
    object_unref(OBJECT(host));
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add("/hw/pci/config/masks", Fixture, NULL, fixture_setup, test_masks,
               fixture_teardown);
    g_test_add("/hw/pci/config/capabilities", Fixture, NULL, fixture_setup,
               test_capabilities, fixture_teardown);
    g_test_add("/hw/pci/config/load-checks-read-only", Fixture, NULL,
               fixture_setup, test_load_checks_read_only, fixture_teardown);
    g_test_add("/hw/pci/fw/assignment", Fixture, NULL, fixture_setup,
               test_fw_assignment, fixture_teardown);
    g_test_add("/hw/pci/msix/notifiers", Fixture, NULL, fixture_setup,
               test_msix_notifiers, fixture_teardown);
    g_test_add("/hw/pci/msix/load-checks-sizes", Fixture, NULL, fixture_setup,
               test_msix_load_checks_sizes, fixture_teardown);
    g_test_add("/hw/pci/intx/routing-notifier", Fixture, NULL, fixture_setup,
               test_intx_routing_notifier, fixture_teardown);
    g_test_add_func("/hw/pci/intx/gsi-q35", test_intx_gsi_q35);
    return g_test_run();
}
