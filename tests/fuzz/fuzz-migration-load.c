/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Fuzz target for the incoming migration stream: bytes go to savevm_load()
 * through a memory stream, against sections shaped like real devices (a
 * UART with a FIFO, a vCPU with an MSR list, a disk controller and a
 * RAM-like live section). Also makes the seed streams and fixes CRCs.
 */
#include "util/osdep.h"

#include "../../migration/savevm.h"
#include "migration/register.h"
#include "migration/stream.h"
#include "migration/vmstate.h"
#include "util/crc32c.h"

#include "fuzz-migration.h"

/* ---- a UART ---- */

typedef struct FuzzFifo {
    uint8_t data[16];
    uint32_t head;
    uint32_t num;
} FuzzFifo;

typedef struct FuzzSerial {
    uint8_t ier, iir, lcr, mcr, lsr, msr, scr;
    uint16_t divider;
    FuzzFifo recv;
    uint32_t xmit_count;
    uint8_t xmit[16];
    bool thr_pending;
    uint64_t timeout_ns;
    bool timeout_armed;
    int chr_fd;
} FuzzSerial;

static bool fuzz_fifo_post_load(void *opaque, int version_id, GError **errp)
{
    FuzzFifo *fifo = opaque;

    if (fifo->head >= sizeof(fifo->data) || fifo->num > sizeof(fifo->data)) {
        error_setg(errp, "fifo head %u / count %u out of range", fifo->head,
                   fifo->num);
        return false;
    }
    return true;
}

static const VMStateField vmstate_fuzz_fifo_fields[] = {
    VMSTATE_BUFFER(data, FuzzFifo, 16),
    VMSTATE_UINT32(head, FuzzFifo),
    VMSTATE_UINT32(num, FuzzFifo),
    VMSTATE_END_OF_LIST(),
};

static const VMStateDescription vmstate_fuzz_fifo = {
    .name = "fifo8",
    .version_id = 1,
    .minimum_version_id = 1,
    .post_load = fuzz_fifo_post_load,
    .fields = vmstate_fuzz_fifo_fields,
};

static bool fuzz_serial_timeout_needed(void *opaque)
{
    return ((FuzzSerial *)opaque)->timeout_armed;
}

static const VMStateField vmstate_fuzz_serial_timeout_fields[] = {
    VMSTATE_UINT64(timeout_ns, FuzzSerial),
    VMSTATE_BOOL(timeout_armed, FuzzSerial),
    VMSTATE_END_OF_LIST(),
};

static const VMStateDescription vmstate_fuzz_serial_timeout = {
    .name = "isa-serial/timeout",
    .version_id = 1,
    .minimum_version_id = 1,
    .needed = fuzz_serial_timeout_needed,
    .fields = vmstate_fuzz_serial_timeout_fields,
};

static bool fuzz_serial_post_load(void *opaque, int version_id, GError **errp)
{
    FuzzSerial *s = opaque;

    if (s->divider == 0) {
        error_setg(errp, "divider 0 is invalid");
        return false;
    }
    return true;
}

static const VMStateField vmstate_fuzz_serial_fields[] = {
    VMSTATE_UINT16(divider, FuzzSerial),
    VMSTATE_UINT8(ier, FuzzSerial),
    VMSTATE_UINT8(iir, FuzzSerial),
    VMSTATE_UINT8(lcr, FuzzSerial),
    VMSTATE_UINT8(mcr, FuzzSerial),
    VMSTATE_UINT8(lsr, FuzzSerial),
    VMSTATE_UINT8(msr, FuzzSerial),
    VMSTATE_UINT8(scr, FuzzSerial),
    VMSTATE_STRUCT(recv, FuzzSerial, vmstate_fuzz_fifo, FuzzFifo),
    VMSTATE_UINT8_VARRAY(xmit, FuzzSerial, xmit_count, 16),
    VMSTATE_BOOL_V(thr_pending, FuzzSerial, 3),
    VMSTATE_FD(chr_fd, FuzzSerial),
    VMSTATE_END_OF_LIST(),
};

static const VMStateDescription *const vmstate_fuzz_serial_subsections[] = {
    &vmstate_fuzz_serial_timeout,
    NULL,
};

static const VMStateDescription vmstate_fuzz_serial = {
    .name = "isa-serial",
    .version_id = 3,
    .minimum_version_id = 2,
    .post_load = fuzz_serial_post_load,
    .fields = vmstate_fuzz_serial_fields,
    .subsections = vmstate_fuzz_serial_subsections,
};

/* ---- a vCPU ---- */

typedef struct FuzzMsr {
    uint32_t index;
    uint64_t data;
} FuzzMsr;

typedef struct FuzzSeg {
    uint64_t base;
    uint32_t limit;
    uint16_t selector;
    uint8_t type;
    bool present;
} FuzzSeg;

typedef struct FuzzCpu {
    uint64_t regs[16];
    uint64_t rip, rflags;
    FuzzSeg segs[6];
    uint32_t nmsrs;
    FuzzMsr msrs[32];
    int32_t mp_state;
    int64_t tsc_offset;
    int8_t nmi_pending;
    int16_t sipi_vector;
    uint32_t xsave_len;
    uint8_t xsave[512];
} FuzzCpu;

static const VMStateField vmstate_fuzz_msr_fields[] = {
    VMSTATE_UINT32(index, FuzzMsr),
    VMSTATE_UINT64(data, FuzzMsr),
    VMSTATE_END_OF_LIST(),
};

static const VMStateDescription vmstate_fuzz_msr = {
    .name = "msr",
    .version_id = 1,
    .minimum_version_id = 1,
    .fields = vmstate_fuzz_msr_fields,
};

static const VMStateField vmstate_fuzz_seg_fields[] = {
    VMSTATE_UINT64(base, FuzzSeg),     VMSTATE_UINT32(limit, FuzzSeg),
    VMSTATE_UINT16(selector, FuzzSeg), VMSTATE_UINT8(type, FuzzSeg),
    VMSTATE_BOOL(present, FuzzSeg),    VMSTATE_END_OF_LIST(),
};

static const VMStateDescription vmstate_fuzz_seg = {
    .name = "segment",
    .version_id = 1,
    .minimum_version_id = 1,
    .fields = vmstate_fuzz_seg_fields,
};

static bool fuzz_cpu_post_load(void *opaque, int version_id, GError **errp)
{
    FuzzCpu *cpu = opaque;

    for (uint32_t i = 0; i < cpu->nmsrs; i++) {
        if (cpu->msrs[i].index == 0) {
            error_setg(errp, "msr %u has index 0", i);
            return false;
        }
    }
    return true;
}

static bool fuzz_cpu_xsave_needed(void *opaque)
{
    return ((FuzzCpu *)opaque)->xsave_len != 0;
}

static const VMStateField vmstate_fuzz_cpu_xsave_fields[] = {
    VMSTATE_UINT8_VARRAY(xsave, FuzzCpu, xsave_len, 512),
    VMSTATE_END_OF_LIST(),
};

static const VMStateDescription vmstate_fuzz_cpu_xsave = {
    .name = "cpu/xsave",
    .version_id = 1,
    .minimum_version_id = 1,
    .needed = fuzz_cpu_xsave_needed,
    .fields = vmstate_fuzz_cpu_xsave_fields,
};

static const VMStateField vmstate_fuzz_cpu_fields[] = {
    VMSTATE_UINT64_ARRAY(regs, FuzzCpu, 16),
    VMSTATE_UINT64(rip, FuzzCpu),
    VMSTATE_UINT64(rflags, FuzzCpu),
    VMSTATE_STRUCT_ARRAY(segs, FuzzCpu, 6, vmstate_fuzz_seg, FuzzSeg),
    VMSTATE_STRUCT_VARRAY(msrs, FuzzCpu, nmsrs, 32, vmstate_fuzz_msr, FuzzMsr),
    VMSTATE_INT32(mp_state, FuzzCpu),
    VMSTATE_INT64(tsc_offset, FuzzCpu),
    VMSTATE_INT8(nmi_pending, FuzzCpu),
    VMSTATE_INT16(sipi_vector, FuzzCpu),
    VMSTATE_END_OF_LIST(),
};

static const VMStateDescription *const vmstate_fuzz_cpu_subsections[] = {
    &vmstate_fuzz_cpu_xsave,
    NULL,
};

static const VMStateDescription vmstate_fuzz_cpu = {
    .name = "cpu",
    .version_id = 1,
    .minimum_version_id = 1,
    .post_load = fuzz_cpu_post_load,
    .fields = vmstate_fuzz_cpu_fields,
    .subsections = vmstate_fuzz_cpu_subsections,
};

/* ---- a disk controller ---- */

typedef struct FuzzIde {
    uint8_t status, error, feature, nsector;
    uint16_t cylinder;
    uint32_t ident[4];
    uint32_t nlba;
    uint64_t lba[8];
    uint16_t io_buffer_index;
    uint32_t io_len;
    uint8_t io_buffer[64];
} FuzzIde;

static bool fuzz_ide_post_load(void *opaque, int version_id, GError **errp)
{
    FuzzIde *s = opaque;

    if (s->io_buffer_index > s->io_len) {
        error_setg(errp, "buffer index %u beyond length %u", s->io_buffer_index,
                   s->io_len);
        return false;
    }
    return true;
}

static const VMStateField vmstate_fuzz_ide_fields[] = {
    VMSTATE_UINT8(status, FuzzIde),
    VMSTATE_UINT8(error, FuzzIde),
    VMSTATE_UINT8(feature, FuzzIde),
    VMSTATE_UINT8(nsector, FuzzIde),
    VMSTATE_UINT16(cylinder, FuzzIde),
    VMSTATE_UINT32_ARRAY(ident, FuzzIde, 4),
    VMSTATE_UINT64_VARRAY(lba, FuzzIde, nlba, 8),
    VMSTATE_UINT16(io_buffer_index, FuzzIde),
    VMSTATE_UINT8_VARRAY(io_buffer, FuzzIde, io_len, 64),
    VMSTATE_END_OF_LIST(),
};

static const VMStateDescription vmstate_fuzz_ide = {
    .name = "ide",
    .version_id = 1,
    .minimum_version_id = 1,
    .post_load = fuzz_ide_post_load,
    .fields = vmstate_fuzz_ide_fields,
};

/* ---- a RAM-like live section ---- */

#define FUZZ_RAM_SIZE 4096
#define FUZZ_PAGE 256

typedef struct FuzzRam {
    uint8_t mem[FUZZ_RAM_SIZE];
    uint32_t next_page;
    bool setup_seen;
} FuzzRam;

enum { RAM_ZERO = 1, RAM_PAGE = 2, RAM_LIST = 3, RAM_EOS = 4 };

static bool fuzz_ram_save_setup(MigStream *f, void *opaque, GError **errp)
{
    FuzzRam *r = opaque;

    r->next_page = 0;
    mig_put_u8(f, RAM_LIST);
    mig_put_str(f, "pc.ram");
    mig_put_be64(f, FUZZ_RAM_SIZE);
    mig_put_u8(f, RAM_EOS);
    return true;
}

static void fuzz_ram_put_page(MigStream *f, FuzzRam *r, uint32_t page)
{
    const uint8_t *p = r->mem + (size_t)page * FUZZ_PAGE;
    bool zero = true;

    for (size_t i = 0; i < FUZZ_PAGE && zero; i++) {
        zero = p[i] == 0;
    }
    mig_put_u8(f, zero ? RAM_ZERO : RAM_PAGE);
    mig_put_be64(f, (uint64_t)page * FUZZ_PAGE);
    if (!zero) {
        mig_put_buffer(f, p, FUZZ_PAGE);
    }
}

static int fuzz_ram_save_iterate(MigStream *f, void *opaque, GError **errp)
{
    FuzzRam *r = opaque;

    for (int i = 0; i < 4 && r->next_page < FUZZ_RAM_SIZE / FUZZ_PAGE; i++) {
        fuzz_ram_put_page(f, r, r->next_page++);
    }
    mig_put_u8(f, RAM_EOS);
    return r->next_page == FUZZ_RAM_SIZE / FUZZ_PAGE;
}

static bool fuzz_ram_save_complete(MigStream *f, void *opaque, GError **errp)
{
    FuzzRam *r = opaque;

    /* "Dirty" at the end: the first page again. */
    fuzz_ram_put_page(f, r, 0);
    mig_put_u8(f, RAM_EOS);
    return true;
}

static bool fuzz_ram_load_setup(void *opaque, GError **errp)
{
    ((FuzzRam *)opaque)->setup_seen = false;
    return true;
}

static bool fuzz_ram_load_state(MigStream *f, void *opaque, int version_id,
                                GError **errp)
{
    FuzzRam *r = opaque;
    char name[256];

    for (;;) {
        uint8_t item = mig_get_u8(f);
        uint64_t addr;

        if (mig_stream_error(f)) {
            return false;
        }
        switch (item) {
        case RAM_EOS:
            return true;
        case RAM_LIST:
            mig_get_str(f, name);
            addr = mig_get_be64(f);
            if (strcmp(name, "pc.ram") || addr != FUZZ_RAM_SIZE) {
                error_setg(errp, "block list mismatch");
                return false;
            }
            r->setup_seen = true;
            break;
        case RAM_ZERO:
        case RAM_PAGE:
            addr = mig_get_be64(f);
            if (!r->setup_seen || addr % FUZZ_PAGE || addr >= FUZZ_RAM_SIZE) {
                error_setg(errp, "bad page address 0x%" PRIx64, addr);
                return false;
            }
            if (item == RAM_ZERO) {
                memset(r->mem + addr, 0, FUZZ_PAGE);
            } else {
                mig_get_buffer(f, r->mem + addr, FUZZ_PAGE);
            }
            break;
        default:
            error_setg(errp, "unknown item 0x%02x", item);
            return false;
        }
    }
}

static const SaveVMHandlers fuzz_ram_ops = {
    .save_setup = fuzz_ram_save_setup,
    .save_iterate = fuzz_ram_save_iterate,
    .save_complete = fuzz_ram_save_complete,
    .load_setup = fuzz_ram_load_setup,
    .load_state = fuzz_ram_load_state,
};

/* ---- the target ---- */

static FuzzSerial serial0, serial1;
static FuzzCpu cpu0;
static FuzzIde ide0;
static FuzzRam ram;
static bool last_ok;
static char *last_error;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    /* Only our sections: not those the library's constructors added. */
    savevm_unregister_all();
    savevm_register_live("ram", 0, 1, &fuzz_ram_ops, &ram);
    vmstate_register("cpu", 0, &vmstate_fuzz_cpu, &cpu0);
    vmstate_register("isa-serial", VMSTATE_INSTANCE_ID_ANY,
                     &vmstate_fuzz_serial, &serial0);
    vmstate_register("isa-serial", VMSTATE_INSTANCE_ID_ANY,
                     &vmstate_fuzz_serial, &serial1);
    vmstate_register("ide", 0, &vmstate_fuzz_ide, &ide0);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    g_autoptr(MigStream) f = mig_stream_new_mem_reader(data, size, NULL, 0);
    g_autoptr(GError) err = NULL;

    last_ok = savevm_load(f, &err);
    /* Either a success or exactly one error, never both or neither. */
    if (last_ok == (err != NULL)) {
        abort();
    }
    g_free(last_error);
    last_error = err ? g_strdup(err->message) : NULL;
    return 0;
}

bool fuzz_migration_last_ok(void)
{
    return last_ok;
}

const char *fuzz_migration_last_error(void)
{
    return last_error;
}

void fuzz_migration_fix_crcs(uint8_t *data, size_t len)
{
    size_t off = strlen(SAVEVM_MAGIC) + 4;

    while (off + 5 <= len) {
        uint32_t n = (uint32_t)data[off + 1] << 24 |
                     (uint32_t)data[off + 2] << 16 |
                     (uint32_t)data[off + 3] << 8 | data[off + 4];
        uint32_t crc;

        if (n > len - off - 5 || len - off - 5 - n < 4) {
            return;
        }
        crc = crc32c_update(0, data + off, 5 + n);
        data[off + 5 + n] = crc >> 24;
        data[off + 6 + n] = crc >> 16;
        data[off + 7 + n] = crc >> 8;
        data[off + 8 + n] = crc;
        off += 9 + n;
    }
}

#ifdef BATON_LIBFUZZER
size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max_size,
                               unsigned int seed)
{
    size = LLVMFuzzerMutate(data, size, max_size);
    /* Mostly keep checksums valid so the parsers behind them get inputs. */
    if (seed % 8) {
        fuzz_migration_fix_crcs(data, size);
    }
    return size;
}
#endif

static void seed_state(unsigned int variant)
{
    memset(&serial0, 0, sizeof(serial0));
    memset(&serial1, 0, sizeof(serial1));
    memset(&cpu0, 0, sizeof(cpu0));
    memset(&ide0, 0, sizeof(ide0));
    memset(ram.mem, 0, sizeof(ram.mem));
    serial0.divider = serial1.divider = 12;
    serial0.chr_fd = serial1.chr_fd = -1;
    cpu0.rip = 0xfff0;
    cpu0.rflags = 2;
    if (variant >= 1) {
        serial0.recv.num = 3;
        serial0.recv.head = 14;
        memcpy(serial0.recv.data, "hello, world!!!!", 16);
        serial0.xmit_count = 16;
        memset(serial0.xmit, 'x', 16);
        serial0.timeout_armed = true;
        serial0.timeout_ns = 1000000;
        cpu0.nmsrs = 5;
        for (uint32_t i = 0; i < cpu0.nmsrs; i++) {
            cpu0.msrs[i].index = 0xc0000080 + i;
            cpu0.msrs[i].data = i * 0x1111;
        }
        cpu0.xsave_len = 64;
        memset(cpu0.xsave, 0xab, 64);
        ide0.nlba = 3;
        ide0.lba[2] = 12345;
        ide0.io_len = 8;
        ide0.io_buffer_index = 4;
        for (size_t i = 0; i < sizeof(ram.mem); i += 2 * FUZZ_PAGE) {
            ram.mem[i] = (uint8_t)(i >> 8) | 1;
        }
    }
    if (variant >= 2) {
        cpu0.nmsrs = 32;
        for (uint32_t i = 0; i < cpu0.nmsrs; i++) {
            cpu0.msrs[i].index = 0x10 + i;
        }
        cpu0.xsave_len = 512;
        ide0.nlba = 8;
        ide0.io_len = 64;
        serial1.timeout_armed = true;
    }
}

GPtrArray *fuzz_migration_seeds(void)
{
    GPtrArray *seeds =
        g_ptr_array_new_with_free_func((GDestroyNotify)g_bytes_unref);

    for (unsigned int variant = 0; variant < 3; variant++) {
        g_autoptr(MigStream) w = mig_stream_new_mem_writer();
        SavevmOptions opts = {.ignore_shared = variant == 1};
        const uint8_t *data;
        size_t len;

        seed_state(variant);
        if (!savevm_save_all(w, &opts, NULL)) {
            g_error("fuzz: cannot make seed %u", variant);
        }
        data = mig_stream_mem_data(w, &len);
        g_ptr_array_add(seeds, g_bytes_new(data, len));
    }
    return seeds;
}
