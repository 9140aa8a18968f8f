/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * QMP query-block and HMP info block, in QEMU's shapes (qapi/block.json's
 * BlockInfo with its BlockDeviceInfo "inserted" and ImageInfo "image";
 * hmp_info_block's lines) for the -drive images. baton has raw files
 * only, no throttling, no backing chains: those members are the values
 * QEMU reports for such a drive.
 */
#include "util/osdep.h"

#include <sys/stat.h>

#include "monitor/monitor.h"
#include "system/blockdev.h"

static void json_str(JsonBuilder *b, const char *name, const char *v)
{
    json_builder_set_member_name(b, name);
    json_builder_add_string_value(b, v);
}

static void json_int(JsonBuilder *b, const char *name, gint64 v)
{
    json_builder_set_member_name(b, name);
    json_builder_add_int_value(b, v);
}

static void json_bool(JsonBuilder *b, const char *name, bool v)
{
    json_builder_set_member_name(b, name);
    json_builder_add_boolean_value(b, v);
}

/* The bytes the image occupies on the host (sparse files: less). */
static gint64 drive_actual_size(DriveInfo *drive)
{
    struct stat st;

    return fstat(drive->fd, &st) == 0 ? (gint64)st.st_blocks * 512 : 0;
}

static void block_build_image(JsonBuilder *b, DriveInfo *drive)
{
    json_builder_set_member_name(b, "image");
    json_builder_begin_object(b);
    json_str(b, "filename", drive->filename);
    json_str(b, "format", "raw");
    json_int(b, "virtual-size", (gint64)drive->size);
    json_int(b, "actual-size", drive_actual_size(drive));
    json_bool(b, "dirty-flag", false);
    json_builder_end_object(b);
}

static void block_build_inserted(JsonBuilder *b, DriveInfo *drive)
{
    static const char *const zero_limits[] = {
        "bps", "bps_rd", "bps_wr", "iops", "iops_rd", "iops_wr",
        "write_threshold",
    };

    json_builder_set_member_name(b, "inserted");
    json_builder_begin_object(b);
    json_str(b, "file", drive->filename);
    json_str(b, "node-name", drive->id);
    json_bool(b, "ro", drive->read_only);
    json_str(b, "drv", "raw");
    json_int(b, "backing_file_depth", 0);
    json_bool(b, "encrypted", false);
    json_str(b, "detect_zeroes", "off");
    for (size_t i = 0; i < G_N_ELEMENTS(zero_limits); i++) {
        json_int(b, zero_limits[i], 0);
    }
    block_build_image(b, drive);
    json_builder_set_member_name(b, "cache");
    json_builder_begin_object(b);
    json_bool(b, "writeback", true);
    json_bool(b, "direct", false);
    json_bool(b, "no-flush", false);
    json_builder_end_object(b);
    json_builder_end_object(b);
}

static bool qmp_query_block(JsonObject *args, JsonNode **ret, GError **errp)
{
    g_autoptr(JsonBuilder) b = json_builder_new();
    const GPtrArray *drives = drive_list();

    json_builder_begin_array(b);
    for (guint i = 0; i < drives->len; i++) {
        DriveInfo *drive = g_ptr_array_index(drives, i);

        json_builder_begin_object(b);
        json_str(b, "device", drive->id);
        if (drive->device) {
            json_str(b, "qdev", drive->device);
        }
        json_bool(b, "locked", false);
        json_bool(b, "removable", false);
        json_str(b, "type", "unknown");
        block_build_inserted(b, drive);
        json_builder_end_object(b);
    }
    json_builder_end_array(b);
    *ret = json_builder_get_root(b);
    return true;
}

/* hmp_info_block: "ID (NODE): FILE (raw[, read-only])" and its details. */
static void hmp_info_block(Monitor *mon, int argc, char **argv)
{
    const GPtrArray *drives = drive_list();

    for (guint i = 0; i < drives->len; i++) {
        DriveInfo *drive = g_ptr_array_index(drives, i);

        if (argc > 1 && strcmp(argv[1], drive->id)) {
            continue;
        }
        if (i) {
            monitor_printf(mon, "\n");
        }
        monitor_printf(mon, "%s (%s): %s (raw%s)\n", drive->id, drive->id,
                       drive->filename, drive->read_only ? ", read-only" : "");
        if (drive->device) {
            monitor_printf(mon, "    Attached to:      %s\n", drive->device);
        }
        monitor_printf(mon, "    Cache mode:       writeback\n");
    }
}

static const QmpCommandDef block_qmp_commands[] = {
    {"query-block", qmp_query_block},
};

static const HmpCommandDef block_hmp_info_cmds[] = {
    {"block", "[device]", "show the block devices", hmp_info_block, NULL},
};

static void __attribute__((constructor)) block_monitor_register(void)
{
    qmp_register_commands(block_qmp_commands, ARRAY_SIZE(block_qmp_commands));
    hmp_register_info_commands(block_hmp_info_cmds,
                               ARRAY_SIZE(block_hmp_info_cmds));
}
