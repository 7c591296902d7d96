// Parking (connection::park, DESIGN.md "Memory"): an idle connection's record and the
// connection made again from it, which must be the one that was parked.
#include <gtest/gtest.h>

#include "harness.hpp"

using namespace tern;
using namespace tern::tcp;
using namespace tern::tcp::test;
using namespace std::chrono_literals;

namespace {

// An idle TCB with every field idle_tcb keeps away from its default.
tcb idle_control() {
    tcb t;
    t.iss = seq32(0xfffffff0u);
    t.snd_una = t.snd_nxt = t.snd_max = seq32(12345);
    t.snd_wnd = 70000;
    t.max_snd_wnd = 80000;
    t.snd_wl1 = seq32(777);
    t.snd_wl2 = seq32(12340);
    t.irs = seq32(99);
    t.rcv_nxt = t.last_ack_sent = seq32(5000);
    t.rcv_wnd = 60000;
    t.snd_mss = 1448;
    t.rcv_mss = 1460;
    t.snd_wscale = 7;
    t.rcv_wscale = 9;
    t.ws_ok = t.ts_ok = t.sack_ok = true;
    t.retransmits = 2;
    t.rtx_for = rtx_timer::probe;
    t.ts_recent = 424242;
    t.ts_recent_at = instant(5s);
    t.srtt = 3ms;
    t.rttvar = 1ms;
    t.rto = 250ms;
    t.cwnd = 30000;
    t.ssthresh = 20000;
    t.dup_acks = 1;
    t.recover_pending = true;
    t.ecn_ok = t.ece_due = t.cwr_due = t.ecn_reduced = true;
    t.cc_algorithm = congestion_algorithm::reno;
    t.hystart = false;
    t.path_mtu_resend = true;
    t.recover = seq32(12000);
    // What idle_tcb leaves out, as restore() makes it: unread while idle.
    t.high_rxt = t.rescue_rxt = t.snd_una;
    return t;
}

} // namespace

TEST(idle_tcb, keeps_every_field_an_idle_connection_reads) {
    const tcb t = idle_control();
    ASSERT_TRUE(idle_tcb::fits(t));
    EXPECT_EQ(idle_tcb::of(t).restore(), t);
    static_assert(sizeof(idle_tcb) < sizeof(tcb));
}

TEST(idle_tcb, does_not_fit_what_is_not_idle) {
    auto breaks = [](auto change) {
        tcb t = idle_control();
        change(t);
        return !idle_tcb::fits(t);
    };
    EXPECT_TRUE(breaks([](tcb& t) { t.snd_nxt = t.snd_una + 1; }));  // in flight
    EXPECT_TRUE(breaks([](tcb& t) { t.snd_max = t.snd_una + 1; }));  // sent, gone back after an RTO
    EXPECT_TRUE(breaks([](tcb& t) { t.rtt_timing = true; }));
    EXPECT_TRUE(breaks([](tcb& t) { t.in_recovery = true; }));
    EXPECT_TRUE(breaks([](tcb& t) { t.last_ack_sent = t.rcv_nxt - 10; })); // an ACK owed
    EXPECT_TRUE(breaks([](tcb& t) { t.fin_queued = true; }));
    EXPECT_TRUE(breaks([](tcb& t) { t.ack_now = true; }));
    EXPECT_TRUE(breaks([](tcb& t) { t.unacked_segments = 1; }));
    // Estimates beyond the record's 32 bits of nanoseconds.
    EXPECT_TRUE(breaks([](tcb& t) { t.rto = idle_tcb::longest + 1ns; }));
    EXPECT_TRUE(breaks([](tcb& t) { t.srtt = idle_tcb::longest + 1ns; }));
    EXPECT_TRUE(breaks([](tcb& t) { t.rttvar = idle_tcb::longest + 1ns; }));
}

TEST(idle_tcb, keeps_the_longest_estimates_and_none) {
    tcb t = idle_control();
    t.srtt = t.rttvar = t.rto = idle_tcb::longest;
    t.ts_recent_at = instant(std::chrono::hours(24 * 400) + 123ns); // past 32 bits of nanoseconds
    ASSERT_TRUE(idle_tcb::fits(t));
    EXPECT_EQ(idle_tcb::of(t).restore(), t);
    t.srtt.reset();
    t.rttvar = t.rto = duration{};
    ASSERT_TRUE(idle_tcb::fits(t));
    EXPECT_EQ(idle_tcb::of(t).restore(), t);
}

// What park() keeps of the counts (parked::make) and a connection made again reads
// (traffic), at the most parkable() lets through and with every word apart.
TEST(parking, record_keeps_48_bits_of_bytes_and_32_of_segments) {
    for (const traffic_counts t : {traffic_counts{0xffffffffu, 7, connection::parked::most_bytes, 0x010000000007ull},
                                   traffic_counts{1, 0xfffffffeu, 0xfedc89abcdefull, 0}}) {
        const connection::parked p = connection::parked::make(idle_tcb{}, 0, seq32(0), t, {}, nullptr);
        const traffic_counts back = p.traffic();
        EXPECT_EQ(back.segments_in, t.segments_in);
        EXPECT_EQ(back.segments_out, t.segments_out);
        EXPECT_EQ(back.bytes_in, t.bytes_in);
        EXPECT_EQ(back.bytes_out, t.bytes_out);
    }
    EXPECT_EQ(connection::parked::most_bytes, 0xffffffffffffull);
}

namespace {

connection_options park_options() {
    connection_options o;
    o.receive_buffer = 256 * 1024;
    o.send_buffer = 64 * 1024;
    o.no_delay = true;
    return o;
}

// `h` (made with park_options()) ESTABLISHED as a passive connection that moved data both
// ways and owes nothing.
void make_idle(harness& h) {
    h.establish("S 0:0(0) win 65535 <mss 1460,sackOK,TS val 100 ecr 0,nop,wscale 7>",
                ". 1:1(0) ack 1 win 512 <nop,nop,TS val 101 ecr 0>");
    h.deliver("P. 1:301(300) ack 1 win 512 <nop,nop,TS val 102 ecr 0>");
    h.send(1000);
    h.deliver(". 301:301(0) ack 1001 win 512 <nop,nop,TS val 103 ecr 0>");
    h.advance(1s); // the delayed ACK of the 300 bytes goes, if it has not yet
    h.sent.clear();
    h.events.clear();
}

const connection::listener_share share(park_options(), harness::local.port);
constexpr std::uint32_t ts_offset = 0; // the options set none; the owner gives this one for the flow

} // namespace

TEST(parking, parked_connection_is_made_again_as_it_was) {
    harness h({}, park_options());
    make_idle(h);
    ASSERT_TRUE(h.conn.parkable(share, ts_offset));
    const tcb before = h.conn.control_block();
    const tcp_info info = h.conn.info();
    connection::parked p = h.conn.park();
    connection again(h.config, h, h, h.conn.flow_id(), std::move(p), share, ts_offset);
    EXPECT_EQ(again.state(), tcp_state::established);
    tcb expected = before;
    expected.high_rxt = expected.rescue_rxt = expected.snd_una; // unread outside recovery
    expected.rtt_seq = tcb{}.rtt_seq;                           // unread without rtt_timing
    expected.rtt_start = tcb{}.rtt_start;
    EXPECT_EQ(again.control_block(), expected);
    const tcp_info after = again.info();
    EXPECT_EQ(after.bytes_in, info.bytes_in);
    EXPECT_EQ(after.bytes_out, info.bytes_out);
    EXPECT_EQ(after.segments_in, info.segments_in);
    EXPECT_EQ(after.segments_out, info.segments_out);
    EXPECT_EQ(after.srtt, info.srtt);
    EXPECT_EQ(after.cwnd, info.cwnd);
    // And parks again, to the same record.
    ASSERT_TRUE(again.parkable(share, ts_offset));
    connection third(h.config, h, h, h.conn.flow_id(), again.park(), share, ts_offset);
    EXPECT_EQ(third.control_block(), expected);
}

TEST(parking, not_parkable_while_anything_is_owed_or_its_own) {
    {
        harness h({}, park_options());
    make_idle(h);
        h.send(100); // in flight, its RTO armed
        EXPECT_FALSE(h.conn.parkable(share, ts_offset));
    }
    {
        harness h({}, park_options());
    make_idle(h);
        h.deliver("P. 301:311(10) ack 1001 win 512 <nop,nop,TS val 104 ecr 0>"); // a delayed ACK owed
        EXPECT_FALSE(h.conn.parkable(share, ts_offset));
    }
    harness h({}, park_options());
    make_idle(h);
    EXPECT_FALSE(h.conn.parkable(share, ts_offset + 1)); // not the owner's offset for the flow
    connection_options other = park_options();
    other.send_buffer *= 2;
    EXPECT_FALSE(h.conn.parkable(connection::listener_share(other, harness::local.port), ts_offset));
    other = park_options();
    other.no_delay = false;
    EXPECT_FALSE(h.conn.parkable(connection::listener_share(other, harness::local.port), ts_offset));
    EXPECT_FALSE(h.conn.parkable(connection::listener_share(park_options(), 8081), ts_offset));
    EXPECT_TRUE(h.conn.parkable(share, ts_offset));
}
