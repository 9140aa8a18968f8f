/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * vmstate: device and machine state described as static tables of typed
 * fields, saved and loaded by one generic walker (migration/vmstate.c).
 *
 * Loading never trusts the stream: every variable count is checked against
 * the field's declared maximum before anything is written, versions are
 * checked against the table, and errors name the description and field
 * ("isa-serial: field 'fifo_count': 300 exceeds maximum 16"). post_load
 * hooks check invariants and recompute derived state.
 *
 * Wire encoding (docs/devel/migration-stream.md): fields in table order,
 * integers big-endian, bools as one byte 0/1, variable arrays preceded by
 * their u32 count, nested structs inline, then subsections: for each one
 * that is needed, 0x01, its name (u8 length + bytes), its version (u32)
 * and its fields; a 0x00 byte ends the list.
 */
#ifndef BATON_MIGRATION_VMSTATE_H
#define BATON_MIGRATION_VMSTATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <glib.h>

typedef struct MigStream MigStream;
typedef struct VMStateDescription VMStateDescription;

typedef enum VMStateType {
    VMS_UINT8,
    VMS_UINT16,
    VMS_UINT32,
    VMS_UINT64,
    VMS_INT8,
    VMS_INT16,
    VMS_INT32,
    VMS_INT64,
    VMS_BOOL,
    VMS_STRUCT, /* nested description (.vmsd) */
    VMS_FD,     /* int: a descriptor, passed out of band (SCM_RIGHTS) */
} VMStateType;

typedef enum VMStateFieldFlags {
    VMS_ARRAY = 1 << 0,  /* .num elements */
    VMS_VARRAY = 1 << 1, /* uint32_t count at .count_offset, at most .num */
    /*
     * The field is a pointer to the elements, which its owner allocated
     * with room for .num of them before any save or load (the bound the
     * loader checks is still .num).
     */
    VMS_POINTER = 1 << 2,
} VMStateFieldFlags;

typedef struct VMStateField {
    const char *name;
    VMStateType type;
    unsigned int flags;
    size_t offset;
    size_t elem_size;     /* bytes per element in memory */
    uint32_t num;         /* VMS_ARRAY: count; VMS_VARRAY: maximum */
    size_t count_offset;  /* VMS_VARRAY: offset of the uint32_t count */
    const VMStateDescription *vmsd; /* VMS_STRUCT */
    int version_id;       /* first version that carries the field (0: all) */
} VMStateField;

struct VMStateDescription {
    const char *name;
    int version_id;
    int minimum_version_id;
    const VMStateField *fields; /* ends with VMSTATE_END_OF_LIST() */
    /* NULL-terminated; each has .needed */
    const VMStateDescription *const *subsections;
    /* Subsections only: whether to send it for this object. */
    bool (*needed)(void *opaque);
    bool (*pre_save)(void *opaque, GError **errp);
    bool (*pre_load)(void *opaque, GError **errp);
    /* Check invariants and recompute derived state; false rejects the load. */
    bool (*post_load)(void *opaque, int version_id, GError **errp);
    /*
     * Sections only: the saver flushes the stream right after this one,
     * so that the destination starts on it (a post_load that hands work
     * to other threads, such as the vCPU state's) while the rest is saved.
     */
    bool flush_after;
    /*
     * Sections only, destination: an incoming migration starts listening
     * for the source (not when it reads a channel at once, such as
     * cpr-exec's file): in a live update, while the guest still runs on
     * the source. For what
     * post_load can prepare ahead, such as reading the state it will
     * overwrite so as to write only what differs. Cannot fail.
     */
    void (*load_prepare)(void *opaque);
};

/*
 * Compile-time check that FIELD of STRUCT has type TYPE; evaluates to 0.
 * Used inside the field macros so a wrong type is a build error.
 */
#define VMSTATE_TYPE_CHECK(st, field, type)                                 \
    (0 * sizeof(char[__builtin_types_compatible_p(                          \
                         __typeof__(((st *)0)->field), type) ? 1 : -1]))
#define VMSTATE_ARRAY_CHECK(st, field, type, n)                             \
    (0 * sizeof(char[__builtin_types_compatible_p(                          \
                         __typeof__(((st *)0)->field), type[n]) ? 1 : -1]))

#define VMSTATE_SINGLE_V(f, st, vtype, ctype, v)                            \
    {                                                                       \
        .name = #f, .type = (vtype),                                        \
        .offset = offsetof(st, f) + VMSTATE_TYPE_CHECK(st, f, ctype),       \
        .elem_size = sizeof(ctype), .version_id = (v),                      \
    }
#define VMSTATE_ARRAY_V(f, st, n, vtype, ctype, v)                          \
    {                                                                       \
        .name = #f, .type = (vtype), .flags = VMS_ARRAY,                    \
        .offset = offsetof(st, f) + VMSTATE_ARRAY_CHECK(st, f, ctype, n),   \
        .elem_size = sizeof(ctype), .num = (n), .version_id = (v),          \
    }
/* Variable array F of CTYPE whose uint32_t count is field CNT, at most MAX. */
#define VMSTATE_VARRAY_V(f, st, cnt, max, vtype, ctype, v)                  \
    {                                                                       \
        .name = #f, .type = (vtype), .flags = VMS_VARRAY,                   \
        .offset = offsetof(st, f) +                                         \
                  VMSTATE_ARRAY_CHECK(st, f, ctype, max),                   \
        .count_offset = offsetof(st, cnt) +                                 \
                        VMSTATE_TYPE_CHECK(st, cnt, uint32_t),              \
        .elem_size = sizeof(ctype), .num = (max), .version_id = (v),        \
    }

#define VMSTATE_UINT8_V(f, st, v) VMSTATE_SINGLE_V(f, st, VMS_UINT8, uint8_t, v)
#define VMSTATE_UINT16_V(f, st, v) VMSTATE_SINGLE_V(f, st, VMS_UINT16, uint16_t, v)
#define VMSTATE_UINT32_V(f, st, v) VMSTATE_SINGLE_V(f, st, VMS_UINT32, uint32_t, v)
#define VMSTATE_UINT64_V(f, st, v) VMSTATE_SINGLE_V(f, st, VMS_UINT64, uint64_t, v)
#define VMSTATE_INT8_V(f, st, v) VMSTATE_SINGLE_V(f, st, VMS_INT8, int8_t, v)
#define VMSTATE_INT16_V(f, st, v) VMSTATE_SINGLE_V(f, st, VMS_INT16, int16_t, v)
#define VMSTATE_INT32_V(f, st, v) VMSTATE_SINGLE_V(f, st, VMS_INT32, int32_t, v)
#define VMSTATE_INT64_V(f, st, v) VMSTATE_SINGLE_V(f, st, VMS_INT64, int64_t, v)
#define VMSTATE_BOOL_V(f, st, v) VMSTATE_SINGLE_V(f, st, VMS_BOOL, bool, v)
#define VMSTATE_FD_V(f, st, v) VMSTATE_SINGLE_V(f, st, VMS_FD, int, v)

#define VMSTATE_UINT8(f, st) VMSTATE_UINT8_V(f, st, 0)
#define VMSTATE_UINT16(f, st) VMSTATE_UINT16_V(f, st, 0)
#define VMSTATE_UINT32(f, st) VMSTATE_UINT32_V(f, st, 0)
#define VMSTATE_UINT64(f, st) VMSTATE_UINT64_V(f, st, 0)
#define VMSTATE_INT8(f, st) VMSTATE_INT8_V(f, st, 0)
#define VMSTATE_INT16(f, st) VMSTATE_INT16_V(f, st, 0)
#define VMSTATE_INT32(f, st) VMSTATE_INT32_V(f, st, 0)
#define VMSTATE_INT64(f, st) VMSTATE_INT64_V(f, st, 0)
#define VMSTATE_BOOL(f, st) VMSTATE_BOOL_V(f, st, 0)
#define VMSTATE_FD(f, st) VMSTATE_FD_V(f, st, 0)

/* A fixed byte buffer (uint8_t f[n]). */
#define VMSTATE_BUFFER(f, st, n) VMSTATE_ARRAY_V(f, st, n, VMS_UINT8, uint8_t, 0)
#define VMSTATE_UINT8_ARRAY(f, st, n) VMSTATE_ARRAY_V(f, st, n, VMS_UINT8, uint8_t, 0)
#define VMSTATE_UINT16_ARRAY(f, st, n) VMSTATE_ARRAY_V(f, st, n, VMS_UINT16, uint16_t, 0)
#define VMSTATE_UINT32_ARRAY(f, st, n) VMSTATE_ARRAY_V(f, st, n, VMS_UINT32, uint32_t, 0)
#define VMSTATE_UINT64_ARRAY(f, st, n) VMSTATE_ARRAY_V(f, st, n, VMS_UINT64, uint64_t, 0)
/* uint8_t f[max] whose used length is the uint32_t field cnt. */
#define VMSTATE_UINT8_VARRAY(f, st, cnt, max) \
    VMSTATE_VARRAY_V(f, st, cnt, max, VMS_UINT8, uint8_t, 0)
/* Like VMSTATE_UINT8_VARRAY, F being a uint8_t * to MAX bytes. */
#define VMSTATE_UINT8_VARRAY_POINTER(f, st, cnt, max)                     \
    {                                                                     \
        .name = #f, .type = VMS_UINT8, .flags = VMS_VARRAY | VMS_POINTER, \
        .offset = offsetof(st, f) + VMSTATE_TYPE_CHECK(st, f, uint8_t *), \
        .count_offset =                                                   \
            offsetof(st, cnt) + VMSTATE_TYPE_CHECK(st, cnt, uint32_t),    \
        .elem_size = 1, .num = (max),                                     \
    }
#define VMSTATE_UINT64_VARRAY(f, st, cnt, max) \
    VMSTATE_VARRAY_V(f, st, cnt, max, VMS_UINT64, uint64_t, 0)

/* A nested struct of type T described by VMSD. */
#define VMSTATE_STRUCT_V(f, st, d, T, v)                                    \
    {                                                                       \
        .name = #f, .type = VMS_STRUCT, .vmsd = &(d),                       \
        .offset = offsetof(st, f) + VMSTATE_TYPE_CHECK(st, f, T),           \
        .elem_size = sizeof(T), .version_id = (v),                          \
    }
#define VMSTATE_STRUCT(f, st, d, T) VMSTATE_STRUCT_V(f, st, d, T, 0)
#define VMSTATE_STRUCT_ARRAY(f, st, n, d, T)                                \
    {                                                                       \
        .name = #f, .type = VMS_STRUCT, .flags = VMS_ARRAY, .vmsd = &(d),   \
        .offset = offsetof(st, f) + VMSTATE_ARRAY_CHECK(st, f, T, n),       \
        .elem_size = sizeof(T), .num = (n),                                 \
    }
#define VMSTATE_STRUCT_VARRAY(f, st, cnt, max, d, T)                        \
    {                                                                       \
        .name = #f, .type = VMS_STRUCT, .flags = VMS_VARRAY, .vmsd = &(d),  \
        .offset = offsetof(st, f) + VMSTATE_ARRAY_CHECK(st, f, T, max),     \
        .count_offset = offsetof(st, cnt) +                                 \
                        VMSTATE_TYPE_CHECK(st, cnt, uint32_t),              \
        .elem_size = sizeof(T), .num = (max),                               \
    }

#define VMSTATE_END_OF_LIST() { .name = NULL }

/*
 * Save OPAQUE's state per VMSD (pre_save first). Returns false + errp if a
 * hook failed or the stream has an error.
 */
bool vmstate_save(MigStream *f, const VMStateDescription *vmsd, void *opaque,
                  GError **errp);
/*
 * Load state written with VERSION_ID (checked against the description's
 * range) into OPAQUE. On failure OPAQUE may be partly written: callers
 * discard the object or the whole incoming machine, never run it.
 */
bool vmstate_load(MigStream *f, const VMStateDescription *vmsd, void *opaque,
                  int version_id, GError **errp);

#endif
