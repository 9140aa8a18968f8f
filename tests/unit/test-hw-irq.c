/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Interrupt lines (qemu_irq) and their wired-OR sharing (SharedIRQ): what
 * the receiving end of a line sees as devices drive it.
 */
#include "util/osdep.h"

#include "hw/core/irq.h"

/* The far end of a line: every call, in order, as "n:level". */
typedef struct Sink {
    GString *calls;
    int level;
} Sink;

static void sink_handler(void *opaque, int n, int level)
{
    Sink *k = opaque;

    g_string_append_printf(k->calls, "%s%d:%d", k->calls->len ? " " : "", n,
                           level);
    k->level = level;
}

static Sink *sink_new(void)
{
    Sink *k = g_new0(Sink, 1);

    k->calls = g_string_new(NULL);
    return k;
}

static void sink_free(Sink *k)
{
    g_string_free(k->calls, TRUE);
    g_free(k);
}

/* A line passes each level with its pin number; NULL lines ignore it. */
static void test_line(void)
{
    Sink *k = sink_new();
    qemu_irq irq = qemu_allocate_irq(sink_handler, k, 7);

    qemu_irq_raise(irq);
    qemu_irq_lower(irq);
    qemu_set_irq(irq, 2);
    qemu_irq_pulse(irq);
    g_assert_cmpstr(k->calls->str, ==, "7:1 7:0 7:2 7:1 7:0");
    qemu_set_irq(NULL, 1);
    qemu_irq_pulse(NULL);
    qemu_free_irq(irq);
    qemu_free_irq(NULL);
    sink_free(k);
}

/* Two drivers: the line stays high until the last one lowers it. */
static void test_shared_or(void)
{
    Sink *k = sink_new();
    qemu_irq out = qemu_allocate_irq(sink_handler, k, 10);
    SharedIRQ *s = shared_irq_new(out, 2);
    qemu_irq a = shared_irq_input(s, 0), b = shared_irq_input(s, 1);

    g_assert_false(shared_irq_level(s));
    qemu_irq_raise(a);
    g_assert_cmpstr(k->calls->str, ==, "10:1");
    qemu_irq_raise(b); /* already high: nothing to say */
    g_assert_cmpstr(k->calls->str, ==, "10:1");
    qemu_irq_lower(a); /* b still asserts it */
    g_assert_cmpstr(k->calls->str, ==, "10:1");
    g_assert_true(shared_irq_level(s));
    g_assert_cmpint(k->level, ==, 1);
    qemu_irq_lower(b);
    g_assert_cmpstr(k->calls->str, ==, "10:1 10:0");
    g_assert_false(shared_irq_level(s));
    /* Order does not matter: b first, then a. */
    qemu_irq_raise(b);
    qemu_irq_raise(a);
    qemu_irq_lower(b);
    qemu_irq_lower(a);
    g_assert_cmpstr(k->calls->str, ==, "10:1 10:0 10:1 10:0");
    shared_irq_free(s);
    qemu_free_irq(out);
    sink_free(k);
}

/*
 * One driver repeating itself counts once: a second raise is not a
 * second assertion, so one lower ends it; lowering a low input is no-op.
 */
static void test_shared_repeats(void)
{
    Sink *k = sink_new();
    qemu_irq out = qemu_allocate_irq(sink_handler, k, 0);
    SharedIRQ *s = shared_irq_new(out, 3);
    qemu_irq a = shared_irq_input(s, 0), c = shared_irq_input(s, 2);

    qemu_irq_lower(a);
    g_assert_cmpstr(k->calls->str, ==, "");
    qemu_irq_raise(a);
    qemu_irq_raise(a);
    qemu_set_irq(a, 5); /* any non-zero level is high */
    g_assert_cmpstr(k->calls->str, ==, "0:1");
    qemu_irq_lower(a);
    g_assert_cmpstr(k->calls->str, ==, "0:1 0:0");
    qemu_irq_lower(a);
    g_assert_cmpstr(k->calls->str, ==, "0:1 0:0");
    /* A pulse on one input is a pulse on the output while others are low. */
    qemu_irq_pulse(c);
    g_assert_cmpstr(k->calls->str, ==, "0:1 0:0 0:1 0:0");
    /* ...and invisible while another input holds the line. */
    qemu_irq_raise(a);
    qemu_irq_pulse(c);
    g_assert_cmpstr(k->calls->str, ==, "0:1 0:0 0:1 0:0 0:1");
    qemu_irq_lower(a);
    shared_irq_free(s);
    qemu_free_irq(out);
    sink_free(k);
}

/* Each input is its own line; a single-input SharedIRQ is a pass-through. */
static void test_shared_inputs(void)
{
    Sink *k = sink_new();
    qemu_irq out = qemu_allocate_irq(sink_handler, k, 3);
    SharedIRQ *s = shared_irq_new(out, 4);
    SharedIRQ *one = shared_irq_new(out, 1);

    for (unsigned int i = 0; i < 4; i++) {
        for (unsigned int j = 0; j < i; j++) {
            g_assert_true(shared_irq_input(s, i) != shared_irq_input(s, j));
        }
    }
    g_assert_true(shared_irq_input(s, 1) == shared_irq_input(s, 1));
    qemu_irq_raise(shared_irq_input(one, 0));
    qemu_irq_lower(shared_irq_input(one, 0));
    g_assert_cmpstr(k->calls->str, ==, "3:1 3:0");
    /* Two SharedIRQs chained: the OR of ORs. */
    {
        SharedIRQ *inner = shared_irq_new(shared_irq_input(s, 3), 2);

        qemu_irq_raise(shared_irq_input(inner, 1));
        qemu_irq_raise(shared_irq_input(s, 0));
        qemu_irq_lower(shared_irq_input(inner, 1));
        qemu_irq_lower(shared_irq_input(s, 0));
        g_assert_cmpstr(k->calls->str, ==, "3:1 3:0 3:1 3:0");
        shared_irq_free(inner);
    }
    shared_irq_free(one);
    shared_irq_free(s);
    shared_irq_free(NULL);
    qemu_free_irq(out);
    sink_free(k);
}

/*
 * Drivers that come and go (PCI functions on a PIRQ) hold the line with
 * shared_irq_adjust(), alone or beside fixed inputs: the count decides.
 */
static void test_shared_adjust(void)
{
    Sink *k = sink_new();
    qemu_irq out = qemu_allocate_irq(sink_handler, k, 11);
    SharedIRQ *anon = shared_irq_new(out, 0);
    SharedIRQ *mixed;
    qemu_irq in;

    shared_irq_adjust(anon, 1);
    shared_irq_adjust(anon, 1); /* a second function: already high */
    g_assert_cmpstr(k->calls->str, ==, "11:1");
    shared_irq_adjust(anon, -1); /* the other still asserts it */
    g_assert_cmpstr(k->calls->str, ==, "11:1");
    g_assert_true(shared_irq_level(anon));
    shared_irq_adjust(anon, -1);
    g_assert_cmpstr(k->calls->str, ==, "11:1 11:0");
    shared_irq_free(anon);

    g_string_truncate(k->calls, 0);
    mixed = shared_irq_new(out, 1);
    in = shared_irq_input(mixed, 0);
    qemu_irq_raise(in);
    shared_irq_adjust(mixed, 1);
    qemu_irq_lower(in); /* the anonymous driver still holds it */
    g_assert_cmpstr(k->calls->str, ==, "11:1");
    qemu_irq_lower(in); /* a repeated lower is not a second driver leaving */
    g_assert_true(shared_irq_level(mixed));
    shared_irq_adjust(mixed, -1);
    g_assert_cmpstr(k->calls->str, ==, "11:1 11:0");
    shared_irq_free(mixed);
    qemu_free_irq(out);
    sink_free(k);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/hw/irq/line", test_line);
    g_test_add_func("/hw/irq/shared/or", test_shared_or);
    g_test_add_func("/hw/irq/shared/repeats", test_shared_repeats);
    g_test_add_func("/hw/irq/shared/inputs", test_shared_inputs);
    g_test_add_func("/hw/irq/shared/adjust", test_shared_adjust);
    return g_test_run();
}
