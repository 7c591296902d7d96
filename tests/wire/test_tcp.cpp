#include "wire/tcp.hpp"

#include <gtest/gtest.h>

#include <random>
#include <string_view>
#include <vector>

#include "fixtures.hpp"

namespace tern::wire {
namespace {

using test::host_a;
using test::host_b;

std::vector<std::uint8_t> syn_segment() { return test::l4_part(test::tcp_syn_frame); }
std::vector<std::uint8_t> data_segment() { return test::l4_part(test::tcp_data_frame); }

// The first 20 bytes of the captured data segment with `options` (a multiple of 4 bytes,
// written as they are) and `payload`, data offset and checksum set to match.
std::vector<std::uint8_t> segment_with(const std::vector<std::uint8_t>& options,
                                       const std::vector<std::uint8_t>& payload = {}) {
    EXPECT_EQ(options.size() % 4, 0u);
    auto base = data_segment();
    // Sized once and copied into: g++ 12 at -O3 warns falsely (-Warray-bounds) on
    // vector::insert here.
    std::vector<std::uint8_t> seg(20 + options.size() + payload.size());
    std::copy(base.begin(), base.begin() + 20, seg.begin());
    std::copy(options.begin(), options.end(), seg.begin() + 20);
    std::copy(payload.begin(), payload.end(), seg.begin() + 20 + std::ptrdiff_t(options.size()));
    seg[12] = std::uint8_t(((20 + options.size()) / 4) << 4);
    test::fix_tcp_checksum(seg, host_a, host_b);
    return seg;
}

drop_reason drop_of(const std::vector<std::uint8_t>& segment, bool verify = true) {
    auto v = tcp_view::parse(segment, host_a, host_b, verify);
    EXPECT_FALSE(v);
    return v ? drop_reason::no_route : v.error(); // no_route: never a parse result
}

std::vector<std::uint8_t> emit(const tcp_repr& repr, std::span<const std::uint8_t> payload = {},
                               checksum_mode mode = checksum_mode::software) {
    std::vector<std::uint8_t> out(repr.header_length() + payload.size(), 0xee);
    repr.emit(out.data(), host_a, host_b, payload, mode);
    return out;
}

TEST(Tcp, ParsesCapturedSyn) {
    auto seg = syn_segment();
    auto tcp = tcp_view::parse(seg, host_a, host_b);
    ASSERT_TRUE(tcp);
    EXPECT_EQ(tcp->src_port(), 59052);
    EXPECT_EQ(tcp->dst_port(), 5001);
    EXPECT_EQ(tcp->seq(), 1587299860u);
    EXPECT_EQ(tcp->ack(), 0u);
    EXPECT_EQ(tcp->flags(), tcp_flags::syn);
    EXPECT_EQ(tcp->window(), 64240);
    EXPECT_EQ(tcp->checksum(), 0x2a18);
    EXPECT_EQ(tcp->urgent_pointer(), 0);
    EXPECT_EQ(tcp->header_length(), 40u);
    EXPECT_EQ(tcp->option_bytes().size(), 20u);
    EXPECT_TRUE(tcp->payload().empty());
    const auto& o = tcp->options();
    EXPECT_EQ(o.mss, 1460);
    EXPECT_TRUE(o.sack_permitted);
    EXPECT_EQ(o.timestamp, (std::pair<std::uint32_t, std::uint32_t>{1049213276, 0}));
    EXPECT_EQ(o.window_scale, 10);
    EXPECT_EQ(o.sack_block_count, 0);
    EXPECT_TRUE(o.sacks().empty());
}

TEST(Tcp, ParsesCapturedDataSegment) {
    auto seg = data_segment();
    auto tcp = tcp_view::parse(seg, host_a, host_b);
    ASSERT_TRUE(tcp);
    EXPECT_EQ(tcp->seq(), 1587299861u);
    EXPECT_EQ(tcp->ack(), 4160860138u);
    EXPECT_EQ(tcp->flags(), tcp_flags::psh | tcp_flags::ack);
    EXPECT_EQ(tcp->window(), 63);
    EXPECT_EQ(tcp->header_length(), 32u);
    EXPECT_FALSE(tcp->options().mss);
    EXPECT_FALSE(tcp->options().window_scale);
    EXPECT_FALSE(tcp->options().sack_permitted);
    EXPECT_EQ(tcp->options().timestamp, (std::pair<std::uint32_t, std::uint32_t>{1049213276, 2996050961}));
    auto payload = tcp->payload();
    EXPECT_EQ(std::string_view(reinterpret_cast<const char*>(payload.data()), payload.size()), "ping");
    EXPECT_EQ(payload.data(), seg.data() + 32);
}

TEST(Tcp, FlagConstants) {
    static_assert((tcp_flags::fin | tcp_flags::syn | tcp_flags::rst | tcp_flags::psh | tcp_flags::ack |
                   tcp_flags::urg | tcp_flags::ece | tcp_flags::cwr) == 0xff);
    auto seg = segment_with({});
    seg[13] = 0xff;
    test::fix_tcp_checksum(seg, host_a, host_b);
    auto tcp = tcp_view::parse(seg, host_a, host_b);
    ASSERT_TRUE(tcp);
    EXPECT_EQ(tcp->flags(), 0xff);
}

TEST(Tcp, TruncatedAtEveryLengthBelow20) {
    auto seg = syn_segment();
    for (std::size_t n = 0; n < 20; ++n) {
        for (bool verify : {true, false}) {
            auto v = tcp_view::parse(std::span(seg).first(n), host_a, host_b, verify);
            ASSERT_FALSE(v) << n;
            EXPECT_EQ(v.error(), drop_reason::tcp_truncated) << n;
        }
    }
}

TEST(Tcp, DataOffsetBelowFive) {
    for (std::uint8_t doff = 0; doff < 5; ++doff) {
        auto seg = syn_segment();
        seg[12] = std::uint8_t(doff << 4);
        test::fix_tcp_checksum(seg, host_a, host_b);
        EXPECT_EQ(drop_of(seg), drop_reason::tcp_bad_data_offset) << int(doff);
        EXPECT_EQ(drop_of(seg, false), drop_reason::tcp_bad_data_offset) << int(doff);
    }
}

TEST(Tcp, DataOffsetPastTheSegment) {
    auto bare = segment_with({});
    bare[12] = 0x60; // 24 bytes in a 20-byte segment
    test::fix_tcp_checksum(bare, host_a, host_b);
    EXPECT_EQ(drop_of(bare), drop_reason::tcp_bad_data_offset);

    for (std::uint8_t doff : {11, 15}) { // 44 and 60 bytes in the 40-byte SYN
        auto seg = syn_segment();
        seg[12] = std::uint8_t(doff << 4);
        test::fix_tcp_checksum(seg, host_a, host_b);
        EXPECT_EQ(drop_of(seg), drop_reason::tcp_bad_data_offset) << int(doff);
    }
}

TEST(Tcp, ReservedBitsAreIgnored) {
    auto seg = syn_segment();
    seg[12] |= 0x0f;
    test::fix_tcp_checksum(seg, host_a, host_b);
    auto tcp = tcp_view::parse(seg, host_a, host_b);
    ASSERT_TRUE(tcp);
    EXPECT_EQ(tcp->header_length(), 40u);
}

TEST(Tcp, BadChecksum) {
    auto seg = data_segment();
    for (std::size_t byte = 0; byte < seg.size(); ++byte) {
        if (byte == 12) continue; // the data offset has its own check
        auto s = seg;
        s[byte] ^= 0x20;
        EXPECT_EQ(drop_of(s), drop_reason::tcp_bad_checksum) << byte;
    }
    // The pseudo-header counts: other addresses, or a segment cut short. (Swapping source
    // and destination goes unnoticed: the sum is commutative.)
    EXPECT_FALSE(tcp_view::parse(seg, host_a, ipv4_addr::from_octets(198, 18, 0, 3)));
    EXPECT_FALSE(tcp_view::parse(seg, ipv4_addr::from_octets(198, 19, 0, 1), host_b));
    EXPECT_TRUE(tcp_view::parse(seg, host_b, host_a));
    auto cut = tcp_view::parse(std::span(seg).first(seg.size() - 1), host_a, host_b);
    ASSERT_FALSE(cut);
    EXPECT_EQ(cut.error(), drop_reason::tcp_bad_checksum);
}

TEST(Tcp, ChecksumNotVerifiedWhenTheNicDid) {
    auto seg = data_segment();
    store_be16(seg.data() + 16, 0);
    EXPECT_EQ(drop_of(seg), drop_reason::tcp_bad_checksum);
    auto tcp = tcp_view::parse(seg, host_a, host_b, false);
    ASSERT_TRUE(tcp);
    EXPECT_EQ(tcp->payload().size(), 4u);
}

TEST(Tcp, OddLengthPayloadVerifies) {
    for (std::size_t len : {1, 3, 5, 1459}) {
        std::vector<std::uint8_t> payload(len, 0xa5);
        auto seg = segment_with({1, 1, 1, 1}, payload);
        auto tcp = tcp_view::parse(seg, host_a, host_b);
        ASSERT_TRUE(tcp) << len;
        EXPECT_EQ(tcp->payload().size(), len);
    }
}

TEST(Tcp, ChecksumIsCheckedBeforeOptions) {
    auto seg = segment_with({2, 0, 0, 0});
    seg[17] ^= 1;
    EXPECT_EQ(drop_of(seg), drop_reason::tcp_bad_checksum);
    EXPECT_EQ(drop_of(seg, false), drop_reason::tcp_bad_option);
}

struct option_case {
    std::vector<std::uint8_t> bytes;
    const char* what;
};

TEST(TcpOptions, LengthZeroOneOrPastTheHeader) {
    const option_case cases[] = {
        {{2, 0, 0, 0}, "MSS, length 0"},
        {{2, 1, 0, 0}, "MSS, length 1"},
        {{0xfe, 0, 0, 0}, "unknown kind, length 0"},
        {{0xfe, 1, 0, 0}, "unknown kind, length 1"},
        {{1, 1, 5, 0}, "SACK, length 0, after NOPs"},
        {{8, 10, 0, 0}, "timestamps, length 10 in 4 bytes"},
        {{0xfe, 5, 0, 0}, "unknown kind, length 5 in 4 bytes"},
        {{1, 1, 1, 0xfe}, "unknown kind in the last byte, no length byte"},
        {{1, 1, 1, 2}, "MSS kind in the last byte, no length byte"},
        {{1, 1, 0xfe, 3}, "unknown kind, length 3 with 2 bytes left"},
        {{2, 4, 5, 0xb4, 0xfe, 0xff, 0, 0}, "unknown kind, length 255"},
    };
    for (const auto& c : cases) EXPECT_EQ(drop_of(segment_with(c.bytes)), drop_reason::tcp_bad_option) << c.what;
}

TEST(TcpOptions, KnownOptionsWithTheWrongLength) {
    const option_case cases[] = {
        {{2, 3, 5, 1}, "MSS, length 3"},
        {{2, 5, 5, 0xb4, 0, 1, 1, 1}, "MSS, length 5"},
        {{2, 2, 1, 1}, "MSS, length 2"},
        {{3, 2, 1, 1}, "window scale, length 2"},
        {{3, 4, 7, 0}, "window scale, length 4"},
        {{4, 3, 0, 1}, "SACK permitted, length 3"},
        {{4, 4, 0, 0}, "SACK permitted, length 4"},
        {{8, 8, 0, 0, 0, 1, 0, 0}, "timestamps, length 8"},
        {{8, 12, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0}, "timestamps, length 12"},
        {{8, 2, 1, 1}, "timestamps, length 2"},
        {{5, 2, 1, 1}, "SACK, no block"},
        {{5, 9, 0, 0, 0, 1, 0, 0, 0, 1, 1, 1}, "SACK, length 9"},
        {{5, 11, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0}, "SACK, length 11"},
        {{5, 17, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 4, 0, 0}, "SACK, length 17"},
        {{5, 6, 0, 0, 0, 1, 0, 0}, "SACK, half a block"},
    };
    for (const auto& c : cases) EXPECT_EQ(drop_of(segment_with(c.bytes)), drop_reason::tcp_bad_option) << c.what;
}

TEST(TcpOptions, EolEndsTheList) {
    // After EOL, bytes are padding and not parsed, even if they look like a bad option.
    auto tcp_seg = segment_with({0, 2, 0, 0});
    auto tcp = tcp_view::parse(tcp_seg, host_a, host_b);
    ASSERT_TRUE(tcp);
    EXPECT_FALSE(tcp->options().mss);

    auto mss_then_eol = segment_with({2, 4, 5, 0xb4, 0, 3, 3, 7});
    auto tcp2 = tcp_view::parse(mss_then_eol, host_a, host_b);
    ASSERT_TRUE(tcp2);
    EXPECT_EQ(tcp2->options().mss, 1460);
    EXPECT_FALSE(tcp2->options().window_scale);
}

TEST(TcpOptions, NopAndUnknownKindsAreSkipped) {
    // MPTCP (30) with 4 bytes, a TFO cookie request (34, length 2), an experimental (254)
    // option of 6 bytes, then window scale 7 and NOP padding.
    auto seg = segment_with({30, 4, 0x12, 0x34, 34, 2, 254, 6, 0xf9, 0x89, 0, 0, 1, 3, 3, 7});
    auto tcp = tcp_view::parse(seg, host_a, host_b);
    ASSERT_TRUE(tcp);
    EXPECT_EQ(tcp->options().window_scale, 7);
    EXPECT_FALSE(tcp->options().mss);
    EXPECT_FALSE(tcp->options().timestamp);

    auto nops = segment_with(std::vector<std::uint8_t>(40, 1));
    auto tcp2 = tcp_view::parse(nops, host_a, host_b);
    ASSERT_TRUE(tcp2);
    EXPECT_EQ(tcp2->options(), tcp_options{});
}

TEST(TcpOptions, LargeWindowScaleIsReportedAsIs) {
    // RFC 7323 §2.3 asks the TCP layer to use 14 instead; the wire layer reports the value.
    auto seg = segment_with({1, 3, 3, 15});
    auto tcp = tcp_view::parse(seg, host_a, host_b);
    ASSERT_TRUE(tcp);
    EXPECT_EQ(tcp->options().window_scale, 15);
}

TEST(TcpOptions, SackBlocks) {
    for (std::uint8_t n = 1; n <= 4; ++n) {
        std::vector<std::uint8_t> opts = {1, 1, 5, std::uint8_t(2 + 8 * n)};
        for (std::uint8_t b = 0; b < n; ++b) {
            for (std::uint32_t v : {0x10000000u * (b + 1), 0x10000000u * (b + 1) + 1000}) {
                std::uint8_t be[4];
                store_be32(be, v);
                opts.insert(opts.end(), be, be + 4);
            }
        }
        auto seg = segment_with(opts);
        auto tcp = tcp_view::parse(seg, host_a, host_b);
        ASSERT_TRUE(tcp) << int(n);
        const auto& o = tcp->options();
        ASSERT_EQ(o.sack_block_count, n);
        ASSERT_EQ(o.sacks().size(), n);
        for (std::uint8_t b = 0; b < n; ++b) {
            EXPECT_EQ(o.sack_blocks[b].left, 0x10000000u * (b + 1));
            EXPECT_EQ(o.sack_blocks[b].right, 0x10000000u * (b + 1) + 1000);
        }
    }
}

TEST(TcpOptions, ParseFunctionOnItsOwn) {
    auto o = parse_tcp_options(std::vector<std::uint8_t>{2, 4, 0x23, 0x28});
    ASSERT_TRUE(o);
    EXPECT_EQ(o->mss, 9000);
    EXPECT_TRUE(parse_tcp_options({}));
    auto bad = parse_tcp_options(std::vector<std::uint8_t>{3});
    ASSERT_FALSE(bad);
    EXPECT_EQ(bad.error(), drop_reason::tcp_bad_option);
    EXPECT_TRUE(parse_tcp_options(std::vector<std::uint8_t>(40, 1)));
    auto too_long = parse_tcp_options(std::vector<std::uint8_t>(41, 1));
    ASSERT_FALSE(too_long);
    EXPECT_EQ(too_long.error(), drop_reason::tcp_bad_option);
}

// The usual 12 bytes (NOP, NOP, timestamps) are read without the walk; every other list of
// 12 bytes, alike at first sight, still gets the walk's checks and answers.
TEST(TcpOptions, AlignedTimestampsReadAsTheWalkReadsThem) {
    auto ts = parse_tcp_options(std::vector<std::uint8_t>{1, 1, 8, 10, 0, 0, 0, 7, 0x80, 0, 0, 9});
    ASSERT_TRUE(ts);
    ASSERT_TRUE(ts->timestamp);
    EXPECT_EQ(ts->timestamp->first, 7u);
    EXPECT_EQ(ts->timestamp->second, 0x80000009u);
    EXPECT_FALSE(ts->mss);
    EXPECT_FALSE(ts->window_scale);
    EXPECT_FALSE(ts->sack_permitted);
    EXPECT_EQ(ts->sack_block_count, 0u);
    // The timestamps first, then two NOPs: the same values through the walk.
    auto walked = parse_tcp_options(std::vector<std::uint8_t>{8, 10, 0, 0, 0, 7, 0x80, 0, 0, 9, 1, 1});
    ASSERT_TRUE(walked);
    EXPECT_EQ(walked->timestamp, ts->timestamp);
    // A wrong length after NOP, NOP, timestamp kind is an error, not a timestamp.
    auto bad = parse_tcp_options(std::vector<std::uint8_t>{1, 1, 8, 9, 0, 0, 0, 7, 0, 0, 0, 9});
    ASSERT_FALSE(bad);
    EXPECT_EQ(bad.error(), drop_reason::tcp_bad_option);
    // NOP, NOP, SACK-permitted, NOP... of 12 bytes: no timestamp read into it.
    auto other = parse_tcp_options(std::vector<std::uint8_t>{1, 1, 4, 2, 1, 1, 1, 1, 1, 1, 1, 1});
    ASSERT_TRUE(other);
    EXPECT_TRUE(other->sack_permitted);
    EXPECT_FALSE(other->timestamp);
}

TEST(TcpEmit, ReproducesCapturedSegments) {
    for (const auto* frame : {&test::tcp_syn_frame, &test::tcp_data_frame}) {
        auto seg = test::l4_part(*frame);
        auto tcp = tcp_view::parse(seg, host_a, host_b);
        ASSERT_TRUE(tcp);
        auto repr = tcp_repr::from(*tcp);
        EXPECT_EQ(repr.header_length(), tcp->header_length());
        std::vector<std::uint8_t> payload(tcp->payload().begin(), tcp->payload().end());
        EXPECT_EQ(emit(repr, payload), seg);
    }
}

TEST(TcpEmit, OptionLayoutIsLinux) {
    using v = std::vector<std::uint8_t>;
    auto options_of = [](const tcp_options& o) {
        tcp_repr r;
        r.options = o;
        auto out = emit(r);
        return v(out.begin() + 20, out.end());
    };
    tcp_options o;
    EXPECT_EQ(options_of(o), v{});
    o = {};
    o.mss = 1460;
    EXPECT_EQ(options_of(o), (v{2, 4, 0x05, 0xb4}));
    o = {};
    o.sack_permitted = true;
    EXPECT_EQ(options_of(o), (v{1, 1, 4, 2}));
    o = {};
    o.timestamp = {1, 2};
    EXPECT_EQ(options_of(o), (v{1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2}));
    o.sack_permitted = true;
    EXPECT_EQ(options_of(o), (v{4, 2, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2}));
    o = {};
    o.window_scale = 7;
    EXPECT_EQ(options_of(o), (v{1, 3, 3, 7}));
    o = {};
    o.sack_block_count = 1;
    o.sack_blocks[0] = {0x01020304, 0x05060708};
    EXPECT_EQ(options_of(o), (v{1, 1, 5, 10, 1, 2, 3, 4, 5, 6, 7, 8}));
    o.timestamp = {9, 10};
    EXPECT_EQ(options_of(o), (v{1, 1, 8, 10, 0, 0, 0, 9, 0, 0, 0, 10, 1, 1, 5, 10, 1, 2, 3, 4, 5, 6, 7, 8}));
}

TEST(TcpEmit, SackBlocksThatDoNotFitAreLeftOutFromTheEnd) {
    tcp_repr r;
    r.options.sack_block_count = 4;
    for (std::uint32_t b = 0; b < 4; ++b) r.options.sack_blocks[b] = {100 * b, 100 * b + 50};
    EXPECT_EQ(r.sack_blocks_emitted(), 4u);
    EXPECT_EQ(r.header_length(), 20u + 4 + 32);

    r.options.timestamp = {1, 2};
    EXPECT_EQ(r.sack_blocks_emitted(), 3u);
    EXPECT_EQ(r.header_length(), 60u);

    r.options.mss = 1460;
    r.options.window_scale = 7;
    EXPECT_EQ(r.sack_blocks_emitted(), 2u);
    EXPECT_EQ(r.header_length(), 60u);

    auto out = emit(r);
    auto tcp = tcp_view::parse(out, host_a, host_b);
    ASSERT_TRUE(tcp);
    ASSERT_EQ(tcp->options().sack_block_count, 2);
    EXPECT_EQ(tcp->options().sack_blocks[0], r.options.sack_blocks[0]);
    EXPECT_EQ(tcp->options().sack_blocks[1], r.options.sack_blocks[1]);
    EXPECT_EQ(tcp->options().mss, 1460);
    EXPECT_EQ(tcp->options().window_scale, 7);
    EXPECT_EQ(tcp->options().timestamp, r.options.timestamp);
}

TEST(TcpEmit, RandomReprsRoundTrip) {
    std::mt19937 rng(9293);
    for (int i = 0; i < 2000; ++i) {
        tcp_repr r;
        r.src_port = std::uint16_t(rng());
        r.dst_port = std::uint16_t(rng());
        r.seq = std::uint32_t(rng());
        r.ack = std::uint32_t(rng());
        r.flags = std::uint8_t(rng());
        r.window = std::uint16_t(rng());
        r.urgent = std::uint16_t(rng());
        if (rng() & 1) r.options.mss = std::uint16_t(rng());
        if (rng() & 1) r.options.window_scale = std::uint8_t(rng() % 15);
        r.options.sack_permitted = rng() & 1;
        if (rng() & 1) r.options.timestamp = std::pair{std::uint32_t(rng()), std::uint32_t(rng())};
        r.options.sack_block_count = std::uint8_t(rng() % 5);
        for (auto& b : r.options.sack_blocks) b = {std::uint32_t(rng()), std::uint32_t(rng())};
        std::vector<std::uint8_t> payload(rng() % 100);
        for (auto& b : payload) b = std::uint8_t(rng());

        auto out = emit(r, payload);
        auto tcp = tcp_view::parse(out, host_a, host_b);
        ASSERT_TRUE(tcp) << i;
        auto expected = r;
        expected.options.sack_block_count = std::uint8_t(r.sack_blocks_emitted());
        EXPECT_EQ(tcp_repr::from(*tcp), expected) << i;
        EXPECT_TRUE(std::equal(tcp->payload().begin(), tcp->payload().end(), payload.begin(), payload.end()));
        EXPECT_EQ(tcp->header_length() % 4, 0u);
    }
}

// A plain header (no SYN or RST, at most the timestamps) writes the bytes its tcp_repr
// writes, in every checksum mode, with its payload in place or elsewhere.
TEST(TcpEmit, PlainHeadersAreTheirTcpReprsBytes) {
    std::mt19937 rng(7323);
    const checksum_mode modes[] = {checksum_mode::software, checksum_mode::offload, checksum_mode::offload_tso};
    for (int i = 0; i < 2000; ++i) {
        tcp_plain_repr p;
        p.src_port = std::uint16_t(rng());
        p.dst_port = std::uint16_t(rng());
        p.seq = std::uint32_t(rng());
        p.ack = std::uint32_t(rng());
        p.flags = std::uint8_t((rng() & (tcp_flags::fin | tcp_flags::psh)) | tcp_flags::ack);
        p.window = std::uint16_t(rng());
        p.timestamps = rng() & 1;
        p.ts_val = std::uint32_t(rng());
        p.ts_ecr = std::uint32_t(rng());
        std::vector<std::uint8_t> payload(rng() % 100);
        for (auto& b : payload) b = std::uint8_t(rng());
        const checksum_mode mode = modes[rng() % 3];
        const tcp_repr r = p.full();
        ASSERT_EQ(p.header_length(), r.header_length()) << i;

        std::vector<std::uint8_t> want(r.header_length() + payload.size()), got(want.size());
        r.emit(want.data(), host_a, host_b, payload, mode);
        p.emit(got.data(), host_a, host_b, payload, mode);
        EXPECT_EQ(got, want) << i;
        std::vector<std::uint8_t> header(p.header_length());
        p.emit_header(header.data(), host_a, host_b, payload.size(), checksum_add(payload), mode);
        EXPECT_TRUE(std::equal(header.begin(), header.end(), want.begin())) << i;
        if (mode == checksum_mode::software) {
            auto tcp = tcp_view::parse(got, host_a, host_b);
            ASSERT_TRUE(tcp) << i;
            EXPECT_EQ(tcp_repr::from(*tcp), r) << i;
        }
    }
}

TEST(TcpEmit, PayloadElsewhereWithPartialSums) {
    tcp_repr r;
    r.src_port = 5001;
    r.dst_port = 59052;
    r.seq = 4160860138;
    r.ack = 1587299865;
    r.flags = tcp_flags::ack | tcp_flags::psh;
    r.window = 64;
    r.options.timestamp = {2996050961, 1049213276};
    std::vector<std::uint8_t> payload(1001);
    for (std::size_t i = 0; i < payload.size(); ++i) payload[i] = std::uint8_t(i * 31);
    auto contiguous = emit(r, payload);

    // The payload in three pieces of odd length (say, three mbufs).
    checksum_accumulator acc;
    acc.add(std::span(payload).first(333));
    acc.add(std::span(payload).subspan(333, 1));
    acc.add(std::span(payload).subspan(334));
    std::vector<std::uint8_t> header(r.header_length());
    r.emit_header(header.data(), host_a, host_b, payload.size(), acc.sum(), checksum_mode::software);
    EXPECT_TRUE(std::equal(header.begin(), header.end(), contiguous.begin()));

    // Or with checksum_add over the whole payload.
    std::vector<std::uint8_t> header2(r.header_length());
    r.emit_header(header2.data(), host_a, host_b, payload.size(), checksum_add(payload), checksum_mode::software);
    EXPECT_EQ(header2, header);
}

TEST(TcpEmit, PayloadAlreadyInPlace) {
    tcp_repr r;
    r.flags = tcp_flags::ack;
    r.options.timestamp = {1, 2};
    std::vector<std::uint8_t> payload = {'p', 'o', 'n', 'g', '!'};
    auto expected = emit(r, payload);

    std::vector<std::uint8_t> out(r.header_length() + payload.size(), 0);
    std::copy(payload.begin(), payload.end(), out.begin() + std::ptrdiff_t(r.header_length()));
    r.emit(out.data(), host_a, host_b, std::span(out).subspan(r.header_length()), checksum_mode::software);
    EXPECT_EQ(out, expected);

    // Overlapping the header: moved first.
    std::vector<std::uint8_t> buf(r.header_length() + payload.size(), 0);
    std::copy(payload.begin(), payload.end(), buf.begin() + 3);
    r.emit(buf.data(), host_a, host_b, std::span(buf).subspan(3, payload.size()), checksum_mode::software);
    EXPECT_EQ(buf, expected);
}

TEST(TcpEmit, OffloadWritesPseudoHeaderPartial) {
    auto seg = data_segment();
    auto tcp = tcp_view::parse(seg, host_a, host_b);
    ASSERT_TRUE(tcp);
    auto repr = tcp_repr::from(*tcp);
    std::vector<std::uint8_t> payload(tcp->payload().begin(), tcp->payload().end());

    auto out = emit(repr, payload, checksum_mode::offload);
    EXPECT_EQ(load_be16(out.data() + 16), pseudo_header_partial(host_a, host_b, 6, std::uint16_t(seg.size())));
    EXPECT_FALSE(tcp_view::parse(out, host_a, host_b));
    // What the NIC then does (sum everything, store the complement) gives the real checksum.
    store_be16(out.data() + 16, checksum_fold(checksum_add(out)));
    EXPECT_EQ(out, seg);

    auto tso = emit(repr, payload, checksum_mode::offload_tso);
    EXPECT_EQ(load_be16(tso.data() + 16), pseudo_header_partial(host_a, host_b, 6, 0));

    // emit_header in offload mode ignores the payload sum.
    std::vector<std::uint8_t> header(repr.header_length());
    repr.emit_header(header.data(), host_a, host_b, payload.size(), 0xdeadbeef, checksum_mode::offload);
    EXPECT_TRUE(std::equal(header.begin(), header.end(), emit(repr, payload, checksum_mode::offload).begin()));
}

} // namespace
} // namespace tern::wire
