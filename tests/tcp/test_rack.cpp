// RACK-TLP (RFC 8985): the send log, RACK's update, reordering window and loss detection on
// their own, then through one connection: losses found by time (a hole with too few
// segments SACKed above it, a lost retransmission), reordering that stays within the
// window, and tail loss probes.
//
// The connection tests use an MSS of 1000 and Reno (ssthresh = FlightSize / 2); a first
// exchange gives the connection a round trip of 10 ms, so RACK's reordering window is
// 2.5 ms (min_RTT / 4) and the probe timeout 20 ms (2 SRTT).
#include <gtest/gtest.h>

#include <algorithm>

#include "harness.hpp"
#include "tcp/rack.hpp"

namespace tern::tcp::test {
namespace {

using namespace std::chrono_literals;

constexpr std::uint32_t base = 0xfffff000u; // near the wrap
seq32 at(std::uint32_t offset) { return seq32(base + offset); }
instant t(std::int64_t ms) { return instant{} + std::chrono::milliseconds(ms); }

using run_list = std::vector<std::tuple<std::uint32_t, std::uint32_t, std::int64_t, bool>>; // left, right, ms, retransmitted

run_list runs_of(const send_log& log) {
    run_list out;
    for (const send_run& r : log.runs())
        out.emplace_back(r.left.raw() - base, r.right.raw() - base,
                         std::chrono::duration_cast<std::chrono::milliseconds>(r.at.time_since_epoch()).count(),
                         r.retransmitted);
    return out;
}

// ---- the send log ----

TEST(SendLog, OneBurstIsOneRunAndALaterSendAnother) {
    send_log log;
    log.sent(at(0), at(1000), t(1), false);
    log.sent(at(1000), at(2000), t(1), false);
    log.sent(at(2000), at(3000), t(2), false);
    EXPECT_EQ(runs_of(log), (run_list{{0, 2000, 1, false}, {2000, 3000, 2, false}}));
}

TEST(SendLog, RetransmissionRestampsWhatItCovers) {
    send_log log;
    log.sent(at(0), at(4000), t(1), false);
    log.sent(at(1000), at(2000), t(5), true);
    EXPECT_EQ(runs_of(log), (run_list{{0, 1000, 1, false}, {1000, 2000, 5, true}, {2000, 4000, 1, false}}));
    log.sent(at(0), at(3000), t(6), true); // over three runs at once
    EXPECT_EQ(runs_of(log), (run_list{{0, 3000, 6, true}, {3000, 4000, 1, false}}));
}

TEST(SendLog, AckForgetsWhatItCovers) {
    send_log log;
    log.sent(at(0), at(2000), t(1), false);
    log.sent(at(2000), at(3000), t(2), false);
    log.acked(at(1500));
    EXPECT_EQ(runs_of(log), (run_list{{1500, 2000, 1, false}, {2000, 3000, 2, false}}));
    log.acked(at(3000));
    EXPECT_TRUE(log.empty());
}

// A full log merges the two neighbours sent closest in time, with the later instant: an
// octet may look sent later than it was (found lost later), never sooner.
TEST(SendLog, FullLogMergesTheClosestInTimeWithTheLaterInstant) {
    send_log log;
    for (std::uint32_t i = 0; i < send_log::max_runs; ++i)
        log.sent(at(i * 1000), at(i * 1000 + 1000), t(i * 10 + (i == 7 ? 9 : 0)), false); // 7 is close to 8
    ASSERT_EQ(log.size(), send_log::max_runs);
    log.sent(at(16000), at(17000), t(500), false);
    EXPECT_EQ(log.size(), send_log::max_runs);
    const run_list runs = runs_of(log);
    EXPECT_EQ(runs[7], (std::tuple<std::uint32_t, std::uint32_t, std::int64_t, bool>{7000, 9000, 80, false}));
    EXPECT_EQ(runs.back(), (std::tuple<std::uint32_t, std::uint32_t, std::int64_t, bool>{16000, 17000, 500, false}));
    for (std::size_t i = 1; i < runs.size(); ++i) EXPECT_EQ(std::get<1>(runs[i - 1]), std::get<0>(runs[i])); // contiguous
}

// ---- RACK's state on its own ----

rack_state fresh(std::uint32_t una = 0) {
    rack_state r;
    r.fack = r.end_seq = at(una);
    return r;
}

// §6.2 step 2: RACK.xmit_ts follows the latest-sent delivered segment, whatever the
// order of delivery; RACK.rtt is that segment's round trip.
TEST(RackState, FollowsTheLatestSentDeliveredSegment) {
    rack_state r = fresh();
    r.update({at(1000), at(2000), t(20), false}, at(2000), t(50), false);
    EXPECT_EQ(r.xmit_ts, t(20));
    EXPECT_EQ(r.rtt, 30ms);
    r.update({at(0), at(1000), t(10), false}, at(1000), t(52), false); // sent earlier: RACK stays
    EXPECT_EQ(r.xmit_ts, t(20));
    EXPECT_EQ(r.end_seq, at(2000));
    EXPECT_EQ(r.min_rtt, 30ms);
}

// §6.2 step 2: a retransmitted segment acknowledged sooner than any round trip (or by an
// ACK echoing an older timestamp) was the original's ACK: no sample, no RACK update.
TEST(RackState, AmbiguousAckOfARetransmissionIsIgnored) {
    rack_state r = fresh();
    r.update({at(0), at(1000), t(0), false}, at(1000), t(10), false); // min_RTT 10 ms
    r.update({at(1000), at(2000), t(15), true}, at(2000), t(20), false); // 5 ms: too soon
    EXPECT_EQ(r.xmit_ts, t(0));
    r.update({at(1000), at(2000), t(15), true}, at(2000), t(30), true); // echo older than the resend
    EXPECT_EQ(r.xmit_ts, t(0));
    r.update({at(1000), at(2000), t(15), true}, at(2000), t(30), false);
    EXPECT_EQ(r.xmit_ts, t(15));
}

// §6.2 step 3: an original delivered below RACK.fack arrived out of order.
TEST(RackState, DeliveryBelowFackIsReordering) {
    rack_state r = fresh();
    r.note_delivered_end(at(3000), false);
    r.note_delivered_end(at(1000), true); // a retransmission filling the hole: not reordering
    EXPECT_FALSE(r.reordering_seen);
    r.note_delivered_end(at(2000), false);
    EXPECT_TRUE(r.reordering_seen);
}

// §6.2 step 4: 0 in recovery or with DupThresh SACKed while no reordering was seen; else
// min_RTT / 4 times a multiplier that each D-SACK round raises, never above SRTT, back
// to 1 after 16 recoveries without D-SACK.
TEST(RackState, ReorderingWindow) {
    rack_state r = fresh();
    r.update({at(0), at(1000), t(0), false}, at(1000), t(40), false); // min_RTT 40 ms
    const maybe_duration srtt = duration(50ms);
    EXPECT_EQ(r.reo_wnd(false, true, false, at(0), at(5000), srtt), 0ms);
    EXPECT_EQ(r.reo_wnd(false, false, true, at(0), at(5000), srtt), 0ms);
    EXPECT_EQ(r.reo_wnd(false, false, false, at(0), at(5000), srtt), 10ms);
    EXPECT_EQ(r.reo_wnd(true, false, false, at(0), at(5000), srtt), 20ms);
    EXPECT_EQ(r.reo_wnd(true, false, false, at(1000), at(5000), srtt), 20ms); // same D-SACK round
    EXPECT_EQ(r.reo_wnd(true, false, false, at(5000), at(9000), srtt), 30ms); // the next round
    EXPECT_EQ(r.reo_wnd(true, false, false, at(9000), at(9500), srtt), 40ms);
    EXPECT_EQ(r.reo_wnd(true, false, false, at(9500), at(9600), srtt), 50ms);
    EXPECT_EQ(r.reo_wnd(true, false, false, at(9600), at(9700), srtt), 50ms); // capped at SRTT
    r.reordering_seen = true;
    EXPECT_GT(r.reo_wnd(false, true, true, at(9700), at(9800), srtt), 0ms); // reordering: a window in recovery too
    for (int i = 0; i < rack_state::reo_wnd_persist_rounds; ++i) r.recovery_ended();
    EXPECT_EQ(r.reo_wnd(false, true, true, at(9700), at(9800), srtt), 10ms);
}

// §6.2 step 5: an un-SACKed octet sent before the latest delivered one is lost once its
// window has passed; the next one to pass sets the wait.
TEST(RackState, DetectsLossesByTime) {
    rack_state r = fresh();
    r.log.sent(at(0), at(1000), t(0), false);
    r.log.sent(at(1000), at(2000), t(4), false);
    r.log.sent(at(2000), at(3000), t(8), false);
    r.log.sent(at(3000), at(4000), t(9), false);
    sack_scoreboard sacked;
    const std::array<wire::sack_block, 1> blocks{wire::sack_block{base + 3000, base + 4000}};
    sacked.update(at(0), at(4000), blocks);
    r.update(r.log.runs()[3], at(4000), t(19), false); // RACK.rtt 10 ms
    const rack_verdict v = r.detect(sacked, t(19), 2ms);
    // 0:1000 was sent 9 ms before the delivered segment, 1000:2000 5 ms: both past 2 ms.
    // 2000:3000 1 ms before: 1 ms to go.
    EXPECT_EQ(v.lost_end, at(2000));
    EXPECT_EQ(v.lost_retransmit, std::nullopt);
    EXPECT_EQ(v.wait, 1ms);
    const rack_verdict later = r.detect(sacked, t(20), 2ms);
    EXPECT_EQ(later.lost_end, at(3000));
    EXPECT_EQ(later.wait, std::nullopt);
}

TEST(RackState, LostRetransmissionIsFound) {
    rack_state r = fresh();
    r.log.sent(at(0), at(3000), t(0), false);
    r.log.sent(at(0), at(1000), t(10), true); // sent again
    r.log.sent(at(3000), at(4000), t(11), false);
    sack_scoreboard sacked;
    const std::array<wire::sack_block, 1> blocks{wire::sack_block{base + 1000, base + 4000}};
    sacked.update(at(0), at(4000), blocks);
    r.update(r.log.runs()[2], at(4000), t(21), false);
    const rack_verdict v = r.detect(sacked, t(21), 0ms);
    EXPECT_EQ(v.lost_end, at(1000));
    EXPECT_EQ(v.lost_retransmit, at(0));
}

// §7.2: two round trips, a worst-case delayed ACK more for a flight of one segment, and
// 1 s before any round trip was measured.
TEST(RackState, ProbeTimeout) {
    EXPECT_EQ(rack_state::probe_timeout(duration(10ms), false), 20ms);
    EXPECT_EQ(rack_state::probe_timeout(duration(10ms), true), 220ms);
    EXPECT_EQ(rack_state::probe_timeout(maybe_duration{}, false), 1s);
}

// ---- one connection ----

constexpr std::string_view sack_syn = "S 0:0(0) win 65535 <mss 1000,sackOK>";

tcp_config reno() {
    tcp_config c;
    c.congestion = congestion_algorithm::reno;
    return c;
}

// ESTABLISHED, with one exchange of 10 ms behind it: SRTT 10 ms, everything acknowledged.
// Our stream then continues at 1001.
void establish_with_rtt(harness& h) {
    h.listen();
    h.deliver(sack_syn);
    h.sent.clear(); // the SYN,ACK
    h.advance(10ms);
    h.deliver(". 1:1(0) ack 1 win 65535");
    h.expect_state(tcp_state::established);
    h.events.clear();
    h.send(1000);
    h.expect_tx("P. 1:1001(1000) ack 1");
    h.advance(10ms);
    h.deliver(". 1:1(0) ack 1001 win 65535");
    ASSERT_EQ(h.conn.control_block().srtt, 10ms);
}

// A flight of `bytes` from 1001 on, its segments not looked at, and one round trip on.
void send_flight(harness& h, std::size_t bytes) {
    h.send(bytes);
    h.sent.clear();
    h.advance(10ms);
}

bool sent_seq(const harness& h, std::uint32_t rel) {
    return std::any_of(h.sent.begin(), h.sent.end(),
                       [&](const sent_segment& s) { return s.header.seq - h.our_iss == rel && !s.payload.empty(); });
}

// A hole with one segment SACKed above it: RFC 6675 waits for two more (or the RTO); RACK
// resends it once the reordering window (2.5 ms) has passed.
TEST(Rack, HoleWithTooFewSackedAboveIsResentAfterTheReorderingWindow) {
    harness h(reno(), no_delay());
    establish_with_rtt(h);
    send_flight(h, 2000);
    h.deliver(". 1:1(0) ack 1001 win 65535 <sack 2001:3001>");
    h.expect_no_tx();
    h.advance(2ms);
    h.expect_no_tx();
    h.advance(1ms);
    h.expect_tx(". 1001:2001(1000) ack 1");
    EXPECT_TRUE(h.conn.control_block().in_recovery);
    h.deliver(". 1:1(0) ack 3001 win 65535");
    EXPECT_EQ(h.conn.stats().rto_retransmits, 0u);
    EXPECT_EQ(h.conn.stats().fast_retransmits, 1u);
}

// The late segment arrives within the window: nothing is sent again, and RACK has seen
// reordering (RFC 8985 §6.2 step 3: its window no longer drops to 0 in recovery), which
// it keeps for the next flights.
TEST(Rack, ReorderingWithinTheWindowIsNotALoss) {
    harness h(reno(), no_delay());
    establish_with_rtt(h);
    send_flight(h, 2000);
    h.deliver(". 1:1(0) ack 1001 win 65535 <sack 2001:3001>");
    h.advance(1ms);
    h.deliver(". 1:1(0) ack 3001 win 65535");
    h.advance(1s);
    h.expect_no_tx();
    EXPECT_EQ(h.conn.stats().retransmits, 0u);
    EXPECT_FALSE(h.conn.control_block().in_recovery);
    ASSERT_NE(h.conn.loss_detection(), nullptr);
    EXPECT_TRUE(h.conn.loss_detection()->reordering_seen);
}

// A retransmission lost too: once data sent after it is SACKed, RACK finds it lost and
// it goes again, where RFC 6675 alone waits for the RTO.
TEST(Rack, LostRetransmissionIsSentAgainWithoutTimeout) {
    harness h(reno(), no_delay());
    establish_with_rtt(h);
    send_flight(h, 30000); // 1001:11001, cwnd 10
    // 1001:2001 lost; the three SACKs after it start recovery, and the retransmission is lost.
    for (int i = 1; i <= 3; ++i)
        h.deliver(". 1:1(0) ack 1001 win 65535 <sack 2001:" + std::to_string(2001 + i * 1000) + ">");
    ASSERT_TRUE(h.conn.control_block().in_recovery);
    ASSERT_TRUE(sent_seq(h, 1001));
    h.sent.clear();
    // The rest of the flight is SACKed; PRR lets new data out, after the retransmission.
    for (int i = 4; i <= 9; ++i)
        h.deliver(". 1:1(0) ack 1001 win 65535 <sack 2001:" + std::to_string(2001 + i * 1000) + ">");
    ASSERT_FALSE(h.sent.empty());
    const std::uint32_t first_new = h.sent.front().header.seq - h.our_iss;
    ASSERT_GE(first_new, 11001u);
    h.sent.clear();
    h.advance(10ms);
    h.deliver(". 1:1(0) ack 1001 win 65535 <sack 2001:" + std::to_string(first_new + 1000) + ">");
    EXPECT_TRUE(sent_seq(h, 1001)) << "the lost retransmission was not sent again";
    EXPECT_EQ(h.conn.stats().rto_retransmits, 0u);
    EXPECT_EQ(h.conn.stats().recoveries, 1u);
}

// §7: the last three segments of a flight are lost and no ACK will come for them. Two
// round trips after the last ACK, the last segment goes again as a probe; its SACK lets
// RACK find the other two lost: no RTO.
TEST(Rack, TailLossIsFoundByAProbeWithoutTimeout) {
    harness h(reno(), no_delay());
    establish_with_rtt(h);
    send_flight(h, 5000); // 1001:6001
    h.deliver(". 1:1(0) ack 3001 win 65535"); // 3001:6001 lost
    h.expect_no_tx();
    h.advance(19ms);
    h.expect_no_tx();
    h.advance(1ms); // PTO = 2 SRTT after that ACK
    h.expect_tx("P. 5001:6001(1000) ack 1");
    h.expect_no_tx();
    h.advance(10ms);
    h.deliver(". 1:1(0) ack 3001 win 65535 <sack 5001:6001>");
    h.expect_tx(". 3001:4001(1000) ack 1");
    h.expect_tx(". 4001:5001(1000) ack 1");
    h.deliver(". 1:1(0) ack 6001 win 65535");
    EXPECT_EQ(h.conn.stats().tail_probes, 1u);
    EXPECT_EQ(h.conn.stats().rto_retransmits, 0u);
    EXPECT_EQ(h.conn.next_deadline(), std::nullopt);
}

// §7.3: with data waiting and room in the receiver's window, the probe is new data, beyond
// cwnd. A whole flight lost: the probe's SACK has RACK find all of it lost.
TEST(Rack, ProbeOfNewDataWhenTheWholeFlightIsLost) {
    harness h(reno(), no_delay());
    establish_with_rtt(h);
    h.send(20000);
    h.sent.clear(); // 1001:11001 (cwnd 10), all lost
    h.advance(20ms);
    h.expect_tx(". 11001:12001(1000) ack 1");
    h.expect_no_tx();
    h.advance(10ms);
    h.deliver(". 1:1(0) ack 1001 win 65535 <sack 11001:12001>");
    EXPECT_TRUE(h.conn.control_block().in_recovery);
    h.expect_tx(". 1001:2001(1000) ack 1");
    EXPECT_EQ(h.conn.stats().tail_probes, 1u);
    EXPECT_EQ(h.conn.stats().rto_retransmits, 0u);
}

// §7.4: a probe that the receiver reports as a duplicate (D-SACK) repaired nothing: the
// window stays. One whose ACK is followed by an ACK beyond it, without D-SACK, did: the
// congestion control answers one loss.
TEST(Rack, ProbeAnsweredWithDsackKeepsTheWindow) {
    harness h(reno(), no_delay());
    establish_with_rtt(h);
    send_flight(h, 3000);
    h.deliver(". 1:1(0) ack 2001 win 65535"); // the ACK of 2001:4001 is lost
    const std::uint32_t cwnd = h.conn.control_block().cwnd;
    h.advance(20ms);
    h.expect_tx("P. 3001:4001(1000) ack 1");
    h.advance(10ms);
    h.deliver(". 1:1(0) ack 4001 win 65535 <sack 3001:4001>");
    EXPECT_EQ(h.conn.control_block().cwnd, cwnd);
    EXPECT_EQ(h.conn.stats().tail_probes, 1u);
}

TEST(Rack, ProbeThatRepairedALossReducesTheWindow) {
    harness h(reno(), no_delay());
    establish_with_rtt(h);
    send_flight(h, 3000);
    h.deliver(". 1:1(0) ack 2001 win 65535"); // 3001:4001 is lost
    h.advance(20ms);
    h.expect_tx("P. 3001:4001(1000) ack 1");
    h.advance(10ms);
    h.deliver(". 1:1(0) ack 4001 win 65535"); // no D-SACK: the original may have arrived too
    const std::uint32_t cwnd = h.conn.control_block().cwnd;
    send_flight(h, 1000);
    h.deliver(". 1:1(0) ack 5001 win 65535"); // beyond the probe, no D-SACK came: it repaired a loss
    EXPECT_LT(h.conn.control_block().cwnd, cwnd);
    EXPECT_EQ(h.conn.control_block().ssthresh, h.conn.control_block().cwnd);
}

// A flight sent in one burst and acknowledged in order needs nothing but its instant (a
// request-response connection allocates nothing for RACK); a second burst while the first
// is in flight makes the log, which goes once everything is acknowledged.
TEST(Rack, LogIsMadeOnlyForAFlightOfMoreThanOneBurst) {
    harness h(reno(), no_delay());
    establish_with_rtt(h);
    EXPECT_EQ(h.conn.heap_bytes(), 0u);
    h.send(1000);
    EXPECT_EQ(h.conn.heap_bytes(), send_buffer::body_bytes() + 2048u); // the send buffer's body and ring only
    h.advance(10ms);
    h.deliver(". 1:1(0) ack 2001 win 65535");
    EXPECT_EQ(h.conn.heap_bytes(), 0u);
    h.send(1000);
    h.advance(1ms);
    h.send(1000); // a second burst
    EXPECT_TRUE(h.conn.has_extras());
    EXPECT_GE(h.conn.heap_bytes(), 2048u + sizeof(connection_extras));
    h.advance(10ms);
    h.deliver(". 1:1(0) ack 4001 win 65535");
    EXPECT_FALSE(h.conn.has_extras());
    EXPECT_EQ(h.conn.heap_bytes(), 0u);
}

// With RACK off, no probe at 2 SRTT: the RTO (200 ms, the minimum) finds the tail loss,
// as before RACK-TLP. Without SACK the same holds: RACK-TLP needs it.
void expect_no_probe_then_rto(tcp_config c, std::string_view syn) {
    harness h(c, no_delay());
    h.listen();
    h.deliver(syn);
    h.sent.clear();
    h.advance(10ms);
    h.deliver(". 1:1(0) ack 1 win 65535");
    send_flight(h, 4000);
    h.deliver(". 1:1(0) ack 2001 win 65535"); // 2001:4001 lost: with RACK-TLP a probe at 20 ms
    h.advance(199ms);
    h.expect_no_tx();
    h.advance(1ms);
    h.expect_tx(". 2001:3001(1000) ack 1");
    EXPECT_EQ(h.conn.stats().tail_probes, 0u);
    EXPECT_EQ(h.conn.stats().rto_retransmits, 1u);
}

TEST(Rack, OffMeansTheRtoFindsATailLoss) {
    tcp_config c = reno();
    c.rack = false;
    expect_no_probe_then_rto(c, sack_syn);
}

TEST(Rack, WithoutSackTheRtoFindsATailLoss) { expect_no_probe_then_rto(reno(), "S 0:0(0) win 65535 <mss 1000>"); }

} // namespace
} // namespace tern::tcp::test
