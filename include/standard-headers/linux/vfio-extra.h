/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * VFIO uAPI definitions newer than Debian 12's <linux/vfio.h> (Linux 6.1):
 * the device cdev ioctls (Linux 6.6), the type1 DMA-avail capability
 * (Linux 5.10, absent from 6.1's header) and migration pre-copy with the
 * stop-copy size estimate (Linux 6.2). Numbers and layouts follow the
 * published kernel ABI; everything older comes from <linux/vfio.h>.
 */
#ifndef BATON_STANDARD_HEADERS_LINUX_VFIO_EXTRA_H
#define BATON_STANDARD_HEADERS_LINUX_VFIO_EXTRA_H

#include <linux/types.h>
#include <linux/ioctl.h>
#include <linux/vfio.h>

/* VFIO_IOMMU_GET_INFO capability: DMA mappings still available. */
#ifndef VFIO_IOMMU_TYPE1_INFO_DMA_AVAIL
#define VFIO_IOMMU_TYPE1_INFO_DMA_AVAIL 3

struct vfio_iommu_type1_info_dma_avail {
    struct vfio_info_cap_header header;
    __u32 avail;
};
_Static_assert(sizeof(struct vfio_iommu_type1_info_dma_avail) == 12,
               "vfio_iommu_type1_info_dma_avail is 12 bytes");
#endif

/* VFIO_DEVICE_GET_INFO flag: the fd came from /dev/vfio/devices/vfioN. */
#ifndef VFIO_DEVICE_FLAGS_CDEV
#define VFIO_DEVICE_FLAGS_CDEV (1 << 9)
#endif

#ifndef VFIO_DEVICE_BIND_IOMMUFD
/* Device cdev fd: bind to an iommufd, the first ioctl a cdev fd accepts. */
struct vfio_device_bind_iommufd {
    __u32 argsz;
    __u32 flags;
    __s32 iommufd;
    __u32 out_devid;
};
_Static_assert(sizeof(struct vfio_device_bind_iommufd) == 16,
               "vfio_device_bind_iommufd is 16 bytes");
#define VFIO_DEVICE_BIND_IOMMUFD _IO(VFIO_TYPE, VFIO_BASE + 18)

/* Attach a bound device to an IOAS or HWPT (pt_id in, hwpt id out). */
struct vfio_device_attach_iommufd_pt {
    __u32 argsz;
    __u32 flags;
    __u32 pt_id;
};
_Static_assert(sizeof(struct vfio_device_attach_iommufd_pt) == 12,
               "vfio_device_attach_iommufd_pt is 12 bytes");
#define VFIO_DEVICE_ATTACH_IOMMUFD_PT _IO(VFIO_TYPE, VFIO_BASE + 19)

struct vfio_device_detach_iommufd_pt {
    __u32 argsz;
    __u32 flags;
};
_Static_assert(sizeof(struct vfio_device_detach_iommufd_pt) == 8,
               "vfio_device_detach_iommufd_pt is 8 bytes");
#define VFIO_DEVICE_DETACH_IOMMUFD_PT _IO(VFIO_TYPE, VFIO_BASE + 20)
#endif

/* Migration v2 pre-copy (Linux 6.2): the feature flag and its two states. */
#ifndef VFIO_MIGRATION_PRE_COPY
#define VFIO_MIGRATION_PRE_COPY (1 << 2)
#define VFIO_DEVICE_STATE_PRE_COPY 6
#define VFIO_DEVICE_STATE_PRE_COPY_P2P 7

/*
 * On the data fd in PRE_COPY/PRE_COPY_P2P: bytes of the initial state not
 * yet read, and of state dirtied since (estimates; both 0 means the read
 * would return ENOMSG until the device changes more).
 */
struct vfio_precopy_info {
    __u32 argsz;
    __u32 flags;
    __aligned_u64 initial_bytes;
    __aligned_u64 dirty_bytes;
};
_Static_assert(sizeof(struct vfio_precopy_info) == 24,
               "vfio_precopy_info is 24 bytes");
#define VFIO_MIG_GET_PRECOPY_INFO _IO(VFIO_TYPE, VFIO_BASE + 21)
#endif

/* VFIO_DEVICE_FEATURE_GET: the bytes STOP_COPY would still produce. */
#ifndef VFIO_DEVICE_FEATURE_MIG_DATA_SIZE
struct vfio_device_feature_mig_data_size {
    __aligned_u64 stop_copy_length;
};
_Static_assert(sizeof(struct vfio_device_feature_mig_data_size) == 8,
               "vfio_device_feature_mig_data_size is 8 bytes");
#define VFIO_DEVICE_FEATURE_MIG_DATA_SIZE 9
#endif

#endif
