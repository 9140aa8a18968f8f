/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * QMP events: timestamping, and delivery to every negotiated QMP client.
 * Events raised on the main thread go out at once (so STOP precedes the
 * reply to "stop", as in QEMU); events from other threads are queued and
 * sent by the main loop. One queue keeps them in the order they were raised.
 */
#include "util/osdep.h"

#include "monitor-internal.h"

static GThread *main_thread;

/* Events raised off the main thread, oldest first; under event_lock. */
static GMutex event_lock;
static GQueue event_queue = G_QUEUE_INIT;
static bool event_flush_scheduled;

static void __attribute__((constructor)) qmp_event_init(void)
{
    /* Constructors run on the thread that later runs the main loop. */
    main_thread = g_thread_self();
}

JsonNode *qmp_event_build(const char *name, JsonNode *data, gint64 usec)
{
    JsonObject *ev = json_object_new();
    JsonObject *ts = json_object_new();
    JsonNode *node = json_node_new(JSON_NODE_OBJECT);

    if (usec < 0) {
        /* qmp-spec.rst: both members are -1 if the time is unknown. */
        json_object_set_int_member(ts, "seconds", -1);
        json_object_set_int_member(ts, "microseconds", -1);
    } else {
        json_object_set_int_member(ts, "seconds", usec / G_USEC_PER_SEC);
        json_object_set_int_member(ts, "microseconds", usec % G_USEC_PER_SEC);
    }
    json_object_set_object_member(ev, "timestamp", ts);
    json_object_set_string_member(ev, "event", name);
    if (data) {
        json_object_set_member(ev, "data", data);
    }
    json_node_take_object(node, ev);
    return node;
}

/* Take the whole queue (caller emits it in order). */
static GList *event_queue_steal(void)
{
    GList *list;

    list = event_queue.head;
    g_queue_init(&event_queue);
    event_flush_scheduled = false;
    return list;
}

static void event_emit_list(GList *list)
{
    for (GList *l = list; l; l = l->next) {
        qmp_sessions_broadcast(l->data);
        json_node_unref(l->data);
    }
    g_list_free(list);
}

void qmp_event_flush(void)
{
    GList *list;

    g_mutex_lock(&event_lock);
    list = event_queue_steal();
    g_mutex_unlock(&event_lock);
    event_emit_list(list);
}

static gboolean event_flush_cb(gpointer opaque)
{
    qmp_event_flush();
    return G_SOURCE_REMOVE;
}

void qmp_event_send(const char *name, JsonNode *data)
{
    qmp_event_send_at(name, data, g_get_real_time());
}

void qmp_event_send_at(const char *name, JsonNode *data, gint64 usec)
{
    JsonNode *ev = qmp_event_build(name, data, usec);
    GList *list = NULL;

    g_mutex_lock(&event_lock);
    if (g_thread_self() == main_thread) {
        /* Earlier events from other threads go first. */
        g_queue_push_tail(&event_queue, ev);
        list = event_queue_steal();
    } else {
        g_queue_push_tail(&event_queue, ev);
        if (!event_flush_scheduled) {
            event_flush_scheduled = true;
            /*
             * Attaching to the default context wakes the main loop. Not
             * at idle priority: a client pipelining commands keeps a
             * monitor readable and would hold events back until it stops.
             */
            g_idle_add_full(G_PRIORITY_DEFAULT, event_flush_cb, NULL, NULL);
        }
    }
    g_mutex_unlock(&event_lock);
    event_emit_list(list);
}

void qmp_event_discard_queue(void)
{
    GList *list;

    g_mutex_lock(&event_lock);
    list = event_queue_steal();
    g_mutex_unlock(&event_lock);
    g_list_free_full(list, (GDestroyNotify)json_node_unref);
}
