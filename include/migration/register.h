/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Registration of migration sections (migration/savevm.c).
 *
 * Two kinds:
 *  - vmstate sections: a VMStateDescription + object, saved once with the
 *    vCPUs stopped (devices, vCPU registers, irqchip, clocks);
 *  - live sections (RAM, later VFIO): handlers that send data while the
 *    guest runs (setup, iterate, pending) and the rest after it stops
 *    (complete).
 *
 * Sections are saved in registration order, live ones first; the
 * destination, built from the same command line, registers the same
 * sections and matches each record by (idstr, instance_id).
 */
#ifndef BATON_MIGRATION_REGISTER_H
#define BATON_MIGRATION_REGISTER_H

#include <stdbool.h>
#include <stdint.h>
#include <glib.h>

#include "migration/vmstate.h"

typedef struct MigStream MigStream;

typedef struct SaveVMHandlers {
    /* Source, guest running: start (e.g. enable dirty logging, send block list). */
    bool (*save_setup)(MigStream *f, void *opaque, GError **errp);
    /*
     * Source, guest running, migration thread, big lock NOT held: send one
     * bounded chunk (at most ~256 KiB) into F. Returns 1 when nothing is
     * left in the current pass, 0 when more remains, -1 on error.
     */
    int (*save_iterate)(MigStream *f, void *opaque, GError **errp);
    /*
     * Source: bytes still to send. SYNC asks for a fresh dirty sync first
     * (called with the big lock held).
     */
    uint64_t (*save_pending)(void *opaque, bool sync);
    /*
     * Source, vCPUs stopped: everything that is left. Each call's output
     * becomes one record (at most 16 MiB): a handler that may write more
     * calls savevm_live_split() between self-contained pieces.
     */
    bool (*save_complete)(MigStream *f, void *opaque, GError **errp);
    /* Source: after success, failure or cancel. */
    void (*save_cleanup)(void *opaque);
    /*
     * Source, optional: the version SECTION_START names, when what will be
     * sent lets an older format do (at most the registered version).
     */
    int (*save_version)(void *opaque);

    /* Destination: before the first record / after the last one. */
    bool (*load_setup)(void *opaque, GError **errp);
    void (*load_cleanup)(void *opaque);
    /*
     * Destination, big lock held: one record of this section (F holds
     * exactly its payload; anything left unread is an error). VERSION_ID
     * is the one sent in the section's SECTION_START.
     */
    bool (*load_state)(MigStream *f, void *opaque, int version_id,
                       GError **errp);
    /*
     * Destination: SECTION_PART and SECTION_END records are handed to
     * load_state as they arrive, read in place from the channel, without
     * the big lock, and before their checksum is verified (a mismatch
     * then fails the load). Only for a section whose loaded data is of
     * no use to anyone if the load fails, and whose load_state touches
     * nothing but its own state: guest RAM (a failed load never runs the
     * guest). Spares a copy of every byte and the wait for the lock.
     */
    bool load_streamed;

    /* Optional: false skips the section in this migration entirely. */
    bool (*is_active)(void *opaque);
    /*
     * Source, optional, after save_setup: with the switchover-ack
     * capability, true means the destination will acknowledge this
     * section once (migration_switchover_approve()), and the source does
     * not switch over before every such acknowledgement arrived.
     */
    bool (*switchover_ack_needed)(void *opaque);
    /*
     * A section that exists only at the switchover: nothing at setup or
     * while the guest runs; with the vCPUs stopped, is_active() decides
     * whether it goes out at all: then a SECTION_START holding what
     * save_complete wrote and an empty SECTION_END (load_state sees both;
     * the second has no bytes). So a destination that never gets it is
     * fine, and one that does not know it fails only when it is sent.
     */
    bool switchover_only;
} SaveVMHandlers;

/* INSTANCE_ID -1: the next free instance number for IDSTR. */
#define VMSTATE_INSTANCE_ID_ANY (-1)

/* Register a live section. Duplicate (idstr, instance) is a bug (asserted). */
void savevm_register_live(const char *idstr, int instance_id, int version_id,
                          const SaveVMHandlers *ops, void *opaque);
/* Register a vmstate section for OPAQUE. */
void vmstate_register(const char *idstr, int instance_id,
                      const VMStateDescription *vmsd, void *opaque);
/* Whether a section (IDSTR, INSTANCE_ID) is registered. */
bool vmstate_section_registered(const char *idstr, int instance_id);
/* Remove whatever was registered for OPAQUE (either kind). */
void vmstate_unregister_opaque(void *opaque);

/*
 * For live handlers while they write into F (inside save_setup,
 * save_iterate or save_complete): what was written so far parses on its
 * own. If it has grown past 1 MiB it is sent now as a record of its own
 * (SECTION_PART; the destination calls load_state for it) and F starts
 * the next record empty. Lets one call send more than a record's 16 MiB
 * limit. Returns false if the stream has failed (sticky error on F).
 */
bool savevm_live_split(MigStream *f);

/*
 * A member of query-migrate's reply for the outgoing migration (QEMU's
 * "vfio"), after "ram": FN returns its value, or NULL to leave it out.
 * BEGIN (optional) runs as each migration starts (counters to zero).
 * Main thread, big lock held.
 */
typedef struct _JsonNode JsonNode;
typedef JsonNode *(*MigrationInfoFn)(void);
void migration_add_info(const char *member, MigrationInfoFn fn,
                        void (*begin)(void));

#endif
