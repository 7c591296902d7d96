// Retransmission: RFC 6298 (SRTT/RTTVAR, Karn, backoff, limits), RFC 9293 §3.8.3 (R2:
// give up), RFC 5681 (slow start after a timeout, fast retransmit on three duplicate ACKs).
#include <gtest/gtest.h>

#include "harness.hpp"

namespace tern::tcp::test {
namespace {

using namespace std::chrono_literals;

// The handshake measures an RTT of `rtt` from the SYN,ACK (no timestamps).
void establish_with_rtt(harness& h, duration rtt) {
    h.listen();
    h.deliver("S 0:0(0) win 65535 <mss 1460>");
    h.expect_tx("S. 0:0(0) ack 1");
    h.advance(rtt);
    h.deliver(". 1:1(0) ack 1 win 65535");
    h.expect_state(tcp_state::established);
    h.events.clear();
}

TEST(Retransmit, RtoFromFirstSample) {
    harness h;
    establish_with_rtt(h, 100ms);
    const auto& t = h.conn.control_block();
    EXPECT_EQ(t.srtt, duration(100ms));  // RFC 6298 §2.2: SRTT <- R
    EXPECT_EQ(t.rttvar, duration(50ms)); // RTTVAR <- R/2
    EXPECT_EQ(t.rto, duration(300ms));   // RTO <- SRTT + max(G, K*RTTVAR)
}

// A connection that never lost anything keeps no room for loss counts (an idle one is 32
// bytes smaller for it); the first retransmission makes them, and from then on they and
// the traffic counts add up as one connection_stats.
TEST(Retransmit, LossCountsAreMadeAtTheFirstRetransmission) {
    static_assert(sizeof(connection) <= 368, "an idle connection's bytes are counted (issue 8)");
    harness h;
    establish_with_rtt(h, 100ms);
    h.send(100);
    h.expect_tx("P. 1:101(100) ack 1");
    h.deliver(". 1:1(0) ack 101");
    EXPECT_FALSE(h.conn.has_rare_counts());
    EXPECT_EQ(h.conn.heap_bytes(), 0u);
    EXPECT_EQ(h.conn.stats().retransmits, 0u);
    h.send(50);
    h.expect_tx("P. 101:151(50) ack 1");
    h.advance(h.conn.control_block().rto);
    h.expect_tx("P. 101:151(50) ack 1");
    EXPECT_TRUE(h.conn.has_rare_counts());
    const connection_stats s = h.conn.stats();
    EXPECT_EQ(s.retransmits, 1u);
    EXPECT_EQ(s.rto_retransmits, 1u);
    EXPECT_EQ(s.fast_retransmits, 0u);
    EXPECT_EQ(s.segments_out, 4u); // SYN,ACK, two data segments, one retransmission
    EXPECT_EQ(s.bytes_out, 200u);
    EXPECT_EQ(h.conn.info().retransmits, 1u);
    EXPECT_GE(h.conn.heap_bytes(), sizeof(connection::rare_counts));
}

TEST(Retransmit, RtoRetransmissionWithExactBackoff) {
    harness h;
    establish_with_rtt(h, 100ms);
    h.send(100);
    h.expect_tx("P. 1:101(100) ack 1");
    for (auto rto : {300ms, 600ms, 1200ms}) { // §5.5: double each time
        h.advance(rto - 1ms);
        h.expect_no_tx();
        h.advance(1ms);
        h.expect_tx("P. 1:101(100) ack 1");
    }
    h.deliver(". 1:1(0) ack 101");
    EXPECT_EQ(h.conn.next_deadline(), std::nullopt);
    EXPECT_EQ(h.conn.stats().retransmits, 3u);
    EXPECT_EQ(h.conn.stats().segments_out, 5u); // SYN,ACK, the data, 3 retransmissions
    EXPECT_EQ(h.conn.stats().bytes_out, 400u);
    EXPECT_EQ(h.conn.control_block().srtt, duration(100ms)); // Karn: no sample from it
    EXPECT_EQ(h.conn.control_block().rto, duration(2400ms)); // the backoff stays until one
    EXPECT_EQ(h.conn.control_block().retransmits, 0);
}

TEST(Retransmit, NewSampleAfterKarnResetsRto) {
    harness h;
    establish_with_rtt(h, 100ms);
    h.send(100);
    h.expect_tx("P. 1:101(100) ack 1");
    h.advance(300ms);
    h.expect_tx("P. 1:101(100) ack 1");
    h.deliver(". 1:1(0) ack 101");
    h.send(100);
    h.expect_tx("P. 101:201(100) ack 1");
    h.advance(100ms);
    h.deliver(". 1:1(0) ack 201");
    const auto& t = h.conn.control_block();
    EXPECT_EQ(t.srtt, duration(100ms));
    EXPECT_EQ(t.rttvar, duration(37500us)); // 3/4 * 50 ms + 1/4 * 0
    EXPECT_EQ(t.rto, duration(250ms));
}

TEST(Retransmit, MinimumRtoApplies) {
    harness h;
    h.establish(); // an RTT of 0: RTO = max(min_rto, 0 + G)
    EXPECT_EQ(h.conn.control_block().rto, duration(200ms));
}

TEST(Retransmit, RetryLimitClosesTimedOut) {
    tcp_config config;
    config.max_retransmits = 2;
    harness h(config);
    h.establish();
    h.send(10);
    h.expect_tx("P. 1:11(10) ack 1");
    h.advance(200ms);
    h.expect_tx("P. 1:11(10) ack 1");
    h.advance(400ms);
    h.expect_tx("P. 1:11(10) ack 1");
    h.advance(800ms - 1ns);
    h.expect_state(tcp_state::established);
    h.advance(1ns);
    h.expect_state(tcp_state::closed);
    h.expect_events({"closed timed_out"});
    h.expect_no_tx();
}

// RFC 5681's arithmetic: Reno (CUBIC's 0.7 is in test_congestion).
tcp_config reno() {
    tcp_config c;
    c.congestion = congestion_algorithm::reno;
    return c;
}

TEST(Retransmit, TimeoutGoesBackToSndUnaWithOneSegment) {
    connection_options options;
    options.no_delay = true;
    harness h(reno(), options);
    h.establish();
    h.send(3000);
    h.expect_tx(". 1:1461(1460) ack 1");
    h.expect_tx(". 1461:2921(1460) ack 1");
    h.expect_tx("P. 2921:3001(80) ack 1");
    h.advance(200ms);
    h.expect_tx(". 1:1461(1460) ack 1"); // RFC 5681 §3.1: cwnd = 1 SMSS
    h.expect_no_tx();
    EXPECT_EQ(h.conn.control_block().cwnd, 1460u);
    EXPECT_EQ(h.conn.control_block().ssthresh, 2920u); // max(FlightSize / 2, 2 SMSS)
    h.deliver(". 1:1(0) ack 1461");
    h.expect_tx(". 1461:2921(1460) ack 1"); // slow start: two more
    h.expect_tx("P. 2921:3001(80) ack 1");
    h.deliver(". 1:1(0) ack 3001");
    EXPECT_EQ(h.conn.next_deadline(), std::nullopt);
}

// Karn's rule takes no sample from a SYN,ACK sent twice; the echo of its timestamp still
// times it (RFC 7323 §4.1), so the connection does not begin with a 3 s RTO and no RTT.
// Under heavy loss (test_pair's HeavyLossStillCompletes, seed 1047) every timed segment
// could go the same way, the RTO backed off to 48 s, and TIME-WAIT ended before it.
TEST(Retransmit, TimestampEchoGivesTheFirstSampleWhenKarnLeavesNone) {
    connection_options options;
    options.ts_offset = 0;
    harness h({}, options);
    h.listen();
    h.deliver("S 0:0(0) win 65535 <mss 1460,TS val 1000 ecr 0>");
    h.sent.clear();
    h.advance(1s); // the SYN,ACK again
    ASSERT_EQ(h.sent.size(), 1u);
    const std::uint32_t tsval = h.sent.front().header.options.timestamp->first;
    h.sent.clear();
    h.advance(5ms);
    h.deliver(". 1:1(0) ack 1 win 65535 <TS val 1001 ecr " + std::to_string(tsval) + ">");
    h.expect_state(tcp_state::established);
    const tcb& t = h.conn.control_block();
    ASSERT_TRUE(t.srtt.has_value());
    EXPECT_EQ(*t.srtt, 5ms);
    EXPECT_EQ(t.rto, 200ms); // min_rto, not RFC 6298 §5.7's 3 s
}

TEST(Retransmit, FastRetransmitOnThirdDuplicateAck) {
    harness h(reno());
    h.establish();
    h.send(4380);
    h.expect_tx(". 1:1461(1460) ack 1");
    h.expect_tx(". 1461:2921(1460) ack 1");
    h.expect_tx("P. 2921:4381(1460) ack 1");
    h.deliver(". 1:1(0) ack 1");
    h.deliver(". 1:1(0) ack 1");
    h.expect_no_tx();
    h.deliver(". 1:1(0) ack 1");
    h.expect_tx(". 1:1461(1460) ack 1"); // RFC 5681 §3.2 step 3
    const auto& t = h.conn.control_block();
    EXPECT_EQ(t.ssthresh, 2920u);
    EXPECT_EQ(t.cwnd, 2920u + 3 * 1460u);
    h.deliver(". 1:1(0) ack 1");
    EXPECT_EQ(t.cwnd, 2920u + 4 * 1460u); // step 4: inflate
    h.deliver(". 1:1(0) ack 4381");
    EXPECT_EQ(t.cwnd, 2920u); // step 6: deflate
    EXPECT_FALSE(t.in_recovery);
    h.expect_no_tx();
}

TEST(Retransmit, DataAckedWithoutRetransmissionGrowsCwnd) {
    harness h({}, no_delay());
    h.establish();
    h.send(10 * 1460); // the whole initial window
    for (int i = 0; i < 10; ++i) h.sent.pop_front();
    h.deliver(". 1:1(0) ack 1461");
    EXPECT_EQ(h.conn.control_block().cwnd, 11 * 1460u); // IW10, then slow start: + min(acked, SMSS)
}

// RFC 6928 §2: IW = min(10 * MSS, max(2 * MSS, 14600)); with initial_window 0, RFC 5681
// §3.1's 2 to 4 segments by MSS.
TEST(Retransmit, InitialWindowIsRfc6928sTenSegmentsOrRfc5681s) {
    auto iw = [](std::uint8_t segments, std::string_view mss) {
        tcp_config c;
        c.initial_window = segments;
        c.mtu = 9000; // our MSS 8960: the peer's sets the size
        harness h(c);
        h.establish("S 0:0(0) win 65535 <mss " + std::string(mss) + ">");
        return h.conn.control_block().cwnd;
    };
    EXPECT_EQ(iw(10, "1460"), 14600u);
    EXPECT_EQ(iw(10, "536"), 5360u);
    EXPECT_EQ(iw(10, "8960"), 17920u); // jumbo: 2 segments, above 14600 bytes
    EXPECT_EQ(iw(10, "4000"), 14600u); // 3.65 segments' worth
    EXPECT_EQ(iw(0, "1460"), 3 * 1460u);
    EXPECT_EQ(iw(0, "536"), 4 * 536u);
    EXPECT_EQ(iw(0, "4000"), 2 * 4000u);
}

} // namespace
} // namespace tern::tcp::test
