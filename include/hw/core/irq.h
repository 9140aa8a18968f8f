/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Interrupt lines between devices and interrupt controllers (QEMU's
 * qemu_irq). A line is a handler with an opaque and a pin number; the
 * device that drives it calls qemu_set_irq() with the new level and the
 * receiver (the machine's GSI inputs, a SharedIRQ, a test) decides what a
 * level means. Lines carry levels, not edges: a receiver that wants edges
 * compares with the level it saw last.
 *
 * SharedIRQ is a wired-OR: several drivers share one output, which is high
 * while any of them holds it high. It counts the drivers holding it high,
 * so one device lowering its input leaves the output high for the others.
 * Drivers are either fixed inputs (qemu_irq lines from shared_irq_input())
 * or, where they come and go and track their own level (PCI functions on
 * a PIRQ), anonymous ones that call shared_irq_adjust().
 *
 * Threading: under the big lock, like the devices that drive the lines.
 */
#ifndef BATON_HW_CORE_IRQ_H
#define BATON_HW_CORE_IRQ_H

#include <stdbool.h>

typedef struct IRQState *qemu_irq;
typedef void (*qemu_irq_handler)(void *opaque, int n, int level);

/* A line whose level changes call HANDLER(OPAQUE, N, level). Never NULL. */
qemu_irq qemu_allocate_irq(qemu_irq_handler handler, void *opaque, int n);
/* Free a line from qemu_allocate_irq(); NULL is allowed. */
void qemu_free_irq(qemu_irq irq);

/*
 * Drive IRQ to LEVEL (0 low, non-zero high; passed on as given). A NULL
 * line (a device not wired to anything) ignores it, as in QEMU.
 */
void qemu_set_irq(qemu_irq irq, int level);

static inline void qemu_irq_raise(qemu_irq irq)
{
    qemu_set_irq(irq, 1);
}

static inline void qemu_irq_lower(qemu_irq irq)
{
    qemu_set_irq(irq, 0);
}

/* A high-then-low pulse: an edge for edge-triggered receivers. */
static inline void qemu_irq_pulse(qemu_irq irq)
{
    qemu_set_irq(irq, 1);
    qemu_set_irq(irq, 0);
}

/*
 * Wired-OR of N_INPUTS lines onto OUT (not owned). The output starts low
 * and OUT is driven only when the OR of the inputs' levels changes, so
 * repeated raises of one input, or a second input raising an already
 * high line, call OUT's handler once. N_INPUTS may be 0 for a line
 * driven only through shared_irq_adjust().
 */
typedef struct SharedIRQ SharedIRQ;

SharedIRQ *shared_irq_new(qemu_irq out, unsigned int n_inputs);
/* Input I (< n_inputs), owned by S: give one to each device. */
qemu_irq shared_irq_input(SharedIRQ *s, unsigned int i);
/*
 * One more (DELTA +1) or one fewer (-1) anonymous driver holding S high;
 * each driver remembers its own level and calls this only when it
 * changes (the count never goes below zero: asserted).
 */
void shared_irq_adjust(SharedIRQ *s, int delta);
/* The OR as last driven onto the output (for tests and post_load). */
bool shared_irq_level(const SharedIRQ *s);
/*
 * Free S and its inputs; the output is left at its last level (lower
 * the inputs first if the line must end low). NULL is allowed.
 */
void shared_irq_free(SharedIRQ *s);

#endif
