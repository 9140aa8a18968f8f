/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The dmatest function's state, shared by the files that implement it:
 * dmatest.c (config space, regions, interrupts, resets, the DMA engine)
 * and dmatest-mig.c (VFIO migration v2: the state machine, the state
 * stream on the data fd, pre-copy, DMA logging). Private to hostsimd;
 * everything here runs under hs_lock.
 */
#ifndef HOSTSIM_DMATEST_H
#define HOSTSIM_DMATEST_H

#include <linux/vfio.h>

#include "hostsim.h"

/* BAR0 registers, 32-bit, at index * 4 (docs/devel/hostsim.md). */
enum {
    R_ID,
    R_CTRL,
    R_RING_LO,
    R_RING_HI,
    R_RING_ENTRIES,
    R_PERIOD_US,
    R_HEAD,
    R_TAIL,
    R_OVERFLOWS,
    R_RESETS,
    R_IRQ_EVERY,
    R_FAULTS,
    R_STALLS,
    R_MIG_STATE,  /* RO, computed: enum vfio_device_mig_state */
    R_STATE_SUM,  /* RO, computed: checksum of the internal state */
    R_SAVED_PRE,  /* RO: bytes read in PRE_COPY, last save session */
    R_SAVED_STOP, /* RO: bytes read in STOP_COPY, last save session */
    R_LOADED,     /* RO: bytes written, last resume session */
    R_DMA_LOGGED, /* RO: pages set in the DMA log since logging started */
    R_MIG_FAIL,   /* RW, tests: 0x100 | state: the next arc into it fails */
    R_NUM,
};

#define DMATEST_ID 0xba700001u
#define CTRL_STREAM 1u
#define CTRL_IRQ 2u
#define MSIX_VECTORS 2
#define CONFIG_SIZE 256u

struct HsDevice {
    char bdf[32];
    int index;
    int group;
    bool mdev;
    bool migration, precopy, dma_logging, iommu_dirty;
    uint64_t state_size; /* bytes of opaque internal state */
    uint64_t dirty_rate; /* bytes per second the device changes it */
    uint32_t log_max_ranges;

    uint32_t regs[R_NUM];
    uint8_t config[CONFIG_SIZE];
    uint8_t wmask[CONFIG_SIZE];
    int bar2_fd;
    uint8_t *bar2;
    dev_t bar2_dev; /* identity of bar2_fd, as a mapping's pages show it */
    ino_t bar2_ino;

    int irq_type; /* VFIO_PCI_*_IRQ_INDEX or IRQ_NONE */
    int intx_trigger;
    int intx_unmask;
    guint intx_unmask_watch;
    bool intx_masked, intx_pending;
    int msi_trigger[MSIX_VECTORS]; /* MSI uses entry 0 */
    int req_trigger;

    int opens;            /* open device files */
    HsDevFile *cdev_file; /* the bound cdev file, if any */
    uint32_t faults_logged;

    /* Migration (dmatest-mig.c). */
    uint32_t mig_state; /* enum vfio_device_mig_state (+ PRE_COPY ones) */
    uint8_t *state;     /* the opaque internal state, state_size bytes */
    uint64_t state_seed;
    uint64_t mut_cursor;  /* next byte the device changes */
    uint64_t mut_counter; /* value written there */
    int64_t mut_since;    /* start of the current running period */
    uint64_t mut_done;    /* bytes changed since mut_since */
    HsMigFile *migf;      /* data file of the open session, or NULL */

    /* DMA logging (dmatest-mig.c). */
    bool log_active;
    uint64_t log_page_size;
    GArray *log_ranges;    /* HsRange */
    GHashTable *log_dirty; /* page numbers (iova / log_page_size) */

    GThread *thread;
    GCond cond;
    bool stop;
    int64_t next_due;
};

typedef struct HsRange {
    uint64_t iova;
    uint64_t length;
} HsRange;

/* dmatest.c */
bool hs_parse_onoff(const char *key, const char *val, bool *out, GError **errp);
/* The device runs again after a stop: fire what became due meanwhile. */
void hs_dmatest_resumed(HsDevice *d);

/* dmatest-mig.c */
/* A --device key of migration or DMA logging; false: not one of them. */
bool hs_mig_parse_key(HsDevice *d, const char *key, const char *val, bool *ok,
                      GError **errp);
bool hs_mig_init(HsDevice *d, GError **errp);
/* May the device DMA and interrupt (RUNNING, RUNNING_P2P, PRE_COPY*)? */
bool hs_mig_running(HsDevice *d);
/* Is peer-to-peer DMA quiesced (the P2P states)? */
bool hs_mig_p2p_quiesced(HsDevice *d);
/* The device thread: change the internal state as the rate says. */
void hs_mig_mutate(HsDevice *d, int64_t now);
/* A reset: RUNNING, the open session ends, partial state is dropped. */
void hs_mig_reset(HsDevice *d);
uint32_t hs_mig_reg_read(HsDevice *d, unsigned reg);
/* The vfio core's vfio_check_feature(): 1 to go on, else 0 or -errno. */
int hs_mig_check_feature(uint32_t flags, uint32_t argsz, uint32_t ops,
                         uint32_t minsz);

/* dmatest-log.c */
/* The device wrote [iova, iova + len) by DMA: DMA log and IOMMU dirty. */
void hs_mig_dma_written(HsDevice *d, uint64_t iova, uint64_t len);
/* DMA_LOGGING_START/STOP/REPORT; argsz: where the argument ends in c->in. */
int64_t hs_log_feature(HsDevice *d, uint32_t flags, uint8_t *data,
                       uint32_t dlen, HsCall *c, uint32_t argsz);
void hs_log_stop(HsDevice *d);

#endif
