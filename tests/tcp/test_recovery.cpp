// Loss recovery: the SACK scoreboard (RFC 6675 §3, §4), SACK-based loss recovery (RFC 6675
// §5), NewReno without SACK (RFC 6582), limited transmit (RFC 3042), D-SACK blocks (RFC
// 2883) and the go-back-N after a timeout (RFC 6675 §5.1).
//
// The connection tests use an MSS of 1000 (the peer's SYN says so), so every segment is
// 1000 bytes and the initial window is 4 segments (RFC 5681 §3.1: SMSS <= 1095).
#include <gtest/gtest.h>

#include "harness.hpp"
#include "tcp/scoreboard.hpp"

namespace tern::tcp::test {
namespace {

using namespace std::chrono_literals;

// ---- the scoreboard on its own ----

constexpr std::uint32_t base = 0xfffff000u; // near the wrap, so every test crosses it
seq32 at(std::uint32_t offset) { return seq32(base + offset); }
wire::sack_block block(std::uint32_t left, std::uint32_t right) { return {base + left, base + right}; }

using range_list = std::vector<std::pair<std::uint32_t, std::uint32_t>>;

range_list ranges_of(const sack_scoreboard& sb) {
    range_list out;
    for (const auto& r : sb.ranges()) out.emplace_back(r.left.raw() - base, r.right.raw() - base);
    return out;
}

TEST(Scoreboard, MergesOverlappingAndAdjacentBlocks) {
    sack_scoreboard sb;
    const std::array blocks{block(3000, 4000), block(1000, 2000)};
    EXPECT_EQ(sb.update(at(0), at(10000), blocks), 2000u);
    const std::array more{block(2000, 3000), block(5000, 6000), block(3500, 4500)};
    EXPECT_EQ(sb.update(at(0), at(10000), more), 2500u); // 2000:3000, 4000:4500 and 5000:6000 are new
    EXPECT_EQ(ranges_of(sb), (range_list{{1000, 4500}, {5000, 6000}}));
    EXPECT_EQ(sb.sacked_bytes(), 4500u);
    EXPECT_EQ(sb.highest_sacked(at(0)), at(6000));
    EXPECT_TRUE(sb.is_sacked(at(1000)));
    EXPECT_FALSE(sb.is_sacked(at(4500)));
}

TEST(Scoreboard, IgnoresDsackBlocksAndBlocksOutsideTheWindow) {
    sack_scoreboard sb;
    // RFC 2883 §4: a D-SACK block below SND.UNA; RFC 2018 §3: left < right; nothing beyond SND.MAX.
    const std::array blocks{block(0, 1000), block(3000, 2000), block(9000, 11000), block(2000, 2000)};
    EXPECT_EQ(sb.update(at(1000), at(10000), blocks), 0u);
    EXPECT_TRUE(sb.empty());
    // A D-SACK block inside the window repeats what is SACKed already: nothing new.
    const std::array first{block(4000, 5000)};
    EXPECT_EQ(sb.update(at(1000), at(10000), first), 1000u);
    const std::array dsack{block(4000, 5000), block(4000, 6000)};
    EXPECT_EQ(sb.update(at(1000), at(10000), dsack), 1000u);
    EXPECT_EQ(ranges_of(sb), (range_list{{4000, 6000}}));
}

TEST(Scoreboard, AdvanceForgetsWhatTheCumulativeAckCovers) {
    sack_scoreboard sb;
    const std::array blocks{block(1000, 2000), block(3000, 4000)};
    sb.update(at(0), at(5000), blocks);
    sb.advance(at(3500));
    EXPECT_EQ(ranges_of(sb), (range_list{{3500, 4000}}));
    sb.advance(at(4000));
    EXPECT_TRUE(sb.empty());
}

TEST(Scoreboard, IsLostAfterThreeSegmentsOrMoreThanTwoSmssAbove) {
    constexpr std::uint32_t smss = 1000;
    sack_scoreboard sb;
    const std::array two{block(1000, 2000), block(3000, 4000)};
    sb.update(at(0), at(10000), two);
    EXPECT_FALSE(sb.is_lost(at(0), smss)); // two segments, 2 SMSS: not more than (DupThresh - 1) * SMSS
    EXPECT_EQ(sb.lost_below(smss), std::nullopt);
    const std::array small{block(5000, 5100)};
    sb.update(at(0), at(10000), small);
    EXPECT_TRUE(sb.is_lost(at(0), smss)); // DupThresh discontiguous SACKed segments
    EXPECT_FALSE(sb.is_lost(at(2000), smss)); // above 2000: 3000:4000 and 5000:5100 only
    EXPECT_EQ(sb.lost_below(smss), at(1000));

    sack_scoreboard bytes;
    const std::array big{block(1000, 3001)}; // more than 2 SMSS in one block
    bytes.update(at(0), at(10000), big);
    EXPECT_TRUE(bytes.is_lost(at(0), smss));
    EXPECT_FALSE(bytes.is_lost(at(3001), smss));
}

TEST(Scoreboard, PipeCountsUnsackedNotLostAndRetransmitted) {
    constexpr std::uint32_t smss = 1000;
    sack_scoreboard sb;
    // Sent 0:6000; SACKed 1000:2000 and 3000:5000. Un-SACKed: 0:1000, 2000:3000, 5000:6000.
    const std::array blocks{block(1000, 2000), block(3000, 5000)};
    sb.update(at(0), at(6000), blocks);
    // Above 0:1000 are 3 SACKed segments: lost. Above 2000:3000 only two: not lost.
    EXPECT_EQ(sb.pipe(at(0), at(6000), at(0), smss), 2000u);
    // 0:1000 retransmitted: counted again (RFC 6675 §4 SetPipe (b)).
    EXPECT_EQ(sb.pipe(at(0), at(6000), at(1000), smss), 3000u);
    // Up to 3000 retransmitted: 2000:3000 is counted twice, being not lost and resent.
    EXPECT_EQ(sb.pipe(at(0), at(6000), at(3000), smss), 4000u);
}

TEST(Scoreboard, NextHoleSkipsSackedRanges) {
    sack_scoreboard sb;
    const std::array blocks{block(1000, 2000), block(3000, 4000)};
    sb.update(at(0), at(6000), blocks);
    auto h = sb.next_hole(at(0), at(6000));
    ASSERT_TRUE(h);
    EXPECT_EQ(h->left, at(0));
    EXPECT_EQ(h->right, at(1000));
    h = sb.next_hole(at(1500), at(6000));
    ASSERT_TRUE(h);
    EXPECT_EQ(h->left, at(2000));
    EXPECT_EQ(h->right, at(3000));
    h = sb.next_hole(at(3000), at(6000));
    ASSERT_TRUE(h);
    EXPECT_EQ(h->left, at(4000));
    EXPECT_EQ(h->right, at(6000));
    EXPECT_EQ(sb.next_hole(at(3000), at(4000)), std::nullopt);
}

TEST(Scoreboard, BoundedForgetsTheLowestRange) {
    sack_scoreboard sb;
    for (std::uint32_t i = 0; i <= sack_scoreboard::max_ranges; ++i) {
        const std::array one{block(2000 * i + 1000, 2000 * i + 2000)};
        sb.update(at(0), at(100000), one);
    }
    EXPECT_EQ(sb.size(), sack_scoreboard::max_ranges);
    EXPECT_EQ(sb.ranges().front().left, at(3000)); // 1000:2000 went
    EXPECT_EQ(sb.highest_sacked(at(0)), at(2000 * sack_scoreboard::max_ranges + 2000));
    // A new lowest range does not displace a higher one.
    const std::array low{block(0, 500)};
    EXPECT_EQ(sb.update(at(0), at(100000), low), 500u);
    EXPECT_EQ(sb.ranges().front().left, at(3000));
}

// RFC 3708 §2 (RFC 2883 §5): the first block is a D-SACK when it lies at or below the
// cumulative ACK of its segment, or within the second block; otherwise there is none.
using offsets = std::optional<std::pair<std::uint32_t, std::uint32_t>>;
offsets offsets_of(std::optional<seq_range> r) {
    if (!r) return std::nullopt;
    return std::pair{r->left.raw() - base, r->right.raw() - base};
}

TEST(Scoreboard, DsackBlockIsTheFirstBelowTheAckOrWithinTheSecond) {
    const std::array below{block(0, 1000), block(3000, 4000)};
    EXPECT_EQ(offsets_of(sack_scoreboard::dsack_block(at(2000), below)), (offsets{{0, 1000}}));
    const std::array within{block(3000, 4000), block(3000, 5000)};
    EXPECT_EQ(offsets_of(sack_scoreboard::dsack_block(at(2000), within)), (offsets{{3000, 4000}}));
    const std::array plain{block(3000, 4000), block(5000, 6000)};
    EXPECT_EQ(offsets_of(sack_scoreboard::dsack_block(at(2000), plain)), std::nullopt);
    const std::array second_only{block(5000, 6000), block(0, 1000)}; // only the first block can be one
    EXPECT_EQ(offsets_of(sack_scoreboard::dsack_block(at(2000), second_only)), std::nullopt);
    const std::array empty_block{block(1000, 1000)};
    EXPECT_EQ(offsets_of(sack_scoreboard::dsack_block(at(2000), empty_block)), std::nullopt);
    EXPECT_EQ(offsets_of(sack_scoreboard::dsack_block(at(2000), std::span<const wire::sack_block>{})), std::nullopt);
}

// The log of an episode's retransmissions: all reported once every octet is D-SACKed;
// a duplicate of data sent once reports nothing; an octet sent twice ends the episode's undo.
TEST(RetransmitLog, AllReportedOnlyWhenEveryRetransmissionIsDsacked) {
    retransmit_log log;
    log.record(at(0), at(1000)); // not active: nothing is kept
    log.start();
    log.record(at(0), at(1000));
    log.record(at(1000), at(2000)); // extends
    log.record(at(5000), at(6000));
    EXPECT_EQ(log.report(at(8000), at(9000)), 0u); // sent once: the network's duplicate
    EXPECT_EQ(log.report(at(500), at(1500)), 1000u); // splits 0:2000
    EXPECT_FALSE(log.all_reported());
    EXPECT_EQ(log.report(at(0), at(500)), 500u);
    EXPECT_EQ(log.report(at(1500), at(2000)), 500u);
    EXPECT_FALSE(log.all_reported());
    EXPECT_EQ(log.report(at(5000), at(6000)), 1000u);
    EXPECT_TRUE(log.all_reported());

    log.start();
    log.record(at(0), at(1000));
    log.record(at(500), at(1500)); // 500:1000 a second time in one episode: one D-SACK cannot tell
    EXPECT_FALSE(log.active());
    EXPECT_EQ(log.report(at(0), at(1500)), 0u);
    EXPECT_FALSE(log.all_reported());
}

// Bounded: a retransmission that needs a range more than fit, or a D-SACK that would split
// a range when none more fits, and the episode can no longer be undone; the D-SACK still
// counts as reporting our retransmission.
TEST(RetransmitLog, MoreRangesThanFitEndTheUndo) {
    constexpr std::uint32_t n = retransmit_log::max_ranges;
    retransmit_log log;
    log.start();
    for (std::uint32_t i = 0; i < n; ++i) log.record(at(2000 * i), at(2000 * i + 1000));
    EXPECT_TRUE(log.active());
    log.record(at(2000 * n - 1000), at(2000 * n)); // touches the last range: still fits
    EXPECT_TRUE(log.active());
    log.record(at(2000 * n + 1000), at(2000 * n + 2000));
    EXPECT_FALSE(log.active());

    log.start();
    for (std::uint32_t i = 0; i < n; ++i) log.record(at(2000 * i), at(2000 * i + 1000));
    EXPECT_EQ(log.report(at(0), at(100)), 100u); // trims: no room needed
    EXPECT_TRUE(log.active());
    EXPECT_EQ(log.report(at(2300), at(2400)), 100u); // would split 2000:3000
    EXPECT_FALSE(log.active());
    EXPECT_FALSE(log.all_reported());
}

// ---- one connection ----

constexpr std::string_view sack_syn = "S 0:0(0) win 65535 <mss 1000,sackOK>";
constexpr std::string_view plain_syn = "S 0:0(0) win 65535 <mss 1000>";

// These tests follow recovery segment by segment from RFC 5681 §3.1's initial window (4
// segments of 1000 bytes), not RFC 6928's 10, which the default config opens with, and
// with RFC 5681's halving (Reno), not CUBIC's 0.7 (test_congestion has that), and RFC
// 6675's DupThresh alone for loss detection (test_rack has RACK-TLP).
tcp_config rfc5681_window() {
    tcp_config c;
    c.initial_window = 0;
    c.congestion = congestion_algorithm::reno;
    c.prr = false; // RFC 6675's cwnd = ssthresh at once (test_congestion has PRR)
    c.rack = false;
    return c;
}

// RFC 6675 §5 (4): the third duplicate ACK (each SACKing new data) retransmits the first
// hole; cwnd = ssthresh = FlightSize / 2; pipe then allows nothing more.
TEST(Recovery, ThreeDupAcksWithSackRetransmitTheFirstHole) {
    harness h(rfc5681_window(), no_delay());
    h.establish(sack_syn);
    h.send(6000);
    h.expect_tx(". 1:1001(1000) ack 1");
    h.expect_tx(". 1001:2001(1000) ack 1");
    h.expect_tx(". 2001:3001(1000) ack 1");
    h.expect_tx(". 3001:4001(1000) ack 1");
    h.expect_no_tx();
    h.deliver(". 1:1(0) ack 1 win 65535 <sack 1001:2001>");
    h.expect_tx(". 4001:5001(1000) ack 1"); // (3) limited transmit: the SACKed segment left the network
    h.deliver(". 1:1(0) ack 1 win 65535 <sack 1001:3001>");
    h.expect_tx("P. 5001:6001(1000) ack 1");
    h.deliver(". 1:1(0) ack 1 win 65535 <sack 1001:4001>");
    h.expect_tx(". 1:1001(1000) ack 1"); // (4.3)
    h.expect_no_tx();
    const auto& t = h.conn.control_block();
    EXPECT_TRUE(t.in_recovery);
    EXPECT_EQ(t.ssthresh, 3000u); // FlightSize 6000 / 2
    EXPECT_EQ(t.cwnd, 3000u);
    EXPECT_EQ(t.recover, seq32(h.our_iss + 6001));
    EXPECT_EQ(h.conn.stats().fast_retransmits, 1u);
    EXPECT_EQ(h.conn.stats().recoveries, 1u);
}

// RFC 6675 §2: with SACK, an ACK that SACKs new data is a duplicate ACK even when it
// carries data (as every ACK of a peer that sends too does); three of them start recovery
// though the three small segments SACKed are not enough for IsLost.
TEST(Recovery, SackDupAcksCarryingDataCount) {
    harness h(rfc5681_window(), no_delay());
    h.establish(sack_syn);
    for (int i = 0; i < 4; ++i) h.send(100);
    h.expect_tx("P. 1:101(100) ack 1");
    h.expect_tx("P. 101:201(100) ack 1");
    h.expect_tx("P. 201:301(100) ack 1");
    h.expect_tx("P. 301:401(100) ack 1");
    h.deliver("P. 1:11(10) ack 1 win 65535 <sack 101:201>");
    h.deliver("P. 11:21(10) ack 1 win 65535 <sack 101:301>");
    h.sent.clear(); // our ACKs of the peer's data
    EXPECT_FALSE(h.conn.control_block().in_recovery);
    EXPECT_EQ(h.conn.control_block().dup_acks, 2);
    h.deliver("P. 21:31(10) ack 1 win 65535 <sack 101:401>");
    h.expect_tx(". 1:101(100) ack 21"); // (4.3), sent while the ACK field is processed: before this text
    EXPECT_TRUE(h.conn.control_block().in_recovery);
}

// RFC 6675 §4 IsLost via (2) of §5: one ACK that SACKs three segments starts recovery at
// once, before three duplicate ACKs have come.
TEST(Recovery, SackOfThreeSegmentsStartsRecoveryOnTheFirstDupAck) {
    harness h(rfc5681_window(), no_delay());
    h.establish(sack_syn);
    h.send(4000);
    for (int i = 0; i < 4; ++i) h.sent.pop_front();
    h.deliver(". 1:1(0) ack 1 win 65535 <sack 1001:4001>");
    h.expect_tx(". 1:1001(1000) ack 1");
    EXPECT_TRUE(h.conn.control_block().in_recovery);
    EXPECT_EQ(h.conn.control_block().dup_acks, 1);
}

// RFC 6675 §5 (B), (C) and NextSeg (1): a second hole in the same window goes out as soon
// as IsLost says so, without waiting for the RTO.
TEST(Recovery, SecondHoleInTheSameWindowIsRetransmittedWithoutRto) {
    harness h(rfc5681_window(), no_delay());
    h.establish(sack_syn);
    h.send(6000);
    for (int i = 0; i < 4; ++i) h.sent.pop_front(); // 1:4001; 1:1001 and 2001:3001 are lost
    h.deliver(". 1:1(0) ack 1 win 65535 <sack 1001:2001>");
    h.expect_tx(". 4001:5001(1000) ack 1");
    h.deliver(". 1:1(0) ack 1 win 65535 <sack 1001:2001 3001:4001>");
    h.expect_tx("P. 5001:6001(1000) ack 1");
    h.deliver(". 1:1(0) ack 1 win 65535 <sack 3001:5001 1001:2001>");
    h.expect_tx(". 1:1001(1000) ack 1");
    h.expect_no_tx(); // 2001:3001 has only two segments above it: not lost yet
    h.deliver(". 1:1(0) ack 1 win 65535 <sack 3001:6001 1001:2001>");
    h.expect_tx(". 2001:3001(1000) ack 1");
    h.expect_no_tx();
    h.deliver(". 1:1(0) ack 2001 win 65535 <sack 3001:6001>"); // partial ACK: stay in recovery
    EXPECT_TRUE(h.conn.control_block().in_recovery);
    h.expect_no_tx();
    h.deliver(". 1:1(0) ack 6001 win 65535");
    EXPECT_FALSE(h.conn.control_block().in_recovery);
    EXPECT_EQ(h.conn.stats().fast_retransmits, 2u);
    EXPECT_EQ(h.conn.stats().rto_retransmits, 0u);
    EXPECT_EQ(h.conn.next_deadline(), std::nullopt);
}

// RFC 6675 §4 NextSeg (2): in recovery, when pipe leaves room and no hole is lost, new
// data goes out.
TEST(Recovery, SackRecoverySendsNewDataWhenPipeAllows) {
    harness h(rfc5681_window(), no_delay());
    h.establish(sack_syn);
    h.send(8000);
    for (int i = 0; i < 4; ++i) h.sent.pop_front();
    h.deliver(". 1:1(0) ack 1 win 65535 <sack 1001:4001>"); // recovery: ssthresh = cwnd = 2000
    h.expect_tx(". 1:1001(1000) ack 1");
    h.expect_tx(". 4001:5001(1000) ack 1"); // pipe = 1000, the retransmission: room for one more
    h.expect_no_tx();
    h.deliver(". 1:1(0) ack 4001 win 65535");
    EXPECT_FALSE(h.conn.control_block().in_recovery);
    EXPECT_EQ(h.conn.control_block().cwnd, 2000u);
    h.expect_tx(". 5001:6001(1000) ack 1");
    h.expect_no_tx();
}

// RFC 6675 §4 NextSeg (4): the last segment lost too, with nothing after it to SACK: once
// the first retransmission is acknowledged, one rescue retransmission of the highest
// un-SACKed segment goes out, and only one, instead of waiting for the RTO.
TEST(Recovery, RescueRetransmissionOfATailLoss) {
    harness h(rfc5681_window(), no_delay());
    h.establish(sack_syn);
    h.send(6000);
    for (int i = 0; i < 4; ++i) h.sent.pop_front(); // 1:1001 and, later, 5001:6001 are lost
    h.deliver(". 1:1(0) ack 1 win 65535 <sack 1001:2001>");
    h.expect_tx(". 4001:5001(1000) ack 1");
    h.deliver(". 1:1(0) ack 1 win 65535 <sack 1001:3001>");
    h.expect_tx("P. 5001:6001(1000) ack 1");
    h.deliver(". 1:1(0) ack 1 win 65535 <sack 1001:4001>");
    h.expect_tx(". 1:1001(1000) ack 1");
    h.deliver(". 1:1(0) ack 1 win 65535 <sack 1001:5001>");
    h.expect_no_tx(); // RescueRxt is 1001: HighACK must pass it first
    h.deliver(". 1:1(0) ack 5001 win 65535");
    h.expect_tx("P. 5001:6001(1000) ack 1");
    h.expect_no_tx();
    h.deliver(". 1:1(0) ack 5001 win 65535");
    h.expect_no_tx();
    EXPECT_TRUE(h.conn.control_block().in_recovery);
    h.deliver(". 1:1(0) ack 6001 win 65535");
    EXPECT_FALSE(h.conn.control_block().in_recovery);
    EXPECT_EQ(h.conn.stats().rto_retransmits, 0u);
}

// RFC 3042: the first two duplicate ACKs each let one new segment out beyond cwnd, which
// itself does not change.
TEST(Recovery, LimitedTransmitSendsNewDataOnTheFirstTwoDupAcks) {
    harness h(rfc5681_window(), no_delay());
    h.establish(plain_syn);
    h.send(7000);
    for (int i = 0; i < 4; ++i) h.sent.pop_front();
    h.expect_no_tx();
    h.deliver(". 1:1(0) ack 1 win 65535");
    h.expect_tx(". 4001:5001(1000) ack 1");
    h.expect_no_tx();
    h.deliver(". 1:1(0) ack 1 win 65535");
    h.expect_tx(". 5001:6001(1000) ack 1");
    h.expect_no_tx();
    EXPECT_EQ(h.conn.control_block().cwnd, 4000u);
    EXPECT_FALSE(h.conn.control_block().in_recovery);
    h.deliver(". 1:1(0) ack 1 win 65535");
    h.expect_tx(". 1:1001(1000) ack 1"); // the third: fast retransmit
    EXPECT_TRUE(h.conn.control_block().in_recovery);
}

// RFC 6582 §3.2 step 5: a partial ACK retransmits the next hole, deflates cwnd by what it
// acknowledged (adding back one SMSS) and recovery goes on; step 6: the full ACK ends it.
TEST(Recovery, NewRenoPartialAckRetransmitsTheNextHole) {
    harness h(rfc5681_window(), no_delay());
    h.establish(plain_syn);
    h.send(6000);
    for (int i = 0; i < 4; ++i) h.sent.pop_front(); // 1:1001 and 2001:3001 are lost
    h.deliver(". 1:1(0) ack 1 win 65535");
    h.expect_tx(". 4001:5001(1000) ack 1");
    h.deliver(". 1:1(0) ack 1 win 65535");
    h.expect_tx("P. 5001:6001(1000) ack 1");
    h.deliver(". 1:1(0) ack 1 win 65535");
    h.expect_tx(". 1:1001(1000) ack 1");
    const auto& t = h.conn.control_block();
    EXPECT_EQ(t.ssthresh, 3000u);
    EXPECT_EQ(t.cwnd, 6000u); // ssthresh + 3 SMSS
    h.deliver(". 1:1(0) ack 1 win 65535");
    EXPECT_EQ(t.cwnd, 7000u); // RFC 5681 §3.2 step 4
    h.deliver(". 1:1(0) ack 2001 win 65535"); // partial
    h.expect_tx(". 2001:3001(1000) ack 1");
    h.expect_no_tx();
    EXPECT_TRUE(t.in_recovery);
    EXPECT_EQ(t.cwnd, 6000u); // 7000 - 2000 + 1000
    h.deliver(". 1:1(0) ack 6001 win 65535");
    EXPECT_FALSE(t.in_recovery);
    EXPECT_EQ(t.cwnd, 3000u);
    EXPECT_EQ(h.conn.stats().fast_retransmits, 2u);
    EXPECT_EQ(h.conn.stats().rto_retransmits, 0u);
    h.expect_no_tx();
}

// RFC 6675 §5 (A) and RFC 6582 §3.2 step 6: only an ACK that covers recover ends recovery.
TEST(Recovery, RecoveryExitsWhenTheAckCoversRecover) {
    harness h(rfc5681_window(), no_delay());
    h.establish(sack_syn);
    h.send(4000);
    for (int i = 0; i < 4; ++i) h.sent.pop_front();
    h.deliver(". 1:1(0) ack 1 win 65535 <sack 1001:4001>");
    h.expect_tx(". 1:1001(1000) ack 1");
    h.send(1000); // queued; recover stays at 4001
    h.deliver(". 1:1(0) ack 4000 win 65535");
    EXPECT_TRUE(h.conn.control_block().in_recovery);
    h.sent.clear();
    h.deliver(". 1:1(0) ack 4001 win 65535");
    EXPECT_FALSE(h.conn.control_block().in_recovery);
    EXPECT_EQ(h.conn.control_block().cwnd, h.conn.control_block().ssthresh);
    EXPECT_TRUE(h.conn.scoreboard().empty());
}

// The scoreboard's table is allocated while something is SACKed and given back when the
// cumulative ACK covers it all; the send ring goes once everything is acknowledged. What
// stays is the small log of the episode's retransmissions (kept for a late D-SACK), and
// with it the connection_extras that hold it, and the loss counts made at the first
// retransmission.
TEST(Recovery, TablesGoWhenRecoveryEnds) {
    harness h(rfc5681_window(), no_delay());
    h.establish(sack_syn);
    h.send(4000);
    for (int i = 0; i < 4; ++i) h.sent.pop_front();
    const std::size_t ring = h.conn.heap_bytes();
    EXPECT_GT(ring, 0u);
    EXPECT_FALSE(h.conn.has_rare_counts()) << "nothing lost yet";
    h.deliver(". 1:1(0) ack 1 win 65535 <sack 1001:4001>");
    h.expect_tx(". 1:1001(1000) ack 1");
    EXPECT_EQ(h.conn.stats().fast_retransmits, 1u);
    EXPECT_EQ(h.conn.heap_bytes(), ring + sizeof(connection_extras) + sizeof(connection::rare_counts) +
                                       (sack_scoreboard::max_ranges + retransmit_log::max_ranges) * sizeof(seq_range));
    h.deliver(". 1:1(0) ack 4001 win 65535");
    EXPECT_FALSE(h.conn.control_block().in_recovery);
    EXPECT_TRUE(h.conn.scoreboard().empty());
    EXPECT_EQ(h.conn.heap_bytes(),
              sizeof(connection_extras) + sizeof(connection::rare_counts) + retransmit_log::max_ranges * sizeof(seq_range));
}

// RFC 2883 §4 D-SACK blocks report duplicates at or below SND.UNA: they neither fill the
// scoreboard nor count as duplicate ACKs (RFC 6675 §2: a duplicate ACK SACKs new data).
TEST(Recovery, DsackBlockBelowSndUnaIsIgnored) {
    harness h(rfc5681_window(), no_delay());
    h.establish(sack_syn);
    h.send(5000);
    for (int i = 0; i < 4; ++i) h.sent.pop_front();
    h.deliver(". 1:1(0) ack 1001 win 65535");
    h.expect_tx("P. 4001:5001(1000) ack 1");
    for (int i = 0; i < 3; ++i) h.deliver(". 1:1(0) ack 1001 win 65535 <sack 1:1001>"); // the peer got 1:1001 twice
    h.expect_no_tx();
    EXPECT_TRUE(h.conn.scoreboard().empty());
    EXPECT_EQ(h.conn.control_block().dup_acks, 0);
    EXPECT_FALSE(h.conn.control_block().in_recovery);
    // Beyond SND.MAX: ignored too.
    h.deliver(". 1:1(0) ack 1001 win 65535 <sack 5001:9001>");
    EXPECT_TRUE(h.conn.scoreboard().empty());
    h.expect_no_tx();
    h.deliver(". 1:1(0) ack 5001 win 65535");
    EXPECT_EQ(h.conn.next_deadline(), std::nullopt);
}

// RFC 6675 §5.1: the scoreboard survives a timeout, and the go-back-N from SND.UNA skips
// what the peer SACKed.
TEST(Recovery, RtoGoBackNSkipsSackedData) {
    harness h(rfc5681_window(), no_delay());
    h.establish(sack_syn);
    h.send(4000);
    for (int i = 0; i < 4; ++i) h.sent.pop_front(); // 1:2001 lost
    h.deliver(". 1:1(0) ack 1 win 65535 <sack 2001:4001>"); // two segments: not yet lost
    h.expect_no_tx();
    EXPECT_FALSE(h.conn.control_block().in_recovery);
    h.advance(200ms);
    h.expect_tx(". 1:1001(1000) ack 1");
    h.expect_no_tx();
    h.deliver(". 1:1(0) ack 1001 win 65535 <sack 2001:4001>");
    h.expect_tx(". 1001:2001(1000) ack 1"); // and not 2001:4001 again
    h.expect_no_tx();
    EXPECT_EQ(h.conn.stats().rto_retransmits, 2u);
    EXPECT_FALSE(h.conn.control_block().in_recovery); // RFC 6675 §5.1: not before recover
    h.deliver(". 1:1(0) ack 4001 win 65535");
    EXPECT_EQ(h.conn.next_deadline(), std::nullopt);
}

// A receiver may renege (RFC 2018 §8): when the same segment times out again, the
// scoreboard goes and the go-back-N resends the SACKed data too.
TEST(Recovery, SecondTimeoutClearsTheScoreboard) {
    harness h(rfc5681_window(), no_delay());
    h.establish(sack_syn);
    h.send(4000);
    for (int i = 0; i < 4; ++i) h.sent.pop_front();
    h.deliver(". 1:1(0) ack 1 win 65535 <sack 2001:4001>");
    h.advance(200ms);
    h.expect_tx(". 1:1001(1000) ack 1");
    EXPECT_FALSE(h.conn.scoreboard().empty());
    h.advance(400ms);
    h.expect_tx(". 1:1001(1000) ack 1");
    EXPECT_TRUE(h.conn.scoreboard().empty());
    h.deliver(". 1:1(0) ack 1001 win 65535");
    h.expect_tx(". 1001:2001(1000) ack 1");
    h.expect_tx(". 2001:3001(1000) ack 1");
    h.expect_no_tx();
}

// RFC 6582 §3.2 step 2 / RFC 6675 §5.1: after a timeout, duplicate ACKs for data sent
// before it do not start a fast retransmit until SND.UNA reaches recover.
TEST(Recovery, NoFastRetransmitBeforeRecoverAfterTimeout) {
    harness h(rfc5681_window(), no_delay());
    h.establish(plain_syn);
    h.send(4000);
    for (int i = 0; i < 4; ++i) h.sent.pop_front();
    h.advance(200ms);
    h.expect_tx(". 1:1001(1000) ack 1");
    h.deliver(". 1:1(0) ack 1001 win 65535");
    h.expect_tx(". 1001:2001(1000) ack 1");
    h.expect_tx(". 2001:3001(1000) ack 1");
    for (int i = 0; i < 3; ++i) h.deliver(". 1:1(0) ack 1001 win 65535");
    h.expect_no_tx();
    EXPECT_FALSE(h.conn.control_block().in_recovery);
}

// RFC 3708 §3 and RFC 4015 §3: a fast retransmit caused by reordering, whose copy the
// peer then reports with a D-SACK (RFC 2883), was not needed: cwnd and ssthresh return to
// what they were before it.
TEST(Recovery, DsackOfTheOnlyFastRetransmitRestoresCwnd) {
    harness h(rfc5681_window(), no_delay());
    h.establish(sack_syn);
    h.send(4000);
    for (int i = 0; i < 4; ++i) h.sent.pop_front();
    const auto& t = h.conn.control_block();
    EXPECT_EQ(t.cwnd, 4000u);
    h.deliver(". 1:1(0) ack 1 win 65535 <sack 1001:4001>"); // 1:1001 was overtaken by three segments
    h.expect_tx(". 1:1001(1000) ack 1");
    EXPECT_EQ(t.cwnd, 2000u);
    h.deliver(". 1:1(0) ack 4001 win 65535"); // the original arrives: recovery ends
    EXPECT_FALSE(t.in_recovery);
    EXPECT_EQ(t.cwnd, 2000u);
    h.deliver(". 1:1(0) ack 4001 win 65535 <sack 1:1001>"); // and then the retransmission: a duplicate
    EXPECT_EQ(t.cwnd, 4000u);
    EXPECT_EQ(t.ssthresh, 0xffffffffu); // slow start again, as before the episode
    h.expect_no_tx();
    h.send(4000); // the window is the one before the episode
    h.expect_tx(". 4001:5001(1000) ack 1");
    h.expect_tx(". 5001:6001(1000) ack 1");
    h.expect_tx(". 6001:7001(1000) ack 1");
    h.expect_tx("P. 7001:8001(1000) ack 1");
    h.expect_no_tx();
}

// A D-SACK that arrives while recovery goes on undoes it at once and ends it.
TEST(Recovery, DsackDuringRecoveryUndoesAndEndsIt) {
    harness h(rfc5681_window(), no_delay());
    h.establish(sack_syn);
    h.send(4000);
    for (int i = 0; i < 4; ++i) h.sent.pop_front();
    h.deliver(". 1:1(0) ack 1 win 65535 <sack 1001:4001>");
    h.expect_tx(". 1:1001(1000) ack 1");
    const auto& t = h.conn.control_block();
    EXPECT_TRUE(t.in_recovery);
    h.deliver(". 1:1(0) ack 3001 win 65535 <sack 1:1001>"); // both copies of 1:1001 arrived
    EXPECT_FALSE(t.in_recovery);
    EXPECT_EQ(t.cwnd, 4000u);
    h.expect_no_tx();
}

// One real loss and one needless retransmission in an episode: only one of the two is
// D-SACKed, the reduction was deserved, and it stays.
TEST(Recovery, EpisodeWithOneRealLossIsNotUndone) {
    harness h(rfc5681_window(), no_delay());
    h.establish(sack_syn);
    h.send(6000);
    for (int i = 0; i < 4; ++i) h.sent.pop_front(); // 1:1001 is lost, 2001:3001 only late
    h.deliver(". 1:1(0) ack 1 win 65535 <sack 1001:2001>");
    h.expect_tx(". 4001:5001(1000) ack 1");
    h.deliver(". 1:1(0) ack 1 win 65535 <sack 1001:2001 3001:4001>");
    h.expect_tx("P. 5001:6001(1000) ack 1");
    h.deliver(". 1:1(0) ack 1 win 65535 <sack 3001:5001 1001:2001>");
    h.expect_tx(". 1:1001(1000) ack 1");
    h.deliver(". 1:1(0) ack 1 win 65535 <sack 3001:6001 1001:2001>");
    h.expect_tx(". 2001:3001(1000) ack 1");
    h.expect_no_tx();
    h.deliver(". 1:1(0) ack 6001 win 65535"); // the retransmitted 1:1001 and the late 2001:3001
    h.deliver(". 1:1(0) ack 6001 win 65535 <sack 2001:3001>"); // the second copy of 2001:3001
    const auto& t = h.conn.control_block();
    EXPECT_FALSE(t.in_recovery);
    EXPECT_EQ(t.ssthresh, 3000u);
    EXPECT_EQ(t.cwnd, 3000u);
    EXPECT_EQ(h.conn.stats().undos, 0u);
}

// RFC 4653 §3 (the idea; Linux's tp->reordering): a D-SACK shows that 1:1001 was overtaken
// by three segments; DupThresh rises to four, and the same reordering afterwards causes
// no retransmission. A segment overtaken by four is still taken for lost.
TEST(Recovery, DupThreshRisesAfterDsackAndTheSameReorderingNoLongerRetransmits) {
    harness h(rfc5681_window(), no_delay());
    h.establish(sack_syn);
    h.send(4000);
    for (int i = 0; i < 4; ++i) h.sent.pop_front();
    h.deliver(". 1:1(0) ack 1 win 65535 <sack 1001:4001>");
    h.expect_tx(". 1:1001(1000) ack 1");
    h.deliver(". 1:1(0) ack 4001 win 65535");
    h.deliver(". 1:1(0) ack 4001 win 65535 <sack 1:1001>");
    h.send(4000); // a window of four again, after the undo
    h.expect_tx(". 4001:5001(1000) ack 1");
    h.expect_tx(". 5001:6001(1000) ack 1");
    h.expect_tx(". 6001:7001(1000) ack 1");
    h.expect_tx("P. 7001:8001(1000) ack 1");
    h.deliver(". 1:1(0) ack 4001 win 65535 <sack 5001:6001>");
    h.deliver(". 1:1(0) ack 4001 win 65535 <sack 5001:7001>");
    h.deliver(". 1:1(0) ack 4001 win 65535 <sack 5001:8001>"); // three dup ACKs, three segments above
    h.expect_no_tx();
    const auto& t = h.conn.control_block();
    EXPECT_FALSE(t.in_recovery);
    h.deliver(". 1:1(0) ack 8001 win 65535"); // 4001:5001 was only late
    h.expect_no_tx();
    EXPECT_EQ(t.cwnd, 5000u); // slow start: nothing reduced it
    EXPECT_EQ(h.conn.stats().fast_retransmits, 1u);

    h.send(5000);
    h.expect_tx(". 8001:9001(1000) ack 1");
    h.expect_tx(". 9001:10001(1000) ack 1");
    h.expect_tx(". 10001:11001(1000) ack 1");
    h.expect_tx(". 11001:12001(1000) ack 1");
    h.expect_tx("P. 12001:13001(1000) ack 1");
    h.deliver(". 1:1(0) ack 8001 win 65535 <sack 9001:13001>"); // four segments above: lost
    h.expect_tx(". 8001:9001(1000) ack 1");
    EXPECT_TRUE(t.in_recovery);
}

// RFC 3708 §3 applied to a timeout: the go-back-N's one retransmission D-SACKed, the RTO
// was spurious (a delay), and cwnd and ssthresh return to their values before it.
TEST(Recovery, DsackOfTheRtoRetransmissionRestoresCwnd) {
    harness h(rfc5681_window(), no_delay());
    h.establish(sack_syn);
    h.send(4000);
    for (int i = 0; i < 4; ++i) h.sent.pop_front();
    h.advance(200ms);
    h.expect_tx(". 1:1001(1000) ack 1");
    const auto& t = h.conn.control_block();
    EXPECT_EQ(t.cwnd, 1000u);
    h.deliver(". 1:1(0) ack 4001 win 65535"); // every original arrives, late
    h.expect_no_tx();
    EXPECT_EQ(t.cwnd, 2000u);
    h.deliver(". 1:1(0) ack 4001 win 65535 <sack 1:1001>");
    EXPECT_EQ(t.cwnd, 4000u);
    EXPECT_EQ(t.ssthresh, 0xffffffffu);
}

// A D-SACK of data sent only once (the network duplicated it) undoes nothing.
TEST(Recovery, DsackOfDataSentOnceUndoesNothing) {
    harness h(rfc5681_window(), no_delay());
    h.establish(sack_syn);
    h.send(4000);
    for (int i = 0; i < 4; ++i) h.sent.pop_front();
    h.deliver(". 1:1(0) ack 1 win 65535 <sack 1001:4001>");
    h.expect_tx(". 1:1001(1000) ack 1");
    h.deliver(". 1:1(0) ack 4001 win 65535");
    h.deliver(". 1:1(0) ack 4001 win 65535 <sack 2001:3001>"); // 2001:3001 was never retransmitted
    const auto& t = h.conn.control_block();
    EXPECT_EQ(t.cwnd, 2000u);
    EXPECT_EQ(t.ssthresh, 2000u);
}

} // namespace
} // namespace tern::tcp::test
