/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Private to accel/kvm/: the VM and vCPU structures shared by kvm-all.c
 * (VM, capabilities, memory slots, IRQs), kvm-cpu.c (vCPU threads, pause,
 * run-on-cpu), kvm-state.c (x86 register state: CPUID, reset, snapshot),
 * kvm-exit.c (exit dispatch) and kvm-dump.c (register dump text).
 *
 * Locking: the big lock (BQL) is the outer lock, KVMState.lock the inner
 * one. A vCPU thread never takes the BQL while holding KVMState.lock; the
 * main thread may take KVMState.lock with the BQL held but drops the BQL
 * before it sleeps on one of KVMState's condition variables.
 */
#ifndef BATON_ACCEL_KVM_KVM_INTERNAL_H
#define BATON_ACCEL_KVM_KVM_INTERNAL_H

#include <pthread.h>
#include <linux/kvm.h>

#include "system/cpus.h"
#include "system/memory.h"
#include "system/runstate.h"

/* Fixed addresses below 4 GiB that KVM needs on Intel (QEMU's choice). */
#define KVM_TSS_ADDR 0xfffbd000ULL
#define KVM_IDENTITY_MAP_ADDR 0xfeffc000ULL

/* The signal that kicks a vCPU thread out of KVM_RUN. */
#define KVM_SIG_IPI SIGUSR1

typedef struct KVMCPU KVMCPU;

/*
 * One KVM memory slot: the whole pages of one RAM section of
 * address_space_memory (kvm-mem.c). It keeps what it needs of the section
 * (block, offset, name) so that deleting it never looks at the region.
 */
typedef struct KVMSlot {
    uint32_t slot; /* lowest free id when created */
    hwaddr gpa;
    uint64_t size;
    void *host;
    uint32_t flags; /* KVM_MEM_* */
    RAMBlock *rb;
    uint64_t rb_offset; /* of gpa within rb */
    char *name;         /* the region's, for errors */
    unsigned long *dirty_bmap; /* KVM's bitmap while logging, else NULL */
} KVMSlot;

typedef struct KVMState {
    int fd;    /* /dev/kvm, -1 if closed */
    int vm_fd; /* -1 before KVM_CREATE_VM and once released */
    GThread *vm_closer; /* closing a released VM fd (kvm-all.c) */
    size_t vcpu_mmap_size;
    int *cap_values; /* parallel to the capability table */
    struct kvm_cpuid2 *supported_cpuid;
    bool irqchip_in_kernel;

    /*
     * GSI routing (kvm-irqchip.c), under the BQL: the MSI routes added
     * since the VM was created (struct kvm_irq_routing_entry, the
     * irqchip pins are implicit), whether the kernel has not seen them
     * yet, and the number of GSIs the table may name (0: no routing).
     */
    GArray *msi_routes;
    bool routes_dirty;
    unsigned int gsi_count;
    /*
     * irqfds (kvm-irqchip.c), under the BQL: every one its owner added
     * and has not removed (KVMIrqfd), and whether they are held back
     * from KVM. Attached exactly while the vCPUs run: held from VM
     * creation until the first resume, and during every pause.
     */
    GArray *irqfds;
    bool irqfds_held;

    /* Memory listeners and what they made (kvm-mem.c), under the BQL. */
    MemoryListener mem_listener; /* address_space_memory: slots, MMIO fds */
    MemoryListener io_listener;  /* address_space_io: PIO ioeventfds */
    GPtrArray *slots;            /* KVMSlot *, in creation order */
    unsigned int max_slots;
    bool dirty_log;       /* KVM_MEM_LOG_DIRTY_PAGES on writable slots */
    bool mem_collect_err; /* registering: keep the first error in mem_err */
    GError *mem_err;

    unsigned int nr_cpus; /* entries in cpus[] */
    KVMCPU **cpus;
    bool cpus_registered; /* CPUStates handed to cpus_add() */

    /*
     * vCPU thread coordination, all protected by lock. A vCPU thread is
     * "parked" while it sleeps on cond at its safe point (no incomplete
     * exit outstanding): stopped, waiting for reset, or halted.
     */
    GMutex lock;
    GCond parked_cond;    /* waiters: nr_parked changed, work done */
    bool stop;            /* pause requested (pause_all) */
    unsigned int nr_live; /* vCPU threads inside their run loop */
    unsigned int nr_parked;
    bool error_stop_pending; /* vm_stop(INTERNAL_ERROR) already queued */
} KVMState;

/* A synchronous call run on a vCPU thread (see kvm_run_on_cpu()). */
typedef void KVMWorkFunc(KVMCPU *kcpu, void *opaque);
typedef struct KVMWork {
    KVMWorkFunc *fn;
    void *opaque;
    bool done; /* under KVMState.lock */
    /* Under KVMState.lock: the waiter's count of works not yet done. */
    unsigned int *left;
} KVMWork;

struct KVMCPU {
    KVMState *s;
    CPUState *cpu;
    unsigned int index;
    int fd; /* vCPU fd, -1 if not created */
    struct kvm_run *run;
    pthread_t thread;
    bool thread_started;

    /* Creation handshake with kvm_cpus_create(), under s->lock. */
    bool create_done;
    GError *create_err;

    /* Under s->lock. */
    bool live; /* thread is inside its run loop */
    bool parked;
    bool in_run;     /* inside (or about to enter) KVM_RUN */
    bool wait_reset; /* triple fault / internal error: until reset */
    bool halted;     /* HLT exit (no in-kernel irqchip only) */
    bool quit;
    bool stop_noted; /* kvm_migration_cpu_stopping() ran for this stop */
    GQueue work;     /* KVMWork * */

    /*
     * The TSC read when the VM last stopped (QEMU's tsc_valid), written
     * by the vCPU's thread while the VM stops; read and cleared by the
     * main thread while the VM is stopped (kvm-migration.c).
     */
    uint64_t stop_tsc;
    bool stop_tsc_valid;
    /*
     * Bumped by the vCPU's thread whenever KVM's copy of the vCPU state
     * may change other than by kvm-migration.c's put: before each
     * KVM_RUN and at each reset. kvm-migration.c keeps it with a state it
     * read, to tell whether KVM still holds that state.
     */
    uint64_t state_gen;
    /*
     * The thread parks on it. Signalled for work queued on this vCPU
     * only, and for every vCPU on resume, reset, halt kick and quit.
     */
    GCond cond;
};

/* Capabilities, probed once at open (kvm-all.c). */
KVMState *kvm_state(void);
int kvm_cap(KVMState *s, int cap);

/*
 * ioctl wrappers: the only place where baton calls ioctl() on a KVM fd.
 * They return the ioctl's non-negative result or -errno. ARG is a pointer
 * or, for ioctls taking a value, KVM_ARG(value).
 */
#define KVM_ARG(v) ((void *)(uintptr_t)(v))
int kvm_ioctl(KVMState *s, unsigned long req, void *arg);
int kvm_vm_ioctl(KVMState *s, unsigned long req, void *arg);
int kvm_vcpu_ioctl(KVMCPU *kcpu, unsigned long req, void *arg);
/* "KVM_RUN" for KVM_RUN; "unknown" if not in the table (tracing only). */
const char *kvm_ioctl_name(unsigned long req);

/*
 * The in-kernel irqchip and PIT, GSI routing, irqfds and MSIs
 * (kvm-irqchip.c): create them with the VM (before any vCPU) / forget the
 * routing table once the VM fd is released. kvm_irqchip_ops is what
 * system/irqchip.h reaches through AccelOps.irqchip.
 */
bool kvm_irqchip_create(KVMState *s, GError **errp);
void kvm_irqchip_cleanup(KVMState *s);
/*
 * The vCPUs are paused (kvm_accel_pause_all), before anything reads
 * vCPU or irqchip state: detach every irqfd from the VM, so that a
 * signal from now on waits in its eventfd's counter instead of landing
 * in a LAPIC that may already be saved. KVM_IRQFD's deassign flushes
 * the irqfd's pending injection before it returns. No-op while held.
 */
void kvm_irqchip_hold_irqfds(KVMState *s);
/*
 * The vCPUs are about to run (kvm_accel_resume_all), their state and
 * the irqchip's loaded and the routes committed: attach every irqfd;
 * KVM injects at once what an eventfd counted meanwhile. Then each
 * resamplefd is written once so that its owner re-checks its level
 * (holding de-asserted the line). No-op unless held.
 */
void kvm_irqchip_attach_irqfds(KVMState *s);
extern const IrqchipOps kvm_irqchip_ops;

/*
 * Memory slots, ioeventfds and dirty logging (kvm-mem.c): register the
 * listeners (the replay creates the slots of the current map; a failure
 * there fails init) / unregister them once the VM fd is released (vm_fd
 * -1: no ioctl; its close may still be running, kvm-all.c).
 */
bool kvm_memory_init(KVMState *s, GError **errp);
void kvm_memory_cleanup(KVMState *s);
unsigned int kvm_memory_slot_count(KVMState *s);

/* vCPUs (kvm-cpu.c). Called from the main thread with the BQL held. */
bool kvm_cpus_create(KVMState *s, unsigned int n, GError **errp);
void kvm_cpus_destroy(KVMState *s);
void kvm_cpus_pause(KVMState *s);
void kvm_cpus_resume(KVMState *s);
/*
 * Run FN on KCPU's thread and wait for it; on KCPU's own thread FN runs at
 * once. A running vCPU is kicked out of KVM_RUN and resumes afterwards.
 * The caller's BQL, if held, is dropped while waiting. FN runs without the
 * BQL, at the vCPU's safe point (no exit awaiting completion), and may
 * issue vCPU ioctls. False if the vCPU thread is gone (FN not run).
 */
bool kvm_run_on_cpu(KVMCPU *kcpu, KVMWorkFunc *fn, void *opaque);
/* Same, on every vCPU concurrently; waits for all. */
void kvm_run_on_all_cpus(KVMState *s, KVMWorkFunc *fn, void *opaque);
/*
 * The two halves of kvm_run_on_cpu(), so that a caller can have several
 * vCPUs work at once while it goes on: queue WORK (fn and opaque set) on
 * KCPU's thread without waiting. WORK must stay valid until waited for.
 * False, with WORK->fn cleared, if the vCPU thread is gone (FN not run).
 * On KCPU's own thread FN runs at once.
 */
bool kvm_cpu_work_start(KVMCPU *kcpu, KVMWork *work);
/*
 * Wait until each of the N started WORKS is done (one whose fn is NULL
 * was not started and is skipped). The caller's BQL, if held, is dropped
 * while waiting.
 */
void kvm_cpu_work_wait(KVMState *s, KVMWork *const *works, unsigned int n);
/* Power-on state for every vCPU; vCPUs must be paused. */
void kvm_cpus_reset(KVMState *s, const MachineState *ms);
/* "info registers" text for KCPU (g_free), NULL + error_report on failure. */
char *kvm_cpu_dump_registers(KVMCPU *kcpu);

/* x86 power-on state (kvm-state.c); runs on the vCPU thread. */
bool kvm_cpu_reset(KVMCPU *kcpu, const MachineState *ms, GError **errp);
/* CPUID for one vCPU from KVM's supported table (kvm-state.c). */
struct kvm_cpuid2 *kvm_cpu_build_cpuid(const struct kvm_cpuid2 *supported,
                                       uint32_t apic_id);

/*
 * Exit dispatch (kvm-exit.c). Calls no KVM ioctl: everything it needs
 * from the rest of baton goes through KVMExitHooks so that unit tests can
 * feed it fabricated kvm_run structures. Called with the BQL held.
 */
typedef enum KVMExitAction {
    KVM_EXIT_ACTION_CONTINUE,   /* re-enter KVM_RUN */
    KVM_EXIT_ACTION_HALT,       /* park until an interrupt or reset */
    KVM_EXIT_ACTION_WAIT_RESET, /* park until the machine is reset */
    KVM_EXIT_ACTION_ERROR,      /* dump, stop with internal-error */
} KVMExitAction;

typedef struct KVMExitHooks {
    uint64_t (*ld)(AddressSpace *as, hwaddr addr, unsigned int size);
    void (*st)(AddressSpace *as, hwaddr addr, uint64_t val,
               unsigned int size);
    bool (*rw)(AddressSpace *as, hwaddr addr, void *buf, uint64_t len,
               bool is_write);
    void (*request_reset)(ShutdownCause cause);
    void (*request_shutdown)(ShutdownCause cause);
} KVMExitHooks;

const KVMExitHooks *kvm_exit_default_hooks(void);
/* RUN_SIZE is the size of the mapping RUN points into (bounds PIO data). */
KVMExitAction kvm_handle_exit(struct kvm_run *run, size_t run_size,
                              int cpu_index, const KVMExitHooks *hooks);

/* Register snapshot and its "info registers" text (kvm-dump.c). */
typedef struct KVMRegSnapshot {
    struct kvm_regs regs;
    struct kvm_sregs sregs;
    struct kvm_fpu fpu;
    struct kvm_debugregs dregs;
    struct kvm_vcpu_events events;
    struct kvm_mp_state mp_state;
    bool halted;   /* HLT exit parked (no in-kernel irqchip) */
    uint64_t xcr0; /* 0 if unknown */
    bool have_xsave;
    struct kvm_xsave xsave; /* standard (non-compacted) layout */
} KVMRegSnapshot;

char *kvm_format_registers(const KVMRegSnapshot *snap);
/* Fill SNAP from KCPU (kvm-state.c); on its own thread only. */
bool kvm_cpu_get_snapshot(KVMCPU *kcpu, KVMRegSnapshot *snap, GError **errp);

/*
 * ---- Migration of KVM-held state (kvm-migration.c) ----
 *
 * One "cpu" section per vCPU (instance = vCPU index), "kvm-irqchip",
 * "kvm-pit" and "kvmclock", registered by kvm_migration_init() at the end
 * of the accelerator's init, so they load before any device section.
 */
typedef struct VMStateDescription VMStateDescription;

/* Largest XSAVE image a "cpu" section carries (KVM_CAP_XSAVE2 size). */
#define KVM_MIG_XSAVE_MAX 16384
/* Largest MSR list a "cpu" section carries. */
#define KVM_MIG_MAX_MSRS 64

typedef struct KVMMigMsr {
    uint32_t index;
    uint64_t data;
} KVMMigMsr;

/*
 * One vCPU's state as a plain snapshot: the raw KVM structs as fixed-size
 * byte buffers (x86-64 layouts, host byte order, as the ioctls use them),
 * the variable parts bounded by the maxima above. sregs always holds a
 * struct kvm_sregs2 (converted from/to kvm_sregs on kernels without
 * KVM_CAP_SREGS2); the pending interrupt that kvm_sregs' bitmap would
 * carry travels in the vCPU events.
 */
typedef struct KVMCPUMigState {
    uint8_t regs[sizeof(struct kvm_regs)];
    uint8_t sregs[sizeof(struct kvm_sregs2)];
    uint32_t xsave_len; /* 0 without XSAVE, else >= 4096 */
    uint8_t xsave[KVM_MIG_XSAVE_MAX];
    uint32_t fpu_len; /* sizeof(struct kvm_fpu) without XSAVE, else 0 */
    uint8_t fpu[sizeof(struct kvm_fpu)];
    bool has_xcrs;
    uint64_t xcr0;
    uint32_t nmsrs;
    KVMMigMsr msrs[KVM_MIG_MAX_MSRS];
    uint8_t lapic[sizeof(struct kvm_lapic_state)];
    bool has_events;
    uint8_t events[sizeof(struct kvm_vcpu_events)];
    uint32_t mp_state;
    bool has_debugregs;
    uint8_t debugregs[sizeof(struct kvm_debugregs)];
    uint32_t tsc_khz; /* 0 if unknown */
} KVMCPUMigState;

/* The snapshot's fields, without hooks (nested in the "cpu" section). */
extern const VMStateDescription kvm_vmstate_cpu_state;

/*
 * Host-independent checks of a loaded snapshot (lengths, known and unique
 * MSRs, flag bits); errors name the field.
 */
bool kvm_cpu_mig_state_check(const KVMCPUMigState *st, GError **errp);

/* Register/unregister every section above (main thread, BQL held). */
bool kvm_migration_init(KVMState *s, GError **errp);
void kvm_migration_cleanup(KVMState *s);
/*
 * Called with the vCPUs paused / just before they resume: the kvmclock is
 * read once when the VM stops and written back when it runs again (QEMU's
 * behaviour), so the guest clock does not advance while stopped and a
 * migration saves the value from the moment the vCPUs stopped.
 */
void kvm_migration_vm_stopped(KVMState *s);
/*
 * On KCPU's thread, without any lock, as it parks for a pause (before
 * kvm_cpus_pause() returns): read what kvm_migration_vm_stopped() needs
 * from the vCPU (its TSC).
 */
void kvm_migration_cpu_stopping(KVMCPU *kcpu);
void kvm_migration_vm_resuming(KVMState *s);

#endif
