// The send buffer with copied and handed-over (zero-copy) bytes mixed in one stream.
#include <gtest/gtest.h>

#include <array>
#include <numeric>
#include <vector>

#include "harness.hpp"
#include "tcp/send_buffer.hpp"

namespace tern::tcp::test {
namespace {

struct releases {
    std::vector<void*> owners;
    static void record(void* context, void* owner) { static_cast<releases*>(context)->owners.push_back(owner); }
};

std::vector<std::uint8_t> bytes_of(const tx_payload& p) {
    std::vector<std::uint8_t> out(p.size());
    p.copy_to(out.data());
    return out;
}

std::vector<std::uint8_t> iota(std::size_t n, std::uint8_t from) {
    std::vector<std::uint8_t> v(n);
    std::iota(v.begin(), v.end(), from);
    return v;
}

// The ring comes on demand and goes once everything in it is acknowledged (at the trim
// after the acknowledgment), so idle connections hold none; small messages keep a small
// one, whatever the capacity.
TEST(SendBuffer, RingComesOnDemandAndGoesWhenAcknowledged) {
    send_buffer b(64 * 1024);
    EXPECT_EQ(b.ring_allocated(), 0u);
    for (std::uint8_t round = 0; round < 100; ++round) { // 100-byte requests, each acknowledged
        const auto msg = iota(100, round);
        ASSERT_EQ(b.push(msg), 100u);
        EXPECT_EQ(b.ring_allocated(), 2048u);
        EXPECT_EQ(bytes_of(b.view(0, 100)), msg);
        b.pop(100);
        b.trim();
        EXPECT_EQ(b.ring_allocated(), 0u);
        EXPECT_FALSE(b.has_body());
    }
}

// Between the acknowledgment that empties the buffer and the trim, the next message goes
// into the same ring, from its front: a request-response stream keeps its ring across the
// answer's callback instead of giving it back and taking it again.
TEST(SendBuffer, MessageWrittenBeforeTheTrimKeepsTheRing) {
    send_buffer b(64 * 1024);
    ASSERT_EQ(b.push(iota(1500, 0)), 1500u);
    const std::uint8_t* ring = b.view(0, 1).pieces.front().bytes.data();
    b.pop(1500);
    EXPECT_TRUE(b.has_body());
    EXPECT_EQ(b.ring_allocated(), 2048u);
    const auto next = iota(1000, 3); // would wrap at 1500; starts at the front instead
    ASSERT_EQ(b.push(next), 1000u);
    b.trim(); // holds bytes: nothing goes
    const tx_payload v = b.view(0, 1000);
    ASSERT_EQ(v.pieces.size(), 1u);
    EXPECT_EQ(v.pieces.front().bytes.data(), ring);
    EXPECT_EQ(bytes_of(v), next);
    b.pop(1000);
    b.trim();
    EXPECT_FALSE(b.has_body());
    EXPECT_EQ(b.heap_bytes(), 0u);
}

// An idle connection's send buffer is a few words: the ring's bookkeeping and the
// extents (the body) come with the first byte and go with the last acknowledged one, also
// when the bytes were handed over rather than copied.
TEST(SendBuffer, BodyComesWithTheFirstByteAndGoesWithTheLast) {
    static_assert(sizeof(send_buffer) <= 24, "an idle connection carries the send buffer inline");
    releases r;
    send_buffer b(64 * 1024);
    EXPECT_FALSE(b.has_body());
    EXPECT_EQ(b.heap_bytes(), 0u);
    ASSERT_EQ(b.push(iota(10, 0)), 10u);
    EXPECT_TRUE(b.has_body());
    EXPECT_EQ(b.heap_bytes(), send_buffer::body_bytes() + 2048u);
    std::array<std::uint8_t, 20> owned{};
    ASSERT_TRUE(b.push_owned(owned, &owned, releases::record, &r));
    b.pop(10); // the ring goes (at the trim), the handed-over bytes keep the body
    b.trim();
    EXPECT_EQ(b.ring_allocated(), 0u);
    EXPECT_TRUE(b.has_body());
    b.pop(15);
    b.trim();
    EXPECT_TRUE(b.has_body());
    EXPECT_TRUE(r.owners.empty());
    b.pop(5);
    EXPECT_EQ(r.owners, std::vector<void*>{&owned}); // released at once, not at the trim
    b.trim();
    EXPECT_FALSE(b.has_body());
    EXPECT_EQ(r.owners, std::vector<void*>{&owned});
    b.pop(0); // nothing held: no body to read
    EXPECT_EQ(b.view(0, 0).size(), 0u);
}

// A bulk sender's ring empties each time its window is acknowledged. Its next ring starts at
// the size the last one reached (not 2 KiB, regrown by copies), and is that same ring taken
// back from the thread's spares rather than memory asked of the allocator again (a 1 MiB
// ring freed and faulted in again at every window held such a sender to 9 Gbit/s).
TEST(SendBuffer, BulkSenderGetsItsRingBackAtItsSize) {
    send_buffer b(1024 * 1024);
    const std::vector<std::uint8_t> chunk(64 * 1024, 5);
    for (int i = 0; i < 16; ++i) ASSERT_EQ(b.push(chunk), chunk.size());
    ASSERT_EQ(b.ring_allocated(), 1024u * 1024);
    const std::uint8_t* ring = b.view(0, 1).pieces.front().bytes.data();
    b.pop(b.size());
    b.trim();
    ASSERT_EQ(b.ring_allocated(), 0u);
    ASSERT_EQ(b.push(chunk), chunk.size());
    EXPECT_EQ(b.ring_allocated(), 1024u * 1024);
    EXPECT_EQ(b.view(0, 1).pieces.front().bytes.data(), ring);
}

// A ring that wrapped keeps the stream's order when it grows, and never grows past the
// capacity.
TEST(SendBuffer, RingGrowsAcrossTheWrapInOrder) {
    send_buffer b(64 * 1024);
    std::vector<std::uint8_t> want = iota(1000, 0); // held (unacknowledged) throughout
    ASSERT_EQ(b.push(want), 1000u);
    for (int round = 0; round < 10; ++round) { // the head walks to 1000, the tail to 2000
        const auto msg = iota(100, std::uint8_t(round));
        ASSERT_EQ(b.push(msg), 100u);
        b.pop(100);
        want.erase(want.begin(), want.begin() + 100);
        want.insert(want.end(), msg.begin(), msg.end());
    }
    const auto wraps = iota(500, 7); // from 2000 past the end of the 2 KiB ring to 452
    ASSERT_EQ(b.push(wraps), 500u);
    want.insert(want.end(), wraps.begin(), wraps.end());
    EXPECT_EQ(b.ring_allocated(), 2048u);
    EXPECT_EQ(bytes_of(b.view(0, 1500)), want);
    const auto more = iota(3000, 9);
    ASSERT_EQ(b.push(more), 3000u);
    want.insert(want.end(), more.begin(), more.end());
    EXPECT_EQ(b.ring_allocated(), 8192u);
    EXPECT_EQ(bytes_of(b.view(0, 4500)), want);
    b.pop(1000);
    EXPECT_EQ(bytes_of(b.view(0, 3500)), std::vector<std::uint8_t>(want.begin() + 1000, want.end()));
    // Filling it whole takes it to the capacity, not beyond.
    const std::vector<std::uint8_t> fill(64 * 1024, 7);
    EXPECT_EQ(b.push(fill), 64u * 1024 - 3500);
    EXPECT_EQ(b.ring_allocated(), 64u * 1024);
    EXPECT_EQ(b.space(), 0u);
}

TEST(SendBuffer, CopiesAndHandedOverBuffersKeepStreamOrder) {
    releases r;
    send_buffer b(100);
    const auto a = iota(10, 0), owned = iota(20, 10), c = iota(5, 30);
    int token = 0;
    EXPECT_EQ(b.push(a), 10u);
    EXPECT_TRUE(b.push_owned(owned, &token, releases::record, &r));
    EXPECT_EQ(b.push(c), 5u);
    EXPECT_EQ(b.size(), 35u);
    EXPECT_EQ(b.space(), 65u);
    // A view across all three: three pieces, the middle one pointing into the owner's bytes.
    const tx_payload all = b.view(0, 35);
    ASSERT_EQ(all.pieces.size(), 3u);
    EXPECT_EQ(all.pieces[1].owner, &token);
    EXPECT_EQ(all.pieces[1].bytes.data(), owned.data()); // not copied
    EXPECT_EQ(bytes_of(all), iota(35, 0));
    EXPECT_EQ(bytes_of(b.view(8, 4)), iota(4, 8));
    // Acknowledging part of the handed-over buffer keeps it; all of it releases it once.
    b.pop(15);
    EXPECT_TRUE(r.owners.empty());
    EXPECT_EQ(bytes_of(b.view(0, 20)), iota(20, 15));
    // Within the handed-over buffer alone: one piece, its owner's bytes.
    const tx_payload inside = b.view(2, 10);
    ASSERT_EQ(inside.pieces.size(), 1u);
    EXPECT_EQ(inside.pieces[0].owner, &token);
    EXPECT_EQ(inside.pieces[0].bytes.data(), owned.data() + 7);
    EXPECT_EQ(bytes_of(inside), iota(10, 17));
    b.pop(15);
    ASSERT_EQ(r.owners.size(), 1u);
    EXPECT_EQ(r.owners[0], &token);
    EXPECT_EQ(bytes_of(b.view(0, 5)), iota(5, 30));
}

TEST(SendBuffer, HandedOverBufferIsTakenWholeOrNotAtAll) {
    releases r;
    send_buffer b(16);
    int token = 0;
    EXPECT_EQ(b.push(iota(10, 0)), 10u);
    EXPECT_FALSE(b.push_owned(iota(7, 0), &token, releases::record, &r)); // 6 bytes of room: the caller keeps it
    EXPECT_EQ(b.size(), 10u);
    EXPECT_TRUE(r.owners.empty());
}

TEST(SendBuffer, RingWrapsAroundHandedOverBuffers) {
    releases r;
    send_buffer b(32);
    int t1 = 0, t2 = 0;
    const auto owned = iota(8, 100);
    EXPECT_EQ(b.push(iota(20, 0)), 20u);
    b.pop(16);
    EXPECT_TRUE(b.push_owned(owned, &t1, releases::record, &r));
    EXPECT_EQ(b.push(iota(16, 50)), 16u); // ring bytes 20..31 then 0..3: wraps
    const tx_payload p = b.view(0, 28);
    EXPECT_EQ(p.pieces.size(), 4u); // 4 ring bytes, the owner, the ring tail, the wrapped head
    std::vector<std::uint8_t> want = iota(4, 16);
    want.insert(want.end(), owned.begin(), owned.end());
    const auto more = iota(16, 50);
    want.insert(want.end(), more.begin(), more.end());
    EXPECT_EQ(bytes_of(p), want);
    b.pop(28);
    EXPECT_EQ(b.size(), 0u);
    EXPECT_EQ(r.owners, std::vector<void*>{&t1});
    (void)t2;
}

TEST(SendBuffer, UnacknowledgedBuffersAreReleasedWhenItDies) {
    releases r;
    int t1 = 0, t2 = 0;
    {
        send_buffer b(64);
        EXPECT_TRUE(b.push_owned(iota(8, 0), &t1, releases::record, &r));
        EXPECT_TRUE(b.push_owned(iota(8, 0), &t2, releases::record, &r));
    }
    EXPECT_EQ(r.owners, (std::vector<void*>{&t1, &t2}));
}

// A connection sends a handed-over buffer as it would copied bytes; the ACK releases it.
TEST(SendBuffer, ConnectionSendsHandedOverBytesAndReleasesOnAck) {
    harness h;
    h.establish();
    const std::vector<std::uint8_t> owned = pattern(100);
    int token = 0;
    auto r = h.conn.send_owned(owned, &token, h.now);
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(*r, 100u);
    h.expect_tx("P. 1:101(100) ack 1");
    EXPECT_TRUE(h.released.empty());
    h.deliver(". 1:1(0) ack 101");
    EXPECT_EQ(h.released, std::vector<void*>{&token});
}

} // namespace
} // namespace tern::tcp::test
