// SYN cookies (RFC 4987 §3.6): the cookie arithmetic of src/tcp/syn_cookie.hpp, and a
// connection that starts in ESTABLISHED from a cookie ACK (connection::open_from_cookie).
#include <gtest/gtest.h>

#include "harness.hpp"
#include "tcp/syn_cookie.hpp"

namespace tern::tcp::test {
namespace {

using namespace std::chrono_literals;

const flow client_flow{harness::local, harness::remote};
const syn_cookies cookies(siphash_key{0x0123456789abcdefull, 0xfedcba9876543210ull});
const instant t0 = instant{} + 1000s;

TEST(SynCookie, RoundTrip) {
    const seq32 peer_isn(123456789);
    const seq32 c = cookies.make(client_flow, peer_isn, 1460, t0);
    EXPECT_EQ(cookies.check(client_flow, peer_isn, c, t0), std::optional<std::uint16_t>(1460));
    EXPECT_EQ(cookies.check(client_flow, peer_isn, c, t0 + 1s), std::optional<std::uint16_t>(1460));
}

TEST(SynCookie, WrongTupleOrIsnOrCookieIsRejected) {
    const seq32 peer_isn(123456789);
    const seq32 c = cookies.make(client_flow, peer_isn, 1460, t0);
    flow other_port = client_flow;
    other_port.remote.port++;
    flow other_addr = client_flow;
    other_addr.remote.addr = ipv4_addr::from_octets(198, 18, 0, 3);
    flow other_local = client_flow;
    other_local.local.port++;
    EXPECT_EQ(cookies.check(other_port, peer_isn, c, t0), std::nullopt);
    EXPECT_EQ(cookies.check(other_addr, peer_isn, c, t0), std::nullopt);
    EXPECT_EQ(cookies.check(other_local, peer_isn, c, t0), std::nullopt);
    EXPECT_EQ(cookies.check(client_flow, peer_isn + 1, c, t0), std::nullopt);
    EXPECT_EQ(cookies.check(client_flow, peer_isn, c + 1, t0), std::nullopt);
    EXPECT_EQ(cookies.check(client_flow, peer_isn, c + 8, t0), std::nullopt); // another counter value
    for (std::uint32_t bits = 1; bits < 8; ++bits) // the MSS index is authenticated too
        EXPECT_EQ(cookies.check(client_flow, peer_isn, seq32(c.raw() ^ bits), t0), std::nullopt) << bits;
    const syn_cookies other_key(siphash_key{1, 2});
    EXPECT_EQ(other_key.check(client_flow, peer_isn, c, t0), std::nullopt);
}

TEST(SynCookie, CounterOfTheLastTwoTicksOnly) {
    const seq32 peer_isn(42);
    const instant made = instant{} + 64s * 100; // the start of a tick
    const seq32 c = cookies.make(client_flow, peer_isn, 536, made);
    EXPECT_TRUE(cookies.check(client_flow, peer_isn, c, made + 63s).has_value());  // same tick
    EXPECT_TRUE(cookies.check(client_flow, peer_isn, c, made + 127s).has_value()); // the next one
    EXPECT_FALSE(cookies.check(client_flow, peer_isn, c, made + 128s).has_value()); // stale
    EXPECT_FALSE(cookies.check(client_flow, peer_isn, c, made + 64s * 4).has_value()); // same low bits, stale
    EXPECT_FALSE(cookies.check(client_flow, peer_isn, c, made - 1s).has_value()); // from the future
}

TEST(SynCookie, MssTable) {
    EXPECT_EQ(syn_cookie_mss[syn_cookie_mss_index(1460)], 1460);
    EXPECT_EQ(syn_cookie_mss[syn_cookie_mss_index(1459)], 1440);
    EXPECT_EQ(syn_cookie_mss[syn_cookie_mss_index(536)], 536);
    EXPECT_EQ(syn_cookie_mss[syn_cookie_mss_index(9000)], 8960);
    EXPECT_EQ(syn_cookie_mss[syn_cookie_mss_index(65535)], 8960);
    EXPECT_EQ(syn_cookie_mss_index(100), 0); // below the table: its first entry
    for (std::uint16_t mss : syn_cookie_mss) {
        const seq32 c = cookies.make(client_flow, seq32(7), mss, t0);
        EXPECT_EQ(cookies.check(client_flow, seq32(7), c, t0), std::optional<std::uint16_t>(mss));
    }
}

TEST(SynCookie, TsvalCarriesWindowScaleAndSack) {
    for (std::uint32_t clock : {0u, 31u, 32u, 1000000u, 0xffffffffu}) {
        for (std::optional<std::uint8_t> ws : {std::optional<std::uint8_t>{}, std::optional<std::uint8_t>(0),
                                               std::optional<std::uint8_t>(7), std::optional<std::uint8_t>(14)}) {
            for (bool sack : {false, true}) {
                const std::uint32_t v = syn_cookie_tsval(clock, ws, sack);
                EXPECT_LE(std::int32_t(v - clock), 0) << "ahead of the clock";
                EXPECT_LT(std::int32_t(clock - v), 64);
                segment ack;
                ack.header.options.timestamp = std::pair{5u, v};
                const auto o = syn_cookie_peer_options(ack, 1460);
                EXPECT_EQ(o.window_scale, ws);
                EXPECT_EQ(o.sack_permitted, sack);
                EXPECT_EQ(o.mss, 1460);
                EXPECT_EQ(o.timestamp, ack.header.options.timestamp);
            }
        }
    }
    segment no_ts;
    const auto o = syn_cookie_peer_options(no_ts, 536);
    EXPECT_FALSE(o.window_scale.has_value());
    EXPECT_FALSE(o.sack_permitted);
    EXPECT_FALSE(o.timestamp.has_value());
}

// RFC 7323 §2.3: a shift above 14 "MUST use 14". The cookie's TSval kept 15 and more as
// its "no window scale" code, so a peer that asked for 15 got our wscale on the SYN,ACK
// yet a connection without scaling on our side: each side read the other's window wrong.
TEST(SynCookie, WindowScaleAbove14IsKeptAs14) {
    for (const std::uint8_t ws : {15, 16, 255}) {
        const std::uint32_t v = syn_cookie_tsval(1000000u, ws, true);
        segment ack;
        ack.header.options.timestamp = std::pair{5u, v};
        EXPECT_EQ(syn_cookie_peer_options(ack, 1460).window_scale, std::optional<std::uint8_t>(14)) << int(ws);
    }
}

segment segment_of(harness& h, std::string_view notation) {
    auto parsed = parse_segment(notation);
    EXPECT_TRUE(parsed.has_value()) << notation;
    segment seg;
    seg.src_addr = harness::remote.addr;
    seg.dst_addr = harness::local.addr;
    seg.header = to_repr(*parsed, h.peer_isn, h.our_iss);
    seg.header.src_port = harness::remote.port;
    seg.header.dst_port = harness::local.port;
    return seg;
}

// The SYN,ACK a cookie sends answers the SYN's options, and without timestamps offers no
// window scale and no SACK (nothing could remember them).
TEST(SynCookie, SynAckAnswersTheSyn) {
    harness h;
    const segment syn = segment_of(h, "S 0:0(0) win 65535 <mss 1400,sackOK,TS val 700 ecr 0,nop,wscale 7>");
    const auto r = syn_cookie_syn_ack(syn, seq32(h.our_iss), t0, h.config, {});
    EXPECT_EQ(r.flags, wire::tcp_flags::syn | wire::tcp_flags::ack);
    EXPECT_EQ(r.seq, h.our_iss);
    EXPECT_EQ(r.ack, h.peer_isn + 1);
    EXPECT_EQ(r.src_port, harness::local.port);
    EXPECT_EQ(r.dst_port, harness::remote.port);
    EXPECT_EQ(r.options.mss, std::optional<std::uint16_t>(1460));
    EXPECT_EQ(r.options.window_scale, std::optional<std::uint8_t>(1)); // for the 64 KiB buffer
    EXPECT_TRUE(r.options.sack_permitted);
    ASSERT_TRUE(r.options.timestamp.has_value());
    EXPECT_EQ(r.options.timestamp->second, 700u);
    segment ack;
    ack.header.options.timestamp = std::pair{701u, r.options.timestamp->first};
    const auto o = syn_cookie_peer_options(ack, 1400);
    EXPECT_EQ(o.window_scale, std::optional<std::uint8_t>(7));
    EXPECT_TRUE(o.sack_permitted);

    const segment plain = segment_of(h, "S 0:0(0) win 65535 <mss 1400,sackOK,nop,wscale 7>");
    const auto p = syn_cookie_syn_ack(plain, seq32(h.our_iss), t0, h.config, {});
    EXPECT_FALSE(p.options.window_scale.has_value());
    EXPECT_FALSE(p.options.sack_permitted);
    EXPECT_FALSE(p.options.timestamp.has_value());
}

// RFC 4987 §3.6: the ACK of a cookie SYN,ACK opens the connection straight in ESTABLISHED,
// with the options the cookie recovered; data on that ACK is delivered.
TEST(SynCookie, OpenFromCookieIsEstablishedWithTheRecoveredOptions) {
    harness h;
    h.now = t0;
    const segment ack = segment_of(h, "P. 1:11(10) ack 1 win 1000 <nop,nop,TS val 900 ecr 555>");
    const auto payload = pattern(10);
    segment with_data = ack;
    with_data.payload = payload;
    wire::tcp_options peer;
    peer.mss = 1400;
    peer.window_scale = 7;
    peer.sack_permitted = true;
    peer.timestamp = ack.header.options.timestamp;
    ASSERT_TRUE(h.conn.open_from_cookie(harness::local, with_data, peer, h.now).has_value());
    h.expect_state(tcp_state::established);
    h.expect_events({"connected", "data 10"});
    const tcb& t = h.conn.control_block();
    EXPECT_EQ(t.iss, seq32(h.our_iss));
    EXPECT_EQ(t.snd_una, seq32(h.our_iss + 1));
    EXPECT_EQ(t.irs, seq32(h.peer_isn));
    EXPECT_EQ(t.rcv_nxt, seq32(h.peer_isn + 11));
    EXPECT_TRUE(t.ws_ok);
    EXPECT_EQ(t.snd_wscale, 7);
    EXPECT_EQ(t.rcv_wscale, 1);
    EXPECT_EQ(t.snd_wnd, 1000u << 7); // the ACK's window is scaled
    EXPECT_TRUE(t.sack_ok);
    EXPECT_TRUE(t.ts_ok);
    EXPECT_EQ(t.ts_recent, 900u);
    EXPECT_EQ(t.snd_mss, 1400 - 12);
    EXPECT_EQ(h.conn.flow_id(), client_flow);
    // It works as any other: it sends, and it acknowledges what came.
    h.send(100);
    h.expect_tx("P. 1:101(100) ack 11");
    h.deliver(". 11:11(0) ack 101 win 1000 <nop,nop,TS val 901 ecr 0>");
    h.expect_no_tx();
    EXPECT_FALSE(h.conn.open_from_cookie(harness::local, with_data, peer, h.now).has_value()); // not CLOSED
}

TEST(SynCookie, OpenFromCookieWithoutTimestamps) {
    harness h;
    const segment ack = segment_of(h, ". 1:1(0) ack 1 win 2000");
    wire::tcp_options peer;
    peer.mss = 536;
    ASSERT_TRUE(h.conn.open_from_cookie(harness::local, ack, peer, h.now).has_value());
    h.expect_events({"connected"});
    h.expect_no_tx();
    const tcb& t = h.conn.control_block();
    EXPECT_FALSE(t.ws_ok);
    EXPECT_EQ(t.rcv_wscale, 0);
    EXPECT_EQ(t.snd_wnd, 2000u);
    EXPECT_FALSE(t.ts_ok);
    EXPECT_FALSE(t.sack_ok);
    EXPECT_EQ(t.snd_mss, 536);
    h.send(600);
    h.expect_tx(". 1:537(536) ack 1");
}

} // namespace
} // namespace tern::tcp::test
