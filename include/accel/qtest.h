/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The qtest accelerator ("-accel qtest": the guest never runs) and QEMU's
 * qtest line protocol ("-qtest CHARDEV"), which lets a test program read
 * and write guest memory and I/O ports, move the virtual clock and watch
 * interrupt lines.
 *
 * Threading: everything here runs with the big lock held (the chardev
 * callbacks already do; devices raise IRQs under the lock).
 */
#ifndef BATON_ACCEL_QTEST_H
#define BATON_ACCEL_QTEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <glib.h>

/* Interrupt lines (GSIs) the protocol reports; QEMU's limit. */
#define QTEST_MAX_IRQ 256

/* Largest SIZE one read/write/b64read/b64write/memset request may name. */
#define QTEST_MAX_XFER (16u * 1024 * 1024)

/*
 * Start the protocol server on SPEC (as for -qtest: "unix:PATH",
 * "chardev:ID", "stdio", ...; the chardev gets id "qtest"). LOG_PATH is
 * -qtest-log: every request and reply is appended to that file as
 * "[R +T.TTTTTT] line" / "[S +T.TTTTTT] line"; NULL or "none" means no
 * log. Only one server may exist. False + errp if the chardev or the log
 * file cannot be opened.
 */
bool qtest_server_init(const char *spec, const char *log_path, GError **errp);
/* Detach from the chardev and close the log (at exit); safe to repeat. */
void qtest_server_cleanup(void);

/* True when the current accelerator is qtest. */
bool qtest_enabled(void);

/*
 * One protocol conversation, independent of any chardev so that tests can
 * drive it with strings. SEND receives each outgoing line, '\n' included
 * (replies and the asynchronous "IRQ raise N" / "IRQ lower N", and
 * "IRQ msi ADDR DATA" after irq_intercept_msi).
 */
typedef struct QtestSession QtestSession;
typedef void (*QtestSendFn)(void *opaque, const char *line);

QtestSession *qtest_session_new(QtestSendFn send, void *opaque);
void qtest_session_free(QtestSession *s);
/*
 * Log requests and replies to FP (not owned; NULL stops logging). The
 * timestamps count from session creation or the last OPENED event.
 */
void qtest_session_set_log(QtestSession *s, FILE *fp);
/*
 * Append received bytes and execute every complete '\n'-terminated line.
 * A line longer than any valid request is discarded whole and answered
 * with one FAIL.
 */
void qtest_session_feed(QtestSession *s, const uint8_t *buf, size_t len);
/* Execute one request line (without its '\n'); exactly one reply follows. */
void qtest_session_handle_line(QtestSession *s, const char *line);
/* A client connected: restart the log clock and the reported IRQ levels. */
void qtest_session_opened(QtestSession *s);
/* The client went away: drop any partial line. */
void qtest_session_closed(QtestSession *s);

/*
 * An interrupt line changed level: each session that intercepts the
 * interrupt controller's inputs reports it if it differs from what it
 * reported last. The qtest accelerator's irqchip set_gsi calls this.
 */
void qtest_irq_notify(unsigned int gsi, bool level);
/*
 * An MSI was signalled (a write to the MSI window): each session that
 * opted in with irq_intercept_msi reports "IRQ msi 0xADDR 0xDATA"; other
 * sessions, QEMU's clients among them, never see these lines.
 */
void qtest_msi_notify(uint64_t address, uint32_t data);

#endif
