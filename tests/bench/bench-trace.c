/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * What a compiled-in, disabled trace point costs: a tight loop calling a
 * small function with a trace point against the same function without
 * one, with every event off, with an unrelated event on, and (for scale)
 * with the event itself on, writing to /dev/null. Prints the median
 * ns/call of RUNS runs and the ratios; never judges them.
 * Usage: bench-trace [ITERATIONS [RUNS]]
 */
#include "util/osdep.h"

#include <time.h>

#include "util/error-report.h"
#include "util/trace.h"
#include "trace/trace-list.h"
#include "trace/trace-migration.h"

/* One step of a 64-bit LCG: a few cycles of work the loop cannot skip. */
static __attribute__((noinline)) uint64_t step_plain(uint64_t x)
{
    return x * 6364136223846793005ULL + 1442695040888963407ULL;
}

static __attribute__((noinline)) uint64_t step_traced(uint64_t x)
{
    x = x * 6364136223846793005ULL + 1442695040888963407ULL;
    trace_cpr_find_fd("bench", (int)(x >> 40), (int)x);
    return x;
}

static double now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static double run_ns(uint64_t (*fn)(uint64_t), uint64_t n)
{
    volatile uint64_t sink;
    uint64_t x = 1;
    double t0 = now_ns();

    for (uint64_t i = 0; i < n; i++) {
        x = fn(x);
    }
    sink = x;
    (void)sink;
    return (now_ns() - t0) / n;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return x < y ? -1 : x > y;
}

static double median_ns(uint64_t (*fn)(uint64_t), uint64_t n,
                        unsigned int runs)
{
    g_autofree double *v = g_new(double, runs);

    for (unsigned int i = 0; i < runs; i++) {
        v[i] = run_ns(fn, n);
    }
    qsort(v, runs, sizeof(*v), cmp_double);
    return v[runs / 2];
}

int main(int argc, char **argv)
{
    uint64_t n = argc > 1 ? g_ascii_strtoull(argv[1], NULL, 10) : 20000000;
    unsigned int runs = argc > 2 ? atoi(argv[2]) : 7;
    double plain, off, other, on;

    if (!n || !runs) {
        fprintf(stderr, "usage: bench-trace [ITERATIONS [RUNS]]\n");
        return 1;
    }
    /* Warm up caches and the CPU clock before the first figure. */
    run_ns(step_plain, n);

    /* Interleaved so that drift in the machine's speed hits both. */
    plain = median_ns(step_plain, n, runs);
    off = median_ns(step_traced, n, runs);
    g_assert_true(trace_enable_events("qmp_enter", NULL));
    other = median_ns(step_traced, n, runs);
    g_assert_true(trace_enable_events("-qmp_enter", NULL));

    g_assert_true(log_set_file("/dev/null", NULL));
    g_assert_true(trace_enable_events("cpr_find_fd", NULL));
    on = median_ns(step_traced, n / 20 ? n / 20 : 1, runs);
    g_assert_true(trace_enable_events("-cpr_find_fd", NULL));
    g_assert_true(log_set_file(NULL, NULL));

    printf("trace point in a tight loop: %" PRIu64 " calls, median of %u "
           "runs\n", n, runs);
    printf("  %-38s %8.3f ns/call\n", "no trace point", plain);
    printf("  %-38s %8.3f ns/call  (ratio %.3f)\n",
           "trace point, all events off", off, off / plain);
    printf("  %-38s %8.3f ns/call  (ratio %.3f)\n",
           "trace point, another event on", other, other / plain);
    printf("  %-38s %8.1f ns/call  (ratio %.0f)\n",
           "trace point on, to /dev/null", on, on / plain);
    printf("  disabled trace point: %+.3f ns/call\n", off - plain);
    return 0;
}
