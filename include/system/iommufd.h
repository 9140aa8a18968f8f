/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The iommufd backend object (-object iommufd,id=ID[,fd=N], QEMU's
 * TYPE_IOMMUFD_BACKEND): one /dev/iommu file that VFIO devices bind to
 * (vfio-pci,iommufd=ID), and its commands: IOAS and HWPT objects, DMA
 * mappings by vaddr or by file, IOVA ranges, HW info, and moving the
 * pinned-page accounting to this process (live update). Each command is
 * traced and returns 0 (or an id) / -errno; messages are the caller's.
 * All functions: big lock held.
 */
#ifndef BATON_SYSTEM_IOMMUFD_H
#define BATON_SYSTEM_IOMMUFD_H

#include <stdbool.h>
#include <stdint.h>
#include <glib.h>

typedef struct Object Object;

#define TYPE_IOMMUFD_BACKEND "iommufd"

/* The /dev/iommu fd of iommufd object BE. */
int iommufd_backend_fd(Object *be);

int iommufd_backend_alloc_ioas(Object *be, uint32_t *ioas_id);
/* IOMMU_DESTROY of an IOAS or HWPT. */
int iommufd_backend_free_id(Object *be, uint32_t id);
/* IOMMU_IOAS_MAP at a fixed IOVA from VADDR. */
int iommufd_backend_map_dma(Object *be, uint32_t ioas_id, uint64_t iova,
                            uint64_t size, uint64_t vaddr, bool readonly);
/* IOMMU_IOAS_MAP_FILE at a fixed IOVA from [START, START + SIZE) of FD. */
int iommufd_backend_map_file_dma(Object *be, uint32_t ioas_id, uint64_t iova,
                                 uint64_t size, int fd, uint64_t start,
                                 bool readonly);
int iommufd_backend_unmap_dma(Object *be, uint32_t ioas_id, uint64_t iova,
                              uint64_t size);
/*
 * The IOAS's usable IOVA ranges, as pairs [start, last] appended to
 * RANGES (uint64_t); *ALIGN its IOVA alignment.
 */
int iommufd_backend_get_iova_ranges(Object *be, uint32_t ioas_id,
                                    GArray *ranges, uint64_t *align);
/*
 * IOMMU_HWPT_ALLOC for device DEV_ID on PT_ID (an IOAS), no data; FLAGS:
 * IOMMU_HWPT_ALLOC_* (dirty tracking).
 */
int iommufd_backend_alloc_hwpt(Object *be, uint32_t dev_id, uint32_t pt_id,
                               uint32_t flags, uint32_t *hwpt_id);
/* IOMMU_HWPT_SET_DIRTY_TRACKING of HWPT_ID on or off. */
int iommufd_backend_set_dirty_tracking(Object *be, uint32_t hwpt_id, bool on);
/*
 * IOMMU_HWPT_GET_DIRTY_BITMAP: the pages of [IOVA, IOVA + SIZE) written
 * since last time (cleared), one bit per PGSIZE, set in BITMAP.
 */
int iommufd_backend_get_dirty_bitmap(Object *be, uint32_t hwpt_id,
                                     uint64_t iova, uint64_t size,
                                     uint64_t pgsize, uint64_t *bitmap);
/* IOMMU_GET_HW_INFO: the IOMMU's type and capabilities for DEV_ID. */
int iommufd_backend_get_hw_info(Object *be, uint32_t dev_id, uint32_t *type,
                                uint64_t *caps);
/*
 * An IOAS of BE is in use in this process (allocated here, or adopted
 * from the old process in a live update) / no longer (put as many times
 * as got). While none is, nothing is pinned through BE, and a live
 * update moves no accounting (no IOMMU_IOAS_CHANGE_PROCESS).
 */
void iommufd_backend_ioas_get(Object *be);
void iommufd_backend_ioas_put(Object *be);

#endif
