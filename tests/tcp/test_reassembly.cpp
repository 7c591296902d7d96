// Out-of-order data: RFC 9293 §3.10.7.4 seventh step (held, trimmed, merged), immediate
// ACKs for out-of-order and gap-filling segments (RFC 5681 §4.2), SACK blocks in our ACKs
// (RFC 2018 §4), and the bounded reassembly queue on its own.
#include <gtest/gtest.h>

#include "harness.hpp"
#include "tcp/reassembly.hpp"

namespace tern::tcp::test {
namespace {

constexpr const char* syn_with_sack = "S 0:0(0) win 65535 <mss 1460,sackOK>";

TEST(Reassembly, OutOfOrderHeldAckedAtOnceWithSack) {
    harness h;
    h.establish(syn_with_sack);
    h.deliver(". 1001:2001(1000) ack 1");
    h.expect_tx(". 1:1(0) ack 1 <nop,nop,sack 1001:2001>");
    h.expect_events({});
    h.deliver(". 2001:3001(1000) ack 1");
    h.expect_tx(". 1:1(0) ack 1 <nop,nop,sack 1001:3001>");
    h.deliver(". 1:1001(1000) ack 1");
    h.expect_tx(". 1:1(0) ack 3001 <>"); // the gap filled: ACK at once, no SACK left
    // The held bytes come out of a ring; here they straddle its end.
    h.expect_events({"data 1000", "data 23", "data 1977"});
    EXPECT_EQ(h.received, pattern(3000));
}

// The ring of out-of-order data is as large as the receive window (64 KiB here). It comes
// with the first segment held and goes once the hole fills and everything is delivered:
// a connection that saw one loss once no longer keeps it for the rest of its life, which
// with a million connections on a lossy path was 64 GB.
TEST(Reassembly, RingComesWithOutOfOrderDataAndGoesWhenTheHoleFills) {
    harness h;
    h.establish(syn_with_sack);
    EXPECT_EQ(h.conn.heap_bytes(), 0u);
    h.deliver(". 1001:2001(1000) ack 1");
    h.expect_tx(". 1:1(0) ack 1 <nop,nop,sack 1001:2001>");
    EXPECT_GE(h.conn.heap_bytes(), 64u * 1024);
    h.deliver(". 1:1001(1000) ack 1");
    h.expect_tx(". 1:1(0) ack 2001 <>");
    h.expect_events({"data 1000", "data 23", "data 977"}); // the held bytes straddle the ring's end
    EXPECT_EQ(h.conn.heap_bytes(), 0u);
    // And it comes again for the next hole, data intact.
    h.deliver(". 3001:4001(1000) ack 1");
    h.expect_tx(". 1:1(0) ack 2001 <nop,nop,sack 3001:4001>");
    h.deliver(". 2001:3001(1000) ack 1");
    h.expect_tx(". 1:1(0) ack 4001 <>");
    h.expect_events({"data 1000", "data 1000"});
    EXPECT_EQ(h.received, pattern(4000));
    EXPECT_EQ(h.conn.heap_bytes(), 0u);
}

// RFC 9293 §3.7.1: the data in a segment plus its TCP options must fit the MSS, so the
// SACK blocks riding on our data take room from the payload. Found on a real TAP: the
// 1534-byte frames this used to send were refused by the device.
TEST(Reassembly, SackBlocksOnDataShrinkThePayload) {
    harness h;
    h.establish(syn_with_sack); // MSS 1460, no timestamps
    h.deliver(". 1001:2001(1000) ack 1");
    h.expect_tx(". 1:1(0) ack 1 <nop,nop,sack 1001:2001>");
    EXPECT_EQ(h.send(2896), 2896u);
    h.expect_tx(". 1:1449(1448) ack 1 <nop,nop,sack 1001:2001>"); // 1460 - (2 NOPs + 2 + 8)
    h.expect_tx("P. 1449:2897(1448) ack 1 <nop,nop,sack 1001:2001>");
}

TEST(Reassembly, SackBlocksAndTimestampsOnDataFitTheMss) {
    harness h;
    h.listen();
    h.deliver("S 0:0(0) win 65535 <mss 1460,sackOK,TS val 100 ecr 0>");
    h.expect_tx("S. 0:0(0) ack 1");
    h.deliver(". 1:1(0) ack 1 <nop,nop,TS val 100 ecr 0>");
    h.expect_state(tcp_state::established);
    h.deliver(". 1001:2001(1000) ack 1 <nop,nop,TS val 101 ecr 1>");
    h.expect_tx(". 1:1(0) ack 1");
    h.deliver(". 3001:4001(1000) ack 1 <nop,nop,TS val 102 ecr 1>");
    h.expect_tx(". 1:1(0) ack 1");
    h.deliver(". 5001:6001(1000) ack 1 <nop,nop,TS val 103 ecr 1>");
    h.expect_tx(". 1:1(0) ack 1");
    h.deliver(". 7001:8001(1000) ack 1 <nop,nop,TS val 104 ecr 1>");
    h.expect_tx(". 1:1(0) ack 1");
    // Four blocks held; with timestamps three fit in 40 bytes of options: 12 + 4 + 24.
    EXPECT_EQ(h.send(1448), 1448u);
    h.expect_tx(". 1:1421(1420) ack 1"); // 1460 - 40 bytes of options
}

// RFC 2883 §4: data that arrives a second time is reported in a D-SACK block, first in
// the next ACK and only once, so that the sender can tell a needless retransmission
// (Linux then undoes its window reduction and raises its reordering threshold).
TEST(Reassembly, Rfc2883_DuplicateBelowRcvNxtIsReportedInDsack) {
    harness h;
    h.establish(syn_with_sack);
    h.deliver("P. 1:1001(1000) ack 1");
    h.deliver("P. 1001:2001(1000) ack 1");
    h.expect_tx(". 1:1(0) ack 2001 <>"); // every second full segment is ACKed
    h.deliver("P. 1:1001(1000) ack 1");
    h.expect_tx(". 1:1(0) ack 2001 <nop,nop,sack 1:1001>");
    EXPECT_EQ(h.send(100), 100u);
    h.expect_tx("P. 1:101(100) ack 2001 <>"); // reported once
}

TEST(Reassembly, Rfc2883_OverlapReportsOnlyTheDuplicatePart) {
    harness h;
    h.establish(syn_with_sack);
    h.deliver("P. 1:1001(1000) ack 1");
    h.deliver("P. 501:1501(1000) ack 1");
    h.expect_tx(". 1:1(0) ack 1501 <nop,nop,sack 501:1001>");
    EXPECT_EQ(h.received, pattern(1500));
}

TEST(Reassembly, Rfc2883_DuplicateOfHeldDataIsFollowedByItsBlock) {
    harness h;
    h.establish(syn_with_sack);
    h.deliver(". 3001:4001(1000) ack 1");
    h.expect_tx(". 1:1(0) ack 1 <nop,nop,sack 3001:4001>");
    h.deliver(". 1001:2001(1000) ack 1");
    h.expect_tx(". 1:1(0) ack 1 <nop,nop,sack 1001:2001 3001:4001>");
    h.deliver(". 3001:4001(1000) ack 1");
    h.expect_tx(". 1:1(0) ack 1 <nop,nop,sack 3001:4001 3001:4001 1001:2001>");
    h.deliver(". 4001:5001(1000) ack 1");
    h.expect_tx(". 1:1(0) ack 1 <nop,nop,sack 3001:5001 1001:2001>");
}

TEST(Reassembly, Rfc2883_NoDsackWithoutSackPermitted) {
    harness h;
    h.establish("S 0:0(0) win 65535 <mss 1460>");
    h.deliver("P. 1:1001(1000) ack 1");
    h.deliver("P. 1:1001(1000) ack 1");
    h.expect_tx(". 1:1(0) ack 1001 <>");
}

TEST(Reassembly, MostRecentBlockFirst) {
    harness h;
    h.establish(syn_with_sack);
    h.deliver(". 3001:4001(1000) ack 1");
    h.expect_tx(". 1:1(0) ack 1 <nop,nop,sack 3001:4001>");
    h.deliver(". 1001:2001(1000) ack 1");
    h.expect_tx(". 1:1(0) ack 1 <nop,nop,sack 1001:2001 3001:4001>");
    h.deliver(". 4001:4501(500) ack 1");
    h.expect_tx(". 1:1(0) ack 1 <nop,nop,sack 3001:4501 1001:2001>");
}

TEST(Reassembly, OverlapsAndDuplicatesMerge) {
    harness h;
    h.establish(syn_with_sack);
    h.deliver(". 1001:2001(1000) ack 1");
    h.expect_tx(". 1:1(0) ack 1 <nop,nop,sack 1001:2001>");
    h.deliver(". 1501:2501(1000) ack 1");
    h.expect_tx(". 1:1(0) ack 1 <nop,nop,sack 1001:2501>");
    h.deliver(". 1001:2001(1000) ack 1"); // a duplicate: D-SACK first (RFC 2883 §4)
    h.expect_tx(". 1:1(0) ack 1 <nop,nop,sack 1001:2001 1001:2501>");
    h.deliver(". 501:1201(700) ack 1");
    h.expect_tx(". 1:1(0) ack 1 <nop,nop,sack 501:2501>");
    h.deliver(". 1:601(600) ack 1"); // overlaps the held block
    h.expect_tx(". 1:1(0) ack 2501");
    EXPECT_EQ(h.received, pattern(2500));
}

TEST(Reassembly, NoSackBlocksWithoutSackPermitted) {
    harness h;
    h.establish();
    h.deliver(". 1001:2001(1000) ack 1");
    h.expect_tx(". 1:1(0) ack 1 <>");
}

TEST(Reassembly, QueueMergesAndTakes) {
    reassembly_queue q(1024);
    const seq32 nxt(0xfffffff0u);
    const auto bytes = pattern(100);
    EXPECT_TRUE(q.insert(nxt, nxt + 20, std::span(bytes).subspan(20, 10)));
    EXPECT_TRUE(q.insert(nxt, nxt + 40, std::span(bytes).subspan(40, 10)));
    ASSERT_EQ(q.blocks().size(), 2u);
    EXPECT_TRUE(q.insert(nxt, nxt + 25, std::span(bytes).subspan(25, 20))); // bridges them
    ASSERT_EQ(q.blocks().size(), 1u);
    EXPECT_EQ(q.blocks()[0].left, nxt + 20);
    EXPECT_EQ(q.blocks()[0].right, nxt + 50);
    EXPECT_EQ(q.take(nxt).size(), 0u); // the hole before it is still open
    auto got = q.take(nxt + 20);
    std::vector<std::uint8_t> joined(got.head.begin(), got.head.end());
    joined.insert(joined.end(), got.tail.begin(), got.tail.end());
    EXPECT_EQ(joined, pattern(30, 20));
    EXPECT_TRUE(q.empty());
}

TEST(Reassembly, QueueBoundsTheNumberOfHoles) {
    reassembly_queue q(4096);
    const seq32 nxt(1);
    const auto bytes = pattern(10);
    for (std::uint32_t i = 0; i < reassembly_queue::max_blocks; ++i)
        EXPECT_TRUE(q.insert(nxt, nxt + 100 * (i + 1), bytes));
    EXPECT_FALSE(q.insert(nxt, nxt + 2000, bytes)); // a ninth hole: refused
    EXPECT_TRUE(q.insert(nxt, nxt + 105, bytes));   // extending a block is fine
    EXPECT_EQ(q.blocks().size(), reassembly_queue::max_blocks);
}

TEST(Reassembly, QueueForgetsWhatRcvNxtPassed) {
    reassembly_queue q(1024);
    const auto bytes = pattern(10);
    EXPECT_TRUE(q.insert(seq32(0), seq32(100), bytes));
    auto got = q.take(seq32(105)); // in-order data covered half of it
    EXPECT_EQ(got.size(), 5u);
    EXPECT_EQ(got.head[0], pattern_byte(5));
}

} // namespace
} // namespace tern::tcp::test
