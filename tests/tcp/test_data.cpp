// Data transfer in ESTABLISHED: RFC 9293 §3.8.6 windows, §3.10.7.4 seventh step, delayed
// ACKs (§3.8.6.3, RFC 5681 §4.2), the acceptability test (§3.10.7.4 first).
#include <gtest/gtest.h>

#include "harness.hpp"

namespace tern::tcp::test {
namespace {

using namespace std::chrono_literals;

TEST(Data, ReceiveInOrder_DeliveredAndAckDelayed) {
    harness h;
    h.establish();
    h.deliver(". 1:1001(1000) ack 1 win 65535");
    h.expect_events({"data 1000"});
    EXPECT_EQ(h.received, pattern(1000));
    h.expect_no_tx();
    h.advance(39ms);
    h.expect_no_tx();
    h.advance(1ms); // the delayed-ACK time (40 ms)
    // RFC 1122 §4.2.3.3: 1000 bytes < min(RCV.BUFF / 2, MSS): the right edge stays.
    h.expect_tx(". 1:1(0) ack 1001 win 64535");
    h.advance(1s);
    h.expect_no_tx();
}

TEST(Data, ReceiveAcksEverySecondSegmentAtOnce) {
    harness h;
    h.establish();
    h.deliver(". 1:1001(1000) ack 1");
    h.expect_no_tx();
    h.deliver(". 1001:2001(1000) ack 1"); // crosses the peer's sequence wrap
    h.expect_tx(". 1:1(0) ack 2001");
    EXPECT_EQ(h.received, pattern(2000));
    EXPECT_EQ(h.conn.next_deadline(), std::nullopt); // the delayed ACK went with it
}

TEST(Data, SendIsSegmentedByMssAndAcked) {
    harness h({}, no_delay());
    h.establish();
    EXPECT_EQ(h.send(3000), 3000u);
    h.expect_tx(". 1:1461(1460) ack 1");
    h.expect_tx(". 1461:2921(1460) ack 1");
    h.expect_tx("P. 2921:3001(80) ack 1");
    h.deliver(". 1:1(0) ack 3001 win 65535");
    h.expect_no_tx();
    EXPECT_EQ(h.conn.control_block().snd_una, seq32(h.our_iss) + 3001);
    EXPECT_EQ(h.conn.next_deadline(), std::nullopt); // RFC 6298 §5.2: all acked, timer off
}

TEST(Data, SendRespectsPeerWindow) {
    harness h;
    h.establish("S 0:0(0) win 1000 <mss 1460>", ". 1:1(0) ack 1 win 1000");
    h.send(1500);
    h.expect_tx(". 1:1001(1000) ack 1");
    h.expect_no_tx();
    h.deliver(". 1:1(0) ack 1001 win 1000");
    h.expect_tx("P. 1001:1501(500) ack 1");
}

TEST(Data, DataBothWays_AckPiggybacked) {
    harness h;
    h.establish();
    h.deliver("P. 1:101(100) ack 1");
    h.expect_no_tx(); // delayed
    h.send(50);
    h.expect_tx("P. 1:51(50) ack 101"); // the ACK rides on the data
    h.advance(10ms);
    h.deliver("P. 101:201(100) ack 51");
    h.expect_events({"data 100", "data 100"});
    h.advance(40ms);
    h.expect_tx(". 51:51(0) ack 201");
}

TEST(Data, WritableAfterSendBufferFills) {
    connection_options options = no_delay();
    options.send_buffer = 4096;
    harness h({}, options);
    h.establish();
    EXPECT_EQ(h.send(5000), 4096u);
    h.expect_tx(". 1:1461(1460) ack 1");
    h.expect_tx(". 1461:2921(1460) ack 1");
    h.expect_tx("P. 2921:4097(1176) ack 1");
    h.deliver(". 1:1(0) ack 1461 win 65535");
    h.expect_events({"writable"});
}

TEST(Data, SegmentBeyondWindowGetsAck) {
    harness h;
    h.establish();
    h.deliver(". 70001:71001(1000) ack 1"); // the window is 65536 from 1
    h.expect_tx(". 1:1(0) ack 1");
    h.expect_events({});
    EXPECT_EQ(h.conn.drops(tcp_drop::not_acceptable), 1u);
}

TEST(Data, OldDuplicateGetsImmediateAck) {
    harness h;
    h.establish();
    h.deliver(". 1:1001(1000) ack 1");
    h.advance(40ms);
    h.expect_tx(". 1:1(0) ack 1001");
    h.deliver(". 1:1001(1000) ack 1"); // our ACK was lost
    h.expect_tx(". 1:1(0) ack 1001");
    h.expect_events({"data 1000"});
}

TEST(Data, PartlyOldSegmentIsTrimmed) {
    harness h;
    h.establish();
    h.deliver(". 1:501(500) ack 1");
    h.deliver(". 301:1001(700) ack 1"); // bytes 301..500 again
    EXPECT_EQ(h.received, pattern(1000));
    h.expect_events({"data 500", "data 500"});
    h.expect_tx(". 1:1(0) ack 1001");
}

TEST(Data, SegmentPastTheWindowEdgeIsTrimmed) {
    connection_options options;
    options.receive_buffer = 4096;
    harness h({}, options);
    h.establish();
    h.deliver("F. 1:5001(5000) ack 1"); // 4096 fit; the rest and the FIN do not
    EXPECT_EQ(h.received, pattern(4096));
    h.expect_tx(". 1:1(0) ack 4097");
    h.expect_state(tcp_state::established);
}

TEST(Data, AckBeyondSndNxtGetsAckAndIsDropped) {
    harness h;
    h.establish();
    h.deliver(". 1:1(0) ack 500"); // RFC 9293 §3.10.7.4 fifth; RFC 5961 §5.2
    h.expect_tx(". 1:1(0) ack 1");
    EXPECT_EQ(h.conn.drops(tcp_drop::bad_ack), 1u);
}

TEST(Data, AckBeforeMaxWindowIsDroppedWithAck) {
    harness h;
    h.establish();
    h.deliver(". 1:1(0) ack 4294900000"); // far below SND.UNA - MAX.SND.WND
    h.expect_tx(". 1:1(0) ack 1");
    h.expect_events({});
}

TEST(Data, SendBeforeEstablishedWaits) {
    harness h;
    h.connect();
    h.expect_tx("S 0:0(0)");
    h.send(100);
    h.expect_no_tx();
    h.deliver("S. 0:0(0) ack 1 win 65535 <mss 1460>");
    h.expect_tx("P. 1:101(100) ack 1"); // the ACK of the SYN,ACK carries the data
    h.expect_no_tx();
}

TEST(Data, ZeroWindowProbedWithBackoffUntilItOpens) {
    harness h;
    h.establish("S 0:0(0) win 0 <mss 1460>", ". 1:1(0) ack 1 win 0");
    h.send(100);
    h.expect_no_tx();
    // RFC 9293 §3.8.6.1: probe at the RTO (200 ms here), then back off. The probe is an
    // ACK one below SND.UNA, which the peer must answer with its window.
    for (auto wait : {200ms, 400ms, 800ms}) {
        h.advance(wait - 1ms);
        h.expect_no_tx();
        h.advance(1ms);
        h.expect_tx(". 0:0(0) ack 1");
        h.deliver(". 1:1(0) ack 1 win 0"); // still shut
    }
    h.expect_state(tcp_state::established); // probing never times the connection out
    h.deliver(". 1:1(0) ack 1 win 1000");   // the window opens
    h.expect_tx("P. 1:101(100) ack 1");
    h.deliver(". 1:1(0) ack 101 win 1000");
    EXPECT_EQ(h.conn.next_deadline(), std::nullopt);
}

// RFC 1122 §4.2.2.17: the sender "SHOULD NOT close the connection as long as the receiving
// host continues to send acknowledgments in response to the probe segments" (above); a
// peer that shut its window and went silent is given up after max_retransmits unanswered
// probes, as Linux's tcp_retries2 bounds its probes.
TEST(Data, ZeroWindowProbesUnansweredTimeOut) {
    tcp_config config;
    config.max_retransmits = 3;
    harness h(config);
    h.establish("S 0:0(0) win 0 <mss 1460>", ". 1:1(0) ack 1 win 0");
    h.send(100);
    h.advance(200ms);
    h.expect_tx(". 0:0(0) ack 1");
    h.deliver(". 1:1(0) ack 1 win 0"); // answered: the count starts again
    for (auto wait : {400ms, 800ms, 1600ms}) {
        h.advance(wait);
        h.expect_tx(". 0:0(0) ack 1");
        h.expect_state(tcp_state::established);
    }
    h.advance(3200ms - 1ns); // the third probe unanswered for its interval
    h.expect_state(tcp_state::established);
    h.expect_no_tx();
    h.advance(1ns);
    h.expect_state(tcp_state::closed);
    h.expect_events({"closed timed_out"});
    h.expect_no_tx();
}

TEST(Data, NagleHoldsSmallSegmentWhileDataIsUnacked) {
    harness h; // Nagle is on by default (RFC 9293 §3.7.4 SHOULD)
    h.establish();
    h.send(10);
    h.expect_tx("P. 1:11(10) ack 1"); // nothing in flight: goes at once
    h.send(10);
    h.send(10);
    h.expect_no_tx(); // small, and 10 bytes unacknowledged
    h.deliver(". 1:1(0) ack 11");
    h.expect_tx("P. 11:31(20) ack 1"); // coalesced
}

TEST(Data, NagleSendsFullSegmentsAndHoldsTheTail) {
    harness h;
    h.establish();
    h.send(3000);
    h.expect_tx(". 1:1461(1460) ack 1");
    h.expect_tx(". 1461:2921(1460) ack 1");
    h.expect_no_tx(); // the 80-byte tail waits for an ACK
    h.deliver(". 1:1(0) ack 2921");
    h.expect_tx("P. 2921:3001(80) ack 1");
}

TEST(Data, NagleDoesNotHoldTheFin) {
    harness h;
    h.establish();
    h.send(1500);
    h.expect_tx(". 1:1461(1460) ack 1");
    h.close();
    h.expect_tx("FP. 1461:1501(40) ack 1");
}

TEST(Data, NoDelayTurnsNagleOff) {
    harness h({}, no_delay());
    h.establish();
    h.send(10);
    h.send(10);
    h.expect_tx("P. 1:11(10) ack 1");
    h.expect_tx("P. 11:21(10) ack 1");
}

// RFC 1122 §4.2.3.3 (RFC 9293 §3.8.6.2.2): the right edge RCV.NXT + RCV.WND moves only by
// at least min(RCV.BUFF / 2, Eff.snd.MSS), here min(32767, 1460): small segments shrink the
// window from the left until 1460 bytes have come, then it opens all the way at once.
TEST(Data, Rfc1122_4_2_3_3_ReceiverSillyWindowAvoidance) {
    harness h;
    h.establish(); // no window scaling: RCV.BUFF is 65535
    h.deliver("P. 1:2(1) ack 1");
    h.deliver("P. 2:3(1) ack 1");
    h.expect_tx(". 1:1(0) ack 3 win 65533"); // the right edge stays at 65536
    h.deliver(". 3:1003(1000) ack 1");
    h.deliver(". 1003:1460(457) ack 1");
    h.expect_tx(". 1:1(0) ack 1460 win 64076"); // 1459 bytes: still short of 1460
    h.deliver("P. 1460:1461(1) ack 1");
    h.advance(40ms);
    h.expect_tx(". 1:1(0) ack 1461 win 65535"); // 1460: the edge moves by 1460
    EXPECT_EQ(h.received, pattern(1460));
}

// With window scaling the window is rounded up to a whole unit, so the right edge that was
// advertised never moves left (RFC 9293 §3.8.6: the window SHOULD NOT be shrunk), and it
// opens fully once an MSS has come.
TEST(Data, ReceiveWindowNeverShrinksWithScaling) {
    connection_options options;
    options.receive_buffer = 1 << 20; // shift 5
    harness h({}, options);
    h.establish("S 0:0(0) win 65535 <mss 1460,nop,wscale 7>", ". 1:1(0) ack 1 win 65535");
    std::uint32_t last_edge = 1 + (1u << 20);
    int full_opens = 0;
    for (std::uint32_t i = 0; i < 40; ++i) {
        const std::uint32_t from = 1 + 100 * i;
        h.deliver(". " + std::to_string(from) + ":" + std::to_string(from + 100) + "(100) ack 1");
        h.advance(40ms);
        ASSERT_EQ(h.sent.size(), 1u);
        const auto& ack = h.sent.front().header;
        const std::uint32_t rel_ack = ack.ack - h.peer_isn;
        const std::uint32_t edge = rel_ack + (std::uint32_t(ack.window) << 5);
        EXPECT_GE(edge, last_edge) << "after " << from + 99;
        if (rel_ack - 1 < 1460) {
            EXPECT_LT(edge - (1 + (1u << 20)), 32u * (i + 1)) << "moved more than rounding";
        }
        if (i == 0) {
            EXPECT_LT(std::uint32_t(ack.window) << 5, 1u << 20); // 100 bytes: not reopened
        }
        if ((std::uint32_t(ack.window) << 5) == 1u << 20) ++full_opens;
        last_edge = edge;
        h.sent.clear();
    }
    EXPECT_GE(full_opens, 2) << "4000 bytes: the window opens fully after each 1460 and a little (rounding)";
}

// A connection keeps its options in 28 bytes (connection_settings): keep-alive times to the
// millisecond, rounded up so that none becomes 0, and cut at 2^32 - 1 ms.
TEST(Data, SettingsKeepKeepaliveTimesInMilliseconds) {
    static_assert(sizeof(connection_settings) <= 28);
    connection_options options;
    EXPECT_FALSE(connection_settings(options).keepalive);
    options.keepalive = keepalive_options{std::chrono::microseconds(500), 1500ms, 4};
    const connection_settings a(options);
    EXPECT_TRUE(a.keepalive);
    EXPECT_EQ(a.keepalive_idle(), 1ms);
    EXPECT_EQ(a.keepalive_interval(), 1500ms);
    EXPECT_EQ(a.keepalive_count, 4);
    options.keepalive = keepalive_options{std::chrono::hours(24 * 60), 75s, 9};
    EXPECT_EQ(connection_settings(options).keepalive_idle(), std::chrono::milliseconds(0xffffffffu));
    options.ts_offset = 77;
    EXPECT_EQ(connection_settings(options).ts_offset, 77u);
}

TEST(Data, KeepaliveProbesAnIdlePeerThenTimesOut) {
    connection_options options;
    options.keepalive = keepalive_options{10s, 1s, 3};
    harness h({}, options);
    h.establish();
    h.advance(10s - 1ms);
    h.expect_no_tx();
    h.advance(1ms);
    h.expect_tx(". 0:0(0) ack 1"); // RFC 1122 §4.2.3.6: SEG.SEQ = SND.NXT - 1
    h.deliver(". 1:1(0) ack 1");   // answered: idle again
    h.advance(10s);
    h.expect_tx(". 0:0(0) ack 1");
    h.advance(1s);
    h.expect_tx(". 0:0(0) ack 1");
    h.advance(1s);
    h.expect_tx(". 0:0(0) ack 1");
    h.expect_state(tcp_state::established);
    h.advance(1s); // the third probe unanswered for an interval
    h.expect_state(tcp_state::closed);
    h.expect_events({"closed timed_out"});
    h.expect_no_tx();
}

// Only an acceptable segment shows the peer is alive: one outside the window (anyone who
// guesses the 4-tuple can send it) is answered with an ACK but must not put the probes off.
TEST(Data, KeepaliveIsNotPutOffByAnUnacceptableSegment) {
    connection_options options;
    options.keepalive = keepalive_options{10s, 1s, 3};
    harness h({}, options);
    h.establish();
    h.advance(9s);
    h.deliver(". 200001:200001(0) ack 1"); // far beyond the window
    h.expect_tx(". 1:1(0) ack 1");         // RFC 9293 §3.10.7.4: an ACK in reply
    h.advance(1s);
    h.expect_tx(". 0:0(0) ack 1"); // the probe, 10 s after the last acceptable segment
}

TEST(Data, KeepaliveIsOffByDefault) {
    harness h;
    h.establish();
    EXPECT_EQ(h.conn.next_deadline(), std::nullopt);
    h.advance(std::chrono::hours(3));
    h.expect_no_tx();
}

} // namespace
} // namespace tern::tcp::test
