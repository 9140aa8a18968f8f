/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * iommufd uAPI (/dev/iommu), absent from Debian 12's linux-libc-dev: the
 * commands baton and tests/hostsim use, up to IOAS_MAP_FILE and
 * IOAS_CHANGE_PROCESS (Linux 6.13), with HWPT dirty tracking (6.7).
 * Numbers and layouts follow the published kernel ABI. Every command
 * takes a struct whose first u32 is its size.
 */
#ifndef BATON_STANDARD_HEADERS_LINUX_IOMMUFD_H
#define BATON_STANDARD_HEADERS_LINUX_IOMMUFD_H

#include <linux/types.h>
#include <linux/ioctl.h>

#define IOMMUFD_TYPE (';')

enum {
    IOMMUFD_CMD_DESTROY = 0x80,
    IOMMUFD_CMD_IOAS_ALLOC = 0x81,
    IOMMUFD_CMD_IOAS_ALLOW_IOVAS = 0x82,
    IOMMUFD_CMD_IOAS_COPY = 0x83,
    IOMMUFD_CMD_IOAS_IOVA_RANGES = 0x84,
    IOMMUFD_CMD_IOAS_MAP = 0x85,
    IOMMUFD_CMD_IOAS_UNMAP = 0x86,
    IOMMUFD_CMD_OPTION = 0x87,
    IOMMUFD_CMD_VFIO_IOAS = 0x88,
    IOMMUFD_CMD_HWPT_ALLOC = 0x89,
    IOMMUFD_CMD_GET_HW_INFO = 0x8a,
    IOMMUFD_CMD_HWPT_SET_DIRTY_TRACKING = 0x8b,
    IOMMUFD_CMD_HWPT_GET_DIRTY_BITMAP = 0x8c,
    IOMMUFD_CMD_IOAS_MAP_FILE = 0x8f,
    IOMMUFD_CMD_IOAS_CHANGE_PROCESS = 0x92,
};

struct iommu_destroy {
    __u32 size;
    __u32 id;
};
_Static_assert(sizeof(struct iommu_destroy) == 8, "iommu_destroy");
#define IOMMU_DESTROY _IO(IOMMUFD_TYPE, IOMMUFD_CMD_DESTROY)

struct iommu_ioas_alloc {
    __u32 size;
    __u32 flags;
    __u32 out_ioas_id;
};
_Static_assert(sizeof(struct iommu_ioas_alloc) == 12, "iommu_ioas_alloc");
#define IOMMU_IOAS_ALLOC _IO(IOMMUFD_TYPE, IOMMUFD_CMD_IOAS_ALLOC)

/* An inclusive IOVA interval. */
struct iommu_iova_range {
    __aligned_u64 start;
    __aligned_u64 last;
};
_Static_assert(sizeof(struct iommu_iova_range) == 16, "iommu_iova_range");

/*
 * num_iovas: in, entries at allowed_iovas; out, entries the IOAS has
 * (EMSGSIZE when the array was too short).
 */
struct iommu_ioas_iova_ranges {
    __u32 size;
    __u32 ioas_id;
    __u32 num_iovas;
    __u32 __reserved;
    __aligned_u64 allowed_iovas;
    __aligned_u64 out_iova_alignment;
};
_Static_assert(sizeof(struct iommu_ioas_iova_ranges) == 32,
               "iommu_ioas_iova_ranges");
#define IOMMU_IOAS_IOVA_RANGES _IO(IOMMUFD_TYPE, IOMMUFD_CMD_IOAS_IOVA_RANGES)

enum iommufd_ioas_map_flags {
    IOMMU_IOAS_MAP_FIXED_IOVA = 1 << 0,
    IOMMU_IOAS_MAP_WRITEABLE = 1 << 1,
    IOMMU_IOAS_MAP_READABLE = 1 << 2,
};

struct iommu_ioas_map {
    __u32 size;
    __u32 flags;
    __u32 ioas_id;
    __u32 __reserved;
    __aligned_u64 user_va;
    __aligned_u64 length;
    __aligned_u64 iova;
};
_Static_assert(sizeof(struct iommu_ioas_map) == 40, "iommu_ioas_map");
#define IOMMU_IOAS_MAP _IO(IOMMUFD_TYPE, IOMMUFD_CMD_IOAS_MAP)

/* Map [start, start + length) of the file behind fd: no vaddr involved. */
struct iommu_ioas_map_file {
    __u32 size;
    __u32 flags;
    __u32 ioas_id;
    __s32 fd;
    __aligned_u64 start;
    __aligned_u64 length;
    __aligned_u64 iova;
};
_Static_assert(sizeof(struct iommu_ioas_map_file) == 40, "iommu_ioas_map_file");
#define IOMMU_IOAS_MAP_FILE _IO(IOMMUFD_TYPE, IOMMUFD_CMD_IOAS_MAP_FILE)

struct iommu_ioas_unmap {
    __u32 size;
    __u32 ioas_id;
    __aligned_u64 iova;
    __aligned_u64 length;
};
_Static_assert(sizeof(struct iommu_ioas_unmap) == 24, "iommu_ioas_unmap");
#define IOMMU_IOAS_UNMAP _IO(IOMMUFD_TYPE, IOMMUFD_CMD_IOAS_UNMAP)

enum iommufd_option {
    IOMMU_OPTION_RLIMIT_MODE = 0,
    IOMMU_OPTION_HUGE_PAGES = 1,
};

enum iommufd_option_ops {
    IOMMU_OPTION_OP_SET = 0,
    IOMMU_OPTION_OP_GET = 1,
};

struct iommu_option {
    __u32 size;
    __u32 option_id;
    __u16 op;
    __u16 __reserved;
    __u32 object_id;
    __aligned_u64 val64;
};
_Static_assert(sizeof(struct iommu_option) == 24, "iommu_option");
#define IOMMU_OPTION _IO(IOMMUFD_TYPE, IOMMUFD_CMD_OPTION)

enum iommufd_hwpt_alloc_flags {
    IOMMU_HWPT_ALLOC_NEST_PARENT = 1 << 0,
    IOMMU_HWPT_ALLOC_DIRTY_TRACKING = 1 << 1,
};

enum iommu_hwpt_data_type {
    IOMMU_HWPT_DATA_NONE = 0,
};

struct iommu_hwpt_alloc {
    __u32 size;
    __u32 flags;
    __u32 dev_id;
    __u32 pt_id;
    __u32 out_hwpt_id;
    __u32 __reserved;
    __u32 data_type;
    __u32 data_len;
    __aligned_u64 data_uptr;
    __u32 fault_id;
    __u32 __reserved2;
};
_Static_assert(sizeof(struct iommu_hwpt_alloc) == 48, "iommu_hwpt_alloc");
#define IOMMU_HWPT_ALLOC _IO(IOMMUFD_TYPE, IOMMUFD_CMD_HWPT_ALLOC)

enum iommu_hw_info_type {
    IOMMU_HW_INFO_TYPE_NONE = 0,
    IOMMU_HW_INFO_TYPE_INTEL_VTD = 1,
};

enum iommufd_hw_capabilities {
    IOMMU_HW_CAP_DIRTY_TRACKING = 1 << 0,
};

struct iommu_hw_info {
    __u32 size;
    __u32 flags;
    __u32 dev_id;
    __u32 data_len;
    __aligned_u64 data_uptr;
    __u32 out_data_type;
    __u8 out_max_pasid_log2;
    __u8 __reserved[3];
    __aligned_u64 out_capabilities;
};
_Static_assert(sizeof(struct iommu_hw_info) == 40, "iommu_hw_info");
#define IOMMU_GET_HW_INFO _IO(IOMMUFD_TYPE, IOMMUFD_CMD_GET_HW_INFO)

/* Move the pinned-page accounting of every IOAS to the calling process. */
struct iommu_ioas_change_process {
    __u32 size;
    __u32 __reserved;
};
_Static_assert(sizeof(struct iommu_ioas_change_process) == 8,
               "iommu_ioas_change_process");
#define IOMMU_IOAS_CHANGE_PROCESS \
    _IO(IOMMUFD_TYPE, IOMMUFD_CMD_IOAS_CHANGE_PROCESS)

/* HWPT dirty tracking (Linux 6.7): on/off per HWPT, then read a bitmap. */
enum {
    IOMMU_HWPT_DIRTY_TRACKING_ENABLE = 1,
};

struct iommu_hwpt_set_dirty_tracking {
    __u32 size;
    __u32 flags;
    __u32 hwpt_id;
    __u32 __reserved;
};
_Static_assert(sizeof(struct iommu_hwpt_set_dirty_tracking) == 16,
               "iommu_hwpt_set_dirty_tracking");
#define IOMMU_HWPT_SET_DIRTY_TRACKING \
    _IO(IOMMUFD_TYPE, IOMMUFD_CMD_HWPT_SET_DIRTY_TRACKING)

/* Reads and (unless NO_CLEAR) clears dirty bits of [iova, iova+length). */
enum {
    IOMMU_HWPT_GET_DIRTY_BITMAP_NO_CLEAR = 1,
};

struct iommu_hwpt_get_dirty_bitmap {
    __u32 size;
    __u32 hwpt_id;
    __u32 flags;
    __u32 __reserved;
    __aligned_u64 iova;
    __aligned_u64 length;
    __aligned_u64 page_size;
    __aligned_u64 data; /* u64 bitmap, one bit per page_size */
};
_Static_assert(sizeof(struct iommu_hwpt_get_dirty_bitmap) == 48,
               "iommu_hwpt_get_dirty_bitmap");
#define IOMMU_HWPT_GET_DIRTY_BITMAP \
    _IO(IOMMUFD_TYPE, IOMMUFD_CMD_HWPT_GET_DIRTY_BITMAP)

#endif
