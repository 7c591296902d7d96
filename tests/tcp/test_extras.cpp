// connection_extras: the state of loss, reordering, duplicates, text on a SYN and RFC 5961
// challenges, which a connection makes at the first need and frees once it holds nothing
// again. These check both halves: an ordinary exchange never makes it, and what it holds
// (a D-SACK to report, a challenge-ACK window) lives as long as the rule needs it.
#include <gtest/gtest.h>

#include "harness.hpp"

namespace tern::tcp::test {
namespace {

using namespace std::chrono_literals;

constexpr const char* syn_with_sack = "S 0:0(0) win 65535 <mss 1460,sackOK>";

TEST(Extras, AnOrdinaryExchangeNeverMakesThem) {
    harness h;
    h.establish(syn_with_sack);
    h.deliver("P. 1:1001(1000) ack 1");
    EXPECT_EQ(h.send(500), 500u);
    h.expect_tx("P. 1:501(500) ack 1001 <>");
    h.deliver(". 1001:1001(0) ack 501");
    h.advance(1s);
    EXPECT_FALSE(h.conn.has_extras());
    EXPECT_EQ(h.conn.heap_bytes(), 0u);
}

// RFC 2883 §4: the D-SACK is reported once, in the ACK that answers the duplicate; after
// it there is nothing left to hold.
TEST(Extras, ADuplicateMakesThemUntilItsDsackIsSent) {
    harness h;
    h.establish(syn_with_sack);
    h.deliver("P. 1:1001(1000) ack 1");
    h.deliver("P. 1001:2001(1000) ack 1");
    h.expect_tx(". 1:1(0) ack 2001 <>");
    EXPECT_FALSE(h.conn.has_extras());
    h.deliver("P. 1:1001(1000) ack 1");
    h.expect_tx(". 1:1(0) ack 2001 <nop,nop,sack 1:1001>");
    EXPECT_FALSE(h.conn.has_extras());
}

// RFC 5961 §7: the limit counts challenge ACKs in one-second windows. The window outlives
// the segment that opened it (freeing it early would start a new count at the next RST
// and let more through), and goes with the second.
TEST(Extras, AChallengeWindowKeepsThemForItsSecond) {
    tcp_config config;
    config.challenge_acks_per_second = 1;
    harness h(config);
    h.establish();
    h.deliver("R 100:100(0)");
    h.expect_tx(". 1:1(0) ack 1");
    EXPECT_TRUE(h.conn.has_extras());
    h.advance(500ms);
    h.deliver("P. 1:101(100) ack 1"); // an ordinary segment within the second
    h.sent.clear();
    EXPECT_TRUE(h.conn.has_extras());
    h.deliver("R 300:300(0)");
    h.expect_no_tx();
    EXPECT_EQ(h.conn.drops(tcp_drop::challenge_limited), 1u);
    h.advance(600ms);
    h.sent.clear();
    h.deliver("P. 101:201(100) ack 1"); // the second is over
    EXPECT_FALSE(h.conn.has_extras());
}

} // namespace
} // namespace tern::tcp::test
