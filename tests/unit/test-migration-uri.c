/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Migration addresses in all of QEMU's spellings (URIs, the QMP channel
 * list, -incoming JSON and dotted keys) and the parameter / capability
 * checks, with QEMU's error wording; and the buffers of the sockets a
 * unix: channel connects and accepts.
 */
#include "util/osdep.h"

#include <sys/socket.h>

#include "../../migration/channel.h"
#include "../../migration/options.h"

static MigChannel *uri_ok(const char *uri)
{
    g_autoptr(GError) err = NULL;
    MigChannel *ch = mig_uri_parse(uri, &err);

    g_assert_no_error(err);
    g_assert_nonnull(ch);
    g_assert_cmpint(ch->type, ==, MIG_CHANNEL_MAIN);
    return ch;
}

static void uri_err(const char *uri, const char *msg)
{
    g_autoptr(GError) err = NULL;

    g_assert_null(mig_uri_parse(uri, &err));
    g_assert_nonnull(err);
    g_assert_cmpstr(err->message, ==, msg);
}

static void test_uri_sockets(void)
{
    g_autoptr(MigChannel) u = uri_ok("unix:/tmp/mig.sock");
    g_autoptr(MigChannel) t = uri_ok("tcp:127.0.0.1:4446");
    g_autoptr(MigChannel) t6 = uri_ok("tcp:[::1]:0,ipv6");
    g_autoptr(MigChannel) any = uri_ok("tcp::4446");
    g_autoptr(MigChannel) fd = uri_ok("fd:migfd");

    g_assert_cmpint(u->addr.transport, ==, MIG_TRANSPORT_SOCKET);
    g_assert_cmpint(u->addr.sock_type, ==, MIG_SOCKET_UNIX);
    g_assert_cmpstr(u->addr.path, ==, "/tmp/mig.sock");
    g_assert_cmpint(t->addr.sock_type, ==, MIG_SOCKET_INET);
    g_assert_cmpstr(t->addr.host, ==, "127.0.0.1");
    g_assert_cmpstr(t->addr.port, ==, "4446");
    g_assert_cmpstr(t6->addr.host, ==, "::1");
    g_assert_cmpstr(t6->addr.port, ==, "0");
    g_assert_true(t6->addr.has_ipv6 && t6->addr.ipv6);
    g_assert_cmpstr(any->addr.host, ==, "");
    g_assert_cmpint(fd->addr.sock_type, ==, MIG_SOCKET_FD);
    g_assert_cmpstr(fd->addr.fd_str, ==, "migfd");

    uri_err("tcp:localhost", "error parsing address 'localhost'");
    uri_err("tcp:localhost:", "error parsing address 'localhost:'");
    uri_err("tcp:[::1:5", "error parsing IPv6 address '[::1:5'");
    uri_err("tcp:h:1,bogus", "error parsing address 'h:1,bogus'");
}

/*
 * What a socket's buffer reads back after asking for SIZE: twice the
 * size granted, which is SIZE when forced (CAP_NET_ADMIN), else SIZE
 * capped by net.core.{w,r}mem_max.
 */
static int expected_buffer(int force_opt, const char *max_path, int size)
{
    g_autofree char *text = NULL;
    int sv[2], got, max;
    bool forced;

    g_assert_cmpint(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), ==,
                    0);
    forced = setsockopt(sv[0], SOL_SOCKET, force_opt, &size, sizeof(size)) == 0;
    close(sv[0]);
    close(sv[1]);
    if (forced) {
        got = size;
    } else {
        g_assert_true(g_file_get_contents(max_path, &text, NULL, NULL));
        max = atoi(text);
        got = MIN(size, max);
    }
    return 2 * got;
}

static int sockopt(int fd, int opt)
{
    int v = 0;
    socklen_t len = sizeof(v);

    g_assert_cmpint(getsockopt(fd, SOL_SOCKET, opt, &v, &len), ==, 0);
    return v;
}

/* Both ends of a unix: channel ask for 4 MiB socket buffers each way. */
static void test_socket_buffers(void)
{
    g_autofree char *dir = g_dir_make_tmp("mig-buf-XXXXXX", NULL);
    g_autofree char *uri = g_strdup_printf("unix:%s/mig.sock", dir);
    g_autofree char *path = g_strdup_printf("%s/mig.sock", dir);
    g_autoptr(MigChannel) ch = uri_ok(uri);
    g_autoptr(GError) err = NULL;
    MigConn out = MIG_CONN_INIT, in = MIG_CONN_INIT;
    MigListener *l = mig_listener_new(&ch->addr, &err);
    int want_snd = expected_buffer(SO_SNDBUFFORCE,
                                   "/proc/sys/net/core/wmem_max", 4 << 20);
    int want_rcv = expected_buffer(SO_RCVBUFFORCE,
                                   "/proc/sys/net/core/rmem_max", 4 << 20);

    g_assert_no_error(err);
    g_assert_true(mig_socket_connect(&ch->addr, -1, &out, &err));
    g_assert_no_error(err);
    /* The connection is queued by now: accept does not wait. */
    g_assert_true(mig_listener_accept(l, &in, &err));
    g_assert_no_error(err);
    g_assert_true(out.can_pass_fds && in.can_pass_fds);
    for (int i = 0; i < 2; i++) {
        int fd = i ? in.fd : out.fd;

        g_assert_cmpint(sockopt(fd, SO_SNDBUF), ==, want_snd);
        g_assert_cmpint(sockopt(fd, SO_RCVBUF), ==, want_rcv);
    }
    close(out.fd);
    close(in.fd);
    mig_listener_free(l);
    unlink(path);
    rmdir(dir);
}

static void test_uri_exec_file(void)
{
    g_autoptr(MigChannel) e = uri_ok("exec:cat > /tmp/x");
    g_autoptr(MigChannel) f = uri_ok("file:/tmp/state");
    g_autoptr(MigChannel) fo = uri_ok("file:/tmp/state,offset=4K");
    g_autoptr(MigChannel) fs = uri_ok("file:/dev/fdset/3,offset=0x1000");

    g_assert_cmpint(e->addr.transport, ==, MIG_TRANSPORT_EXEC);
    g_assert_cmpint(g_strv_length(e->addr.args), ==, 3);
    g_assert_cmpstr(e->addr.args[0], ==, "/bin/sh");
    g_assert_cmpstr(e->addr.args[1], ==, "-c");
    g_assert_cmpstr(e->addr.args[2], ==, "cat > /tmp/x");
    g_assert_cmpint(f->addr.transport, ==, MIG_TRANSPORT_FILE);
    g_assert_cmpstr(f->addr.filename, ==, "/tmp/state");
    g_assert_cmpuint(f->addr.offset, ==, 0);
    g_assert_cmpstr(fo->addr.filename, ==, "/tmp/state");
    g_assert_cmpuint(fo->addr.offset, ==, 4096);
    g_assert_cmpstr(fs->addr.filename, ==, "/dev/fdset/3");
    g_assert_cmpuint(fs->addr.offset, ==, 0x1000);

    uri_err("file:/x,offset=12Q", "file URI has bad offset 12Q: "
            "Invalid argument");
    uri_err("ftp:/x", "unknown migration protocol: ftp:/x");
    uri_err("/tmp/x", "unknown migration protocol: /tmp/x");
}

static void test_uri_is_uri(void)
{
    g_assert_true(mig_is_uri("unix:/x"));
    g_assert_true(mig_is_uri("exec:a:b"));
    g_assert_false(mig_is_uri("defer"));
    g_assert_false(mig_is_uri("channel-type=main,addr.transport=exec"));
    g_assert_false(mig_is_uri("{\"channel-type\": \"main\"}"));
    g_assert_false(mig_is_uri("1x:y"));
}

static void test_uri_to_string(void)
{
    static const char *const uris[] = {
        "unix:/tmp/s", "tcp:10.0.0.1:5000", "tcp:[::1]:5000", "fd:x",
        "exec:cat > /tmp/f", "file:/tmp/f", "file:/tmp/f,offset=512",
    };

    for (size_t i = 0; i < ARRAY_SIZE(uris); i++) {
        g_autoptr(MigChannel) ch = uri_ok(uris[i]);
        g_autofree char *back = mig_address_to_string(&ch->addr);

        g_assert_cmpstr(back, ==, uris[i]);
    }
}

static JsonNode *json(const char *text)
{
    g_autoptr(JsonParser) p = json_parser_new();

    g_assert_true(json_parser_load_from_data(p, text, -1, NULL));
    return json_node_copy(json_parser_get_root(p));
}

static MigChannel *json_channel(const char *text, GError **errp)
{
    g_autoptr(JsonNode) node = json(text);

    return mig_channel_from_json(node, "channels[0]", errp);
}

static void json_err(const char *text, const char *msg)
{
    g_autoptr(GError) err = NULL;

    g_assert_null(json_channel(text, &err));
    g_assert_nonnull(err);
    g_assert_cmpstr(err->message, ==, msg);
}

static void test_channel_json(void)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(MigChannel) u = json_channel(
        "{\"channel-type\": \"main\", \"addr\": {\"transport\": \"socket\","
        " \"type\": \"unix\", \"path\": \"/tmp/m\"}}", &err);
    g_autoptr(MigChannel) t = json_channel(
        "{\"channel-type\": \"main\", \"addr\": {\"transport\": \"socket\","
        " \"type\": \"inet\", \"host\": \"10.12.34.9\", \"port\": \"1050\"}}",
        &err);
    g_autoptr(MigChannel) e = json_channel(
        "{\"channel-type\": \"main\", \"addr\": {\"transport\": \"exec\","
        " \"args\": [\"/bin/nc\", \"-U\", \"/some/sock\"]}}", &err);
    g_autoptr(MigChannel) f = json_channel(
        "{\"channel-type\": \"main\", \"addr\": {\"transport\": \"file\","
        " \"filename\": \"/tmp/migfile\", \"offset\": 4096}}", &err);
    g_autoptr(MigChannel) c = json_channel(
        "{\"channel-type\": \"cpr\", \"addr\": {\"transport\": \"socket\","
        " \"type\": \"fd\", \"str\": \"cprfd\"}}", &err);

    g_assert_no_error(err);
    g_assert_cmpstr(u->addr.path, ==, "/tmp/m");
    g_assert_cmpstr(t->addr.host, ==, "10.12.34.9");
    g_assert_cmpstr(t->addr.port, ==, "1050");
    g_assert_cmpint(g_strv_length(e->addr.args), ==, 3);
    g_assert_cmpstr(e->addr.args[2], ==, "/some/sock");
    g_assert_cmpstr(f->addr.filename, ==, "/tmp/migfile");
    g_assert_cmpuint(f->addr.offset, ==, 4096);
    g_assert_cmpint(c->type, ==, MIG_CHANNEL_CPR);
    g_assert_cmpstr(c->addr.fd_str, ==, "cprfd");

    json_err("{\"channel-type\": \"main\"}",
             "Parameter 'channels[0].addr.transport' is missing");
    json_err("{\"channel-type\": \"side\", \"addr\": {}}",
             "Parameter 'channels[0].channel-type' does not accept value "
             "'side'");
    json_err("{\"channel-type\": \"main\", \"addr\": {\"transport\": "
             "\"socket\", \"type\": \"inet\", \"host\": \"h\", \"port\": 5}}",
             "Invalid parameter type for 'channels[0].addr.port', "
             "expected: string");
    json_err("{\"channel-type\": \"main\", \"addr\": {\"transport\": "
             "\"socket\", \"type\": \"unix\", \"path\": \"/p\", \"x\": 1}}",
             "Parameter 'channels[0].addr.x' is unexpected");
    json_err("{\"channel-type\": \"main\", \"addr\": {\"transport\": "
             "\"file\", \"filename\": \"/f\"}}",
             "Parameter 'channels[0].addr.offset' is missing");
    json_err("{\"channel-type\": \"main\", \"addr\": {\"transport\": "
             "\"exec\", \"args\": \"cat\"}}",
             "Invalid parameter type for 'channels[0].addr.args', "
             "expected: array");
    json_err("{\"channel-type\": \"main\", \"addr\": \"unix:/x\"}",
             "Invalid parameter type for 'channels[0].addr', "
             "expected: object");
}

static void incoming_ok(const char *arg, MigChannel **out)
{
    g_autoptr(GError) err = NULL;

    g_assert_true(mig_incoming_arg_parse(arg, out, &err));
    g_assert_no_error(err);
}

static void test_incoming_arg(void)
{
    g_autoptr(MigChannel) dotted = NULL;
    g_autoptr(MigChannel) js = NULL;
    g_autoptr(MigChannel) ex = NULL;
    g_autoptr(MigChannel) uri = NULL;
    g_autoptr(MigChannel) implied = NULL;
    g_autoptr(GError) err = NULL;
    MigChannel *defer = (MigChannel *)1;
    MigChannel *bad = (MigChannel *)1;

    incoming_ok("defer", &defer);
    g_assert_null(defer);
    incoming_ok("unix:/tmp/in", &uri);
    g_assert_cmpstr(uri->addr.path, ==, "/tmp/in");
    incoming_ok("channel-type=main,addr.transport=socket,addr.type=unix,"
                "addr.path=/tmp/d", &dotted);
    g_assert_cmpint(dotted->addr.sock_type, ==, MIG_SOCKET_UNIX);
    g_assert_cmpstr(dotted->addr.path, ==, "/tmp/d");
    incoming_ok("main,addr.transport=file,addr.filename=/f,addr.offset=8",
                &implied);
    g_assert_cmpuint(implied->addr.offset, ==, 8);
    incoming_ok("{\"channel-type\": \"main\", \"addr\": {\"transport\": "
                "\"socket\", \"type\": \"inet\", \"host\": \"0\", "
                "\"port\": \"0\"}}", &js);
    g_assert_cmpstr(js->addr.port, ==, "0");
    incoming_ok("channel-type=main,addr.transport=exec,addr.args.0=cat,"
                "addr.args.1=/tmp/s", &ex);
    g_assert_cmpint(g_strv_length(ex->addr.args), ==, 2);
    g_assert_cmpstr(ex->addr.args[1], ==, "/tmp/s");

    g_assert_false(mig_incoming_arg_parse("channel-type=main,addr.transport="
                                          "socket,addr.type=unix", &bad,
                                          &err));
    g_assert_null(bad);
    g_assert_cmpstr(err->message, ==, "Parameter 'addr.path' is missing");
    g_clear_error(&err);
    g_assert_false(mig_incoming_arg_parse("channel-type=main,addr.transport="
                                          "file,addr.filename=/f,"
                                          "addr.offset=-1", &bad, &err));
    g_assert_null(bad);
    g_assert_cmpstr(err->message, ==, "Parameter 'addr.offset' expects "
                    "uint64");
}

static void test_parse_input(void)
{
    g_autoptr(JsonNode) two = json(
        "[{\"channel-type\": \"main\", \"addr\": {\"transport\": \"socket\","
        " \"type\": \"unix\", \"path\": \"/a\"}},"
        " {\"channel-type\": \"main\", \"addr\": {\"transport\": \"socket\","
        " \"type\": \"unix\", \"path\": \"/b\"}}]");
    g_autoptr(JsonNode) cpr_only = json(
        "[{\"channel-type\": \"cpr\", \"addr\": {\"transport\": \"socket\","
        " \"type\": \"unix\", \"path\": \"/c\"}}]");
    g_autoptr(JsonNode) both = json(
        "[{\"channel-type\": \"cpr\", \"addr\": {\"transport\": \"socket\","
        " \"type\": \"unix\", \"path\": \"/c\"}},"
        " {\"channel-type\": \"main\", \"addr\": {\"transport\": \"socket\","
        " \"type\": \"unix\", \"path\": \"/m\"}}]");
    g_autoptr(GError) err = NULL;
    g_autoptr(MigChannel) cpr = NULL;
    g_autoptr(MigChannel) main_ch = NULL;

    g_assert_null(mig_channel_parse_input(NULL, NULL, NULL, &err));
    g_assert_cmpstr(err->message, ==,
                    "need either 'uri' or 'channels' argument");
    g_clear_error(&err);
    g_assert_null(mig_channel_parse_input("unix:/x",
                                          json_node_get_array(two), NULL,
                                          &err));
    g_assert_cmpstr(err->message, ==,
                    "need either 'uri' or 'channels' argument");
    g_clear_error(&err);
    g_assert_null(mig_channel_parse_input(NULL, json_node_get_array(two),
                                          NULL, &err));
    g_assert_cmpstr(err->message, ==,
                    "Channel list has more than one main entry");
    g_clear_error(&err);
    g_assert_null(mig_channel_parse_input(NULL,
                                          json_node_get_array(cpr_only),
                                          NULL, &err));
    g_assert_cmpstr(err->message, ==, "Channel list has no main entry");
    g_clear_error(&err);

    main_ch = mig_channel_parse_input(NULL, json_node_get_array(both), &cpr,
                                      &err);
    g_assert_no_error(err);
    g_assert_cmpstr(main_ch->addr.path, ==, "/m");
    g_assert_cmpstr(cpr->addr.path, ==, "/c");
}

static void set_params_err(const char *text, const char *msg)
{
    g_autoptr(JsonNode) node = json(text);
    g_autoptr(GError) err = NULL;

    g_assert_false(migrate_set_parameters(json_node_get_object(node), &err));
    g_assert_cmpstr(err->message, ==, msg);
}

static gint64 param(const char *name)
{
    g_autoptr(JsonNode) q = migrate_query_parameters();

    return json_object_get_int_member(json_node_get_object(q), name);
}

static void test_parameters(void)
{
    g_autoptr(JsonNode) ok = json("{\"downtime-limit\": 500, "
                                  "\"max-bandwidth\": 1048576, "
                                  "\"mode\": \"cpr-reboot\"}");
    g_autoptr(JsonNode) q = NULL;
    g_autoptr(GError) err = NULL;

    g_assert_cmpint(param("downtime-limit"), ==, 300);
    g_assert_cmpint(param("max-bandwidth"), ==, 128 << 20);
    g_assert_true(migrate_set_parameters(json_node_get_object(ok), &err));
    g_assert_cmpint(param("downtime-limit"), ==, 500);
    g_assert_cmpuint(migrate_max_bandwidth(), ==, 1048576);
    g_assert_cmpint(migrate_mode(), ==, MIG_MODE_CPR_REBOOT);

    set_params_err("{\"downtime-limit\": 2000001}",
                   "Parameter 'downtime_limit' expects an integer in the "
                   "range of 0 to 2000000 ms");
    set_params_err("{\"cpu-throttle-initial\": 300}",
                   "Parameter 'cpu-throttle-initial' expects uint8_t");
    set_params_err("{\"cpu-throttle-initial\": 0}",
                   "Parameter 'cpu_throttle_initial' expects an integer in "
                   "the range of 1 to 99");
    set_params_err("{\"mode\": \"warp\"}",
                   "Parameter 'mode' does not accept value 'warp'");
    set_params_err("{\"bogus\": 1}", "Parameter 'bogus' is unexpected");
    set_params_err("{\"xbzrle-cache-size\": 5000}",
                   "Parameter 'xbzrle_cache_size' expects a power of two no "
                   "less than the target page size");
    /* A failed set changes nothing. */
    set_params_err("{\"downtime-limit\": 10, \"multifd-channels\": 0}",
                   "Parameter 'multifd_channels' expects a value between 1 "
                   "and 255");
    g_assert_cmpint(param("downtime-limit"), ==, 500);

    /* HMP: bandwidths in MiB by default. */
    g_assert_true(migrate_set_parameter_str("max-bandwidth", "2", &err));
    g_assert_cmpuint(migrate_max_bandwidth(), ==, 2 << 20);
    g_assert_false(migrate_set_parameter_str("nope", "1", &err));
    g_assert_cmpstr(err->message, ==, "invalid parameter value: nope");
    g_clear_error(&err);

    /* -global names. */
    g_assert_true(migrate_global_set("x-downtime-limit", "42", &err));
    g_assert_cmpuint(migrate_downtime_limit(), ==, 42);
    g_assert_false(migrate_global_set("x-nothing", "1", &err));
    g_assert_cmpstr(err->message, ==, "can't apply global "
                    "migration.x-nothing=1: Property 'migration.x-nothing' "
                    "not found");
    g_clear_error(&err);
    q = migrate_query_parameters();
    g_assert_true(json_object_has_member(json_node_get_object(q),
                                         "announce-step"));
    g_assert_false(json_object_has_member(json_node_get_object(q),
                                          "cpr-exec-command"));
}

static void test_capabilities(void)
{
    g_autoptr(JsonNode) on = json("[{\"capability\": \"events\", "
                                  "\"state\": true}]");
    g_autoptr(JsonNode) bad = json("[{\"capability\": \"postcopy-ram\", "
                                   "\"state\": true}]");
    g_autoptr(JsonNode) unknown = json("[{\"capability\": \"warp\", "
                                       "\"state\": true}]");
    g_autoptr(JsonNode) q = NULL;
    g_autoptr(GError) err = NULL;
    JsonArray *caps;

    g_assert_false(migrate_events());
    g_assert_true(migrate_set_capabilities(json_node_get_array(on), &err));
    g_assert_true(migrate_events());
    g_assert_false(migrate_set_capabilities(json_node_get_array(bad), &err));
    g_assert_cmpstr(err->message, ==, "capability 'postcopy-ram' is not "
                    "supported by baton");
    g_clear_error(&err);
    g_assert_false(migrate_set_capabilities(json_node_get_array(unknown),
                                            &err));
    g_assert_cmpstr(err->message, ==, "Parameter 'capabilities[0]."
                    "capability' does not accept value 'warp'");
    g_clear_error(&err);

    q = migrate_query_capabilities();
    caps = json_node_get_array(q);
    g_assert_cmpuint(json_array_get_length(caps), ==, 22);
    g_assert_cmpstr(json_object_get_string_member(
                        json_array_get_object_element(caps, 0),
                        "capability"), ==, "xbzrle");

    g_assert_true(migrate_global_set("x-events", "off", &err));
    g_assert_false(migrate_events());
    g_assert_false(migrate_global_set("x-postcopy-ram", "on", &err));
    g_assert_cmpstr(err->message, ==, "can't apply global "
                    "migration.x-postcopy-ram=on: capability 'postcopy-ram' "
                    "is not supported by baton");
    g_clear_error(&err);
    g_assert_true(migrate_set_capability_str("x-ignore-shared", "on", &err));
    g_assert_true(migrate_ignore_shared());
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/migration/uri/sockets", test_uri_sockets);
    g_test_add_func("/migration/uri/exec-file", test_uri_exec_file);
    g_test_add_func("/migration/channel/socket-buffers", test_socket_buffers);
    g_test_add_func("/migration/uri/is-uri", test_uri_is_uri);
    g_test_add_func("/migration/uri/to-string", test_uri_to_string);
    g_test_add_func("/migration/channel/json", test_channel_json);
    g_test_add_func("/migration/channel/incoming-arg", test_incoming_arg);
    g_test_add_func("/migration/channel/parse-input", test_parse_input);
    g_test_add_func("/migration/options/parameters", test_parameters);
    g_test_add_func("/migration/options/capabilities", test_capabilities);
    return g_test_run();
}
