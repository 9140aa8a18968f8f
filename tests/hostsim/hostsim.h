/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * hostsimd internals shared by its files: the daemon core (hostsimd.c:
 * connections, dispatch, the big lock), pinning and accounting (pin.c),
 * the legacy container and groups (container.c), iommufd (iommufd.c) and
 * the dmatest device (dmatest.c).
 *
 * Locking: one mutex, hs_lock, taken by the main thread around every
 * request and by each device thread around each DMA attempt. Nothing else
 * runs concurrently.
 */
#ifndef HOSTSIM_H
#define HOSTSIM_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <glib.h>

#include "hostsim-proto.h"

#define HS_PAGE_SIZE 4096ULL
/* Largest dirty bitmap one VFIO_IOMMU_DIRTY_PAGES call returns (bytes). */
#define HS_DIRTY_BITMAP_MAX 65536ULL
#define HS_MAX_GROUPS 64
#define ROUND_UP_PAGE(x) (((x) + HS_PAGE_SIZE - 1) & ~(HS_PAGE_SIZE - 1))

typedef struct HsDevice HsDevice;
typedef struct HsGroup HsGroup;
typedef struct HsContainer HsContainer;
typedef struct HsIommufd HsIommufd;
typedef struct HsDevFile HsDevFile;
typedef struct HsMigFile HsMigFile;

/* One request being served. */
typedef struct HsCall {
    pid_t pid; /* the calling process (SCM_CREDENTIALS) */
    const HostsimReq *req;
    uint8_t *in; /* request payload */
    uint32_t in_len;
    int *fds; /* passed fds; set an entry to -1 to keep it */
    int nfds;
    uint8_t *out; /* reply payload, HOSTSIM_MAX_PAYLOAD * 2 */
    uint32_t out_len;
    uint32_t aux_len; /* trailing part of out for pointers */
    int out_fd;       /* fd to return, or -1 */
    uint64_t out_aux;
} HsCall;

/* Pages pinned by a mapping: the daemon's own MAP_SHARED view of them. */
typedef struct HsPin {
    uint8_t *host;
    uint64_t size;
    dev_t dev; /* identity of the pages: file and offset */
    ino_t ino;
    uint64_t file_off;
    /*
     * The pages are a device region's mmap, which the kernel sees as a
     * VM_PFNMAP | VM_IO vma of MMIO pfns without struct pages: type1 maps
     * them without accounting, iommufd cannot pin them (EFAULT).
     */
    bool mmio;
} HsPin;

/* One IOVA mapping (type1 dma or iommufd area). */
typedef struct HsMapping {
    uint64_t iova;
    uint64_t size;
    bool readable;
    bool writable;
    HsPin pin;
    bool has_vaddr; /* made from a vaddr (not MAP_FILE) */
    uint64_t vaddr;
    bool vaddr_valid; /* false after VFIO_DMA_UNMAP_FLAG_VADDR */
    pid_t owner;      /* process charged for the pages */
    uint64_t charged; /* bytes charged (0 with CAP_IPC_LOCK) */
} HsMapping;

/* A set of mappings: a container's or an IOAS's. */
typedef struct HsSpace {
    GPtrArray *maps; /* HsMapping *, any order */
} HsSpace;

/* hostsimd.c */
extern GMutex hs_lock;
void hs_log(const char *fmt, ...) G_GNUC_PRINTF(1, 2);
HsDevice *hs_device_by_bdf(const char *bdf);
HsDevice *hs_device_by_index(int index);
int hs_device_count(void);
/* The object behind a connection fd passed with a request, or NULL. */
void *hs_conn_object_of_fd(int fd, int *kind);

enum {
    HS_OBJ_NONE,
    HS_OBJ_CONTAINER,
    HS_OBJ_GROUP,
    HS_OBJ_DEVICE,
    HS_OBJ_IOMMUFD,
    HS_OBJ_MIGFILE
};
/*
 * Raw messages queued on a data fd's connection (the VMM's write()s)
 * go to hs_migfile_write now; stops at a request, which the main loop
 * serves in turn.
 */
void hs_conn_drain_writes(int fd, HsMigFile *f);

/* pin.c */
int hs_pin_vaddr(pid_t pid, uint64_t vaddr, uint64_t size, bool write,
                 HsPin *pin);
int hs_pin_file(int fd, uint64_t off, uint64_t size, bool write, HsPin *pin);
void hs_unpin(HsPin *pin);
int hs_acct_charge(pid_t pid, uint64_t bytes, uint64_t *charged);
void hs_acct_uncharge(pid_t pid, uint64_t bytes);
void hs_space_init(HsSpace *s);
void hs_space_destroy(HsSpace *s);
HsMapping *hs_space_overlap(HsSpace *s, uint64_t iova, uint64_t size);
void hs_space_remove(HsSpace *s, HsMapping *m);
/* Translate [iova, iova + len) for a device write; NULL if unmapped. */
HsMapping *hs_space_lookup(HsSpace *s, uint64_t iova, uint64_t len);

/* container.c */
HsGroup *hs_group_get(int id, bool create);
void hs_group_add_device(HsGroup *g, HsDevice *d);
int hs_container_open(HsCall *c, void **obj);
int hs_group_open(HsCall *c, int id, void **obj);
int64_t hs_container_ioctl(HsContainer *ct, HsCall *c);
int64_t hs_group_ioctl(HsGroup *g, HsCall *c);
void hs_container_release(HsContainer *ct);
void hs_group_release(HsGroup *g);
int hs_group_open_device(HsCall *c, HsGroup *g, const char *name, void **obj);
HsSpace *hs_group_space(HsGroup *g);
int hs_group_id(HsGroup *g);
void hs_group_device_closed(HsGroup *g);
/* A device of the group wrote [iova, iova + len) by DMA (dirty tracking). */
void hs_group_dirty_note(HsGroup *g, uint64_t iova, uint64_t len);

/* iommufd.c */
int hs_iommufd_open(HsCall *c, void **obj);
int64_t hs_iommufd_ioctl(HsIommufd *ictx, HsCall *c);
void hs_iommufd_release(HsIommufd *ictx);
/* Device cdev side: bind/attach/detach and the DMA target. */
/* BIND_IOMMUFD: the iommufd is the fd passed with the call. */
int64_t hs_iommufd_bind(HsDevFile *df, HsCall *c);
int64_t hs_iommufd_attach(HsDevFile *df, HsCall *c);
int64_t hs_iommufd_detach(HsDevFile *df, HsCall *c);
void hs_iommufd_unbind(HsDevFile *df);
HsSpace *hs_iommufd_space(HsDevFile *df);
/* The device wrote [iova, iova + len) by DMA through its HWPT. */
void hs_iommufd_dirty_note(HsDevFile *df, uint64_t iova, uint64_t len);

/* dmatest.c: one simulated PCI function and its open files. */
struct HsDevFile {
    HsDevice *dev;
    HsGroup *group; /* opened through a group, or NULL (cdev) */
    bool cdev;
    bool opened; /* counted as an open of the device */
    /* cdev: the iommufd binding */
    HsIommufd *ictx;
    uint32_t dev_id;
    uint32_t pt_id; /* attached IOAS or HWPT id, 0 if none */
};

HsDevice *hs_dmatest_new(const char *spec, int index, GError **errp);
void hs_dmatest_start(HsDevice *d);
void hs_dmatest_stop(HsDevice *d);
const char *hs_device_bdf(HsDevice *d);
int hs_device_group(HsDevice *d);
int hs_device_index(HsDevice *d);
bool hs_device_is_mdev(HsDevice *d);
/* iommu-dirty=on: the device's IOMMU can track dirty pages. */
bool hs_device_iommu_dirty(HsDevice *d);
/* True if (dev, ino) is the file behind a device region's mmap. */
bool hs_device_region_file(dev_t dev, ino_t ino);
int hs_device_open_count(HsDevice *d);
HsDevFile *hs_device_cdev_file(HsDevice *d);
/* A device file is opened (first open resets) / released (last resets). */
HsDevFile *hs_devfile_new(HsDevice *d, HsGroup *g, bool cdev);
void hs_devfile_release(HsDevFile *df);
/* BIND_IOMMUFD opens the device through a cdev file (EBUSY if open). */
int hs_devfile_open_cdev(HsDevFile *df);
int64_t hs_devfile_ioctl(HsDevFile *df, HsCall *c);
int64_t hs_devfile_pread(HsDevFile *df, HsCall *c);
int64_t hs_devfile_pwrite(HsDevFile *df, HsCall *c);
int64_t hs_devfile_mmap(HsDevFile *df, HsCall *c);

/*
 * dmatest-mig.c: VFIO_DEVICE_FEATURE, and the migration data file that a
 * SET of MIG_DEVICE_STATE returns as data_fd. A SET that starts a data
 * transfer session returns the file in *newf; newf is NULL on the plain
 * ioctl path, which cannot return an fd (EINVAL then: the preload sends
 * such a SET as HOSTSIM_OP_MIG_SET on a new connection).
 */
int64_t hs_mig_feature(HsDevFile *df, HsCall *c, HsMigFile **newf);
/* The daemon's end of the file's connection, to drain pending writes. */
void hs_migfile_bind(HsMigFile *f, int conn_fd);
int64_t hs_migfile_read(HsMigFile *f, HsCall *c);
/* One write() of the VMM (truncated: it did not fit one message). */
void hs_migfile_write(HsMigFile *f, const uint8_t *buf, size_t len,
                      bool truncated);
int64_t hs_migfile_ioctl(HsMigFile *f, HsCall *c);
void hs_migfile_release(HsMigFile *f);

#endif
