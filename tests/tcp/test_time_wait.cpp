// TIME-WAIT records (time_wait.hpp): a record must answer every segment as the connection
// it stands for would have, and the table must find, restart and expire records in order.
#include <gtest/gtest.h>

#include <random>

#include "harness.hpp"
#include "tcp/time_wait.hpp"

namespace tern::tcp::test {
namespace {

using namespace std::chrono_literals;
namespace f = wire::tcp_flags;
using action = time_wait_reply::action;

// A passive connection that closed first and is now in TIME-WAIT, its last ACK sent.
void into_time_wait(harness& h, bool timestamps) {
    if (timestamps) {
        h.establish("S 0:0(0) win 65535 <mss 1460,sackOK,TS val 100 ecr 0,nop,wscale 7>",
                    ". 1:1(0) ack 1 win 512 <nop,nop,TS val 105 ecr 0>");
        h.close();
        h.deliver(". 1:1(0) ack 2 win 512 <nop,nop,TS val 110 ecr 0>");
        h.deliver("F. 1:1(0) ack 2 win 512 <nop,nop,TS val 120 ecr 0>");
    } else {
        h.establish();
        h.close();
        h.deliver(". 1:1(0) ack 2");
        h.deliver("F. 1:1(0) ack 2");
    }
    h.expect_state(tcp_state::time_wait);
    h.advance(3s);
    h.sent.clear();
    h.events.clear();
}

// Sequence numbers near the edges that decide: RCV.NXT, the window's right edge, far off.
std::uint32_t pick_offset(std::mt19937& rng, std::uint32_t window) {
    const std::uint32_t choices[] = {0, 1, 2, std::uint32_t(-1), std::uint32_t(-2), window - 1, window, window + 1,
                                     std::uint32_t(-70000), 1u << 31};
    if (rng() % 4 == 0) return std::uint32_t(rng());
    return choices[rng() % std::size(choices)];
}

segment random_segment(std::mt19937& rng, const time_wait_record& r, bool timestamps,
                       std::span<const std::uint8_t> bytes) {
    segment seg;
    seg.src_addr = harness::remote.addr;
    seg.dst_addr = harness::local.addr;
    auto& h = seg.header;
    h.src_port = harness::remote.port;
    h.dst_port = harness::local.port;
    const std::uint8_t flag_set[] = {f::ack, f::ack, f::ack | f::fin, f::fin, f::rst, f::rst | f::ack, f::syn,
                                     f::syn | f::ack, 0, f::ack | f::fin | f::rst};
    h.flags = flag_set[rng() % std::size(flag_set)];
    h.seq = (r.rcv_nxt + pick_offset(rng, r.rcv_wnd)).raw();
    const std::uint32_t ack_offsets[] = {0, 1, std::uint32_t(-1), -r.max_snd_wnd, -r.max_snd_wnd - 1, 1000};
    h.ack = (r.snd_nxt + ack_offsets[rng() % std::size(ack_offsets)]).raw();
    h.window = 512;
    if (timestamps && rng() % 8 != 0) {
        const std::uint32_t ts_offsets[] = {0, 1, 1000, std::uint32_t(-1), std::uint32_t(-1000)};
        h.options.timestamp = std::pair{r.ts_recent + ts_offsets[rng() % std::size(ts_offsets)], 0u};
    }
    const std::size_t lengths[] = {0, 0, 1, 5};
    seg.payload = bytes.first(lengths[rng() % std::size(lengths)]);
    return seg;
}

// Every segment, to a connection in TIME-WAIT and to the record made of it: the same reply,
// the same end, the same restart of 2·MSL, the same RCV.NXT and TS.Recent afterwards.
void differential(bool timestamps, std::uint32_t seed) {
    std::mt19937 rng(seed);
    const std::vector<std::uint8_t> bytes(5, 'x');
    for (int i = 0; i < 3000; ++i) {
        harness h;
        into_time_wait(h, timestamps);
        time_wait_record r = h.conn.time_wait_state();
        const auto deadline_before = h.conn.next_deadline();
        const segment seg = random_segment(rng, r, timestamps, bytes);
        const time_wait_reply reply = time_wait_input(r, seg, h.config);
        h.conn.on_segment(seg, h.now);
        const std::string what = "case " + std::to_string(i) + ": flags " + std::to_string(seg.header.flags) +
                                 " seq " + std::to_string(seg.seq() - h.conn.control_block().irs) + " len " +
                                 std::to_string(seg.payload.size()) + " action " +
                                 std::to_string(int(reply.what));
        SCOPED_TRACE(what);
        const bool replied = reply.what == action::ack || reply.what == action::challenge_ack;
        ASSERT_EQ(h.sent.size(), replied ? 1u : 0u);
        if (replied) {
            const wire::tcp_repr ours = time_wait_ack(r, h.now);
            const wire::tcp_repr& theirs = h.sent.front().header;
            EXPECT_EQ(theirs.flags, ours.flags);
            EXPECT_EQ(theirs.seq, ours.seq);
            EXPECT_EQ(theirs.ack, ours.ack);
            EXPECT_EQ(theirs.window, ours.window);
            EXPECT_EQ(theirs.options.timestamp, ours.options.timestamp);
        }
        EXPECT_EQ(h.conn.ended_by_new_syn(), reply.what == action::reuse);
        const bool ends = reply.what == action::close || reply.what == action::reuse;
        EXPECT_EQ(h.conn.state(), ends ? tcp_state::closed : tcp_state::time_wait);
        if (ends) continue;
        EXPECT_EQ(h.conn.next_deadline() != deadline_before, reply.restart);
        if (reply.restart) {
            EXPECT_EQ(*h.conn.next_deadline(), h.now + 2 * h.config.msl);
        }
        if (reply.drop) {
            EXPECT_GE(h.conn.drops(*reply.drop), 1u);
        }
        EXPECT_EQ(r.rcv_nxt, h.conn.control_block().rcv_nxt);
        EXPECT_EQ(r.ts_recent, h.conn.control_block().ts_recent);
        if (::testing::Test::HasFailure()) return;
    }
}

TEST(TimeWait, RecordAnswersAsTheConnectionWith_Timestamps) { differential(true, 1); }
TEST(TimeWait, RecordAnswersAsTheConnectionWithout_Timestamps) { differential(false, 2); }

TEST(TimeWait, RecordHoldsWhatTheAckNeeds) {
    harness h;
    into_time_wait(h, true);
    const time_wait_record r = h.conn.time_wait_state();
    const tcb& t = h.conn.control_block();
    EXPECT_EQ(r.key.local_port, harness::local.port);
    EXPECT_EQ(r.key.remote_ip, harness::remote.addr);
    EXPECT_EQ(r.snd_nxt, t.snd_nxt);
    EXPECT_EQ(r.rcv_nxt, t.rcv_nxt);
    EXPECT_TRUE(r.ts_ok);
    EXPECT_TRUE(r.passive);
    EXPECT_EQ(r.deadline, *h.conn.next_deadline());
    h.conn.leave_time_wait();
    h.expect_state(tcp_state::closed);
    h.expect_events({"closed normal"});
    h.expect_no_tx();
}

time_wait_record record(std::uint16_t port, instant deadline) {
    time_wait_record r;
    r.key = {ipv4_addr::from_octets(198, 18, 0, 1), ipv4_addr::from_octets(198, 18, 0, 2), port, 80};
    r.deadline = deadline;
    return r;
}

TEST(TimeWaitTable, FindsExpiresInOrderAndRestarts) {
    time_wait_table t(16, 1);
    const instant t0{};
    for (std::uint16_t p = 1; p <= 4; ++p) ASSERT_TRUE(t.insert(record(p, t0 + p * 1s)));
    EXPECT_EQ(t.size(), 4u);
    ASSERT_NE(t.find(record(2, t0).key), nullptr);
    EXPECT_EQ(t.find(record(9, t0).key), nullptr);
    t.restart(*t.find(record(1, t0).key), t0 + 10s); // to the back
    EXPECT_EQ(t.next_deadline(), t0 + 2s);
    EXPECT_EQ(t.expire(t0 + 3s), 2u); // 2 and 3
    EXPECT_EQ(t.find(record(2, t0).key), nullptr);
    ASSERT_NE(t.find(record(1, t0).key), nullptr);
    EXPECT_EQ(t.next_deadline(), t0 + 4s);
    t.erase(*t.find(record(4, t0).key));
    EXPECT_EQ(t.next_deadline(), t0 + 10s);
    EXPECT_EQ(t.expire(t0 + 10s), 1u);
    EXPECT_EQ(t.size(), 0u);
    EXPECT_EQ(t.next_deadline(), std::nullopt);
}

TEST(TimeWaitTable, FullTableLetsTheOldestGo) {
    time_wait_table t(3, 1);
    const instant t0{};
    for (std::uint16_t p = 1; p <= 3; ++p) ASSERT_TRUE(t.insert(record(p, t0 + p * 1s)));
    EXPECT_FALSE(t.insert(record(4, t0 + 4s))); // 1 goes early
    EXPECT_EQ(t.size(), 3u);
    EXPECT_EQ(t.find(record(1, t0).key), nullptr);
    ASSERT_NE(t.find(record(4, t0).key), nullptr);
    // A record erased at the front gives its room back at once; one erased from the middle
    // only when it reaches the front (the room is counted in slots of the queue).
    t.erase(*t.find(record(2, t0).key));
    EXPECT_EQ(t.size(), 2u);
    EXPECT_TRUE(t.insert(record(5, t0 + 5s))); // [3, 4, 5]
    t.erase(*t.find(record(4, t0).key));        // [3, (4), 5]
    EXPECT_FALSE(t.insert(record(6, t0 + 6s))); // 3 goes, (4) with it
    EXPECT_EQ(t.find(record(3, t0).key), nullptr);
    EXPECT_EQ(t.size(), 2u);
    EXPECT_EQ(t.next_deadline(), t0 + 5s);
}

} // namespace
} // namespace tern::tcp::test
