// Connection establishment: RFC 9293 §3.5 and the LISTEN, SYN-SENT and SYN-RECEIVED
// transitions of §3.10.7.2–§3.10.7.4; SYN and SYN,ACK retransmission (§3.8.1, RFC 6298).
#include <gtest/gtest.h>

#include "harness.hpp"

namespace tern::tcp::test {
namespace {

using namespace std::chrono_literals;

TEST(Open, PassiveOpen_ListenSynReceivedEstablished) {
    harness h;
    h.listen();
    h.expect_state(tcp_state::listen);
    h.deliver("S 0:0(0) win 65535 <mss 1460>");
    h.expect_tx("S. 0:0(0) ack 1 win 65535 <mss 1460>"); // only what the peer offered
    h.expect_state(tcp_state::syn_received);
    h.expect_events({});
    h.deliver(". 1:1(0) ack 1 win 65535");
    h.expect_state(tcp_state::established);
    h.expect_events({"connected"});
    h.expect_no_tx();
    EXPECT_EQ(h.conn.next_deadline(), std::nullopt);
}

TEST(Open, ActiveOpen_SynSentEstablished) {
    harness h;
    h.connect();
    h.expect_tx("S 0:0(0) win 65535 <mss 1460,sackOK,TS val 0 ecr 0,nop,wscale 1>");
    h.expect_state(tcp_state::syn_sent);
    h.advance(30ms);
    h.deliver("S. 0:0(0) ack 1 win 65535 <mss 1460>");
    h.expect_tx(". 1:1(0) ack 1 win 65535");
    h.expect_state(tcp_state::established);
    h.expect_events({"connected"});
    EXPECT_EQ(h.conn.control_block().srtt, duration(30ms)); // the SYN was sent once: a valid sample
}

TEST(Open, ActiveOpen_SynAckWithDataIsDelivered) {
    harness h;
    h.connect();
    h.expect_tx("S 0:0(0)");
    h.deliver("S. 0:0(0) ack 1 win 65535 <mss 1460>");
    h.expect_tx(". 1:1(0) ack 1");
    h.deliver("P. 1:11(10) ack 1 win 65535");
    h.expect_events({"connected", "data 10"});
    EXPECT_EQ(h.received, pattern(10));
}

TEST(Open, SimultaneousOpen_SynSentSynReceivedEstablished) {
    harness h;
    h.connect();
    h.expect_tx("S 0:0(0)");
    h.deliver("S 0:0(0) win 65535 <mss 1460>"); // RFC 9293 Figure 8: the SYNs cross
    h.expect_state(tcp_state::syn_received);
    h.expect_tx("S. 0:0(0) ack 1 <mss 1460>");
    h.deliver("S. 0:0(0) ack 1 win 65535 <mss 1460>");
    h.expect_state(tcp_state::established);
    h.expect_events({"connected"});
    h.expect_no_tx();
}

TEST(Open, SynSent_RstWithAcceptableAckIsRefused) {
    harness h;
    h.connect();
    h.expect_tx("S 0:0(0)");
    h.deliver("R. 0:0(0) ack 1");
    h.expect_state(tcp_state::closed);
    h.expect_events({"closed refused"});
    h.expect_no_tx();
    EXPECT_EQ(h.conn.next_deadline(), std::nullopt);
}

TEST(Open, SynSent_RstWithoutAckIsIgnored) {
    harness h;
    h.connect();
    h.expect_tx("S 0:0(0)");
    h.deliver("R 0:0(0)");
    h.expect_state(tcp_state::syn_sent);
    h.expect_no_tx();
    EXPECT_EQ(h.conn.drops(tcp_drop::rst_ignored), 1u);
}

TEST(Open, SynSent_BadAckGetsReset) {
    harness h;
    h.connect();
    h.expect_tx("S 0:0(0)");
    h.deliver("S. 0:0(0) ack 1000 win 65535"); // §3.10.7.3: SEG.ACK > SND.NXT
    h.expect_tx("R 1000:1000(0)");              // <SEQ=SEG.ACK><CTL=RST>
    h.expect_state(tcp_state::syn_sent);
    h.deliver(". 0:0(0) ack 0 win 65535"); // SEG.ACK =< ISS
    h.expect_tx("R 0:0(0)");
    h.deliver("R. 0:0(0) ack 1000"); // a bad ACK on an RST: dropped, no answer
    h.expect_no_tx();
    h.expect_state(tcp_state::syn_sent);
}

TEST(Open, Listen_AckGetsReset) {
    harness h;
    h.listen();
    h.deliver(". 1:1(0) ack 500 win 65535");
    h.expect_tx("R 500:500(0)");
    h.expect_state(tcp_state::listen);
}

// RFC 9293 §3.10.1: a passive OPEN with the foreign socket fully specified (the endpoint's,
// one connection for each SYN) has its flow from the open on: a SYN+FIN, dropped before
// LISTEN processing, leaves it in LISTEN with that flow still, and so does a handshake that
// fails back to LISTEN. (The endpoint takes the stream out of its table by it.)
TEST(Open, FullySpecifiedPassiveOpenKeepsItsFlowInListen) {
    harness h;
    const flow f{harness::local, harness::remote};
    ASSERT_TRUE(h.conn.open_passive(harness::local, seq32(h.our_iss), h.now, harness::remote).has_value());
    EXPECT_EQ(h.conn.flow_id(), f);
    h.deliver("SF 0:0(0) win 65535 <mss 1460>");
    h.expect_no_tx();
    h.expect_state(tcp_state::listen);
    EXPECT_EQ(h.conn.flow_id(), f);
    EXPECT_EQ(h.conn.drops(tcp_drop::syn_fin), 1u);
    h.deliver("S 0:0(0) win 65535 <mss 1460>");
    h.expect_tx("S. 0:0(0) ack 1 win 65535 <mss 1460>");
    h.deliver("R 1:1(0)"); // RFC 9293 §3.10.7.4: a passive connection in SYN-RECEIVED listens again
    h.expect_state(tcp_state::listen);
    EXPECT_EQ(h.conn.flow_id(), f);
}

TEST(Open, Listen_RstAndBareSegmentsIgnored) {
    harness h;
    h.listen();
    h.deliver("R 0:0(0)");
    h.deliver("P 1:11(10)");
    h.expect_no_tx();
    h.expect_state(tcp_state::listen);
}

TEST(Open, SynReceived_BadAckGetsReset) {
    harness h;
    h.listen();
    h.deliver("S 0:0(0) win 65535 <mss 1460>");
    h.expect_tx("S. 0:0(0) ack 1");
    h.deliver(". 1:1(0) ack 5 win 65535");
    h.expect_tx("R 5:5(0)");
    h.expect_state(tcp_state::syn_received);
}

TEST(Open, SynAndFinTogetherAreDropped) {
    harness h;
    h.listen();
    h.deliver("SF 0:0(0) win 65535");
    h.expect_no_tx();
    h.expect_state(tcp_state::listen);
    EXPECT_EQ(h.conn.drops(tcp_drop::syn_fin), 1u);

    harness e;
    e.establish();
    e.deliver("SF. 1:1(0) ack 1 win 65535");
    e.expect_no_tx();
    e.expect_state(tcp_state::established);
}

TEST(Open, SynRetransmittedWithBackoffThenTimedOut) {
    tcp_config config;
    config.syn_retries = 3;
    harness h(config);
    h.connect();
    h.expect_tx("S 0:0(0)");
    // RFC 6298 §5.5: 1 s, then 2 s, then 4 s; after the last, 8 s more and give up.
    for (auto wait : {1s, 2s, 4s}) {
        h.advance(wait - 1ms);
        h.expect_no_tx();
        h.advance(1ms);
        h.expect_tx("S 0:0(0)");
    }
    h.advance(8s - 1ms);
    h.expect_state(tcp_state::syn_sent);
    h.advance(1ms);
    h.expect_state(tcp_state::closed);
    h.expect_events({"closed timed_out"});
    h.expect_no_tx();
}

TEST(Open, SynAckRetransmittedThenHalfOpenDroppedAndLaterAckReset) {
    tcp_config config;
    config.synack_retries = 2;
    harness h(config);
    h.listen();
    h.deliver("S 0:0(0) win 65535 <mss 1460>");
    h.expect_tx("S. 0:0(0) ack 1");
    for (auto wait : {1s, 2s}) {
        h.advance(wait - 1ms);
        h.expect_no_tx();
        h.advance(1ms);
        h.expect_tx("S. 0:0(0) ack 1");
    }
    h.advance(4s);
    h.expect_state(tcp_state::listen); // passive: back to LISTEN, the app never heard of it
    h.expect_events({});
    h.deliver(". 1:1(0) ack 1 win 65535");
    h.expect_tx("R 1:1(0)"); // §3.10.7.2: an ACK in LISTEN
}

TEST(Open, RetransmittedSynInSynReceivedGetsTheSynAckAgain) {
    // Our SYN,ACK was lost and the client sends its SYN again. A bare ACK (RFC 9293: the SYN
    // lies below RCV.NXT) would be dropped in SYN-SENT and cost the client its RTO; Linux and
    // FreeBSD send the SYN,ACK again, with the options it had.
    harness h;
    h.listen();
    h.deliver("S 0:0(0) win 65535 <mss 1460,sackOK,TS val 100 ecr 0,nop,wscale 7>");
    h.expect_tx("S. 0:0(0) ack 1 win 65535 <mss 1460,sackOK,TS val 0 ecr 100,nop,wscale 1>");
    h.advance(200ms);
    h.deliver("S 0:0(0) win 65535 <mss 1460,sackOK,TS val 300 ecr 0,nop,wscale 7>");
    h.expect_tx("S. 0:0(0) ack 1 win 65535 <mss 1460,sackOK,TS val 200 ecr 300,nop,wscale 1>");
    h.expect_state(tcp_state::syn_received);
    // The RTO keeps its schedule: the SYN,ACK's own retransmission is still 1 s after the first.
    h.advance(799ms);
    h.expect_no_tx();
    h.advance(1ms);
    h.expect_tx("S. 0:0(0) ack 1");
    h.deliver(". 1:1(0) ack 1 win 512 <nop,nop,TS val 400 ecr 1000>");
    h.expect_state(tcp_state::established);
    h.expect_events({"connected"});
}

TEST(Open, SynAtAnotherSequenceInSynReceivedIsNotAnsweredWithSynAck) {
    // Only a copy of the SYN this connection answered (SEG.SEQ = IRS) gets the SYN,ACK: any
    // other SYN is judged as RFC 9293 §3.10.7.4 says, below the window an ACK.
    harness h;
    h.listen();
    h.deliver("S 0:0(0) win 65535 <mss 1460>");
    h.expect_tx("S. 0:0(0) ack 1");
    h.deliver("S 4294967000:4294967000(0) win 65535 <mss 1460>");
    h.expect_tx(". 1:1(0) ack 1");
}

TEST(Open, SynAckRetransmittedSynAnsweredByChallengeAck) {
    // Our ACK of the SYN,ACK was lost: the peer sends its SYN,ACK again and must get an ACK.
    harness h;
    h.connect();
    h.expect_tx("S 0:0(0)");
    h.deliver("S. 0:0(0) ack 1 win 65535 <mss 1460>");
    h.expect_tx(". 1:1(0) ack 1");
    h.deliver("S. 0:0(0) ack 1 win 65535 <mss 1460>");
    h.expect_tx(". 1:1(0) ack 1"); // RFC 5961 §4.2 challenge ACK doubles as the lost ACK
    h.expect_state(tcp_state::established);
}

TEST(Open, CloseInSynReceivedSendsFinOnceEstablished) {
    harness h;
    h.listen();
    h.deliver("S 0:0(0) win 65535 <mss 1460>");
    h.expect_tx("S. 0:0(0) ack 1");
    h.close();
    h.expect_no_tx();
    h.deliver(". 1:1(0) ack 1 win 65535");
    h.expect_tx("F. 1:1(0) ack 1");
    h.expect_state(tcp_state::fin_wait_1);
}

// "Set RCV.NXT to SEG.SEQ+1, IRS is set to SEG.SEQ, and any other control or text should be
// queued for processing later": the SYN,ACK acknowledges the SYN only; the text reaches the
// application once the handshake completes (ESTABLISHED), then it is acknowledged.
TEST(Open, Rfc9293_3_10_7_2_TextOnSynIsQueued) {
    harness h;
    h.listen();
    h.deliver("S 0:10(10) win 65535 <mss 1460>", pattern(10));
    h.expect_tx("S. 0:0(0) ack 1");
    h.expect_events({});
    h.deliver(". 1:1(0) ack 1 win 65535");
    h.expect_events({"connected", "data 10"});
    EXPECT_EQ(h.received, pattern(10));
    h.advance(40ms);
    h.expect_tx(". 1:1(0) ack 11");
}

// The peer sends the text again with its ACK (our SYN,ACK did not acknowledge it): the
// application gets it once, and what follows it too.
TEST(Open, TextOnSynSentAgainWithTheAckIsDeliveredOnce) {
    harness h;
    h.listen();
    h.deliver("S 0:10(10) win 65535 <mss 1460>", pattern(10));
    h.expect_tx("S. 0:0(0) ack 1");
    h.deliver("P. 1:16(15) ack 1 win 65535");
    h.expect_events({"connected", "data 10", "data 5"});
    EXPECT_EQ(h.received, pattern(15));
}

// A half-open connection that goes back to LISTEN forgets the text of its SYN.
TEST(Open, TextOnSynIsForgottenWithTheHalfOpenConnection) {
    harness h;
    h.listen();
    h.deliver("S 0:10(10) win 65535 <mss 1460>", pattern(10));
    h.expect_tx("S. 0:0(0) ack 1");
    h.deliver("R 1:1(0)");
    h.expect_state(tcp_state::listen);
    h.deliver("S 0:0(0) win 65535 <mss 1460>");
    h.expect_tx("S. 0:0(0) ack 1");
    h.deliver(". 1:1(0) ack 1 win 65535");
    h.expect_events({"connected"});
    EXPECT_TRUE(h.received.empty());
}

TEST(Open, RtoOf3sAfterSynRetransmission) { // RFC 6298 §5.7
    harness h;
    h.connect();
    h.expect_tx("S 0:0(0)");
    h.advance(1s);
    h.expect_tx("S 0:0(0)");
    h.deliver("S. 0:0(0) ack 1 win 65535 <mss 1460>");
    EXPECT_EQ(h.conn.control_block().rto, duration(3s));
}

} // namespace
} // namespace tern::tcp::test
