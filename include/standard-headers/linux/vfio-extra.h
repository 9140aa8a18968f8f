/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * VFIO uAPI definitions newer than Debian 12's <linux/vfio.h> (Linux 6.1):
 * the device cdev ioctls (Linux 6.6) and the type1 DMA-avail capability
 * (Linux 5.10, absent from 6.1's header). Numbers and layouts follow the
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

#endif
