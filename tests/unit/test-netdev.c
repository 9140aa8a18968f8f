/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The network layer and its backends against the host kernel, in a
 * network namespace of the test's own (so no host interface is touched;
 * without the privilege for one, each test skips and says why):
 * - tap: frames the host sends while the NIC cannot take them wait in the
 *   kernel and all arrive, in order, once it can (what keeps packets
 *   across a live update's pause); guest frames reach the host; the
 *   virtio-net header; set_link; fd= with a user's descriptor; options.
 * - user (libslirp): ARP answered by the virtual gateway; a hostfwd
 *   connection reaches the guest side; frames for a busy NIC are kept.
 */
#include "util/osdep.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <linux/if_tun.h>

#include "system/netdev.h"
#include "util/error.h"

#define WAIT_MS 20000
#include "main-loop-test.h"

/* The local experimental ethertype: the kernel's own frames are ignored. */
#define TEST_ETHERTYPE 0x88b5
#define FRAME_LEN 60

static bool have_netns;
static const char *netns_reason;

typedef struct FakeNic {
    NetNic *nic;
    bool ready;
    bool refuse;       /* can_receive says yes, receive says no */
    GPtrArray *frames; /* GBytes *, what the NIC took, in order */
    bool link_up;
    int link_events;
} FakeNic;

static bool fake_can_receive(void *opaque, unsigned int q)
{
    return ((FakeNic *)opaque)->ready;
}

static bool fake_receive(void *opaque, unsigned int q,
                         const struct iovec *iov, int iovcnt)
{
    FakeNic *f = opaque;
    GByteArray *b;

    if (f->refuse) {
        return false;
    }
    b = g_byte_array_new();
    for (int i = 0; i < iovcnt; i++) {
        g_byte_array_append(b, iov[i].iov_base, iov[i].iov_len);
    }
    g_ptr_array_add(f->frames, g_byte_array_free_to_bytes(b));
    return true;
}

static void fake_link_changed(void *opaque, bool up)
{
    FakeNic *f = opaque;

    f->link_up = up;
    f->link_events++;
}

static void fake_format_info(void *opaque, GString *out)
{
    g_string_append(out, "model=fake,macaddr=52:54:00:12:34:56");
}

static const NetNicOps fake_ops = {
    .can_receive = fake_can_receive,
    .receive = fake_receive,
    .link_changed = fake_link_changed,
    .format_info = fake_format_info,
};

static void fake_init(FakeNic *f, NetDev *nd, const char *name)
{
    GError *err = NULL;

    memset(f, 0, sizeof(*f));
    f->frames = g_ptr_array_new_with_free_func((GDestroyNotify)g_bytes_unref);
    f->link_up = true;
    f->nic = net_nic_new(&fake_ops, f, name, "fake", nd, 1, &err);
    g_assert_no_error(err);
}

static void fake_fini(FakeNic *f)
{
    net_nic_free(f->nic);
    g_ptr_array_unref(f->frames);
}

/* Count the frames of ours (TEST_ETHERTYPE) the NIC took; skip HDR bytes. */
static unsigned int ours(FakeNic *f, size_t hdr)
{
    unsigned int n = 0;

    for (unsigned int i = 0; i < f->frames->len; i++) {
        gsize len;
        const uint8_t *p = g_bytes_get_data(g_ptr_array_index(f->frames, i),
                                            &len);

        if (len >= hdr + 14 && p[hdr + 12] == (TEST_ETHERTYPE >> 8) &&
            p[hdr + 13] == (TEST_ETHERTYPE & 0xff)) {
            n++;
        }
    }
    return n;
}

/* The sequence number in frame I of ours. */
static uint32_t our_seq(FakeNic *f, unsigned int idx, size_t hdr)
{
    for (unsigned int i = 0, n = 0; i < f->frames->len; i++) {
        gsize len;
        const uint8_t *p = g_bytes_get_data(g_ptr_array_index(f->frames, i),
                                            &len);

        if (len >= hdr + 18 && p[hdr + 12] == (TEST_ETHERTYPE >> 8) &&
            p[hdr + 13] == (TEST_ETHERTYPE & 0xff) && n++ == idx) {
            uint32_t seq;

            memcpy(&seq, p + hdr + 14, 4);
            return seq;
        }
    }
    g_assert_not_reached();
}

static NetDev *netdev_from(const char *spec, GError **errp)
{
    g_autoptr(OptList) opts = opts_parse(spec, "type", errp);

    return opts ? netdev_new(opts, errp) : NULL;
}

static void if_up(const char *name)
{
    struct ifreq ifr = {0};
    int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

    g_assert_cmpint(s, >=, 0);
    g_strlcpy(ifr.ifr_name, name, IFNAMSIZ);
    g_assert_cmpint(ioctl(s, SIOCGIFFLAGS, &ifr), ==, 0);
    ifr.ifr_flags |= IFF_UP;
    g_assert_cmpint(ioctl(s, SIOCSIFFLAGS, &ifr), ==, 0);
    close(s);
}

/* A packet socket on the host side of tap NAME, for TEST_ETHERTYPE. */
static int host_socket(const char *name)
{
    struct sockaddr_ll sll = {
        .sll_family = AF_PACKET,
        .sll_protocol = htons(TEST_ETHERTYPE),
        .sll_ifindex = if_nametoindex(name),
    };
    int s = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC,
                   htons(TEST_ETHERTYPE));

    g_assert_cmpint(s, >=, 0);
    g_assert_cmpint(bind(s, (struct sockaddr *)&sll, sizeof(sll)), ==, 0);
    return s;
}

static void make_frame(uint8_t *f, uint32_t seq)
{
    static const uint8_t dst[6] = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 };
    static const uint8_t src[6] = { 0x02, 0x00, 0x00, 0x00, 0x00, 0x01 };

    memset(f, 0, FRAME_LEN);
    memcpy(f, dst, 6);
    memcpy(f + 6, src, 6);
    f[12] = TEST_ETHERTYPE >> 8;
    f[13] = TEST_ETHERTYPE & 0xff;
    memcpy(f + 14, &seq, 4);
}

static void host_send(int s, uint32_t seq)
{
    uint8_t f[FRAME_LEN];

    make_frame(f, seq);
    g_assert_cmpint(send(s, f, sizeof(f), 0), ==, sizeof(f));
}

#define SKIP_WITHOUT_NETNS()                      \
    do {                                          \
        if (!have_netns) {                        \
            g_test_skip(netns_reason);            \
            return;                               \
        }                                         \
    } while (0)

/* Frames wait in the kernel while the NIC cannot take them: none lost. */
static void test_tap_flow_control(void)
{
    GError *err = NULL;
    NetDev *nd;
    FakeNic f;
    int s;

    SKIP_WITHOUT_NETNS();
    nd = netdev_from("tap,id=t0,ifname=bt0,script=no,downscript=no,"
                     "vnet_hdr=off", &err);
    g_assert_no_error(err);
    fake_init(&f, nd, "nic0");
    if_up("bt0");
    s = host_socket("bt0");

    /* Not ready: 100 frames sent, the NIC sees none of them. */
    for (uint32_t i = 1; i <= 100; i++) {
        host_send(s, i);
    }
    net_nic_receive_ready(f.nic, 0);
    spin();
    g_assert_cmpuint(ours(&f, 0), ==, 0);

    /* Ready: every one arrives, in order. */
    f.ready = true;
    net_nic_receive_ready(f.nic, 0);
    WAIT_FOR(ours(&f, 0) == 100);
    for (unsigned int i = 0; i < 100; i++) {
        g_assert_cmpuint(our_seq(&f, i, 0), ==, i + 1);
    }

    /* Busy again in the middle of a stream, then ready: still none lost. */
    f.ready = false;
    for (uint32_t i = 101; i <= 150; i++) {
        host_send(s, i);
    }
    spin();
    g_assert_cmpuint(ours(&f, 0), ==, 100);
    f.ready = true;
    net_nic_receive_ready(f.nic, 0);
    WAIT_FOR(ours(&f, 0) == 150);
    g_assert_cmpuint(our_seq(&f, 149, 0), ==, 150);

    /*
     * A NIC whose can_receive was optimistic refuses in receive(): one
     * frame is kept, the rest stay in the kernel, none is dropped.
     */
    f.refuse = true;
    for (uint32_t i = 151; i <= 200; i++) {
        host_send(s, i);
    }
    WAIT_FOR(g_queue_get_length(&nd->pending[0]) == 1);
    spin();
    g_assert_cmpuint(g_queue_get_length(&nd->pending[0]), ==, 1);
    f.refuse = false;
    net_nic_receive_ready(f.nic, 0);
    WAIT_FOR(ours(&f, 0) == 200);
    for (unsigned int i = 0; i < 200; i++) {
        g_assert_cmpuint(our_seq(&f, i, 0), ==, i + 1);
    }
    g_assert_cmpuint(nd->dropped, ==, 0);

    close(s);
    fake_fini(&f);
    object_unparent(&nd->parent_obj);
}

/* Guest frames reach the host; a down link drops in both directions. */
static void test_tap_send_and_link(void)
{
    GError *err = NULL;
    uint8_t frame[FRAME_LEN], got[128];
    struct iovec iov = { .iov_base = frame, .iov_len = sizeof(frame) };
    NetDev *nd;
    FakeNic f;
    int s;

    SKIP_WITHOUT_NETNS();
    nd = netdev_from("tap,id=t1,ifname=bt1,vnet_hdr=off", &err);
    g_assert_no_error(err);
    fake_init(&f, nd, "nic1");
    f.ready = true;
    if_up("bt1");
    s = host_socket("bt1");

    make_frame(frame, 7);
    net_nic_send(f.nic, 0, &iov, 1);
    g_assert_cmpint(recv(s, got, sizeof(got), 0), ==, FRAME_LEN);
    g_assert_cmpmem(got, FRAME_LEN, frame, FRAME_LEN);

    /* set_link on the netdev takes its NIC down too (QEMU's rule). */
    g_assert_true(net_set_link("t1", false, &err));
    g_assert_false(f.link_up);
    make_frame(frame, 8);
    net_nic_send(f.nic, 0, &iov, 1);
    host_send(s, 9);
    net_nic_receive_ready(f.nic, 0);
    WAIT_FOR(nd->dropped >= 1);
    g_assert_cmpuint(nd->dropped, ==, 1);
    g_assert_true(net_set_link("t1", true, &err));
    g_assert_true(f.link_up);
    make_frame(frame, 10);
    net_nic_send(f.nic, 0, &iov, 1);
    g_assert_cmpint(recv(s, got, sizeof(got), 0), ==, FRAME_LEN);
    g_assert_cmpmem(got, FRAME_LEN, frame, FRAME_LEN); /* 8 was dropped */
    host_send(s, 11);
    WAIT_FOR(ours(&f, 0) >= 1);
    spin();
    g_assert_cmpuint(ours(&f, 0), ==, 1);
    g_assert_cmpuint(our_seq(&f, 0, 0), ==, 11);        /* 9 was dropped */

    /* Unknown names: QEMU's DeviceNotFound. */
    g_assert_false(net_set_link("nope", false, &err));
    g_assert_error(err, BATON_ERROR, BATON_ERROR_DEVICE_NOT_FOUND);
    g_clear_error(&err);

    close(s);
    fake_fini(&f);
    object_unparent(&nd->parent_obj);
}

/* With vnet_hdr, the NIC sees and gives the header it asked for. */
static void test_tap_vnet_hdr(void)
{
    GError *err = NULL;
    uint8_t hdr[12] = {0}, frame[FRAME_LEN], got[128];
    struct iovec iov[2] = {
        { .iov_base = hdr, .iov_len = sizeof(hdr) },
        { .iov_base = frame, .iov_len = sizeof(frame) },
    };
    NetDev *nd;
    FakeNic f;
    int s;

    SKIP_WITHOUT_NETNS();
    nd = netdev_from("tap,id=t2,ifname=bt2,vnet_hdr=on", &err);
    g_assert_no_error(err);
    fake_init(&f, nd, "nic2");
    g_assert_true(net_nic_has_vnet_hdr(f.nic));
    g_assert_true(net_nic_set_vnet_hdr_len(f.nic, 12, &err));
    g_assert_no_error(err);
    g_assert_true(net_nic_set_offload(f.nic, true, true, true, false, false,
                                      &err));
    g_assert_no_error(err);
    f.ready = true;
    if_up("bt2");
    s = host_socket("bt2");

    host_send(s, 21);
    net_nic_receive_ready(f.nic, 0);
    WAIT_FOR(ours(&f, 12) == 1);
    g_assert_cmpuint(our_seq(&f, 0, 12), ==, 21);

    make_frame(frame, 22);
    net_nic_send(f.nic, 0, iov, 2);
    g_assert_cmpint(recv(s, got, sizeof(got), 0), ==, FRAME_LEN);
    g_assert_cmpmem(got, FRAME_LEN, frame, FRAME_LEN);

    close(s);
    fake_fini(&f);
    object_unparent(&nd->parent_obj);
}

/* fd=: the user's open tap (what libvirt passes); info network shows it. */
static void test_tap_fd(void)
{
    GError *err = NULL;
    struct ifreq ifr = { .ifr_flags = IFF_TAP | IFF_NO_PI };
    g_autoptr(GString) info = g_string_new(NULL);
    g_autofree char *spec = NULL;
    NetDev *nd;
    FakeNic f;
    int fd;

    SKIP_WITHOUT_NETNS();
    fd = open("/dev/net/tun", O_RDWR);
    g_assert_cmpint(fd, >=, 0);
    g_strlcpy(ifr.ifr_name, "bt3", IFNAMSIZ);
    g_assert_cmpint(ioctl(fd, TUNSETIFF, &ifr), ==, 0);
    spec = g_strdup_printf("tap,id=t3,fd=%d", fd);
    nd = netdev_from(spec, &err);
    g_assert_no_error(err);
    fake_init(&f, nd, "nic3");
    g_assert_false(net_nic_has_vnet_hdr(f.nic)); /* opened without it */
    net_format_info(info);
    g_assert_nonnull(strstr(info->str, "nic3: index=0,type=nic,model=fake,"
                                       "macaddr=52:54:00:12:34:56\n"));
    g_assert_nonnull(strstr(info->str, " \\ t3: index=0,type=tap,fd="));
    fake_fini(&f);
    object_unparent(&nd->parent_obj);
}

static void expect_error(const char *spec, const char *msg)
{
    GError *err = NULL;

    g_assert_null(netdev_from(spec, &err));
    g_assert_nonnull(err);
    if (!strstr(err->message, msg)) {
        g_error("%s: '%s' lacks '%s'", spec, err->message, msg);
    }
    g_clear_error(&err);
}

static void test_errors(void)
{
    GError *err = NULL;
    NetDev *nd;
    FakeNic f;

    expect_error("foo,id=x", "does not accept value 'foo'");
    expect_error("tap", "Parameter 'id' is missing");
    expect_error("tap,id=x,script=/etc/qemu-ifup", "runs no network scripts");
    expect_error("tap,id=x,vhost=on", "no vhost-net");
    expect_error("tap,id=x,bogus=1", "Invalid parameter 'bogus'");
    expect_error("tap,id=x,fd=4096", "Invalid file descriptor");
    expect_error("tap,id=x,fd=0,ifname=a", "exclude each other");
    expect_error("user,id=u,hostfwd=tcp::99999-:22", "Invalid host forwarding");
    expect_error("user,id=u,net=10.9.0.0/16,dns=10.8.0.3", "inside net");
    expect_error("user,id=u,ipv6=on", "IPv4 only");

    /* One NIC per netdev. */
    nd = netdev_from("user,id=u9", &err);
    g_assert_no_error(err);
    expect_error("user,id=u9", "Duplicate ID 'u9'");
    fake_init(&f, nd, "nic9");
    g_assert_null(net_nic_new(&fake_ops, &f, "other", "fake", nd, 1, &err));
    g_assert_nonnull(strstr(err->message, "in use"));
    g_clear_error(&err);
    fake_fini(&f);
    object_unparent(&nd->parent_obj);
}

/* Is F an ARP reply from 10.0.2.2, or a request for 10.0.2.15? */
static bool arp_is(GBytes *b, uint16_t op, const char *ip)
{
    gsize len;
    const uint8_t *p = g_bytes_get_data(b, &len);
    struct in_addr a;

    inet_pton(AF_INET, ip, &a);
    return len >= 42 && p[12] == 0x08 && p[13] == 0x06 &&
           p[20] == 0 && p[21] == op &&
           !memcmp(p + (op == 2 ? 28 : 38), &a, 4);
}

static bool saw_arp(FakeNic *f, uint16_t op, const char *ip)
{
    for (unsigned int i = 0; i < f->frames->len; i++) {
        if (arp_is(g_ptr_array_index(f->frames, i), op, ip)) {
            return true;
        }
    }
    return false;
}

static void guest_arp_request(FakeNic *f, const char *target)
{
    uint8_t p[42] = {
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
        0x52, 0x54, 0x00, 0x12, 0x34, 0x56,
        0x08, 0x06,
        0x00, 0x01, 0x08, 0x00, 6, 4, 0x00, 0x01,
        0x52, 0x54, 0x00, 0x12, 0x34, 0x56, 10, 0, 2, 15,
        0, 0, 0, 0, 0, 0,
    };
    struct iovec iov = { .iov_base = p, .iov_len = sizeof(p) };

    inet_pton(AF_INET, target, p + 38);
    net_nic_send(f->nic, 0, &iov, 1);
}

/* The gateway answers ARP; frames for a busy NIC are kept, then given. */
static void test_user_arp(void)
{
    GError *err = NULL;
    NetDev *nd;
    FakeNic f;

    nd = netdev_from("user,id=u0", &err);
    g_assert_no_error(err);
    fake_init(&f, nd, "nicu0");
    guest_arp_request(&f, "10.0.2.2");
    spin();
    g_assert_cmpuint(f.frames->len, ==, 0);   /* busy: kept */
    g_assert_cmpuint(g_queue_get_length(&nd->pending[0]), ==, 1);
    f.ready = true;
    net_nic_receive_ready(f.nic, 0);
    g_assert_true(saw_arp(&f, 2, "10.0.2.2"));
    g_assert_cmpuint(g_queue_get_length(&nd->pending[0]), ==, 0);
    fake_fini(&f);
    object_unparent(&nd->parent_obj);
}

/*
 * Kept frames as a migration carries them: saved (and still kept),
 * loaded back in order; truncated or out-of-range records refused.
 */
static void test_pending_records(void)
{
    GError *err = NULL;
    uint8_t buf[4096], bad[16];
    NetDev *nd;
    FakeNic f;
    size_t len, flen;

    nd = netdev_from("user,id=u2", &err);
    g_assert_no_error(err);
    fake_init(&f, nd, "nicu2");
    guest_arp_request(&f, "10.0.2.2");
    guest_arp_request(&f, "10.0.2.3");
    g_assert_cmpuint(g_queue_get_length(&nd->pending[0]), ==, 2);
    flen = g_bytes_get_size(g_queue_peek_head(&nd->pending[0]));
    len = net_nic_save_pending(f.nic, buf, sizeof(buf));
    g_assert_cmpuint(len, ==, 2 * (8 + flen));  /* 8-byte record headers */
    g_assert_cmpuint(g_queue_get_length(&nd->pending[0]), ==, 2);
    /* Too little room: what does not fit is left out and counted. */
    g_assert_cmpuint(net_nic_save_pending(f.nic, buf, 8 + flen + 1), ==,
                     8 + flen);
    g_assert_cmpuint(nd->dropped, ==, 1);

    g_queue_clear_full(&nd->pending[0], (GDestroyNotify)g_bytes_unref);
    g_assert_true(net_nic_load_pending(f.nic, buf, len, &err));
    g_assert_no_error(err);
    f.ready = true;
    net_nic_receive_ready(f.nic, 0);
    g_assert_cmpuint(f.frames->len, ==, 2);
    g_assert_true(arp_is(g_ptr_array_index(f.frames, 0), 2, "10.0.2.2"));

    g_assert_false(net_nic_load_pending(f.nic, buf, 5, &err));
    g_assert_nonnull(strstr(err->message, "truncated"));
    g_clear_error(&err);
    memcpy(bad, buf, sizeof(bad));
    bad[0] = 1;                                 /* queue 1 of 1 queue */
    g_assert_false(net_nic_load_pending(f.nic, bad, sizeof(bad), &err));
    g_assert_nonnull(strstr(err->message, "does not fit"));
    g_clear_error(&err);
    g_assert_false(net_nic_load_pending(f.nic, buf, 8 + flen - 1, &err));
    g_assert_nonnull(strstr(err->message, "does not fit"));
    g_clear_error(&err);
    fake_fini(&f);
    object_unparent(&nd->parent_obj);
}

/* A host connection to a hostfwd port makes slirp reach for the guest. */
static void test_user_hostfwd(void)
{
    GError *err = NULL;
    struct sockaddr_in sin = { .sin_family = AF_INET };
    socklen_t sl = sizeof(sin);
    g_autofree char *spec = NULL;
    NetDev *nd;
    FakeNic f;
    int probe, c;

    SKIP_WITHOUT_NETNS();   /* needs our own loopback, up */
    /* A free port in our namespace: nothing else binds here. */
    probe = socket(AF_INET, SOCK_STREAM, 0);
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    g_assert_cmpint(bind(probe, (struct sockaddr *)&sin, sizeof(sin)), ==, 0);
    g_assert_cmpint(getsockname(probe, (struct sockaddr *)&sin, &sl), ==, 0);
    close(probe);
    spec = g_strdup_printf("user,id=u1,hostfwd=tcp:127.0.0.1:%u-:7",
                           ntohs(sin.sin_port));
    nd = netdev_from(spec, &err);
    g_assert_no_error(err);
    fake_init(&f, nd, "nicu1");
    f.ready = true;
    c = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    connect(c, (struct sockaddr *)&sin, sizeof(sin));
    /* slirp accepts, then asks who has the guest's address. */
    WAIT_FOR(saw_arp(&f, 1, "10.0.2.15"));
    close(c);
    fake_fini(&f);
    object_unparent(&nd->parent_obj);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    if (unshare(CLONE_NEWNET) == 0) {
        have_netns = true;
        /* No IPv6 chatter (router solicitations) on our taps. */
        int fd = open("/proc/sys/net/ipv6/conf/default/disable_ipv6",
                      O_WRONLY);

        if (fd >= 0) {
            g_assert_cmpint(write(fd, "1", 1), ==, 1);
            close(fd);
        }
        if_up("lo");
    } else {
        netns_reason = g_strdup_printf("no network namespace of our own "
                                       "(unshare: %s); needs root",
                                       g_strerror(errno));
    }
    g_test_add_func("/netdev/tap/flow-control", test_tap_flow_control);
    g_test_add_func("/netdev/tap/send-and-link", test_tap_send_and_link);
    g_test_add_func("/netdev/tap/vnet-hdr", test_tap_vnet_hdr);
    g_test_add_func("/netdev/tap/fd", test_tap_fd);
    g_test_add_func("/netdev/errors", test_errors);
    g_test_add_func("/netdev/user/arp", test_user_arp);
    g_test_add_func("/netdev/user/hostfwd", test_user_hostfwd);
    g_test_add_func("/netdev/pending-records", test_pending_records);
    return g_test_run();
}
