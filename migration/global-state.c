/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The "globalstate" section: the source's run state at the switchover
 * (so the destination resumes only a guest that was running), and its
 * "globalstate/switchover" subsection, which tells the destination that
 * the source waits for READY after the EOF record (and, version 2, for
 * RESUMED after RESUMING). When to store and
 * read it is the state machine's (migration.c).
 */
#include "util/osdep.h"

#include "migration/register.h"
#include "system/runstate.h"

#include "migration-internal.h"
#include "options.h"

#define GLOBALSTATE_MAX 100

typedef struct GlobalState {
    uint32_t size;
    uint8_t runstate[GLOBALSTATE_MAX];
    /*
     * Subsection "globalstate/switchover": the handshake after EOF,
     * 1: READY/GO/RESUMING; 2: and RESUMED.
     */
    uint8_t switchover;
    /* Subsection "globalstate/events": the source's events capability. */
    uint8_t events;
} GlobalState;

static GlobalState global_state;
static bool global_state_stored;   /* source: set by the switchover */
static bool global_state_got;      /* destination */
static RunState global_state_target;

void global_state_store(RunState state)
{
    const char *name = runstate_name(state);

    global_state.size = strlen(name);
    memcpy(global_state.runstate, name, global_state.size);
    global_state_stored = true;
}

static bool global_state_pre_save(void *opaque, GError **errp)
{
    /* Saves outside a migration (snapshots) record the state as it is. */
    if (!global_state_stored) {
        global_state_store(runstate_get());
    }
    /*
     * In a live update the QMP clients stay connected and the new process
     * answers them from the switchover on, so it must also send the
     * MIGRATION events they asked the old one for.
     */
    global_state.events = migrate_events() &&
                          (MIG_MODE_BIT(migrate_mode()) & CPR_MODES_PRESERVING);
    return true;
}

static bool global_state_pre_load(void *opaque, GError **errp)
{
    global_state_got = false;
    global_state.switchover = 0;
    global_state.events = 0;
    return true;
}

static bool global_state_post_load(void *opaque, int version_id,
                                   GError **errp)
{
    char name[GLOBALSTATE_MAX + 1];

    memcpy(name, global_state.runstate, global_state.size);
    name[global_state.size] = '\0';
    for (int i = 0; i < RUN_STATE_MAX; i++) {
        if (!strcmp(runstate_name(i), name)) {
            global_state_target = i;
            global_state_got = true;
            return true;
        }
    }
    error_setg(errp, "globalstate: unknown run state '%s'", name);
    return false;
}

static const VMStateField global_state_fields[] = {
    VMSTATE_UINT8_VARRAY(runstate, GlobalState, size, GLOBALSTATE_MAX),
    VMSTATE_END_OF_LIST()
};

static bool global_state_switchover_needed(void *opaque)
{
    return global_state.switchover != 0;
}

static bool global_state_switchover_post_load(void *opaque, int version_id,
                                              GError **errp)
{
    if (global_state.switchover > 2) {
        error_setg(errp, "globalstate/switchover: invalid value %u",
                   global_state.switchover);
        return false;
    }
    return true;
}

static const VMStateField global_state_switchover_fields[] = {
    VMSTATE_UINT8(switchover, GlobalState),
    VMSTATE_END_OF_LIST()
};

/*
 * Present when the source waits for READY on the main channel after the
 * EOF record (docs/devel/migration-stream.md, "Switchover handshake").
 */
static const VMStateDescription vmstate_globalstate_switchover = {
    .name = "globalstate/switchover",
    .version_id = 1,
    .minimum_version_id = 1,
    .fields = global_state_switchover_fields,
    .needed = global_state_switchover_needed,
    .post_load = global_state_switchover_post_load,
};

static bool global_state_events_needed(void *opaque)
{
    return global_state.events != 0;
}

static bool global_state_events_post_load(void *opaque, int version_id,
                                          GError **errp)
{
    if (global_state.events > 1) {
        error_setg(errp, "globalstate/events: invalid value %u",
                   global_state.events);
        return false;
    }
    migrate_inherit_events(global_state.events);
    return true;
}

static const VMStateField global_state_events_fields[] = {
    VMSTATE_UINT8(events, GlobalState),
    VMSTATE_END_OF_LIST()
};

/* Present in live updates whose source had the events capability on. */
static const VMStateDescription vmstate_globalstate_events = {
    .name = "globalstate/events",
    .version_id = 1,
    .minimum_version_id = 1,
    .fields = global_state_events_fields,
    .needed = global_state_events_needed,
    .post_load = global_state_events_post_load,
};

static const VMStateDescription *const global_state_subsections[] = {
    &vmstate_globalstate_switchover,
    &vmstate_globalstate_events,
    NULL
};

static const VMStateDescription vmstate_globalstate = {
    .name = "globalstate",
    .version_id = 1,
    .minimum_version_id = 1,
    .fields = global_state_fields,
    .subsections = global_state_subsections,
    .pre_save = global_state_pre_save,
    .pre_load = global_state_pre_load,
    .post_load = global_state_post_load,
};

/*
 * Registered when the first migration starts, on either side, so that
 * programs that only link the library (unit tests) see no extra section.
 */
void global_state_register(void)
{
    static bool done;

    if (!done) {
        done = true;
        vmstate_register("globalstate", 0, &vmstate_globalstate,
                         &global_state);
    }
}

void global_state_set_switchover(int version)
{
    global_state.switchover = version;
}

void global_state_clear(void)
{
    global_state_stored = false;
    global_state.switchover = 0;
}

int global_state_switchover_requested(void)
{
    return global_state.switchover;
}

bool global_state_received(RunState *target)
{
    *target = global_state_target;
    return global_state_got;
}
