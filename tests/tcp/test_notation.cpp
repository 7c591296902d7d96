// The packetdrill-like notation: parse, format back, convert with ISNs.
#include <gtest/gtest.h>

#include "notation.hpp"

namespace tern::tcp::test {
namespace {

namespace f = wire::tcp_flags;

notation_segment parsed(std::string_view text) {
    auto r = parse_segment(text);
    EXPECT_TRUE(r.has_value()) << text << ": " << (r ? "" : r.error());
    return r ? *r : notation_segment{};
}

TEST(Notation, SynWithOptions) {
    auto s = parsed("S 0:0(0) win 65535 <mss 1460,sackOK,nop,wscale 7>");
    EXPECT_EQ(s.flags, f::syn);
    EXPECT_EQ(s.seq, 0u);
    EXPECT_EQ(s.len, 0u);
    EXPECT_FALSE(s.ack);
    EXPECT_EQ(s.win, 65535);
    ASSERT_TRUE(s.options);
    EXPECT_EQ(s.options->mss, 1460);
    EXPECT_TRUE(s.options->sack_permitted);
    EXPECT_EQ(s.options->window_scale, 7);
    EXPECT_FALSE(s.options->timestamp);
}

TEST(Notation, SynAckWithTimestamps) {
    auto s = parsed("S. 0:0(0) ack 1 win 65535 <mss 1460,sackOK,TS val 100 ecr 0,nop,wscale 7>");
    EXPECT_EQ(s.flags, f::syn | f::ack);
    EXPECT_EQ(s.ack, 1u);
    ASSERT_TRUE(s.options && s.options->timestamp);
    EXPECT_EQ(s.options->timestamp->first, 100u);
    EXPECT_EQ(s.options->timestamp->second, 0u);
}

TEST(Notation, DataFinRstPush) {
    auto d = parsed(". 1:1001(1000) ack 1 win 256");
    EXPECT_EQ(d.flags, f::ack);
    EXPECT_EQ(d.seq, 1u);
    EXPECT_EQ(d.len, 1000u);
    EXPECT_EQ(d.win, 256);
    EXPECT_FALSE(d.options);
    EXPECT_EQ(parsed("F. 1001:1001(0) ack 1").flags, f::fin | f::ack);
    EXPECT_EQ(parsed("R 0:0(0)").flags, f::rst);
    EXPECT_EQ(parsed("P. 1:11(10) ack 1").flags, f::psh | f::ack);
    EXPECT_EQ(parsed("FP. 1:11(10) ack 1").flags, f::fin | f::psh | f::ack);
}

TEST(Notation, SackBlocks) {
    auto s = parsed(". 1:1(0) ack 1 <nop,nop,sack 1001:2001 3001:4001>");
    ASSERT_TRUE(s.options);
    ASSERT_EQ(s.options->sack_block_count, 2);
    EXPECT_EQ(s.options->sack_blocks[0], (wire::sack_block{1001, 2001}));
    EXPECT_EQ(s.options->sack_blocks[1], (wire::sack_block{3001, 4001}));
}

TEST(Notation, RejectsMalformed) {
    EXPECT_FALSE(parse_segment("X 0:0(0)").has_value());
    EXPECT_FALSE(parse_segment("S 0:10(5)").has_value());
    EXPECT_FALSE(parse_segment("S 0:0(0) <mss>").has_value());
    EXPECT_FALSE(parse_segment("S 0:0(0) <bogus 3>").has_value());
    EXPECT_FALSE(parse_segment("S 0:0(0) win 70000").has_value());
    EXPECT_FALSE(parse_segment(". 1:1(0) ack").has_value());
}

TEST(Notation, FormatsBackTheSameText) {
    for (std::string_view text : {
             "S 0:0(0) win 65535 <mss 1460,sackOK,TS val 100 ecr 0,nop,wscale 7>",
             ". 1:1001(1000) ack 1 win 256",
             "F. 1001:1001(0) ack 1",
             "R 0:0(0)",
             "P. 1:11(10) ack 1 win 10 <nop,nop,sack 21:31>",
             "S. 0:0(0) ack 1 win 65535 <mss 536,nop,nop,sackOK,nop,wscale 0>",
         })
        EXPECT_EQ(format_segment(parsed(text)), text);
}

TEST(Notation, ConvertsWithIsnsAcrossTheWrap) {
    auto s = parsed(". 1:1001(1000) ack 5 win 300 <nop,nop,sack 10:20>");
    auto r = to_repr(s, 0xfffffff0u, 0xfffffffeu);
    EXPECT_EQ(r.seq, 0xfffffff1u);
    EXPECT_EQ(r.ack, 3u);
    EXPECT_EQ(r.window, 300);
    EXPECT_EQ(r.options.sack_blocks[0], (wire::sack_block{8, 18}));
    auto back = from_repr(r, 1000, 0xfffffff0u, 0xfffffffeu);
    EXPECT_EQ(back, s);
}

} // namespace
} // namespace tern::tcp::test
