/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * KVM vCPU threads: creation (on the vCPU's own thread, as KVM's API
 * documentation asks of vCPU ioctls), the run loop and its safe point,
 * pause/resume, run-on-cpu work, and the reset and register dump requests
 * that the main thread sends through it. Exit dispatch is kvm-exit.c;
 * the x86 register contents are kvm-state.c.
 */
#include "util/osdep.h"

#include <pthread.h>
#include <signal.h>
#include <sys/mman.h>

#include "system/cpus.h"
#include "system/runstate.h"
#include "util/error-report.h"

#include "kvm-internal.h"

/*
 * How a vCPU is stopped. Every vCPU thread loops over a "safe point"
 * (kvm_cpu_loop_locked() with KVMState.lock held), where no exit awaits
 * completion by the kernel: after a PIO/MMIO read exit the data is only
 * consumed by the next KVM_RUN, so the loop always re-enters KVM_RUN after
 * a dispatched exit and only reaches the safe point once KVM_RUN has
 * returned -EINTR/-EAGAIN. Work items, parking and quitting happen there.
 *
 * To get a vCPU to its safe point, a requester sets the flag (stop, work,
 * quit) under KVMState.lock and, if the vCPU is in or about to enter
 * KVM_RUN (in_run), sets kvm_run.immediate_exit and sends KVM_SIG_IPI. The
 * signal breaks a running KVM_RUN; immediate_exit catches the window
 * between the vCPU's unlock and its ioctl, and makes KVM complete a pending
 * exit and return -EINTR without running guest code. The vCPU clears
 * immediate_exit under the lock, only when it has decided to run.
 *
 * The handler does nothing and uses SA_RESTART so that a late signal
 * landing in device code (dispatch) does not fail its syscalls with EINTR;
 * KVM_RUN itself returns -EINTR regardless. vCPU threads block every
 * other asynchronous signal, so process signals go to the main thread.
 */

static void kvm_sig_ipi_handler(int sig)
{
}

static void kvm_install_sig_ipi(void)
{
    struct sigaction sa = {
        .sa_handler = kvm_sig_ipi_handler,
        .sa_flags = SA_RESTART,
    };

    sigemptyset(&sa.sa_mask);
    sigaction(KVM_SIG_IPI, &sa, NULL);
}

static void kvm_cpu_init_signals(void)
{
    static const int unblocked[] = {
        KVM_SIG_IPI, SIGBUS, SIGSEGV, SIGFPE, SIGILL, SIGTRAP, SIGABRT,
    };
    sigset_t set;

    /* The creator started this thread with everything blocked. */
    sigemptyset(&set);
    for (size_t i = 0; i < ARRAY_SIZE(unblocked); i++) {
        sigaddset(&set, unblocked[i]);
    }
    pthread_sigmask(SIG_UNBLOCK, &set, NULL);
}

static void kvm_cpu_kick_locked(KVMCPU *kcpu)
{
    if (kcpu->in_run) {
        __atomic_store_n(&kcpu->run->immediate_exit, 1, __ATOMIC_RELEASE);
        pthread_kill(kcpu->thread, KVM_SIG_IPI);
    }
}

static void kvm_cpu_set_parked_locked(KVMCPU *kcpu, bool parked)
{
    KVMState *s = kcpu->s;

    if (kcpu->parked != parked) {
        kcpu->parked = parked;
        if (parked) {
            s->nr_parked++;
            g_cond_broadcast(&s->parked_cond);
        } else {
            s->nr_parked--;
        }
    }
}

/* Every parked vCPU re-checks its state (s->lock held). */
static void kvm_cpus_wake_locked(KVMState *s)
{
    for (unsigned int i = 0; i < s->nr_cpus; i++) {
        g_cond_signal(&s->cpus[i]->cond);
    }
}

static void kvm_cpu_run_work_locked(KVMCPU *kcpu)
{
    KVMState *s = kcpu->s;
    KVMWork *work;

    while ((work = g_queue_pop_head(&kcpu->work))) {
        g_mutex_unlock(&s->lock);
        work->fn(kcpu, work->opaque);
        g_mutex_lock(&s->lock);
        work->done = true;
        /* A waiter for several works wakes once, for the last one. */
        if (!work->left || --*work->left == 0) {
            g_cond_broadcast(&s->parked_cond);
        }
    }
}

/* ---- internal errors ---- */

static gboolean kvm_error_stop_cb(gpointer opaque)
{
    KVMState *s = opaque;

    g_mutex_lock(&s->lock);
    s->error_stop_pending = false;
    g_mutex_unlock(&s->lock);
    /* Main loop, BQL held: vm_stop may wait for the vCPUs. */
    vm_stop(RUN_STATE_INTERNAL_ERROR);
    return G_SOURCE_REMOVE;
}

/*
 * On the failing vCPU's thread: dump its registers and have the main loop
 * stop the VM. vm_stop() must not run here, since it waits for every vCPU
 * (this one included) to park; an idle source always defers it to the
 * thread iterating the default context.
 */
static void kvm_cpu_report_error(KVMCPU *kcpu)
{
    KVMState *s = kcpu->s;
    g_autofree KVMRegSnapshot *snap = g_new0(KVMRegSnapshot, 1);
    GError *err = NULL;

    if (kvm_cpu_get_snapshot(kcpu, snap, &err)) {
        g_autofree char *text = kvm_format_registers(snap);

        bql_lock();
        error_report("CPU %u registers:\n%s", kcpu->index, g_strchomp(text));
        bql_unlock();
    } else {
        bql_lock();
        error_report("cannot read registers of CPU %u: %s", kcpu->index,
                     err->message);
        bql_unlock();
        g_error_free(err);
    }
    g_mutex_lock(&s->lock);
    if (!s->error_stop_pending) {
        s->error_stop_pending = true;
        g_idle_add(kvm_error_stop_cb, s);
    }
    g_mutex_unlock(&s->lock);
}

/* ---- the run loop ---- */

/*
 * Run the guest until KVM_RUN is interrupted (back to the safe point) or
 * an exit needs the vCPU parked. Called without KVMState.lock.
 */
static KVMExitAction kvm_cpu_run(KVMCPU *kcpu)
{
    KVMState *s = kcpu->s;
    KVMExitAction action;
    int ret;

    for (;;) {
        kcpu->state_gen++;
        ret = kvm_vcpu_ioctl(kcpu, KVM_RUN, NULL);
        if (ret == -EINTR || ret == -EAGAIN) {
            return KVM_EXIT_ACTION_CONTINUE;
        }
        if (ret < 0) {
            bql_lock();
            error_report("KVM_RUN failed on CPU %u: %s", kcpu->index,
                         g_strerror(-ret));
            bql_unlock();
            return KVM_EXIT_ACTION_ERROR;
        }
        bql_lock();
        action = kvm_handle_exit(kcpu->run, s->vcpu_mmap_size, kcpu->index,
                                 kvm_exit_default_hooks());
        if (action == KVM_EXIT_ACTION_HALT) {
            kcpu->cpu->halted = true;
        }
        bql_unlock();
        if (action != KVM_EXIT_ACTION_CONTINUE) {
            return action;
        }
    }
}

static void kvm_cpu_loop_locked(KVMCPU *kcpu)
{
    KVMState *s = kcpu->s;
    KVMExitAction action;

    for (;;) {
        /* Safe point: no exit is waiting for the kernel to complete it. */
        kvm_cpu_run_work_locked(kcpu);
        if (kcpu->quit) {
            kvm_cpu_set_parked_locked(kcpu, false);
            return;
        }
        if (s->stop && !kcpu->stop_noted) {
            /*
             * Awake anyway: note what the stop needs from this vCPU here
             * (its TSC), which spares the main thread a round trip to
             * every vCPU thread while the guest is stopped.
             */
            kcpu->stop_noted = true;
            g_mutex_unlock(&s->lock);
            kvm_migration_cpu_stopping(kcpu);
            g_mutex_lock(&s->lock);
            continue;
        }
        if (s->stop || kcpu->wait_reset || kcpu->halted) {
            kvm_cpu_set_parked_locked(kcpu, true);
            g_cond_wait(&kcpu->cond, &s->lock);
            continue;
        }
        kvm_cpu_set_parked_locked(kcpu, false);
        __atomic_store_n(&kcpu->run->immediate_exit, 0, __ATOMIC_RELAXED);
        kcpu->in_run = true;
        g_mutex_unlock(&s->lock);

        action = kvm_cpu_run(kcpu);
        if (action == KVM_EXIT_ACTION_ERROR) {
            kvm_cpu_report_error(kcpu);
        }

        g_mutex_lock(&s->lock);
        kcpu->in_run = false;
        if (action == KVM_EXIT_ACTION_HALT) {
            kcpu->halted = true;
        } else if (action != KVM_EXIT_ACTION_CONTINUE) {
            kcpu->wait_reset = true;
        }
    }
}

static bool kvm_cpu_create_vcpu(KVMCPU *kcpu, GError **errp)
{
    KVMState *s = kcpu->s;
    g_autofree struct kvm_cpuid2 *cpuid = NULL;
    void *run;
    int ret;

    ret = kvm_vm_ioctl(s, KVM_CREATE_VCPU, KVM_ARG(kcpu->index));
    if (ret < 0) {
        error_setg_errno(errp, -ret, "KVM_CREATE_VCPU failed for CPU %u",
                         kcpu->index);
        return false;
    }
    kcpu->fd = ret;
    run = mmap(NULL, s->vcpu_mmap_size, PROT_READ | PROT_WRITE, MAP_SHARED,
               kcpu->fd, 0);
    if (run == MAP_FAILED) {
        error_setg_errno(errp, errno, "cannot map the kvm_run area of CPU %u",
                         kcpu->index);
        return false;
    }
    kcpu->run = run;
    cpuid = kvm_cpu_build_cpuid(s->supported_cpuid, kcpu->index);
    ret = kvm_vcpu_ioctl(kcpu, KVM_SET_CPUID2, cpuid);
    if (ret < 0) {
        error_setg_errno(errp, -ret, "KVM_SET_CPUID2 failed for CPU %u",
                         kcpu->index);
        return false;
    }
    return true;
}

static void *kvm_cpu_thread_fn(void *opaque)
{
    KVMCPU *kcpu = opaque;
    KVMState *s = kcpu->s;
    GError *err = NULL;
    char name[16];
    bool ok;

    snprintf(name, sizeof(name), "CPU %u/KVM", kcpu->index);
    pthread_setname_np(pthread_self(), name);
    kvm_cpu_init_signals();
    ok = kvm_cpu_create_vcpu(kcpu, &err);

    g_mutex_lock(&s->lock);
    kcpu->cpu->thread_id = gettid();
    kcpu->create_err = err;
    kcpu->create_done = true;
    g_cond_broadcast(&s->parked_cond);
    if (ok) {
        kcpu->live = true;
        s->nr_live++;
        kvm_cpu_loop_locked(kcpu);
        s->nr_live--;
        kcpu->live = false;
    }
    g_mutex_unlock(&s->lock);
    return NULL;
}

static bool kvm_cpu_start_thread(KVMState *s, KVMCPU *kcpu, GError **errp)
{
    sigset_t all, old;
    int ret;

    /* Start blocked; the thread unblocks KVM_SIG_IPI and sync signals. */
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    ret = pthread_create(&kcpu->thread, NULL, kvm_cpu_thread_fn, kcpu);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (ret) {
        error_setg_errno(errp, ret, "cannot create the thread of CPU %u",
                         kcpu->index);
        return false;
    }
    kcpu->thread_started = true;

    g_mutex_lock(&s->lock);
    while (!kcpu->create_done) {
        g_cond_wait(&s->parked_cond, &s->lock);
    }
    g_mutex_unlock(&s->lock);
    if (kcpu->create_err) {
        g_propagate_error(errp, kcpu->create_err);
        kcpu->create_err = NULL;
        return false;
    }
    return true;
}

bool kvm_cpus_create(KVMState *s, unsigned int n, GError **errp)
{
    kvm_install_sig_ipi();
    s->stop = true; /* vCPUs start paused; no thread exists yet */
    s->cpus = g_new0(KVMCPU *, n);
    for (unsigned int i = 0; i < n; i++) {
        KVMCPU *kcpu = g_new0(KVMCPU, 1);

        kcpu->s = s;
        kcpu->index = i;
        kcpu->fd = -1;
        g_queue_init(&kcpu->work);
        g_cond_init(&kcpu->cond);
        kcpu->stop_noted = true; /* not a pause: nothing to note */
        kcpu->cpu = g_new0(CPUState, 1);
        kcpu->cpu->index = i;
        kcpu->cpu->accel = kcpu;
        s->cpus[i] = kcpu;
        s->nr_cpus = i + 1;
        if (!kvm_cpu_start_thread(s, kcpu, errp)) {
            return false;
        }
    }
    /* Only now: the registry has no removal, so no half-made machine. */
    for (unsigned int i = 0; i < n; i++) {
        cpus_add(s->cpus[i]->cpu);
    }
    s->cpus_registered = true;
    return true;
}

void kvm_cpus_destroy(KVMState *s)
{
    bool had_bql = bql_locked();

    if (!s->cpus) {
        return;
    }
    g_mutex_lock(&s->lock);
    for (unsigned int i = 0; i < s->nr_cpus; i++) {
        s->cpus[i]->quit = true;
        kvm_cpu_kick_locked(s->cpus[i]);
    }
    kvm_cpus_wake_locked(s);
    g_mutex_unlock(&s->lock);

    /* A vCPU may be waiting for the BQL to finish dispatching an exit. */
    if (had_bql) {
        bql_unlock();
    }
    for (unsigned int i = 0; i < s->nr_cpus; i++) {
        if (s->cpus[i]->thread_started) {
            pthread_join(s->cpus[i]->thread, NULL);
        }
    }
    if (had_bql) {
        bql_lock();
    }

    for (unsigned int i = 0; i < s->nr_cpus; i++) {
        KVMCPU *kcpu = s->cpus[i];

        if (kcpu->run) {
            munmap(kcpu->run, s->vcpu_mmap_size);
        }
        if (kcpu->fd >= 0) {
            close(kcpu->fd);
        }
        g_cond_clear(&kcpu->cond);
        if (s->cpus_registered) {
            /* cpus_get() may still hand it out; it just has no vCPU. */
            kcpu->cpu->accel = NULL;
            kcpu->cpu->thread_id = 0;
        } else {
            g_free(kcpu->cpu);
        }
        g_free(kcpu);
    }
    g_clear_pointer(&s->cpus, g_free);
    s->nr_cpus = 0;
    s->nr_parked = 0;
    s->cpus_registered = false;
}

/* ---- requests from the main thread ---- */

void kvm_cpus_pause(KVMState *s)
{
    bool drop_bql = bql_locked();

    g_mutex_lock(&s->lock);
    s->stop = true;
    for (unsigned int i = 0; i < s->nr_cpus; i++) {
        kvm_cpu_kick_locked(s->cpus[i]);
    }
    /*
     * A vCPU may need the BQL to finish the exit it is dispatching before
     * it can park: wait without it. Lock order is BQL first, so it is
     * retaken only after s->lock is dropped.
     */
    drop_bql = drop_bql && s->nr_parked < s->nr_live;
    if (drop_bql) {
        bql_unlock();
    }
    while (s->nr_parked < s->nr_live) {
        g_cond_wait(&s->parked_cond, &s->lock);
    }
    g_mutex_unlock(&s->lock);
    if (drop_bql) {
        bql_lock();
    }
}

void kvm_cpus_resume(KVMState *s)
{
    g_mutex_lock(&s->lock);
    s->stop = false;
    for (unsigned int i = 0; i < s->nr_cpus; i++) {
        s->cpus[i]->stop_noted = false;
    }
    kvm_cpus_wake_locked(s);
    g_mutex_unlock(&s->lock);
}

/* Queue WORK on KCPU (s->lock held); false if its thread has left. */
static bool kvm_cpu_queue_work_locked(KVMCPU *kcpu, KVMWork *work)
{
    if (!kcpu->live || kcpu->quit) {
        return false;
    }
    work->done = false;
    work->left = NULL;
    g_queue_push_tail(&kcpu->work, work);
    kvm_cpu_kick_locked(kcpu);
    /* Only this vCPU wakes: a broadcast would wake every parked one. */
    g_cond_signal(&kcpu->cond);
    return true;
}

/* Wait (s->lock held) for N work items, without the caller's BQL. */
static void kvm_wait_work_locked(KVMState *s, KVMWork *const *works,
                                 unsigned int n)
{
    unsigned int left = 0;

    /* The vCPU threads count down under s->lock (run_work_locked). */
    for (unsigned int i = 0; i < n; i++) {
        if (works[i]->fn && !works[i]->done) {
            works[i]->left = &left;
            left++;
        }
    }
    while (left) {
        g_cond_wait(&s->parked_cond, &s->lock);
    }
}

static void kvm_run_work(KVMState *s, KVMCPU **cpus, KVMWork *works,
                         unsigned int n)
{
    g_autofree KVMWork **list = g_new(KVMWork *, n);

    g_mutex_lock(&s->lock);
    for (unsigned int i = 0; i < n; i++) {
        list[i] = &works[i];
        if (!kvm_cpu_queue_work_locked(cpus[i], &works[i])) {
            works[i].fn = NULL;
        }
    }
    g_mutex_unlock(&s->lock);
    kvm_cpu_work_wait(s, list, n);
}

bool kvm_cpu_work_start(KVMCPU *kcpu, KVMWork *work)
{
    KVMState *s = kcpu->s;
    bool ok;

    if (kcpu->thread_started && pthread_equal(pthread_self(), kcpu->thread)) {
        work->fn(kcpu, work->opaque);
        work->done = true;
        return true;
    }
    g_mutex_lock(&s->lock);
    ok = kvm_cpu_queue_work_locked(kcpu, work);
    g_mutex_unlock(&s->lock);
    if (!ok) {
        work->fn = NULL;
    }
    return ok;
}

void kvm_cpu_work_wait(KVMState *s, KVMWork *const *works, unsigned int n)
{
    bool had_bql = bql_locked();

    g_mutex_lock(&s->lock);
    if (had_bql) {
        bql_unlock();
    }
    kvm_wait_work_locked(s, works, n);
    g_mutex_unlock(&s->lock);
    if (had_bql) {
        bql_lock();
    }
}

bool kvm_run_on_cpu(KVMCPU *kcpu, KVMWorkFunc *fn, void *opaque)
{
    KVMWork work = {.fn = fn, .opaque = opaque};

    if (kcpu->thread_started && pthread_equal(pthread_self(), kcpu->thread)) {
        fn(kcpu, opaque);
        return true;
    }
    kvm_run_work(kcpu->s, &kcpu, &work, 1);
    return work.fn != NULL;
}

void kvm_run_on_all_cpus(KVMState *s, KVMWorkFunc *fn, void *opaque)
{
    g_autofree KVMWork *works = g_new0(KVMWork, s->nr_cpus);

    for (unsigned int i = 0; i < s->nr_cpus; i++) {
        works[i].fn = fn;
        works[i].opaque = opaque;
    }
    kvm_run_work(s, s->cpus, works, s->nr_cpus);
}

typedef struct KVMResetWork {
    const MachineState *ms;
    GError **errs; /* one per vCPU */
} KVMResetWork;

static void kvm_cpu_reset_work(KVMCPU *kcpu, void *opaque)
{
    KVMResetWork *w = opaque;

    kcpu->state_gen++;
    kvm_cpu_reset(kcpu, w->ms, &w->errs[kcpu->index]);
}

void kvm_cpus_reset(KVMState *s, const MachineState *ms)
{
    g_autofree GError **errs = g_new0(GError *, s->nr_cpus);
    KVMResetWork w = {.ms = ms, .errs = errs};

    kvm_run_on_all_cpus(s, kvm_cpu_reset_work, &w);
    g_mutex_lock(&s->lock);
    for (unsigned int i = 0; i < s->nr_cpus; i++) {
        if (errs[i]) {
            error_report("cannot reset CPU %u: %s", i, errs[i]->message);
            g_error_free(errs[i]);
        }
        s->cpus[i]->wait_reset = false;
        s->cpus[i]->halted = false;
        s->cpus[i]->cpu->halted = false;
    }
    kvm_cpus_wake_locked(s);
    g_mutex_unlock(&s->lock);
}

typedef struct KVMSnapshotWork {
    KVMRegSnapshot *snap;
    GError *err;
    bool ok;
} KVMSnapshotWork;

static void kvm_cpu_snapshot_work(KVMCPU *kcpu, void *opaque)
{
    KVMSnapshotWork *w = opaque;

    w->ok = kvm_cpu_get_snapshot(kcpu, w->snap, &w->err);
}

char *kvm_cpu_dump_registers(KVMCPU *kcpu)
{
    KVMState *s = kcpu->s;
    g_autofree KVMRegSnapshot *snap = g_new0(KVMRegSnapshot, 1);
    KVMSnapshotWork w = {.snap = snap};

    if (!kvm_run_on_cpu(kcpu, kvm_cpu_snapshot_work, &w)) {
        error_report("CPU %u has no vCPU thread", kcpu->index);
        return NULL;
    }
    if (!w.ok) {
        error_report("cannot read registers of CPU %u: %s", kcpu->index,
                     w.err->message);
        g_error_free(w.err);
        return NULL;
    }
    g_mutex_lock(&s->lock);
    snap->halted = kcpu->halted;
    g_mutex_unlock(&s->lock);
    return kvm_format_registers(snap);
}
