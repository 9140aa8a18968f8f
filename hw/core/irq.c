/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Interrupt lines (qemu_irq) and the wired-OR that shares one line among
 * several drivers (SharedIRQ). What a level means at the far end (KVM's
 * irqchip, the qtest protocol) is the receiver's business, not this file's.
 */
#include "util/osdep.h"

#include "hw/core/irq.h"

struct IRQState {
    qemu_irq_handler handler;
    void *opaque;
    int n;
};

qemu_irq qemu_allocate_irq(qemu_irq_handler handler, void *opaque, int n)
{
    qemu_irq irq = g_new0(struct IRQState, 1);

    g_assert(handler);
    irq->handler = handler;
    irq->opaque = opaque;
    irq->n = n;
    return irq;
}

void qemu_free_irq(qemu_irq irq)
{
    g_free(irq);
}

void qemu_set_irq(qemu_irq irq, int level)
{
    if (irq) {
        irq->handler(irq->opaque, irq->n, level);
    }
}

/*
 * Each fixed input's level is kept as a bit, and the number of drivers
 * holding the line high (fixed inputs and anonymous ones) as a count, so
 * the OR is "count > 0" whatever the order of changes.
 */
struct SharedIRQ {
    qemu_irq out;
    unsigned int n_inputs;
    unsigned int n_high;
    bool out_level;
    qemu_irq *inputs;
    bool *levels;
};

void shared_irq_adjust(SharedIRQ *s, int delta)
{
    bool out;

    g_assert(delta == 1 || delta == -1);
    g_assert(delta > 0 || s->n_high > 0);
    s->n_high += delta;
    out = s->n_high > 0;
    if (out != s->out_level) {
        s->out_level = out;
        qemu_set_irq(s->out, out);
    }
}

static void shared_irq_handler(void *opaque, int n, int level)
{
    SharedIRQ *s = opaque;
    bool high = level != 0;

    if (s->levels[n] == high) {
        return; /* a repeated raise or lower changes nothing */
    }
    s->levels[n] = high;
    shared_irq_adjust(s, high ? 1 : -1);
}

SharedIRQ *shared_irq_new(qemu_irq out, unsigned int n_inputs)
{
    SharedIRQ *s = g_new0(SharedIRQ, 1);

    g_assert(n_inputs <= (unsigned int)G_MAXINT);
    s->out = out;
    s->n_inputs = n_inputs;
    s->inputs = g_new0(qemu_irq, n_inputs);
    s->levels = g_new0(bool, n_inputs);
    for (unsigned int i = 0; i < n_inputs; i++) {
        s->inputs[i] = qemu_allocate_irq(shared_irq_handler, s, (int)i);
    }
    return s;
}

qemu_irq shared_irq_input(SharedIRQ *s, unsigned int i)
{
    g_assert(i < s->n_inputs);
    return s->inputs[i];
}

bool shared_irq_level(const SharedIRQ *s)
{
    return s->out_level;
}

void shared_irq_free(SharedIRQ *s)
{
    if (!s) {
        return;
    }
    for (unsigned int i = 0; i < s->n_inputs; i++) {
        qemu_free_irq(s->inputs[i]);
    }
    g_free(s->inputs);
    g_free(s->levels);
    g_free(s);
}
