/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Memory listeners: the replay on register, the add/del/nop difference on
 * commit (a move is a del plus an add; a nested transaction notifies
 * once), listener priority order, eventfds at their address-space
 * address, unregister, global dirty logging (start/stop order, a
 * failing listener undoing the others, a late listener getting started,
 * sync reaching every section), and deferred transactions (listeners told
 * once for a run of them; readers of the map never see it stale).
 */
#include "util/osdep.h"

#include "system/memory.h"

#include "memory-test.h"

static uint64_t zero_read(void *opaque, hwaddr offset, unsigned size)
{
    return 0;
}

static const MemoryRegionOps zero_ops = {.read = zero_read};

typedef struct Fixture {
    MemoryRegion root;
    AddressSpace as;
    MemoryRegion a, b, c;
} Fixture;

static void fixture_init(Fixture *f, const char *name)
{
    memory_region_init(&f->root, NULL, name, 0x10000);
    address_space_init(&f->as, &f->root, name);
    memory_region_init_io(&f->a, NULL, &zero_ops, NULL, "a", 0x100);
    memory_region_init_io(&f->b, NULL, &zero_ops, NULL, "b", 0x100);
    memory_region_init_io(&f->c, NULL, &zero_ops, NULL, "c", 0x10);
}

static void fixture_destroy(Fixture *f)
{
    memory_region_finalize(&f->a);
    memory_region_finalize(&f->b);
    memory_region_finalize(&f->c);
    address_space_destroy(&f->as);
    memory_region_finalize(&f->root);
}

static void test_replay_and_diff(void)
{
    Fixture f;
    TextListener t;

    fixture_init(&f, "t.diff");
    memory_region_add_subregion(&f.root, 0x1000, &f.a);
    memory_region_add_subregion(&f.root, 0x2000, &f.b);

    /* Registering replays what exists. */
    text_listener_init(&t, "", 0, true);
    memory_listener_register(&t.l, &f.as);
    assert_log(&t, "begin add:a@1000-10ff add:b@2000-20ff commit");

    /* An addition: the rest is reported unchanged. */
    memory_region_add_subregion(&f.root, 0x3000, &f.c);
    assert_log(&t, "begin nop:a@1000-10ff nop:b@2000-20ff "
                   "add:c@3000-300f commit");

    /* A move is a del of the old section before an add of the new one. */
    memory_region_set_address(&f.b, 0x4000);
    assert_log(&t, "begin del:b@2000-20ff nop:a@1000-10ff "
                   "nop:c@3000-300f add:b@4000-40ff commit");

    /* An overlap splits a section: the old goes, the pieces come. */
    memory_region_del_subregion(&f.root, &f.c);
    assert_log(&t, "begin del:c@3000-300f nop:a@1000-10ff nop:b@4000-40ff "
                   "commit");
    memory_region_add_subregion_overlap(&f.root, 0x1080, &f.c, 1);
    assert_log(&t, "begin del:a@1000-10ff add:a@1000-107f add:c@1080-108f "
                   "add:a@1090-10ff+90 nop:b@4000-40ff commit");

    /* A nested transaction notifies once, at the outermost commit. */
    memory_region_transaction_begin();
    memory_region_del_subregion(&f.root, &f.c);
    memory_region_transaction_begin();
    memory_region_set_enabled(&f.b, false);
    memory_region_transaction_commit();
    assert_log(&t, "");
    memory_region_transaction_commit();
    assert_log(&t, "begin del:a@1000-107f del:c@1080-108f "
                   "del:a@1090-10ff+90 del:b@4000-40ff add:a@1000-10ff "
                   "commit");

    /* A transaction that changes nothing notifies nothing. */
    memory_region_transaction_begin();
    memory_region_transaction_commit();
    memory_region_set_enabled(&f.b, false);
    assert_log(&t, "");

    /* Unregister deletes everything the listener saw. */
    memory_region_set_enabled(&f.b, true);
    assert_log(&t, "begin nop:a@1000-10ff add:b@4000-40ff commit");
    memory_listener_unregister(&t.l);
    assert_log(&t, "begin del:b@4000-40ff del:a@1000-10ff commit");
    memory_region_set_enabled(&f.b, false);
    assert_log(&t, "");

    text_listener_free(&t);
    fixture_destroy(&f);
}

/* add/nop in ascending priority, del in descending. */
static void test_listener_priority(void)
{
    Fixture f;
    GString *shared = g_string_new(NULL);
    TextListener hi, lo;

    fixture_init(&f, "t.prio");
    text_listener_init(&hi, "H", 20, false);
    text_listener_init(&lo, "L", 5, false);
    /* Both write into one log to show the interleaving. */
    g_string_free(hi.log, TRUE);
    g_string_free(lo.log, TRUE);
    hi.log = lo.log = shared;
    memory_listener_register(&hi.l, &f.as);
    memory_listener_register(&lo.l, &f.as);
    g_string_truncate(shared, 0);

    memory_region_add_subregion(&f.root, 0x1000, &f.a);
    g_assert_cmpstr(shared->str, ==,
                    "Lbegin Hbegin Ladd:a@1000-10ff Hadd:a@1000-10ff "
                    "Lcommit Hcommit");
    g_string_truncate(shared, 0);
    memory_region_del_subregion(&f.root, &f.a);
    g_assert_cmpstr(shared->str, ==,
                    "Lbegin Hbegin Hdel:a@1000-10ff Ldel:a@1000-10ff "
                    "Lcommit Hcommit");

    memory_listener_unregister(&hi.l);
    memory_listener_unregister(&lo.l);
    g_string_free(shared, TRUE);
    fixture_destroy(&f);
}

static void test_eventfds(void)
{
    Fixture f;
    TextListener t;
    MemoryRegion bus;

    fixture_init(&f, "t.ev");
    memory_region_init(&bus, NULL, "bus", 0x1000);
    memory_region_add_subregion(&bus, 0x100, &f.a);
    memory_region_add_subregion(&f.root, 0x4000, &bus);
    memory_region_add_eventfd(&f.a, 0x10, 4, true, 0x2a, 7);

    /* Replayed at the address-space address: 0x4000 + 0x100 + 0x10. */
    text_listener_init(&t, "", 0, false);
    memory_listener_register(&t.l, &f.as);
    assert_log(&t, "begin add:a@4100-41ff evadd:a@4110-4113+10=2a/fd7 "
                   "commit");

    memory_region_add_eventfd(&f.a, 0x20, 2, false, 0, 8);
    assert_log(&t, "begin evadd:a@4120-4121+20=any:0/fd8 commit");

    /* Moving the region moves its eventfds (dels first, adds last). */
    memory_region_set_address(&bus, 0x8000);
    assert_log(&t, "begin evdel:a@4110-4113+10=2a/fd7 "
                   "evdel:a@4120-4121+20=any:0/fd8 del:a@4100-41ff "
                   "add:a@8100-81ff evadd:a@8110-8113+10=2a/fd7 "
                   "evadd:a@8120-8121+20=any:0/fd8 commit");

    memory_region_del_eventfd(&f.a, 0x10, 4, true, 0x2a, 7);
    assert_log(&t, "begin evdel:a@8110-8113+10=2a/fd7 commit");

    /* A hidden eventfd is not reported; it comes back with its region. */
    memory_region_add_subregion_overlap(&bus, 0x120, &f.c, 1);
    assert_log(&t, "begin evdel:a@8120-8121+20=any:0/fd8 del:a@8100-81ff "
                   "add:a@8100-811f add:c@8120-812f add:a@8130-81ff+30 "
                   "commit");
    memory_region_del_subregion(&bus, &f.c);
    assert_log(&t, "begin del:a@8100-811f del:c@8120-812f "
                   "del:a@8130-81ff+30 add:a@8100-81ff "
                   "evadd:a@8120-8121+20=any:0/fd8 commit");

    /* Finalizing the region drops its eventfds. */
    memory_region_finalize(&f.a);
    assert_log(&t, "begin evdel:a@8120-8121+20=any:0/fd8 del:a@8100-81ff "
                   "commit");
    text_listener_free(&t);
    memory_region_finalize(&bus);
    fixture_destroy(&f);
}

static bool count_sync(MemoryListener *ml, MemoryRegionSection *s,
                       GError **errp)
{
    tl_say(ml, "sync", s);
    return true;
}

static void test_dirty_log(void)
{
    Fixture f;
    TextListener one, two, late;
    GError *err = NULL;

    fixture_init(&f, "t.log");
    memory_region_add_subregion(&f.root, 0x1000, &f.a);
    text_listener_init(&one, "1", 1, false);
    text_listener_init(&two, "2", 2, false);
    one.l.log_sync = count_sync;
    memory_listener_register(&one.l, &f.as);
    memory_listener_register(&two.l, &f.as);
    g_string_truncate(one.log, 0);
    g_string_truncate(two.log, 0);

    /* A failing listener: the ones started before it are stopped. */
    two.log_fail = true;
    g_assert_false(memory_global_dirty_log_start(&err));
    g_assert_error(err, G_FILE_ERROR, G_FILE_ERROR_FAILED);
    g_assert_cmpstr(err->message, ==, "2 refuses");
    g_clear_error(&err);
    g_assert_false(memory_global_dirty_log_active());
    assert_log(&one, "1logstart 1logstop");
    assert_log(&two, "2logstart");

    two.log_fail = false;
    g_assert_true(memory_global_dirty_log_start(&err));
    g_assert_true(memory_global_dirty_log_active());
    assert_log(&one, "1logstart");
    assert_log(&two, "2logstart");
    /* Nested starts do not reach the listeners again. */
    g_assert_true(memory_global_dirty_log_start(&err));
    assert_log(&one, "");

    /* Sync asks for every section of the listener's address space. */
    g_assert_true(memory_global_dirty_log_sync(&err));
    assert_log(&one, "1sync:a@1000-10ff");

    /* A listener registered while logging is on starts at once. */
    text_listener_init(&late, "L", 0, false);
    memory_listener_register(&late.l, &f.as);
    assert_log(&late, "Llogstart Lbegin Ladd:a@1000-10ff Lcommit");
    memory_global_dirty_log_stop();
    assert_log(&one, "");
    memory_global_dirty_log_stop();
    assert_log(&one, "1logstop");
    assert_log(&two, "2logstop");
    assert_log(&late, "Llogstop");
    g_assert_false(memory_global_dirty_log_active());

    text_listener_free(&late);
    text_listener_free(&one);
    text_listener_free(&two);
    fixture_destroy(&f);
}

/*
 * Deferred transactions (the migration load's, one per record): a run of
 * them tells listeners once, when flushed or at the next ordinary
 * outermost commit; an access through the address space renders the
 * pending map first, unless made inside a transaction of its own.
 */
static void test_deferred(void)
{
    Fixture f;
    TextListener t;

    fixture_init(&f, "t.deferred");
    text_listener_init(&t, "", 0, true);
    memory_listener_register(&t.l, &f.as);
    assert_log(&t, "begin commit");

    /* Two "records", each mapping a region in a nested transaction. */
    memory_region_transaction_begin_deferred();
    memory_region_transaction_begin();
    memory_region_add_subregion(&f.root, 0x1000, &f.a);
    memory_region_transaction_commit();
    memory_region_transaction_commit_deferred();
    memory_region_transaction_begin_deferred();
    memory_region_add_subregion(&f.root, 0x2000, &f.b);
    memory_region_transaction_commit_deferred();
    assert_log(&t, "");
    memory_region_flush_pending();
    assert_log(&t, "begin add:a@1000-10ff add:b@2000-20ff commit");
    memory_region_flush_pending();
    assert_log(&t, "");

    /* An ordinary commit after the run carries what it left too. */
    memory_region_transaction_begin_deferred();
    memory_region_set_enabled(&f.a, false);
    memory_region_transaction_commit_deferred();
    memory_region_set_address(&f.b, 0x4000);
    assert_log(&t, "begin del:a@1000-10ff del:b@2000-20ff "
                   "add:b@4000-40ff commit");

    /*
     * A read inside the deferred transaction (a post_load's DMA) sees
     * the region mapped before it; inside a transaction of its own, the
     * map as it was when that began.
     */
    memory_region_transaction_begin_deferred();
    memory_region_add_subregion(&f.root, 0x3000, &f.c);
    memory_region_transaction_begin();
    g_assert_cmphex(address_space_ld(&f.as, 0x3000, 4), ==, 0xffffffff);
    memory_region_transaction_commit();
    assert_log(&t, "");
    g_assert_cmphex(address_space_ld(&f.as, 0x3000, 4), ==, 0);
    assert_log(&t, "begin add:c@3000-300f nop:b@4000-40ff commit");
    memory_region_transaction_commit_deferred();
    memory_region_flush_pending();
    assert_log(&t, "");

    /* Between deferred transactions a read renders first too. */
    memory_region_transaction_begin_deferred();
    memory_region_set_enabled(&f.c, false);
    memory_region_transaction_commit_deferred();
    g_assert_cmphex(address_space_ld(&f.as, 0x3000, 4), ==, 0xffffffff);
    assert_log(&t, "begin del:c@3000-300f nop:b@4000-40ff commit");

    /* A region finalized in one leaves the map before it is freed. */
    memory_region_transaction_begin_deferred();
    memory_region_finalize(&f.b);
    assert_log(&t, "begin del:b@4000-40ff commit");
    memory_region_transaction_commit_deferred();
    memory_region_init_io(&f.b, NULL, &zero_ops, NULL, "b", 0x100);

    text_listener_free(&t);
    fixture_destroy(&f);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/memory/listener/replay-diff", test_replay_and_diff);
    g_test_add_func("/memory/listener/priority", test_listener_priority);
    g_test_add_func("/memory/listener/eventfds", test_eventfds);
    g_test_add_func("/memory/listener/dirty-log", test_dirty_log);
    g_test_add_func("/memory/listener/deferred", test_deferred);
    return g_test_run();
}
