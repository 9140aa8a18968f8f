/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The abstract PCI host bridge: configuration mechanism #1 (0xCF8/0xCFC)
 * and ECAM routing of config cycles to functions, the "pci" memory
 * container and the root bus. Concrete hosts (i440FX, q35) add their
 * functions and chipset registers.
 */
#include "util/osdep.h"

#include "hw/pci/pci-host.h"

#define CONFIG_ADDR_ENABLE 0x80000000u

static uint32_t all_ones(int len)
{
    return len >= 4 ? UINT32_MAX : (1u << (8 * len)) - 1;
}

uint32_t pci_data_read(PCIBus *root, int busnr, int devfn, uint32_t reg,
                       int len)
{
    PCIDevice *d = pci_find_device(root, busnr, devfn);

    if (!d) {
        return all_ones(len);
    }
    return pci_host_config_read_common(d, reg, len);
}

void pci_data_write(PCIBus *root, int busnr, int devfn, uint32_t reg,
                    uint32_t val, int len)
{
    PCIDevice *d = pci_find_device(root, busnr, devfn);

    if (d) {
        pci_host_config_write_common(d, reg, val, len);
    }
}

/* 0xCF8: the address register latches dword writes only. */
static uint64_t pci_host_conf_read(void *opaque, hwaddr addr, unsigned size)
{
    PCIHostState *s = opaque;

    return (uint32_t)(s->config_reg >> (8 * addr)) & all_ones(size);
}

static void pci_host_conf_write(void *opaque, hwaddr addr, uint64_t val,
                                unsigned size)
{
    PCIHostState *s = opaque;

    if (addr == 0 && size == 4) {
        s->config_reg = (uint32_t)val;
    }
}

static const MemoryRegionOps pci_host_conf_ops = {
    .read = pci_host_conf_read,
    .write = pci_host_conf_write,
    .valid.max_access_size = 4,
};

/*
 * 0xCFC-0xCFF: the dword the address register selects, at the byte
 * offset of the port. An access that would cross 0xCFF reads all ones.
 */
static bool pci_host_data_target(PCIHostState *s, hwaddr addr, unsigned size,
                                 uint32_t *reg)
{
    uint32_t a = s->config_reg;

    if (!(a & CONFIG_ADDR_ENABLE) || addr + size > 4) {
        return false;
    }
    *reg = (a & 0xfc) | (uint32_t)addr;
    return true;
}

static uint64_t pci_host_data_read(void *opaque, hwaddr addr, unsigned size)
{
    PCIHostState *s = opaque;
    uint32_t reg;

    if (!pci_host_data_target(s, addr, size, &reg)) {
        return all_ones(size);
    }
    return pci_data_read(s->bus, (s->config_reg >> 16) & 0xff,
                         (s->config_reg >> 8) & 0xff, reg, size);
}

static void pci_host_data_write(void *opaque, hwaddr addr, uint64_t val,
                                unsigned size)
{
    PCIHostState *s = opaque;
    uint32_t reg;

    if (pci_host_data_target(s, addr, size, &reg)) {
        pci_data_write(s->bus, (s->config_reg >> 16) & 0xff,
                       (s->config_reg >> 8) & 0xff, reg, (uint32_t)val, size);
    }
}

static const MemoryRegionOps pci_host_data_ops = {
    .read = pci_host_data_read,
    .write = pci_host_data_write,
    .valid.max_access_size = 4,
};

/* ECAM: the offset names bus, devfn and register; any width up to 4. */
static uint64_t pcie_mmcfg_read(void *opaque, hwaddr addr, unsigned size)
{
    PCIHostState *s = opaque;

    if ((addr & 0xfff) + size > 0x1000) {
        return all_ones(size);
    }
    return pci_data_read(s->bus, PCIE_MMCFG_BUS(addr), PCIE_MMCFG_DEVFN(addr),
                         PCIE_MMCFG_REG(addr), size);
}

static void pcie_mmcfg_write(void *opaque, hwaddr addr, uint64_t val,
                             unsigned size)
{
    PCIHostState *s = opaque;

    if ((addr & 0xfff) + size <= 0x1000) {
        pci_data_write(s->bus, PCIE_MMCFG_BUS(addr), PCIE_MMCFG_DEVFN(addr),
                       PCIE_MMCFG_REG(addr), (uint32_t)val, size);
    }
}

const MemoryRegionOps pcie_mmcfg_ops = {
    .read = pcie_mmcfg_read,
    .write = pcie_mmcfg_write,
    .impl.max_access_size = 4,
};

/*
 * The root bus, its memory space under system memory (priority -1: RAM
 * and the machine's own regions win where they overlap) and the
 * configuration ports.
 */
static bool pci_host_realize(DeviceState *dev, GError **errp)
{
    PCIHostState *s = PCI_HOST_BRIDGE(dev);
    PCIHostBridgeClass *hc = PCI_HOST_BRIDGE_GET_CLASS(dev);
    Object *owner = OBJECT(dev);

    memory_region_init(&s->pci_memory, owner, "pci", UINT64_MAX);
    memory_region_init_io(&s->conf_mem, owner, &pci_host_conf_ops, s,
                          "pci-conf-idx", 4);
    memory_region_init_io(&s->data_mem, owner, &pci_host_data_ops, s,
                          "pci-conf-data", 4);
    memory_region_transaction_begin();
    memory_region_add_subregion_overlap(get_system_memory(), 0, &s->pci_memory,
                                        -1);
    memory_region_add_subregion(get_system_io(), 0xcf8, &s->conf_mem);
    memory_region_add_subregion(get_system_io(), 0xcfc, &s->data_mem);
    memory_region_transaction_commit();
    s->bus = pci_root_bus_new(dev, hc->root_bus_name, hc->root_bus_type,
                              &s->pci_memory, get_system_io());
    return true;
}

static void pci_host_unrealize(DeviceState *dev)
{
    PCIHostState *s = PCI_HOST_BRIDGE(dev);

    memory_region_transaction_begin();
    memory_region_finalize(&s->data_mem);
    memory_region_finalize(&s->conf_mem);
    memory_region_finalize(&s->pci_memory);
    memory_region_transaction_commit();
}

static void pci_host_reset(DeviceState *dev)
{
    PCI_HOST_BRIDGE(dev)->config_reg = 0;
}

/*
 * SeaBIOS's layout: I/O BARs from 0xC000; the PCI hole from 2 GiB or 3 GiB
 * (or the end of low RAM) up to the IOAPIC at 0xFEC00000; 64-bit BARs that
 * do not fit from the first 1 GiB boundary above RAM beyond 4 GiB.
 */
void pci_host_fw_reset(PCIHostState *host, uint64_t below_4g,
                       uint64_t above_4g_end)
{
    PCIHostBridgeClass *hc = PCI_HOST_BRIDGE_GET_CLASS(host);
    PCIFwConfig cfg = {
        .io_base = 0xc000,
        .io_end = 0x10000,
        .mem_base = below_4g <= 0x80000000ULL
                        ? 0x80000000ULL
                        : ROUND_UP(below_4g, 0x10000000ULL),
        .mem_end = 0xfec00000ULL,
        .mem64_base =
            ROUND_UP(MAX(above_4g_end, 0x100000000ULL), 0x40000000ULL),
    };

    if (hc->fw_setup) {
        hc->fw_setup(host, &cfg);
    }
    pci_fw_assign(host->bus, &cfg);
}

static void pci_host_class_init(ObjectClass *oc, const void *data)
{
    DeviceClass *dc = DEVICE_CLASS(oc);

    dc->realize = pci_host_realize;
    dc->unrealize = pci_host_unrealize;
    dc->reset = pci_host_reset;
}

static const TypeInfo pci_host_type = {
    .name = TYPE_PCI_HOST_BRIDGE,
    .parent = TYPE_DEVICE,
    .abstract = true,
    .instance_size = sizeof(PCIHostState),
    .class_size = sizeof(PCIHostBridgeClass),
    .class_init = pci_host_class_init,
};

static void pci_host_register_types(void)
{
    type_register(&pci_host_type);
}

type_init(pci_host_register_types)
