// Options: MSS (RFC 9293 §3.7.1), window scale (RFC 7323 §2), timestamps with RTTM and
// PAWS (RFC 7323 §3–§5), SACK-permitted (RFC 2018 §2).
#include <gtest/gtest.h>

#include "harness.hpp"

namespace tern::tcp::test {
namespace {

using namespace std::chrono_literals;

TEST(Options, PeerMssIsHonoured) {
    harness h;
    h.establish("S 0:0(0) win 65535 <mss 500>");
    h.send(1500);
    h.expect_tx(". 1:501(500) ack 1");
    h.expect_tx(". 501:1001(500) ack 1");
    h.expect_tx("P. 1001:1501(500) ack 1");
}

TEST(Options, NoMssMeans536) {
    harness h;
    h.establish("S 0:0(0) win 65535");
    h.send(1072);
    h.expect_tx(". 1:537(536) ack 1");
    h.expect_tx("P. 537:1073(536) ack 1");
}

TEST(Options, OurMssComesFromTheMtu) {
    tcp_config config;
    config.mtu = 9000;
    harness h(config);
    h.listen();
    h.deliver("S 0:0(0) win 65535 <mss 8960>");
    h.expect_tx("S. 0:0(0) ack 1 win 65535 <mss 8960>");
}

TEST(Options, AllOptionsNegotiatedOnPassiveOpen) {
    harness h;
    h.listen();
    h.deliver("S 0:0(0) win 65535 <mss 1460,sackOK,TS val 100 ecr 0,nop,wscale 7>");
    h.expect_tx("S. 0:0(0) ack 1 win 65535 <mss 1460,sackOK,TS val 0 ecr 100,nop,wscale 1>");
    const auto& t = h.conn.control_block();
    EXPECT_TRUE(t.ws_ok);
    EXPECT_TRUE(t.ts_ok);
    EXPECT_TRUE(t.sack_ok);
    EXPECT_EQ(t.snd_wscale, 7);
    EXPECT_EQ(t.rcv_wscale, 1);
    EXPECT_EQ(t.snd_mss, 1460 - 12); // RFC 7323 §4.1 / RFC 6691: the TS option takes 12 bytes
}

// A peer MSS below what our options take wrapped the payload size (MSS 5 with timestamps
// gave 65,529 bytes a segment). It is raised to 48 first, as Linux's tcp_min_snd_mss does.
TEST(Options, TinyPeerMssIsRaisedNotWrapped) {
    for (const std::uint16_t mss : {0, 5, 11, 12, 47}) {
        harness h;
        h.listen();
        h.deliver("S 0:0(0) win 65535 <mss " + std::to_string(mss) + ",sackOK,TS val 100 ecr 0,nop,wscale 7>");
        EXPECT_EQ(h.conn.control_block().snd_mss, 48 - 12) << "peer MSS " << mss;
        harness plain;
        plain.listen();
        plain.deliver("S 0:0(0) win 65535 <mss " + std::to_string(mss) + ">");
        EXPECT_EQ(plain.conn.control_block().snd_mss, 48) << "peer MSS " << mss;
    }
    // With the smallest MSS and three SACK blocks beside the timestamps, data still fits.
    harness h;
    h.establish("S 0:0(0) win 65535 <mss 0,sackOK,TS val 100 ecr 0,nop,wscale 7>",
                ". 1:1(0) ack 1 win 512 <nop,nop,TS val 105 ecr 0>");
    h.deliver(". 11:21(10) ack 1 win 512 <nop,nop,TS val 106 ecr 0>");
    h.deliver(". 31:41(10) ack 1 win 512 <nop,nop,TS val 107 ecr 0>");
    h.deliver(". 51:61(10) ack 1 win 512 <nop,nop,TS val 108 ecr 0>");
    h.sent.clear();
    h.send(100);
    ASSERT_FALSE(h.sent.empty());
    for (const auto& seg : h.sent) EXPECT_LE(seg.payload.size() + 4 + 8 * seg.header.options.sack_block_count, 36u);
}

TEST(Options, WindowScaleAppliedBothWays) {
    harness h;
    h.establish("S 0:0(0) win 65535 <mss 1460,nop,wscale 7>", ". 1:1(0) ack 1 win 2");
    EXPECT_EQ(h.conn.control_block().snd_wnd, 256u);
    h.send(1000);
    h.expect_tx(". 1:257(256) ack 1 win 32768"); // our 64 KiB >> 1
    h.expect_no_tx();
}

TEST(Options, WindowScaleAbove14IsClamped) {
    harness h;
    h.establish("S 0:0(0) win 65535 <mss 1460,nop,wscale 15>");
    EXPECT_EQ(h.conn.control_block().snd_wscale, 14); // RFC 7323 §2.3
}

TEST(Options, NoWindowScaleWithoutThePeers) {
    harness h;
    h.listen();
    h.deliver("S 0:0(0) win 65535 <mss 1460,sackOK>");
    h.expect_tx("S. 0:0(0) ack 1 win 65535 <mss 1460,nop,nop,sackOK>");
    EXPECT_EQ(h.conn.control_block().rcv_wscale, 0);
}

// A passive open with timestamps, the handshake taking 5 ms.
void establish_with_timestamps(harness& h) {
    h.listen();
    h.deliver("S 0:0(0) win 65535 <mss 1460,sackOK,TS val 100 ecr 0,nop,wscale 7>");
    h.expect_tx("S. 0:0(0) ack 1 <mss 1460,sackOK,TS val 0 ecr 100,nop,wscale 1>");
    h.advance(5ms);
    h.deliver(". 1:1(0) ack 1 win 512 <nop,nop,TS val 105 ecr 0>");
    h.expect_state(tcp_state::established);
    h.events.clear();
}

TEST(Options, TimestampOnEverySegmentEchoingTsRecent) {
    harness h;
    establish_with_timestamps(h);
    h.advance(10ms);
    h.send(10);
    h.expect_tx("P. 1:11(10) ack 1 win 32768 <nop,nop,TS val 15 ecr 105>");
    h.deliver("P. 1:21(20) ack 11 win 512 <nop,nop,TS val 120 ecr 15>");
    h.advance(40ms);
    h.expect_tx(". 11:11(0) ack 21 <nop,nop,TS val 55 ecr 120>");
}

TEST(Options, RttMeasuredWithTimestampsOn) {
    harness h;
    establish_with_timestamps(h);
    EXPECT_EQ(h.conn.control_block().srtt, duration(5ms)); // timed SYN,ACK
    h.advance(10ms);
    h.send(10);
    h.expect_tx("P. 1:11(10)");
    h.advance(7ms);
    h.deliver(". 1:1(0) ack 11 win 512 <nop,nop,TS val 120 ecr 15>");
    EXPECT_EQ(h.conn.control_block().srtt, duration(5250us)); // 7/8 * 5 ms + 1/8 * 7 ms
}

// The timestamps' clock ticks in milliseconds (RFC 7323 §5.4); the RTT is the engine
// clock's, so a 250 us path reads 250 us, not 0 or 1 ms as an echoed TSval would make it.
TEST(Options, RttInMicrosecondsThoughTimestampsTickInMilliseconds) {
    harness h;
    h.advance(5ms); // our TSval is 5 from here on, whatever happens within the millisecond
    h.listen();
    h.deliver("S 0:0(0) win 65535 <mss 1460,sackOK,TS val 100 ecr 0,nop,wscale 7>");
    h.expect_tx("S. 0:0(0) ack 1 <mss 1460,sackOK,TS val 5 ecr 100,nop,wscale 1>");
    h.advance(250us);
    h.deliver(". 1:1(0) ack 1 win 512 <nop,nop,TS val 100 ecr 5>");
    EXPECT_EQ(h.conn.control_block().srtt, duration(250us));
    h.send(10);
    h.expect_tx("P. 1:11(10) ack 1 win 32768 <nop,nop,TS val 5 ecr 100>");
    h.advance(330us);
    h.deliver(". 1:1(0) ack 11 win 512 <nop,nop,TS val 100 ecr 5>");
    EXPECT_EQ(h.conn.control_block().srtt, duration(260us)); // 7/8 * 250 + 1/8 * 330
}

TEST(Options, PawsDropsOldTimestampWithAck) {
    harness h;
    establish_with_timestamps(h);
    h.deliver("P. 1:11(10) ack 1 win 512 <nop,nop,TS val 99 ecr 0>"); // older than 105
    h.expect_tx(". 1:1(0) ack 1 <nop,nop,TS val 5 ecr 105>");
    h.expect_events({});
    EXPECT_EQ(h.conn.drops(tcp_drop::paws), 1u);
}

TEST(Options, PawsExemptsRst) {
    harness h;
    establish_with_timestamps(h);
    h.deliver("R 1:1(0)");
    h.expect_state(tcp_state::closed);
}

TEST(Options, MissingTimestampIsDropped) {
    harness h;
    establish_with_timestamps(h);
    h.deliver("P. 1:11(10) ack 1 win 512");
    h.expect_no_tx();
    h.expect_events({});
    EXPECT_EQ(h.conn.drops(tcp_drop::missing_timestamp), 1u);
}

TEST(Options, TimestampsReduceSegmentSize) {
    harness h;
    establish_with_timestamps(h);
    h.send(2896);
    h.expect_tx(". 1:1449(1448)");
    h.expect_tx("P. 1449:2897(1448)");
}

TEST(Options, PawsIgnoresTsRecentOlderThan24Days) { // RFC 7323 §5.5
    harness h;
    establish_with_timestamps(h);
    h.advance(std::chrono::hours(24 * 25));
    h.deliver("P. 1:11(10) ack 1 win 512 <nop,nop,TS val 99 ecr 0>"); // TS.Recent is invalid now
    h.expect_events({"data 10"});
}

// Our ACK of a segment was lost and the peer sends the segment again after its RTO. The
// copy lies wholly before RCV.NXT, so it is not acceptable (RFC 9293 §3.10.7.4), but it
// ends at Last.ACK.sent: its TSval is echoed, not the first copy's. RFC 7323 §4.3 (C): an
// RTT from the earlier segment "would probably include the sender's retransmit timeout,
// badly biasing the sender's average RTT estimate" (each lost ACK then grew the peer's RTO
// past its last backed-off value, up to 120 s over 10% loss).
TEST(Options, RetransmissionEndingAtLastAckSentIsEchoed) {
    harness h;
    establish_with_timestamps(h);
    h.deliver("P. 1:11(10) ack 1 win 512 <nop,nop,TS val 120 ecr 0>");
    h.advance(40ms);
    h.expect_tx(". 1:1(0) ack 11 <nop,nop,TS val 45 ecr 120>"); // lost on its way
    h.advance(1s);
    h.deliver("P. 1:11(10) ack 1 win 512 <nop,nop,TS val 1120 ecr 0>");
    h.expect_tx(". 1:1(0) ack 11 <nop,nop,TS val 1045 ecr 1120,nop,nop,sack 1:11>"); // and D-SACK (RFC 2883)
    h.expect_events({"data 10"});
}

// Only a copy that reaches Last.ACK.sent moves TS.Recent (as Linux does): one wholly
// older could be injected by anyone who knows the 4-tuple (RFC 7323 §5.3 R2 before R3).
TEST(Options, OlderRetransmissionLeavesTsRecent) {
    harness h;
    establish_with_timestamps(h);
    h.deliver("P. 1:11(10) ack 1 win 512 <nop,nop,TS val 120 ecr 0>");
    h.deliver("P. 11:21(10) ack 1 win 512 <nop,nop,TS val 121 ecr 0>");
    h.expect_tx(". 1:1(0) ack 21 <nop,nop,TS val 5 ecr 120>"); // §4.3 (A): the earlier of the two
    h.advance(1s);
    h.deliver("P. 1:11(10) ack 1 win 512 <nop,nop,TS val 1120 ecr 0>");
    h.expect_tx(". 1:1(0) ack 21 <nop,nop,TS val 1005 ecr 120,nop,nop,sack 1:11>"); // and D-SACK (RFC 2883)
}

} // namespace
} // namespace tern::tcp::test
