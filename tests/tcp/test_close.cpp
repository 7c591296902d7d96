// Closing: RFC 9293 §3.6 and the FIN transitions of §3.10.4 and §3.10.7.4 (fifth and
// eighth steps): FIN-WAIT-1/2, CLOSING, TIME-WAIT for 2·MSL, CLOSE-WAIT, LAST-ACK.
#include <gtest/gtest.h>

#include "harness.hpp"

namespace tern::tcp::test {
namespace {

using namespace std::chrono_literals;

TEST(Close, ActiveClose_FinWait1FinWait2TimeWait) {
    harness h;
    h.establish();
    h.close();
    h.expect_tx("F. 1:1(0) ack 1");
    h.expect_state(tcp_state::fin_wait_1);
    h.deliver(". 1:1(0) ack 2");
    h.expect_state(tcp_state::fin_wait_2);
    h.expect_no_tx();
    h.deliver("F. 1:1(0) ack 2");
    h.expect_tx(". 2:2(0) ack 2");
    h.expect_state(tcp_state::time_wait);
    h.expect_events({"peer_closed"});
}

TEST(Close, TimeWaitExpiresAtExactlyTwoMsl) {
    tcp_config config;
    config.msl = 10s;
    harness h(config);
    h.establish();
    h.close();
    h.expect_tx("F. 1:1(0) ack 1");
    h.deliver("F. 1:1(0) ack 2");
    h.expect_tx(". 2:2(0) ack 2");
    h.expect_state(tcp_state::time_wait);
    h.expect_events({"peer_closed"});
    h.advance(20s - 1ns);
    h.expect_state(tcp_state::time_wait);
    h.advance(1ns);
    h.expect_state(tcp_state::closed);
    h.expect_events({"closed normal"});
    h.expect_no_tx();
}

// Linux's tcp_fin_timeout: after close() a peer that acknowledges our FIN but never sends
// its own holds us in FIN-WAIT-2 for fin_timeout, then the connection goes, sending nothing.
TEST(Close, FinWait2AfterCloseTimesOut) {
    tcp_config config;
    config.fin_timeout = 60s;
    harness h(config);
    h.establish();
    h.close();
    h.expect_tx("F. 1:1(0) ack 1");
    h.deliver(". 1:1(0) ack 2");
    h.expect_state(tcp_state::fin_wait_2);
    h.advance(60s - 1ns);
    h.expect_state(tcp_state::fin_wait_2);
    h.advance(1ns);
    h.expect_state(tcp_state::closed);
    h.expect_events({"closed timed_out"});
    h.expect_no_tx();
}

// shutdown() is a half-close: the application still reads, so FIN-WAIT-2 lasts as long as
// the peer sends (RFC 9293 §3.10.4); a close() later starts the limit from then.
TEST(Close, FinWait2AfterShutdownWaitsUntilClose) {
    tcp_config config;
    config.fin_timeout = 60s;
    harness h(config);
    h.establish();
    h.shutdown();
    h.expect_tx("F. 1:1(0) ack 1");
    h.deliver(". 1:1(0) ack 2");
    h.advance(3600s);
    h.expect_state(tcp_state::fin_wait_2);
    h.expect_no_tx();
    h.close();
    h.advance(60s - 1ns);
    h.expect_state(tcp_state::fin_wait_2);
    h.advance(1ns);
    h.expect_state(tcp_state::closed);
    h.expect_events({"closed timed_out"});
    h.expect_no_tx();
}

// The peer's FIN within the limit: TIME-WAIT as usual, for 2·MSL from that FIN.
TEST(Close, FinWait2LimitGivesWayToTheFin) {
    tcp_config config;
    config.fin_timeout = 60s;
    config.msl = 10s;
    harness h(config);
    h.establish();
    h.close();
    h.expect_tx("F. 1:1(0) ack 1");
    h.deliver(". 1:1(0) ack 2");
    h.advance(50s);
    h.deliver("F. 1:1(0) ack 2");
    h.expect_tx(". 2:2(0) ack 2");
    h.expect_state(tcp_state::time_wait);
    h.advance(20s - 1ns);
    h.expect_state(tcp_state::time_wait);
    h.advance(1ns);
    h.expect_state(tcp_state::closed);
    h.expect_events({"peer_closed", "closed normal"});
    h.expect_no_tx();
}

TEST(Close, TimeWaitRestartedByRetransmittedFin) {
    tcp_config config;
    config.msl = 10s;
    harness h(config);
    h.establish();
    h.close();
    h.expect_tx("F. 1:1(0) ack 1");
    h.deliver("F. 1:1(0) ack 2");
    h.expect_tx(". 2:2(0) ack 2");
    h.advance(15s);
    h.deliver("F. 1:1(0) ack 2"); // our ACK was lost
    h.expect_tx(". 2:2(0) ack 2");
    h.advance(20s - 1ns); // 2·MSL from the retransmitted FIN
    h.expect_state(tcp_state::time_wait);
    h.advance(1ns);
    h.expect_state(tcp_state::closed);
}

TEST(Close, FinWait1_FinAckGoesStraightToTimeWait) {
    harness h;
    h.establish();
    h.close();
    h.expect_tx("F. 1:1(0) ack 1");
    h.deliver("F. 1:1(0) ack 2"); // acknowledges our FIN and carries theirs
    h.expect_tx(". 2:2(0) ack 2");
    h.expect_state(tcp_state::time_wait);
}

TEST(Close, SimultaneousClose_Closing) {
    harness h;
    h.establish();
    h.close();
    h.expect_tx("F. 1:1(0) ack 1");
    h.deliver("F. 1:1(0) ack 1"); // the FINs cross
    h.expect_state(tcp_state::closing);
    h.expect_tx(". 2:2(0) ack 2");
    h.deliver(". 2:2(0) ack 2");
    h.expect_state(tcp_state::time_wait);
    h.expect_events({"peer_closed"});
}

TEST(Close, PassiveClose_CloseWaitHeldUntilAppCloses_LastAck) {
    harness h;
    h.establish();
    h.deliver("F. 1:1(0) ack 1");
    h.expect_tx(". 1:1(0) ack 2"); // a FIN is acknowledged at once
    h.expect_state(tcp_state::close_wait);
    h.expect_events({"peer_closed"});
    h.advance(10min);
    h.expect_state(tcp_state::close_wait); // held: no timer closes it
    h.expect_no_tx();
    h.send(10); // the half-closed connection still sends
    h.expect_tx("P. 1:11(10) ack 2");
    h.deliver(". 2:2(0) ack 11");
    h.close();
    h.expect_tx("F. 11:11(0) ack 2");
    h.expect_state(tcp_state::last_ack);
    h.deliver(". 2:2(0) ack 12");
    h.expect_state(tcp_state::closed);
    h.expect_events({"closed normal"});
    EXPECT_EQ(h.conn.next_deadline(), std::nullopt);
}

TEST(Close, LastAck_FinRetransmittedOnRto) {
    harness h;
    h.establish();
    h.deliver("F. 1:1(0) ack 1");
    h.expect_tx(". 1:1(0) ack 2");
    h.close();
    h.expect_tx("F. 1:1(0) ack 2");
    h.advance(200ms); // the minimum RTO: the handshake measured 0
    h.expect_tx("F. 1:1(0) ack 2");
    h.advance(400ms);
    h.expect_tx("F. 1:1(0) ack 2");
    h.deliver(". 2:2(0) ack 2");
    h.expect_state(tcp_state::closed);
}

TEST(Close, CloseWithQueuedDataSendsFinAfterIt) {
    harness h;
    h.establish("S 0:0(0) win 1000 <mss 1460>", ". 1:1(0) ack 1 win 1000");
    h.send(1500);
    h.expect_tx(". 1:1001(1000) ack 1");
    h.close(); // 500 bytes wait for the window: the FIN waits behind them
    h.expect_no_tx();
    h.expect_state(tcp_state::fin_wait_1);
    h.deliver(". 1:1(0) ack 1001 win 1000");
    h.expect_tx("FP. 1001:1501(500) ack 1");
    h.expect_state(tcp_state::fin_wait_1); // the FIN is not yet acknowledged
    h.deliver(". 1:1(0) ack 1501 win 1000");
    h.expect_state(tcp_state::fin_wait_1);
    h.deliver(". 1:1(0) ack 1502 win 1000");
    h.expect_state(tcp_state::fin_wait_2);
}

// RFC 9293 §3.10.4: after CLOSE (here the half-close, shutdown) "the user ... may continue to
// RECEIVE until he is told that the remote side has also CLOSED".
TEST(Close, FinWait2StillReceivesData) {
    harness h;
    h.establish();
    h.shutdown();
    h.expect_tx("F. 1:1(0) ack 1");
    h.deliver(". 1:1(0) ack 2");
    h.deliver("P. 1:101(100) ack 2");
    h.expect_events({"data 100"});
    h.deliver("F. 101:101(0) ack 2");
    h.expect_tx(". 2:2(0) ack 102");
    h.expect_state(tcp_state::time_wait);
}

// RFC 1122 §4.2.2.13: after a full close "if new data is received after CLOSE is called, its
// TCP SHOULD send a RST to show that data was lost" (Linux too: RFC 2525 §2.17).
TEST(Close, DataAfterCloseIsAnsweredByRst) {
    harness h;
    h.establish();
    h.close();
    h.expect_tx("F. 1:1(0) ack 1");
    h.deliver(". 1:1(0) ack 2");
    h.expect_state(tcp_state::fin_wait_2);
    h.deliver("P. 1:101(100) ack 2");
    h.expect_tx("R 2:2(0)");
    h.expect_events({"closed aborted"});
    h.expect_state(tcp_state::closed);
    EXPECT_EQ(h.conn.drops(tcp_drop::data_after_close), 1u);
}

// The same in FIN-WAIT-1, before our FIN is acknowledged; a FIN alone still closes normally.
TEST(Close, DataAfterCloseInFinWait1IsAnsweredByRst) {
    harness h;
    h.establish();
    h.close();
    h.expect_tx("F. 1:1(0) ack 1");
    h.deliver("P. 1:11(10) ack 1");
    h.expect_tx("R 2:2(0)");
    h.expect_events({"closed aborted"});
}

TEST(Close, FinAfterCloseClosesNormally) {
    harness h;
    h.establish();
    h.close();
    h.expect_tx("F. 1:1(0) ack 1");
    h.deliver("F. 1:1(0) ack 2");
    h.expect_tx(". 2:2(0) ack 2");
    h.expect_state(tcp_state::time_wait);
    h.expect_events({"peer_closed"});
}

TEST(Close, SendAfterCloseFails) {
    harness h;
    h.establish();
    h.close();
    EXPECT_FALSE(h.conn.send(pattern(10), h.now).has_value());
    EXPECT_FALSE(h.conn.close(h.now).has_value());
}

TEST(Close, OutOfOrderFinWaitsForTheData) {
    harness h;
    h.establish();
    h.deliver("F. 101:201(100) ack 1"); // bytes 1..100 missing
    h.expect_tx(". 1:1(0) ack 1");
    h.expect_state(tcp_state::established);
    h.deliver(". 1:101(100) ack 1");
    h.expect_tx(". 1:1(0) ack 202");
    h.expect_state(tcp_state::close_wait);
    EXPECT_EQ(h.received, pattern(200));
}

TEST(Close, BareOutOfOrderFinWaitsForTheData) {
    harness h;
    h.establish();
    h.deliver("F. 101:101(0) ack 1");
    h.expect_tx(". 1:1(0) ack 1");
    h.expect_state(tcp_state::established);
    h.deliver(". 1:101(100) ack 1");
    h.expect_tx(". 1:1(0) ack 102");
    h.expect_state(tcp_state::close_wait);
    h.expect_events({"data 100", "peer_closed"});
}

// Through FIN-WAIT-1 and FIN-WAIT-2 into TIME-WAIT, having received the peer's FIN at 1.
void to_time_wait(harness& h) {
    h.close();
    h.expect_tx("F. 1:1(0) ack 1");
    h.deliver("F. 1:1(0) ack 2");
    h.expect_tx(". 2:2(0) ack 2");
    h.expect_state(tcp_state::time_wait);
    h.expect_events({"peer_closed"});
}

// RFC 6191 §2 without timestamps (RFC 1122 §4.2.2.13): a SYN above RCV.NXT ends TIME-WAIT;
// the listener (here: the same connection, opened passive again, as the endpoint does with a
// fresh one) takes it into SYN-RECEIVED.
TEST(Close, Rfc6191_TimeWaitAcceptsNewerSyn) {
    harness h;
    h.establish();
    to_time_wait(h);
    h.deliver("S 100000:100000(0) win 65535 <mss 1460>"); // above RCV.NXT: a new incarnation
    h.expect_state(tcp_state::closed);
    EXPECT_TRUE(h.conn.ended_by_new_syn());
    h.expect_events({"closed normal"}); // the old incarnation ends as TIME-WAIT would
    h.expect_no_tx();
    const seq32 old_snd_nxt = h.conn.control_block().snd_nxt;
    const seq32 iss = reincarnation_iss(seq32(h.our_iss), old_snd_nxt);
    EXPECT_GT(iss, old_snd_nxt);
    ASSERT_TRUE(h.conn.open_passive(harness::local, iss, h.now).has_value());
    h.deliver("S 100000:100000(0) win 65535 <mss 1460>");
    h.expect_state(tcp_state::syn_received);
    ASSERT_EQ(h.sent.size(), 1u);
    EXPECT_EQ(h.sent.front().header.seq, iss.raw());
    EXPECT_EQ(h.sent.front().header.ack, h.peer_isn + 100001);
}

TEST(Close, Rfc6191_TimeWaitKeepsOlderSyn) {
    harness h;
    h.establish();
    to_time_wait(h);
    h.deliver("S 1:1(0) win 65535 <mss 1460>"); // at RCV.NXT - 1, not above it: an old duplicate
    h.expect_state(tcp_state::time_wait);
    EXPECT_FALSE(h.conn.ended_by_new_syn());
    h.expect_tx(". 2:2(0) ack 2"); // handled as before: RFC 5961 §4.2 challenge ACK
}

TEST(Close, Rfc6191_TimeWaitReuseCanBeTurnedOff) {
    tcp_config config;
    config.time_wait_reuse = false;
    harness h(config);
    h.establish();
    to_time_wait(h);
    h.deliver("S 100000:100000(0) win 65535 <mss 1460>");
    h.expect_state(tcp_state::time_wait);
    h.expect_tx(". 2:2(0) ack 2");
}

// With timestamps on both incarnations the TSval decides, whatever the sequence number.
TEST(Close, Rfc6191_TimeWaitWithTimestampsTsvalDecides) {
    harness h;
    h.establish("S 0:0(0) win 65535 <mss 1460,TS val 1000 ecr 0>", ". 1:1(0) ack 1 win 65535 <TS val 1000 ecr 0>");
    h.close();
    h.expect_tx("F. 1:1(0) ack 1");
    h.deliver("F. 1:1(0) ack 2 <TS val 1001 ecr 0>");
    h.expect_tx(". 2:2(0) ack 2");
    h.expect_state(tcp_state::time_wait);
    h.expect_events({"peer_closed"});
    // Above RCV.NXT but with an older TSval: stays (and PAWS drops it, with an ACK).
    h.deliver("S 100000:100000(0) win 65535 <mss 1460,TS val 999 ecr 0>");
    h.expect_state(tcp_state::time_wait);
    h.expect_tx(". 2:2(0) ack 2");
    // Below RCV.NXT but with a newer TSval: a new incarnation.
    h.deliver("S 0:0(0) win 65535 <mss 1460,TS val 1002 ecr 0>");
    h.expect_state(tcp_state::closed);
    EXPECT_TRUE(h.conn.ended_by_new_syn());
}

TEST(Close, Rfc6191_IssOfTheNewIncarnationIsAboveTheOldSndNxt) {
    const seq32 old(0xfffff000u);
    EXPECT_EQ(reincarnation_iss(seq32(0x40000000u), old), seq32(0x40000000u)); // far above: kept
    EXPECT_EQ(reincarnation_iss(old + 10, old), old + 65537);                 // too close: moved up
    EXPECT_EQ(reincarnation_iss(old - 5000, old), old + 65537);               // below: moved up
}

} // namespace
} // namespace tern::tcp::test
