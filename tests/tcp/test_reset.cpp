// RST handling: §3.10.7.1 (CLOSED), the second step of §3.10.7.4 in every synchronized
// state with RFC 5961 §3 (challenge ACKs), SYN in synchronized states (RFC 5961 §4),
// and ABORT (§3.10.5).
#include <gtest/gtest.h>

#include <functional>

#include "harness.hpp"

namespace tern::tcp::test {
namespace {

using namespace std::chrono_literals;

// Drives an established connection into `s` (RST tests start from each state).
void drive_to(harness& h, tcp_state s) {
    h.establish();
    switch (s) {
    case tcp_state::established: break;
    case tcp_state::fin_wait_1:
        h.close();
        h.expect_tx("F. 1:1(0) ack 1");
        break;
    case tcp_state::fin_wait_2:
        h.close();
        h.expect_tx("F. 1:1(0) ack 1");
        h.deliver(". 1:1(0) ack 2");
        break;
    case tcp_state::close_wait:
        h.deliver("F. 1:1(0) ack 1");
        h.expect_tx(". 1:1(0) ack 2");
        break;
    case tcp_state::closing:
        h.close();
        h.expect_tx("F. 1:1(0) ack 1");
        h.deliver("F. 1:1(0) ack 1");
        h.expect_tx(". 2:2(0) ack 2");
        break;
    case tcp_state::last_ack:
        h.deliver("F. 1:1(0) ack 1");
        h.expect_tx(". 1:1(0) ack 2");
        h.close();
        h.expect_tx("F. 1:1(0) ack 2");
        break;
    case tcp_state::time_wait:
        h.close();
        h.expect_tx("F. 1:1(0) ack 1");
        h.deliver("F. 1:1(0) ack 2");
        h.expect_tx(". 2:2(0) ack 2");
        break;
    default: FAIL() << "not a synchronized state";
    }
    h.expect_state(s);
    h.events.clear();
}

// The RST at RCV.NXT, which is 1 before the peer's FIN and 2 after it.
const char* rst_at_rcv_nxt(tcp_state s) {
    switch (s) {
    case tcp_state::established:
    case tcp_state::fin_wait_1:
    case tcp_state::fin_wait_2: return "R 1:1(0)";
    default: return "R 2:2(0)";
    }
}

void expect_reset_closes(tcp_state s, const char* reason) {
    SCOPED_TRACE(std::string(to_string(s)));
    harness h;
    drive_to(h, s);
    h.deliver(rst_at_rcv_nxt(s));
    h.expect_state(tcp_state::closed);
    h.expect_events({std::string("closed ") + reason});
    h.expect_no_tx();
    EXPECT_EQ(h.conn.next_deadline(), std::nullopt);
}

TEST(Reset, Established_RstCloses) { expect_reset_closes(tcp_state::established, "reset"); }
TEST(Reset, FinWait1_RstCloses) { expect_reset_closes(tcp_state::fin_wait_1, "reset"); }
TEST(Reset, FinWait2_RstCloses) { expect_reset_closes(tcp_state::fin_wait_2, "reset"); }
TEST(Reset, CloseWait_RstCloses) { expect_reset_closes(tcp_state::close_wait, "reset"); }
TEST(Reset, Closing_RstCloses) { expect_reset_closes(tcp_state::closing, "reset"); }
TEST(Reset, LastAck_RstCloses) { expect_reset_closes(tcp_state::last_ack, "reset"); }
TEST(Reset, TimeWait_RstCloses) { expect_reset_closes(tcp_state::time_wait, "normal"); }

TEST(Reset, SynReceivedPassive_RstReturnsToListen) {
    harness h;
    h.listen();
    h.deliver("S 0:0(0) win 65535 <mss 1460>");
    h.expect_tx("S. 0:0(0) ack 1");
    h.deliver("R 1:1(0)");
    h.expect_state(tcp_state::listen);
    h.expect_events({});
    EXPECT_EQ(h.conn.next_deadline(), std::nullopt); // no more SYN,ACK retransmissions
    h.deliver("S 0:0(0) win 65535 <mss 1460>");      // and it can accept again
    h.expect_tx("S. 0:0(0) ack 1");
}

TEST(Reset, SynReceivedActive_RstIsRefused) {
    harness h;
    h.connect();
    h.expect_tx("S 0:0(0)");
    h.deliver("S 0:0(0) win 65535 <mss 1460>");
    h.expect_tx("S. 0:0(0) ack 1");
    h.deliver("R 1:1(0)");
    h.expect_state(tcp_state::closed);
    h.expect_events({"closed refused"});
}

TEST(Reset, InWindowRstNotAtRcvNxt_ChallengeAck) {
    harness h;
    h.establish();
    h.deliver("R 100:100(0)"); // RFC 5961 §3.2
    h.expect_tx(". 1:1(0) ack 1");
    h.expect_state(tcp_state::established);
    EXPECT_EQ(h.conn.drops(tcp_drop::rst_challenged), 1u);
}

TEST(Reset, OutOfWindowRstIgnored) {
    harness h;
    h.establish();
    h.deliver("R 100000:100000(0)");
    h.expect_no_tx();
    h.expect_state(tcp_state::established);
}

TEST(Reset, SynInEstablished_ChallengeAck) {
    harness h;
    h.establish();
    h.deliver("S 500:500(0) win 65535"); // RFC 5961 §4.2: whatever the sequence number
    h.expect_tx(". 1:1(0) ack 1");
    h.expect_state(tcp_state::established);
    EXPECT_EQ(h.conn.drops(tcp_drop::syn_challenged), 1u);
}

TEST(Reset, Abort_SendsRstAndClosesWithoutTimeWait) {
    harness h;
    h.establish();
    h.send(100);
    h.expect_tx("P. 1:101(100) ack 1");
    h.abort();
    h.expect_tx("R 101:101(0)"); // <SEQ=SND.NXT><CTL=RST>
    h.expect_state(tcp_state::closed);
    h.expect_events({"closed aborted"});
    EXPECT_EQ(h.conn.next_deadline(), std::nullopt);
}

TEST(Reset, AbortInSynSentSendsNothing) {
    harness h;
    h.connect();
    h.expect_tx("S 0:0(0)");
    h.abort();
    h.expect_no_tx();
    h.expect_events({"closed aborted"});
}

// §3.10.7.1: with our ISN 0 the relative numbers are the absolute ones.
TEST(Reset, Closed_AckedSegmentGetsRstAtItsAck) {
    harness h({}, {}, 0);
    h.deliver(". 1:1(0) ack 7"); // never opened: CLOSED
    h.expect_tx("R 7:7(0)");     // <SEQ=SEG.ACK><CTL=RST>
}

TEST(Reset, Closed_SegmentWithoutAckGetsRstAck) {
    harness h({}, {}, 0);
    h.deliver("S 0:0(0) win 65535");
    h.expect_tx("R. 0:0(0) ack 1"); // <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>
    h.deliver("FP 5:15(10)");
    h.expect_tx("R. 0:0(0) ack 16"); // the FIN counts
}

TEST(Reset, Closed_RstIsNotAnswered) {
    harness h({}, {}, 0);
    h.deliver("R 0:0(0)");
    h.deliver("R. 0:0(0) ack 5");
    h.expect_no_tx();
}

TEST(Reset, ClosedAfterResetAnswersWithRst) {
    harness h;
    h.establish();
    h.deliver("R 1:1(0)");
    h.expect_events({"closed reset"});
    h.deliver(". 1:1(0) ack 1");
    h.expect_tx("R 1:1(0)");
}

TEST(Reset, ChallengeAcksAreRateLimited) {
    tcp_config config;
    config.challenge_acks_per_second = 3; // RFC 5961 §7
    harness h(config);
    h.establish();
    for (int i = 0; i < 10; ++i) h.deliver("R 100:100(0)");
    h.deliver("S 7:7(0)");
    h.deliver(". 1:1(0) ack 900"); // §5.2 ACKs count too
    EXPECT_EQ(h.sent.size(), 3u);
    EXPECT_EQ(h.conn.drops(tcp_drop::challenge_limited), 9u);
    h.sent.clear();
    h.advance(1s); // a new second
    h.deliver("R 100:100(0)");
    h.expect_tx(". 1:1(0) ack 1");
}

} // namespace
} // namespace tern::tcp::test
