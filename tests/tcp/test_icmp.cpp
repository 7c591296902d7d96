// ICMP destination unreachable as a connection takes it: fragmentation needed lowers the
// MSS to the path (RFC 1191), an error in SYN-SENT ends the open, and nothing is taken for
// a segment that is not in flight (RFC 5927 §4.1).
#include <gtest/gtest.h>

#include "harness.hpp"
#include "wire/icmp.hpp"

namespace tern::tcp::test {
namespace {

using namespace std::chrono_literals;
namespace code = wire::icmp_unreachable_code;

// Our sequence number `relative` bytes after our ISS.
seq32 ours(const harness& h, std::uint32_t relative) { return seq32(h.our_iss) + relative; }

// Established, with 3000 bytes sent in two full segments and one of 80.
void send_three_segments(harness& h) {
    h.establish();
    ASSERT_EQ(h.send(3000), 3000u);
    h.expect_tx(". 1:1461(1460) ack 1");
    h.expect_tx(". 1461:2921(1460) ack 1");
    h.expect_tx("P. 2921:3001(80) ack 1");
}

TEST(Icmp, FragmentationNeededResendsWhatIsInFlightInTheNewSize) {
    harness h({}, no_delay());
    send_three_segments(h);
    const std::uint32_t cwnd = h.conn.control_block().cwnd;
    // The router says its next hop carries 1280: segments of 1240 from SND.UNA on, at once.
    EXPECT_TRUE(h.conn.on_icmp_unreachable(code::fragmentation_needed, 1280, ours(h, 1), h.now));
    EXPECT_EQ(h.conn.control_block().snd_mss, 1240);
    h.expect_tx(". 1:1241(1240) ack 1");
    h.expect_tx(". 1241:2481(1240) ack 1");
    h.expect_tx("P. 2481:3001(520) ack 1");
    EXPECT_EQ(h.conn.control_block().cwnd, cwnd); // no congestion response
    // Counted as what they are: resends for the path, not a timeout's (they were once).
    EXPECT_EQ(h.conn.stats().path_mtu_retransmits, 3u);
    EXPECT_EQ(h.conn.stats().rto_retransmits, 0u);
    EXPECT_EQ(h.conn.stats().retransmits, 3u);
    h.deliver(". 1:1(0) ack 3001 win 65535");
    ASSERT_EQ(h.send(2000), 2000u);
    h.expect_tx(". 3001:4241(1240) ack 1");
    h.expect_tx("P. 4241:5001(760) ack 1");
    // A timeout later goes back as a timeout again.
    h.advance(h.conn.control_block().rto);
    h.expect_tx(". 3001:4241(1240) ack 1");
    EXPECT_EQ(h.conn.stats().rto_retransmits, 1u);
    EXPECT_EQ(h.conn.stats().path_mtu_retransmits, 3u);
}

TEST(Icmp, FragmentationNeededForASegmentNotInFlightIsIgnored) {
    harness h({}, no_delay());
    h.establish();
    ASSERT_EQ(h.send(1000), 1000u);
    h.expect_tx("P. 1:1001(1000) ack 1");
    // RFC 5927 §4.1: only SND.UNA =< SEG.SEQ < SND.NXT; others are forged or stale.
    EXPECT_FALSE(h.conn.on_icmp_unreachable(code::fragmentation_needed, 1280, ours(h, 1001), h.now));
    EXPECT_FALSE(h.conn.on_icmp_unreachable(code::fragmentation_needed, 1280, ours(h, 0), h.now));
    h.deliver(". 1:1(0) ack 1001 win 65535");
    EXPECT_FALSE(h.conn.on_icmp_unreachable(code::fragmentation_needed, 1280, ours(h, 1), h.now)); // acked
    EXPECT_EQ(h.conn.control_block().snd_mss, 1460);
    h.expect_no_tx();
}

TEST(Icmp, PathMtuHasAFloorAndOnlyEverLowers) {
    harness h({}, no_delay());
    h.establish();
    ASSERT_EQ(h.send(3000), 3000u);
    EXPECT_FALSE(h.conn.on_icmp_unreachable(code::fragmentation_needed, 1500, ours(h, 1), h.now)); // not smaller
    EXPECT_FALSE(h.conn.on_icmp_unreachable(code::fragmentation_needed, 9000, ours(h, 1), h.now));
    // 100 is below the 552 we keep (RFC 5927 §7.3): 552 - 40.
    EXPECT_TRUE(h.conn.on_icmp_unreachable(code::fragmentation_needed, 100, ours(h, 1), h.now));
    EXPECT_EQ(h.conn.control_block().snd_mss, 512);
}

TEST(Icmp, FragmentationNeededWithoutAnMtuTakesThePlateauBelow) {
    harness h({}, no_delay());
    h.establish();
    ASSERT_EQ(h.send(1460), 1460u);
    // RFC 1191 §5: a router older than RFC 1191 says 0; 1500-byte datagrams: try 1492.
    EXPECT_TRUE(h.conn.on_icmp_unreachable(code::fragmentation_needed, 0, ours(h, 1), h.now));
    EXPECT_EQ(h.conn.control_block().snd_mss, 1452);
}

// RFC 4821 §7.7 (black holes): no ICMP comes, and the same full-sized segment times out
// three times in a row. The third timeout resends it in a 1024-byte MTU; a later one
// halves that; ten minutes on, new data goes full-sized again.
TEST(Icmp, ABlackHoleLowersTheMssAfterRepeatedTimeoutsAndTheFullSizeIsTriedLater) {
    harness h({}, no_delay());
    send_three_segments(h);
    h.advance(h.conn.control_block().rto);
    h.expect_tx(". 1:1461(1460) ack 1");
    h.advance(h.conn.control_block().rto);
    h.expect_tx(". 1:1461(1460) ack 1");
    h.advance(h.conn.control_block().rto);
    h.expect_tx(". 1:985(984) ack 1"); // 1024 - 40
    EXPECT_EQ(h.conn.stats().rto_retransmits, 3u);
    h.advance(h.conn.control_block().rto);
    h.expect_tx(". 1:513(512) ack 1"); // 552 - 40: half of 1024 is below the floor
    h.advance(h.conn.control_block().rto);
    h.expect_tx(". 1:513(512) ack 1"); // no lower
    h.deliver(". 1:1(0) ack 3001 win 65535");
    h.expect_no_tx();
    ASSERT_EQ(h.send(600), 600u);
    h.expect_tx(". 3001:3513(512) ack 1");
    h.expect_tx("P. 3513:3601(88) ack 1");
    h.deliver(". 1:1(0) ack 3601 win 65535");
    h.advance(std::chrono::minutes(10));
    ASSERT_EQ(h.send(1460), 1460u);
    h.expect_tx("P. 3601:5061(1460) ack 1");
}

// A flight shorter than a segment is no sign of one: timeouts leave its size alone.
TEST(Icmp, TimeoutsOfASmallSegmentLeaveTheMssAlone) {
    harness h({}, no_delay());
    h.establish();
    ASSERT_EQ(h.send(100), 100u);
    h.expect_tx("P. 1:101(100) ack 1");
    for (int i = 0; i < 4; ++i) {
        h.advance(h.conn.control_block().rto);
        h.expect_tx("P. 1:101(100) ack 1");
    }
    EXPECT_EQ(h.conn.control_block().snd_mss, 1460);
}

TEST(Icmp, WithTimestampsTheMssLeavesTheirRoom) {
    harness h({}, no_delay());
    h.establish("S 0:0(0) win 65535 <mss 1460,nop,nop,TS val 1 ecr 0>", ". 1:1(0) ack 1 win 65535 <nop,nop,TS val 2 ecr 0>");
    EXPECT_EQ(h.conn.control_block().snd_mss, 1448);
    ASSERT_EQ(h.send(1448), 1448u);
    EXPECT_TRUE(h.conn.on_icmp_unreachable(code::fragmentation_needed, 1280, ours(h, 1), h.now));
    EXPECT_EQ(h.conn.control_block().snd_mss, 1228);
}

TEST(Icmp, PortUnreachableInSynSentRefusesTheOpen) {
    harness h;
    h.connect();
    h.expect_tx("S 0:0(0)");
    EXPECT_FALSE(h.conn.on_icmp_unreachable(code::port, 0, ours(h, 1), h.now)); // not our SYN's number
    h.expect_state(tcp_state::syn_sent);
    EXPECT_TRUE(h.conn.on_icmp_unreachable(code::port, 0, ours(h, 0), h.now));
    h.expect_state(tcp_state::closed);
    h.expect_events({"closed refused"});
    h.expect_no_tx(); // no RST: the peer never had the connection
}

TEST(Icmp, HostUnreachableInSynSentEndsTheOpenAsUnreachable) {
    harness h;
    h.connect();
    h.expect_tx("S 0:0(0)");
    EXPECT_TRUE(h.conn.on_icmp_unreachable(code::host, 0, ours(h, 0), h.now));
    h.expect_state(tcp_state::closed);
    h.expect_events({"closed unreachable"});
}

TEST(Icmp, SoftErrorsOnAnOpenConnectionAreLeftToItsTimers) {
    harness h({}, no_delay());
    h.establish();
    ASSERT_EQ(h.send(100), 100u);
    h.expect_tx("P. 1:101(100) ack 1");
    EXPECT_FALSE(h.conn.on_icmp_unreachable(code::port, 0, ours(h, 1), h.now));
    EXPECT_FALSE(h.conn.on_icmp_unreachable(code::host, 0, ours(h, 1), h.now));
    h.expect_state(tcp_state::established);
    h.expect_events({});
}

} // namespace
} // namespace tern::tcp::test
