/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * QMP query-pci and HMP info pci, in QEMU's shapes (qapi/pci.json's
 * PciInfo / PciDeviceInfo, hmp_info_pci's lines): one entry per root bus,
 * functions behind a bridge nested in its pci_bridge.devices.
 */
#include "util/osdep.h"

#include "hw/pci/pci.h"
#include "monitor/monitor.h"

static const struct {
    uint16_t class_id;
    const char *desc;
} pci_class_names[] = {
    {0x0001, "VGA controller"},      {0x0100, "SCSI controller"},
    {0x0101, "IDE controller"},      {0x0106, "SATA controller"},
    {0x0108, "NVMe controller"},     {0x0180, "Storage controller"},
    {0x0200, "Ethernet controller"}, {0x0280, "Network controller"},
    {0x0300, "VGA controller"},      {0x0380, "Display controller"},
    {0x0401, "Audio controller"},    {0x0403, "Audio controller"},
    {0x0500, "RAM controller"},      {0x0580, "Memory controller"},
    {0x0600, "Host bridge"},         {0x0601, "ISA bridge"},
    {0x0604, "PCI bridge"},          {0x0680, "Bridge"},
    {0x0700, "Serial port"},         {0x0880, "System peripheral"},
    {0x0c03, "USB controller"},
};

const char *pci_class_desc(uint16_t class_id)
{
    for (size_t i = 0; i < ARRAY_SIZE(pci_class_names); i++) {
        if (pci_class_names[i].class_id == class_id) {
            return pci_class_names[i].desc;
        }
    }
    return NULL;
}

static void json_int(JsonBuilder *b, const char *name, gint64 v)
{
    json_builder_set_member_name(b, name);
    json_builder_add_int_value(b, v);
}

static void json_range(JsonBuilder *b, const char *name, uint64_t base,
                       uint64_t limit)
{
    json_builder_set_member_name(b, name);
    json_builder_begin_object(b);
    json_int(b, "base", (gint64)base);
    json_int(b, "limit", (gint64)limit);
    json_builder_end_object(b);
}

/* A bridge's windows as it decodes them (base > limit: closed). */
static void pci_bridge_ranges(PCIDevice *d, uint64_t io[2], uint64_t mem[2],
                              uint64_t pref[2])
{
    const uint8_t *c = d->config;

    io[0] = (uint64_t)(c[PCI_IO_BASE] & 0xf0) << 8 |
            (uint64_t)pci_get_word(c + PCI_IO_BASE_UPPER16) << 16;
    io[1] = ((uint64_t)(c[PCI_IO_LIMIT] & 0xf0) << 8 |
             (uint64_t)pci_get_word(c + PCI_IO_LIMIT_UPPER16) << 16) |
            0xfff;
    mem[0] = (uint64_t)(pci_get_word(c + PCI_MEMORY_BASE) & 0xfff0) << 16;
    mem[1] =
        (uint64_t)(pci_get_word(c + PCI_MEMORY_LIMIT) & 0xfff0) << 16 | 0xfffff;
    pref[0] = (uint64_t)(pci_get_word(c + PCI_PREF_MEMORY_BASE) & 0xfff0)
                  << 16 |
              (uint64_t)pci_get_long(c + PCI_PREF_BASE_UPPER32) << 32;
    pref[1] =
        ((uint64_t)(pci_get_word(c + PCI_PREF_MEMORY_LIMIT) & 0xfff0) << 16 |
         (uint64_t)pci_get_long(c + PCI_PREF_LIMIT_UPPER32) << 32) |
        0xfffff;
}

static void pci_build_devices(JsonBuilder *b, PCIBus *bus);

static void pci_build_regions(JsonBuilder *b, PCIDevice *d)
{
    json_builder_set_member_name(b, "regions");
    json_builder_begin_array(b);
    for (int i = 0; i < PCI_NUM_REGIONS; i++) {
        PCIIORegion *r = &d->io_regions[i];
        bool io = r->type & PCI_BASE_ADDRESS_SPACE_IO;

        if (!r->size) {
            continue;
        }
        json_builder_begin_object(b);
        json_int(b, "bar", i);
        json_builder_set_member_name(b, "type");
        json_builder_add_string_value(b, io ? "io" : "memory");
        /* Unmapped: QEMU's ~0 as a signed JSON integer, -1. */
        json_int(b, "address", (gint64)r->addr);
        json_int(b, "size", (gint64)r->size);
        if (!io) {
            json_builder_set_member_name(b, "prefetch");
            json_builder_add_boolean_value(
                b, r->type & PCI_BASE_ADDRESS_MEM_PREFETCH);
            json_builder_set_member_name(b, "mem_type_64");
            json_builder_add_boolean_value(b, r->type &
                                                  PCI_BASE_ADDRESS_MEM_TYPE_64);
        }
        json_builder_end_object(b);
    }
    json_builder_end_array(b);
}

static void pci_build_bridge(JsonBuilder *b, PCIDevice *d, PCIBus *sec)
{
    uint64_t io[2], mem[2], pref[2];

    pci_bridge_ranges(d, io, mem, pref);
    json_builder_set_member_name(b, "pci_bridge");
    json_builder_begin_object(b);
    json_builder_set_member_name(b, "bus");
    json_builder_begin_object(b);
    json_int(b, "number", d->config[PCI_PRIMARY_BUS]);
    json_int(b, "secondary", d->config[PCI_SECONDARY_BUS]);
    json_int(b, "subordinate", d->config[PCI_SUBORDINATE_BUS]);
    json_range(b, "io_range", io[0], io[1]);
    json_range(b, "memory_range", mem[0], mem[1]);
    json_range(b, "prefetchable_range", pref[0], pref[1]);
    json_builder_end_object(b);
    json_builder_set_member_name(b, "devices");
    pci_build_devices(b, sec);
    json_builder_end_object(b);
}

static void pci_build_device(JsonBuilder *b, PCIDevice *d)
{
    const uint8_t *c = d->config;
    uint16_t class_id = pci_get_word(c + PCI_CLASS_DEVICE);
    const char *desc = pci_class_desc(class_id);
    PCIBus *sec = pci_bridge_get_sec_bus(d);

    json_builder_begin_object(b);
    json_int(b, "bus", pci_bus_num(d->bus));
    json_int(b, "slot", PCI_SLOT(d->devfn));
    json_int(b, "function", PCI_FUNC(d->devfn));
    json_builder_set_member_name(b, "class_info");
    json_builder_begin_object(b);
    if (desc) {
        json_builder_set_member_name(b, "desc");
        json_builder_add_string_value(b, desc);
    }
    json_int(b, "class", class_id);
    json_builder_end_object(b);
    json_builder_set_member_name(b, "id");
    json_builder_begin_object(b);
    json_int(b, "device", pci_get_word(c + PCI_DEVICE_ID));
    json_int(b, "vendor", pci_get_word(c + PCI_VENDOR_ID));
    if (!sec) {
        json_int(b, "subsystem", pci_get_word(c + PCI_SUBSYSTEM_ID));
        json_int(b, "subsystem-vendor",
                 pci_get_word(c + PCI_SUBSYSTEM_VENDOR_ID));
    }
    json_builder_end_object(b);
    if (c[PCI_INTERRUPT_PIN]) {
        json_int(b, "irq", c[PCI_INTERRUPT_LINE]);
    }
    json_int(b, "irq_pin", c[PCI_INTERRUPT_PIN]);
    json_builder_set_member_name(b, "qdev_id");
    json_builder_add_string_value(b, d->qdev.id ? d->qdev.id : "");
    if (sec) {
        pci_build_bridge(b, d, sec);
    }
    pci_build_regions(b, d);
    json_builder_end_object(b);
}

static void pci_build_devices(JsonBuilder *b, PCIBus *bus)
{
    json_builder_begin_array(b);
    for (int devfn = 0; devfn < PCI_DEVFN_MAX; devfn++) {
        if (bus->devices[devfn]) {
            pci_build_device(b, bus->devices[devfn]);
        }
    }
    json_builder_end_array(b);
}

static bool qmp_query_pci(JsonObject *args, JsonNode **ret, GError **errp)
{
    g_autoptr(JsonBuilder) b = json_builder_new();
    g_autoptr(GPtrArray) roots = pci_root_buses();

    json_builder_begin_array(b);
    for (guint i = 0; i < roots->len; i++) {
        PCIBus *bus = g_ptr_array_index(roots, i);

        json_builder_begin_object(b);
        json_int(b, "bus", pci_bus_num(bus));
        json_builder_set_member_name(b, "devices");
        pci_build_devices(b, bus);
        json_builder_end_object(b);
    }
    json_builder_end_array(b);
    *ret = json_builder_get_root(b);
    return true;
}

/* ---- HMP: formats query-pci's reply, as QEMU's hmp_info_pci ---- */

static gint64 jint(JsonObject *o, const char *name)
{
    return json_object_get_int_member(o, name);
}

static void hmp_print_range(Monitor *mon, JsonObject *bus, const char *name,
                            const char *label, int width)
{
    JsonObject *r = json_object_get_object_member(bus, name);

    monitor_printf(mon, "      %s [0x%0*" PRIx64 ", 0x%0*" PRIx64 "]\n", label,
                   width, (uint64_t)jint(r, "base"), width,
                   (uint64_t)jint(r, "limit"));
}

static void hmp_info_pci_device(Monitor *mon, JsonObject *dev)
{
    JsonObject *ci = json_object_get_object_member(dev, "class_info");
    JsonObject *id = json_object_get_object_member(dev, "id");
    JsonArray *regions = json_object_get_array_member(dev, "regions");

    monitor_printf(mon,
                   "  Bus %2" G_GINT64_FORMAT ", device %3" G_GINT64_FORMAT
                   ", function %" G_GINT64_FORMAT ":\n",
                   jint(dev, "bus"), jint(dev, "slot"), jint(dev, "function"));
    monitor_printf(mon, "    ");
    if (json_object_has_member(ci, "desc")) {
        monitor_printf(mon, "%s", json_object_get_string_member(ci, "desc"));
    } else {
        /* QEMU prints the class number in decimal here. */
        monitor_printf(mon, "Class %04" G_GINT64_FORMAT, jint(ci, "class"));
    }
    monitor_printf(mon, ": PCI device %04" PRIx64 ":%04" PRIx64 "\n",
                   (uint64_t)jint(id, "vendor"), (uint64_t)jint(id, "device"));
    if (json_object_has_member(id, "subsystem")) {
        monitor_printf(mon, "      PCI subsystem %04" PRIx64 ":%04" PRIx64 "\n",
                       (uint64_t)jint(id, "subsystem-vendor"),
                       (uint64_t)jint(id, "subsystem"));
    }
    if (json_object_has_member(dev, "irq")) {
        monitor_printf(mon, "      IRQ %" G_GINT64_FORMAT ", pin %c\n",
                       jint(dev, "irq"),
                       (char)('A' + jint(dev, "irq_pin") - 1));
    }
    if (json_object_has_member(dev, "pci_bridge")) {
        JsonObject *br = json_object_get_object_member(dev, "pci_bridge");
        JsonObject *bus = json_object_get_object_member(br, "bus");

        monitor_printf(mon, "      BUS %" G_GINT64_FORMAT ".\n",
                       jint(bus, "number"));
        monitor_printf(mon, "      secondary bus %" G_GINT64_FORMAT ".\n",
                       jint(bus, "secondary"));
        monitor_printf(mon, "      subordinate bus %" G_GINT64_FORMAT ".\n",
                       jint(bus, "subordinate"));
        hmp_print_range(mon, bus, "io_range", "IO range", 4);
        hmp_print_range(mon, bus, "memory_range", "memory range", 8);
        hmp_print_range(mon, bus, "prefetchable_range",
                        "prefetchable memory range", 8);
    }
    for (guint i = 0; i < json_array_get_length(regions); i++) {
        JsonObject *r = json_array_get_object_element(regions, i);
        uint64_t addr = (uint64_t)jint(r, "address");
        uint64_t size = (uint64_t)jint(r, "size");

        monitor_printf(mon, "      BAR%" G_GINT64_FORMAT ": ", jint(r, "bar"));
        if (!strcmp(json_object_get_string_member(r, "type"), "io")) {
            monitor_printf(mon, "I/O at 0x%04" PRIx64 " [0x%04" PRIx64 "].\n",
                           addr, addr + size - 1);
        } else {
            monitor_printf(
                mon, "%d bit%s memory at 0x%08" PRIx64 " [0x%08" PRIx64 "].\n",
                json_object_get_boolean_member(r, "mem_type_64") ? 64 : 32,
                json_object_get_boolean_member(r, "prefetch") ? " prefetchable"
                                                              : "",
                addr, addr + size - 1);
        }
    }
    monitor_printf(mon, "      id \"%s\"\n",
                   json_object_get_string_member(dev, "qdev_id"));
    if (json_object_has_member(dev, "pci_bridge")) {
        JsonObject *br = json_object_get_object_member(dev, "pci_bridge");
        JsonArray *devs = json_object_get_array_member(br, "devices");

        for (guint i = 0; i < json_array_get_length(devs); i++) {
            hmp_info_pci_device(mon, json_array_get_object_element(devs, i));
        }
    }
}

static void hmp_info_pci(Monitor *mon, int argc, char **argv)
{
    g_autoptr(JsonNode) ret = NULL;
    g_autoptr(GError) err = NULL;
    JsonArray *buses;

    if (!qmp_dispatch("query-pci", NULL, &ret, &err)) {
        monitor_printf(mon, "%s\n", err->message);
        return;
    }
    buses = json_node_get_array(ret);
    for (guint i = 0; i < json_array_get_length(buses); i++) {
        JsonObject *bus = json_array_get_object_element(buses, i);
        JsonArray *devs = json_object_get_array_member(bus, "devices");

        for (guint j = 0; j < json_array_get_length(devs); j++) {
            hmp_info_pci_device(mon, json_array_get_object_element(devs, j));
        }
    }
}

static const QmpCommandDef pci_qmp_commands[] = {
    {"query-pci", qmp_query_pci},
};

static const HmpCommandDef pci_hmp_info_cmds[] = {
    {"pci", "", "show PCI info", hmp_info_pci, NULL},
};

static void __attribute__((constructor)) pci_monitor_register(void)
{
    qmp_register_commands(pci_qmp_commands, ARRAY_SIZE(pci_qmp_commands));
    hmp_register_info_commands(pci_hmp_info_cmds,
                               ARRAY_SIZE(pci_hmp_info_cmds));
}
