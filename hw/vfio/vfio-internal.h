/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * hw/vfio's private interfaces: the legacy type1 container and its groups
 * (container.c), the ioctl wrapper and region/IRQ helpers (helpers.c),
 * and the vfio-pci device split by concern (pci.c: realize, BARs, reset;
 * pci-config.c: config space virtualization; pci-irq.c: INTx, MSI, MSI-X),
 * and live update (cpr.c: the device; cpr-legacy.c: the container).
 * All calls under the big lock.
 */
#ifndef BATON_HW_VFIO_VFIO_INTERNAL_H
#define BATON_HW_VFIO_VFIO_INTERNAL_H

#include <linux/vfio.h>

#include "hw/pci/pci.h"
#include "system/memory.h"

typedef struct VFIOContainer VFIOContainer;
typedef struct VFIOGroup VFIOGroup;

/* An IOVA range the IOMMU can translate, [start, end] inclusive. */
typedef struct VFIOIovaRange {
    uint64_t start, end;
} VFIOIovaRange;

typedef struct VFIOIOMMU VFIOIOMMU;
typedef struct VFIOPCIDevice VFIOPCIDevice;

/*
 * How DMA writes are found during a normal migration (dirty.c). OFF: not
 * tracking; NONE: x-dirty-tracking=off, test only (nothing is dirty).
 */
typedef enum VFIODirtyMethod {
    VFIO_DIRTY_OFF,
    VFIO_DIRTY_NONE,
    VFIO_DIRTY_DEVICE,
    VFIO_DIRTY_IOMMU,
    VFIO_DIRTY_ALL,
} VFIODirtyMethod;

/* A byte range [offset, offset + size) within a region. */
typedef struct VFIOArea {
    uint64_t offset, size;
} VFIOArea;

/*
 * A live DMA mapping: what the listener mapped, from which vaddr, and
 * (FD >= 0) where its pages are in the RAM block's file. BY_FD: the
 * transport mapped it by file (iommufd MAP_FILE), not by vaddr.
 */
typedef struct VFIODmaMap {
    uint64_t iova, size;
    uint64_t vaddr;
    int fd;
    uint64_t fd_offset;
    bool readonly;
    bool by_fd;
    const MemoryRegion *mr; /* for error messages */
} VFIODmaMap;

/*
 * A transport's IOMMU calls. DMA_MAP maps M (filling M->by_fd) or
 * re-registers it when the base is REMAPPING; DMA_UNMAP removes it.
 * Both return 0 or -errno and report nothing.
 */
typedef struct VFIOIOMMUOps {
    const char *name; /* "container" or "ioas": traces, warnings */
    /*
     * Set when the transport does not DMA-map device memory (mmap'ed
     * BARs, for peer-to-peer DMA): why, for the warning.
     */
    const char *no_bar_map;
    int (*dma_map)(VFIOIOMMU *b, VFIODmaMap *m);
    int (*dma_unmap)(VFIOIOMMU *b, const VFIODmaMap *m);
    /*
     * The IOMMU's dirty tracking (when base.iommu_dirty): start or stop
     * it; read and clear the bitmap of [IOVA, IOVA + SIZE) in PGSIZE
     * pages into BITMAP (zeroed by the caller). 0 or -errno.
     */
    int (*dirty_set)(VFIOIOMMU *b, bool on);
    int (*dirty_get)(VFIOIOMMU *b, uint64_t iova, uint64_t size,
                     uint64_t pgsize, uint64_t *bitmap);
} VFIOIOMMUOps;

/*
 * What the legacy container and an iommufd IOAS share (container-base.c,
 * QEMU's VFIOContainerBase): a memory listener on AS that DMA-maps RAM
 * sections while they exist, the IOMMU's page sizes and IOVA ranges, and
 * the list of what was mapped. The first mapping error while a realize
 * registers the listener (COLLECTING) is kept (ERROR) for it.
 * HANDED_OVER (live update): the mappings are another process's, so
 * region_del unmaps nothing. REMAPPING: the listener's replay in a new
 * process, for mappings that exist already.
 */
struct VFIOIOMMU {
    const VFIOIOMMUOps *ops;
    int id; /* container fd or IOAS id, for traces */
    AddressSpace *as;
    MemoryListener listener;
    bool listening;
    uint64_t pgsizes;    /* IOMMU page sizes (bit N: 2^N bytes) */
    GArray *iova_ranges; /* VFIOIovaRange; empty: all of 64 bits */
    GArray *mappings;    /* VFIODmaMap */
    bool handed_over;
    bool remapping;
    bool collecting;
    GError *error;
    /* Dirty tracking (dirty.c): the devices DMA-ing through it. */
    GPtrArray *devices; /* VFIOPCIDevice * */
    bool iommu_dirty;   /* the IOMMU can track (transport's ops) */
    VFIODirtyMethod dirty;
};

/*
 * A type1v2 container (/dev/vfio/vfio): one per DMA address space and
 * set of groups that the kernel lets share an IOMMU context.
 */
struct VFIOContainer {
    VFIOIOMMU base;
    int fd;
    GPtrArray *groups; /* VFIOGroup * */
    /*
     * Live update (cpr-legacy.c). Old process: VADDR_ABANDONED between
     * its UNMAP_FLAG_VADDR at hand-over and the end of the update;
     * base.handed_over once the new process owns the device (nothing here
     * may unmap or detach any more); the new process is handed over too
     * until its TAKEOVER (a failed start must leave the old process's
     * container alone). New process: REMAP_PENDING from realize (the
     * container was inherited) until the listener replays with
     * MAP_FLAG_VADDR (base.remapping) when the device state loads.
     */
    bool vaddr_abandoned;
    bool remap_pending;
};

/*
 * An iommufd IOAS (iommufd.c): one per (iommufd object, DMA address
 * space), shared by the devices attached to it. Live update: the new
 * process keeps IOAS_ID (and the devices their ids) from CPR state;
 * REMAP_PENDING until the device state loads, when the listener replays
 * without mapping (the IOAS still has every mapping) and the pinned
 * pages' accounting moves here (IOMMU_IOAS_CHANGE_PROCESS).
 */
typedef struct VFIOIOASContainer {
    VFIOIOMMU base;
    Object *be; /* the iommufd object */
    uint32_t ioas_id;
    uint32_t hwpt_id; /* the first device's HWPT, others try it first */
    bool hwpt_dirty;  /* it was allocated with dirty tracking */
    unsigned int users;
    bool remap_pending;
} VFIOIOASContainer;

/* /dev/vfio/N: shared by the devices of one IOMMU group. */
struct VFIOGroup {
    int fd;
    int groupid;
    VFIOContainer *container;
    unsigned int users; /* devices open in it */
};

/* A device's migration (migration.c), when its host device supports it. */
typedef struct VFIOMigration VFIOMigration;

/*
 * One mmap'ed part of a BAR: OFFSET and SIZE in the BAR (whole pages),
 * a RAM block over the device fd there, as a RAM region of the BAR.
 */
typedef struct VFIOBarMmap {
    uint64_t offset, size;
    RAMBlock *rb;
    MemoryRegion ram;
} VFIOBarMmap;

/* A BAR or the ROM: its region on the device fd and the guest's view. */
typedef struct VFIOBar {
    VFIOPCIDevice *vdev;
    int nr;
    uint64_t size;    /* 0: absent */
    uint64_t offset;  /* of the region in the device fd */
    uint32_t flags;   /* VFIO_REGION_INFO_FLAG_* */
    uint8_t type;     /* PCI_BASE_ADDRESS_* bits from the device's BAR */
    MemoryRegion mem; /* what pci_register_bar() maps: a container */
    MemoryRegion io;  /* pread/pwrite window over all of it, below MSI-X */
    /*
     * The parts the kernel lets baton mmap (less the MSI-X table and PBA
     * pages): the device's memory itself, over IO.
     */
    VFIOBarMmap *mmaps;
    unsigned int nr_mmaps;
} VFIOBar;

/* An MSI or MSI-X vector: the eventfd the device signals. */
typedef struct VFIOVector {
    VFIOPCIDevice *vdev;
    unsigned int nr;
    int fd;      /* eventfd given to the device by SET_IRQS */
    int virq;    /* its MSI route, -1: none */
    bool irqfd;  /* FD attached to VIRQ: the kernel delivers it */
    guint watch; /* else baton reads FD in the main loop */
} VFIOVector;

typedef enum VFIOIrqMode {
    VFIO_IRQ_NONE,
    VFIO_IRQ_INTX,
    VFIO_IRQ_MSI,
    VFIO_IRQ_MSIX,
} VFIOIrqMode;

struct VFIOPCIDevice {
    PCIDevice parent_obj;

    /* properties */
    char *host;
    char *sysfsdev;
    char *fd_param;
    Object *iommufd; /* the iommufd object (iommufd=ID), else legacy */
    OnOffAuto enable_migration;

    /* runtime only: the host device (nothing is migrated) */
    char *name; /* "0000:01:00.0": error prefix, GET_DEVICE_FD name */
    VFIOGroup *group;        /* legacy container */
    VFIOIOASContainer *ioas; /* iommufd */
    VFIOIOMMU *dma;          /* either one's DMA side */
    /*
     * iommufd: BIND's device id, the HWPT it is attached to (OWN_HWPT:
     * allocated for it alone) and its IOAS's id; the CPR section's.
     */
    uint32_t devid, hwpt_id, cpr_ioas_id;
    bool own_hwpt;
    /* The IOMMU can track dirty pages; HWPT_ID was allocated to. */
    bool iommu_dirty_cap, hwpt_dirty;
    int fd;
    uint32_t num_regions, num_irqs;
    bool can_reset;
    uint64_t config_offset; /* the config region in the device fd */
    uint64_t config_size;
    /* Bits of config served from parent_obj.config, not the device. */
    uint8_t emulated[PCI_CONFIG_SPACE_SIZE];
    VFIOBar bars[PCI_NUM_REGIONS];

    VFIOIrqMode irq_mode;
    /*
     * INTx: the trigger eventfd. Under KVM with routing it is a level
     * irqfd on the GSI the pin reaches (INTX_GSI; -1: none) whose
     * resamplefd is INTX_UNMASK_FD, the device's unmask eventfd (-1
     * without routing); otherwise baton reads it and asserts the pin
     * (INTX_PENDING) until an EOI.
     */
    int intx_fd;
    int intx_unmask_fd;
    int intx_gsi;
    guint intx_watch;
    bool intx_pending;
    bool intx_available; /* the device has INTx and a pin */
    /* MSI / MSI-X vectors while the host has them enabled. */
    VFIOVector *vectors;
    unsigned int nr_vectors;
    unsigned int msix_entries; /* the device's MSI-X table size, 0: none */

    /*
     * Live update (cpr.c). CPR_REUSED: this process inherited the device
     * (its fds and the host's interrupt setup are the old process's).
     * QUIET: baton reads no eventfd (old process from hand-over, new one
     * until take-over). HANDED_OVER: this process does not own the device
     * (old process after hand-over, new one before take-over): nothing
     * may configure or reset it.
     */
    bool cpr_reused;
    bool cpr_loaded; /* new process: its device state is loaded */
    bool quiet;
    bool handed_over;
    bool mdev;
    uint32_t mig_irq_mode, mig_nr_vectors; /* the stream's copy */

    /*
     * Migration (migration.c): set up when the host device supports it,
     * else (enable-migration=auto/off) why normal migration is blocked.
     */
    VFIOMigration *migration;
    GError *migration_blocker;
    /*
     * Dirty tracking: QEMU's x-device-dirty-page-tracking and
     * x-pre-copy-dirty-page-tracking, and x-dirty-tracking=off (tests:
     * nothing is tracked, so stale pages must show); whether the device
     * can log its DMA (probed) and does now.
     */
    OnOffAuto device_dirty_page_tracking;
    OnOffAuto pre_copy_dirty_page_tracking;
    OnOffAuto dirty_tracking;
    bool dma_logging;
    bool dma_logging_started;
};

/* ---- helpers.c ---- */

/*
 * ioctl(FD, REQ, ARG), traced with NAME; returns the result or -errno.
 * The only place hw/vfio calls ioctl().
 */
int vfio_ioctl(int fd, unsigned long req, void *arg, const char *name);
#define VFIO_IOCTL(fd, req, arg) vfio_ioctl((fd), (req), (arg), #req)

/*
 * Align [IOVA, IOVA + SIZE) inward to PGSIZE (a power of two): the part
 * an IOMMU of that page size can map. False when nothing is left.
 */
bool vfio_dma_align(uint64_t iova, uint64_t size, uint64_t pgsize,
                    uint64_t *start, uint64_t *len);
/* Whether [START, START + LEN) lies inside one of RANGES (N of them;
 * N == 0 means the whole 64-bit space). */
bool vfio_iova_ranges_contain(const VFIOIovaRange *ranges, unsigned int n,
                              uint64_t start, uint64_t len);
/*
 * Parse a host= value, "DDDD:BB:SS.F" or "BB:SS.F" (domain 0000), into
 * the canonical "DDDD:BB:SS.F"; NULL + errp on a malformed one.
 */
char *vfio_parse_host_bdf(const char *host, GError **errp);
/*
 * The parts of a BAR of BAR_SIZE bytes to mmap: each of the kernel's
 * mmap-able AREAS (N, offsets in the BAR; a sparse-mmap capability's)
 * trimmed inward to whole pages of PGSIZE (a power of two), less every
 * page that holds any of the NEXCL ranges EXCL (the MSI-X table and PBA,
 * which baton emulates). A new GArray of VFIOArea, sorted by offset,
 * possibly empty.
 */
GArray *vfio_bar_mmap_areas(const VFIOArea *areas, unsigned int n,
                            uint64_t bar_size, const VFIOArea *excl,
                            unsigned int nexcl, uint64_t pgsize);

/* ---- container-base.c ---- */

void vfio_iommu_init(VFIOIOMMU *b, const VFIOIOMMUOps *ops, AddressSpace *as);
/* Listener gone (unmapping unless handed over), lists freed. */
void vfio_iommu_destroy(VFIOIOMMU *b);
/*
 * Register the listener: its replay maps AS's RAM; the first failure
 * fails this call (the listener stays registered: unlisten to undo).
 */
bool vfio_iommu_listen(VFIOIOMMU *b, GError **errp);
void vfio_iommu_unlisten(VFIOIOMMU *b);
/* A mapping made by vaddr (not by file), or NULL. */
const VFIODmaMap *vfio_iommu_find_vaddr_map(VFIOIOMMU *b);
/* VDEV DMAs through B from realize to teardown (dirty tracking). */
void vfio_iommu_add_device(VFIOIOMMU *b, VFIOPCIDevice *vdev);
void vfio_iommu_del_device(VFIOIOMMU *b, VFIOPCIDevice *vdev);

/* ---- container.c ---- */

/*
 * The group GROUPID, opened and attached to a type1v2 container for AS
 * (an existing one if the kernel accepts the group there, else a new one
 * whose listener maps AS's RAM; a mapping that fails then fails this
 * call). Shared: each call takes a user reference, vfio_group_put()
 * drops it. Errors do not name the device (the caller prefixes it).
 * OWNER (the device) owns the group's and container's fds for live
 * update ("vfio-group", "vfio-container"); in a new process they are
 * taken from it, and neither the group nor the container is configured
 * again (the listener waits for vfio_container_remap()).
 */
VFIOGroup *vfio_group_get(int groupid, AddressSpace *as, Object *owner,
                          GError **errp);
void vfio_group_put(VFIOGroup *group);

/* ---- cpr-legacy.c ---- */

/* Hand-over / rollback of the container's vaddrs (CPR notifiers). */
void vfio_container_cpr_register(VFIOContainer *c);
void vfio_container_cpr_unregister(VFIOContainer *c);
/*
 * New process: register the listener of inherited container C, which
 * re-registers each mapping's vaddr (VFIO_DMA_MAP_FLAG_VADDR) instead of
 * mapping it. After the old process abandoned its vaddrs; false + errp.
 */
bool vfio_container_remap(VFIOContainer *c, GError **errp);
/* Whether two fds are the same open file (kcmp). */
bool vfio_same_file(int fd1, int fd2);

/* The group number behind SYSFSDEV's iommu_group link, or -1 + errp. */
int vfio_sysfs_group_id(const char *sysfsdev, GError **errp);

/* ---- iommufd.c ---- */

/*
 * VDEV's device cdev (fd=, else sysfs vfio-dev/vfioN), bound to its
 * iommufd object and attached to the IOAS of its DMA address space
 * (shared, made if needed, its listener mapping RAM). In a live update
 * the cdev and ids are the old process's: no bind, attach or map.
 * Errors unprefixed.
 */
bool vfio_iommufd_attach(VFIOPCIDevice *vdev, GError **errp);
void vfio_iommufd_detach(VFIOPCIDevice *vdev);
/* New process, device state loaded: as vfio_container_remap(). */
bool vfio_iommufd_remap(VFIOPCIDevice *vdev, GError **errp);
/*
 * New process: IOAS_ID of the old process, as VDEV's IOAS (shared with
 * the devices that adopted it already); nothing is allocated or mapped.
 */
VFIOIOASContainer *vfio_ioas_adopt(VFIOPCIDevice *vdev, uint32_t ioas_id,
                                   GError **errp);

/* ---- cpr-iommufd.c ---- */

/*
 * New process: VDEV's cdev fd and ids as the old process left them (the
 * device bound and attached, its IOAS mapping): 1 when inherited, 0 when
 * not (not a live update), -1 + errp.
 */
int vfio_iommufd_cpr_adopt(VFIOPCIDevice *vdev, GError **errp);
/* VDEV's ids go with the CPR state from now on / no more. */
void vfio_iommufd_cpr_save(VFIOPCIDevice *vdev);
void vfio_iommufd_cpr_forget(VFIOPCIDevice *vdev);
/* The IOAS's hand-over and rollback flags (CPR notifiers). */
void vfio_ioas_cpr_register(VFIOIOASContainer *c);
void vfio_ioas_cpr_unregister(VFIOIOASContainer *c);
/* Whether a live update can keep VDEV's IOAS (no vaddr mapping). */
bool vfio_iommufd_cpr_check(VFIOPCIDevice *vdev, unsigned int mode,
                            GError **errp);

/* ---- pci.c ---- */

/* The vfio-pci devices realized in this process (VFIOPCIDevice *). */
const GPtrArray *vfio_pci_list(void);
/* The BAR whose mmap'ed part MR is, or -1. */
int vfio_pci_bar_nr(VFIOPCIDevice *vdev, const MemoryRegion *mr);

/* ---- dirty.c ---- */

const char *vfio_dirty_method_name(VFIODirtyMethod m);
/*
 * Sort RANGES (N of them, [start, end] inclusive), join touching ones,
 * then close the smallest gaps until at most MAX (>= 1) are left; returns
 * how many. The fewest bytes outside the given ranges are added.
 */
unsigned int vfio_dirty_merge_ranges(VFIOIovaRange *ranges, unsigned int n,
                                     unsigned int max);
/* Whether VDEV supports DMA logging (FEATURE_PROBE of DMA_LOGGING_START). */
bool vfio_dma_logging_probe(VFIOPCIDevice *vdev);
/* The listener's log_global_start, log_global_stop and log_sync. */
bool vfio_dirty_start(VFIOIOMMU *b, GError **errp);
void vfio_dirty_stop(VFIOIOMMU *b);
bool vfio_dirty_sync(VFIOIOMMU *b, MemoryRegionSection *s, GError **errp);

/* ---- migration.c ---- */

/*
 * Probe the migration feature: set up VDEV's live section and run-state
 * handlers, or record a blocker; with enable-migration=on a device that
 * cannot migrate fails (false + errp, unprefixed wording of QEMU's).
 */
bool vfio_migration_realize(VFIOPCIDevice *vdev, GError **errp);
void vfio_migration_exit(VFIOPCIDevice *vdev);
/* VFIO_DEVICE_RESET happened: the device is RUNNING, any transfer gone. */
void vfio_migration_reset(VFIOPCIDevice *vdev);
/* DeviceClass.check_migratable: the blocker, multiple devices without P2P. */
bool vfio_migration_check(VFIOPCIDevice *vdev, unsigned int mode,
                          GError **errp);
/* Type registration: query-migrate's "vfio". */
void vfio_migration_init(void);

/* ---- pci-config.c ---- */

/* Read the device's config (LEN bytes at ADDR); false + errp on failure. */
bool vfio_config_pread(VFIOPCIDevice *vdev, void *buf, size_t len,
                       uint32_t addr, GError **errp);
/*
 * Build the guest's config from the device's: header, BARs and ROM,
 * interrupt pin, and the MSI/MSI-X capabilities emulated (the BAR
 * regions must be known); false + errp.
 */
bool vfio_config_setup(VFIOPCIDevice *vdev, GError **errp);
uint32_t vfio_pci_read_config(PCIDevice *d, uint32_t addr, int len);
void vfio_pci_write_config(PCIDevice *d, uint32_t addr, uint32_t val, int len);
/* (EMU & MASK) | (PHYS & ~MASK): how a read merges the two sources. */
uint32_t vfio_config_merge(uint32_t emu, uint32_t phys, uint32_t mask);

/* ---- pci-irq.c ---- */

/* SET_IRQS for INDEX: COUNT vectors from START, FLAGS, eventfds FDS. */
int vfio_set_irqs(VFIOPCIDevice *vdev, uint32_t index, uint32_t start,
                  uint32_t count, uint32_t flags, const int *fds);
/* Whether INTx can work: the device has pin PIN (!= 0) and an INTx IRQ. */
bool vfio_intx_probe(VFIOPCIDevice *vdev, uint8_t pin);
/* INTx on its eventfd, if the device has it; false + errp. */
bool vfio_intx_enable(VFIOPCIDevice *vdev, GError **errp);
/* Every interrupt off on the host, vectors and routes released. */
void vfio_irqs_disable(VFIOPCIDevice *vdev);
/* A BAR access: the guest's end of an INTx (QEMU's EOI heuristic). */
void vfio_intx_eoi(VFIOPCIDevice *vdev);
/* Stop (QUIET) or resume reading the interrupt eventfds. */
void vfio_irqs_quiesce(VFIOPCIDevice *vdev, bool quiet);
/*
 * New process: the host's interrupt setup as the old process left it,
 * MODE with N vectors, on the inherited eventfds (no SET_IRQS); vectors
 * the guest has unmasked go to the kernel again. False + errp.
 */
bool vfio_irqs_adopt(VFIOPCIDevice *vdev, VFIOIrqMode mode, unsigned int n,
                     GError **errp);
/* MSI-X vector notifiers (installed at realize when there is MSI-X). */
bool vfio_msix_setup(VFIOPCIDevice *vdev, uint8_t pos, GError **errp);
/*
 * After a config write of LEN bytes at ADDR: host MSI / MSI-X enabled as
 * the guest's are, MSI routes following the capability.
 */
void vfio_irqs_update(VFIOPCIDevice *vdev, uint32_t addr, int len);

/* ---- cpr.c ---- */

/* The device fd: inherited in a live update, else GET_DEVICE_FD. */
bool vfio_cpr_device_fd(VFIOPCIDevice *vdev, GError **errp);
void vfio_cpr_register(VFIOPCIDevice *vdev);
void vfio_cpr_unregister(VFIOPCIDevice *vdev);
bool vfio_pci_cpr_check(Object *obj, unsigned int mode, GError **errp);
extern const VMStateDescription vmstate_vfio_pci;
/* Type registration: late fds (vectors enabled during an update). */
void vfio_cpr_init(const char *type);

#endif
