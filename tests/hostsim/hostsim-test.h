/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Shared by test-hostsim*.c: the dmatest register map as a driver sees
 * it, a per-test hostsimd, and what a VMM does with the uAPI (container,
 * device registers, ring checks, interrupts), plus the helpers of the
 * hand-over tests, which run in separate processes (--helper).
 */
#ifndef HOSTSIM_TEST_H
#define HOSTSIM_TEST_H

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdbool.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/capability.h>
#include <linux/kvm.h>
#include <linux/vfio.h>
#include <glib.h>

#include "standard-headers/linux/iommufd.h"
#include "standard-headers/linux/vfio-extra.h"

#define R_ID 0x00
#define R_CTRL 0x04
#define R_RING_LO 0x08
#define R_RING_HI 0x0c
#define R_RING_ENTRIES 0x10
#define R_PERIOD_US 0x14
#define R_HEAD 0x18
#define R_TAIL 0x1c
#define R_OVERFLOWS 0x20
#define R_RESETS 0x24
#define R_IRQ_EVERY 0x28
#define R_FAULTS 0x2c
#define R_STALLS 0x30
#define R_MIG_STATE 0x34
#define R_STATE_SUM 0x38
#define R_SAVED_PRE 0x3c
#define R_SAVED_STOP 0x40
#define R_LOADED 0x44
#define R_DMA_LOGGED 0x48
#define R_MIG_FAIL 0x4c

#define RAM_SIZE (2u << 20)
#define RING_IOVA 0x100000ull
#define HANG_US (20 * G_USEC_PER_SEC) /* only a hung test gets here */
/* argv of this binary, to re-execute it as a helper process. */
extern char **hostsim_argv;

typedef struct Sim {
    char *dir;
    char *sock;
    GPid pid;
} Sim;

typedef struct Legacy {
    int ct, grp, dev;
} Legacy;

/* A migration source and destination, each in a container of its own. */
typedef struct Pair {
    Sim sim;
    Legacy src, dst;
    uint8_t *ram;
    int ramfd;
} Pair;

/* In helper processes: fail with an exit code (no GTest there). */
#define CHECK(cond, code)                                                      \
    do {                                                                       \
        if (!(cond)) {                                                         \
            fprintf(stderr, "helper: %s failed (line %d)\n", #cond, __LINE__); \
            _exit(code);                                                       \
        }                                                                      \
    } while (0)

void sim_start(Sim *s, const char *dev0, const char *dev1);
void sim_stop(Sim *s);
uint32_t reg_read(int dev, unsigned off);
void reg_write(int dev, unsigned off, uint32_t v);
void wait_head_full(int dev, uint32_t target, bool consume);
void wait_head(int dev, uint32_t target);
/* Wait (hang limit only) until register REG reads at least MIN. */
void wait_reg_at_least(int dev, unsigned reg, uint32_t min);
void stream_start(int dev, uint32_t entries, uint32_t period,
                  uint32_t irq_every, uint32_t ctrl);
unsigned ring_check(const uint8_t *ring, uint32_t head, uint32_t entries);
uint8_t *ram_new(int *fd);
int map_dma(int ct, void *vaddr, uint64_t iova, uint64_t size, uint32_t flags);
int unmap_dma(int ct, uint64_t iova, uint64_t size, uint32_t flags);
void legacy_open(Legacy *l, int group, const char *bdf);
void legacy_close(Legacy *l);
bool fd_fires(int efd);
bool fd_idle(int efd);
int set_irq_eventfd(int dev, uint32_t index, uint32_t action, int32_t efd);
int set_irq_none(int dev, uint32_t index, uint32_t action, uint32_t count);
void report_costs(int ct, int dev);
void drop_ipc_lock(void);
void set_memlock(rlim_t bytes);
void send_fds(int sock, const int *fds, int n);
void recv_fds(int sock, int *fds, int n);
void expect_byte(int sock, char want);
uint32_t h_reg(int dev, unsigned off);
void h_wait_head(int dev, uint32_t target);
void run_handover(const char *first, const char *devspec);

/* glibc's fortified entry points, declared only under _FORTIFY_SOURCE. */
ssize_t __pread64_chk(int fd, void *buf, size_t count, off64_t offset,
                      size_t buflen);
ssize_t __readlink_chk(const char *path, char *out, size_t size, size_t buflen);
char *__realpath_chk(const char *path, char *resolved, size_t resolvedlen);

/* test-hostsim-mig.c: what a VMM does to migrate a device. */
int mig_set(int dev, uint32_t state, int *data_fd);
uint32_t mig_get(int dev);
uint64_t mig_data_size(int dev);
void mig_read(int fd, GByteArray *out, bool precopy);
void mig_write(int fd, const uint8_t *p, size_t len);
int mig_load(int dev, const uint8_t *p, size_t len);
void pair_open(Pair *p, const char *src_opts, const char *dst_opts);
void pair_close(Pair *p);

void hostsim_add_legacy_tests(void);
void hostsim_add_mig_tests(void);
void hostsim_add_dirty_tests(void);
void hostsim_add_iommufd_tests(void);
int hostsim_helper_a(int report);
int hostsim_helper_b(int ct, int grp, int sock);
int hostsim_helper_ia(int report);
int hostsim_helper_ib(int sock, uint32_t ioas);

#endif
