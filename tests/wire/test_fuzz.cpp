// Random and mutated buffers through every parser: none may read outside its buffer
// (AddressSanitizer checks every access, so each buffer gets an allocation of exactly its
// size) and every accepted view must be consistent with its buffer. Deterministic: one
// seed, so a failure replays.
#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <random>
#include <vector>

#include "fixtures.hpp"
#include "fixtures_ipv6.hpp"
#include "wire/arp.hpp"
#include "wire/ethernet.hpp"
#include "wire/frame.hpp"
#include "wire/icmp.hpp"
#include "wire/icmpv6.hpp"
#include "wire/ipv4.hpp"
#include "wire/ipv6.hpp"
#include "wire/tcp.hpp"

namespace tern::wire {
namespace {

// Reads every byte of a span so that ASan sees an out-of-bounds view.
unsigned touch(std::span<const std::uint8_t> s) {
    unsigned x = 0;
    for (auto b : s) x += b;
    return x;
}

struct outcome {
    unsigned accepted = 0;
    unsigned tcp_verified = 0; // TCP segments accepted with their checksum verified
    unsigned frames = 0;       // whole frames accepted with checksums verified
    unsigned bad_option = 0;   // segments that got as far as the option check and failed it
    unsigned sink = 0;
};

void exercise(std::span<const std::uint8_t> buf, ipv4_addr src, ipv4_addr dst, outcome& out) {
    const auto* begin = buf.data();
    const auto* end = buf.data() + buf.size();
    auto inside = [&](std::span<const std::uint8_t> s) {
        return s.empty() || (s.data() >= begin && s.data() + s.size() <= end);
    };

    if (auto eth = ethernet_view::parse(buf)) {
        ++out.accepted;
        EXPECT_TRUE(inside(eth->payload()));
        out.sink += eth->type() + eth->dst().bytes[5] + eth->src().bytes[0] + touch(eth->payload());
    }
    if (auto arp = arp_view::parse(buf)) {
        ++out.accepted;
        out.sink += unsigned(arp->op()) + arp->sender_ip().value + arp->target_ip().value +
                    arp->sender_mac().bytes[5] + arp->target_mac().bytes[5] + touch(arp->bytes());
    }
    for (bool verify : {true, false}) {
        if (auto ip = ipv4_view::parse(buf, verify)) {
            ++out.accepted;
            EXPECT_TRUE(inside(ip->header()));
            EXPECT_TRUE(inside(ip->payload()));
            EXPECT_EQ(ip->header().size() + ip->payload().size(), ip->total_length());
            EXPECT_EQ(ip->is_fragment(), ip->more_fragments() || ip->fragment_offset() != 0);
            out.sink += ip->src().value + ip->dst().value + ip->protocol() + ip->ttl() + ip->id() +
                        touch(ip->options()) + touch(ip->payload());
        }
        if (auto icmp = icmp_view::parse(buf, verify)) {
            ++out.accepted;
            EXPECT_TRUE(inside(icmp->payload()));
            out.sink += icmp->type() + icmp->code() + icmp->identifier() + icmp->sequence() + touch(icmp->payload());
        }
        auto tcp = tcp_view::parse(buf, src, dst, verify);
        if (!tcp && verify && tcp.error() == drop_reason::tcp_bad_option) ++out.bad_option;
        if (tcp) {
            ++out.accepted;
            if (verify) ++out.tcp_verified;
            EXPECT_TRUE(inside(tcp->option_bytes()));
            EXPECT_TRUE(inside(tcp->payload()));
            EXPECT_EQ(tcp->header_length() + tcp->payload().size(), buf.size());
            EXPECT_LE(tcp->options().sack_block_count, tcp_max_sack_blocks);
            out.sink += tcp->src_port() + tcp->dst_port() + tcp->seq() + tcp->ack() + tcp->flags() + tcp->window() +
                        touch(tcp->option_bytes()) + touch(tcp->payload());
            const auto options = tcp->options();
            for (const auto& s : options.sacks()) out.sink += s.left + s.right;
            // Whatever parsed can be written again, and what is written parses.
            auto repr = tcp_repr::from(*tcp);
            std::vector<std::uint8_t> again(repr.header_length() + tcp->payload().size());
            repr.emit(again.data(), src, dst, tcp->payload(), checksum_mode::software);
            EXPECT_TRUE(tcp_view::parse(again, src, dst));
        }
        if (auto f = parse_tcp_ipv4_frame(buf, verify, verify)) {
            ++out.accepted;
            if (verify) ++out.frames;
            EXPECT_TRUE(inside(f->tcp.payload()));
            out.sink += touch(f->tcp.payload());
        }
    }
}

// One to four edits at random: a bit flipped, a byte replaced, the end cut off, bytes
// added; with `other`, a fifth kind of edit as likely as each of those.
void mutate(std::vector<std::uint8_t>& b, std::mt19937_64& rng,
            const std::function<void(std::vector<std::uint8_t>&)>& other = {}) {
    const auto edits = 1 + rng() % 4;
    const unsigned kinds = other ? 5 : 4;
    for (unsigned k = 0; k < edits && !b.empty(); ++k) {
        switch (rng() % kinds) {
        case 0: b[rng() % b.size()] ^= std::uint8_t(1u << (rng() % 8)); break;
        case 1: b[rng() % b.size()] = std::uint8_t(rng()); break;
        case 2: b.resize(rng() % (b.size() + 1)); break;
        case 3: b.insert(b.end(), rng() % 8, std::uint8_t(rng())); break;
        case 4: other(b); break;
        }
    }
}

// Runs `parse` on a copy of `b` in an allocation of exactly its size, so that a read past
// it is a heap overflow.
template <class F>
void on_exact_copy(const std::vector<std::uint8_t>& b, F&& parse) {
    std::unique_ptr<std::uint8_t[]> exact(new std::uint8_t[b.size()]);
    std::copy(b.begin(), b.end(), exact.get());
    parse(std::span<const std::uint8_t>(exact.get(), b.size()));
}

// Makes the checksums of a mutated packet right again now and then, so that the
// mutations reach the checks that come after the checksum.
void maybe_fix_checksums(std::vector<std::uint8_t>& b, std::size_t l3, std::mt19937_64& rng) {
    if (rng() % 2 == 0 || b.size() < l3 + 20) return;
    std::vector<std::uint8_t> ip(b.begin() + std::ptrdiff_t(l3), b.end());
    test::fix_ipv4_checksum(ip);
    const std::size_t ihl = std::size_t(ip[0] & 0x0f) * 4;
    const std::uint8_t protocol = ip[9];
    if (ihl >= 20 && ip.size() >= ihl + 20) {
        std::vector<std::uint8_t> l4(ip.begin() + std::ptrdiff_t(ihl), ip.end());
        if (protocol == 6) {
            test::fix_tcp_checksum(l4, ipv4_addr{load_be32(ip.data() + 12)}, ipv4_addr{load_be32(ip.data() + 16)});
        } else if (protocol == 1) {
            test::fix_icmp_checksum(l4);
        }
        std::copy(l4.begin(), l4.end(), ip.begin() + std::ptrdiff_t(ihl));
    }
    std::copy(ip.begin(), ip.end(), b.begin() + std::ptrdiff_t(l3));
}

TEST(Fuzz, HundredThousandBuffersThroughEveryParser) {
    std::mt19937_64 rng(0x7465726e); // "tern"
    const std::vector<std::uint8_t>* seeds[] = {&test::tcp_syn_frame, &test::tcp_data_frame,
                                                &test::icmp_echo_request_frame, &test::arp_request_frame,
                                                &test::arp_reply_frame};
    outcome out;
    constexpr int iterations = 100'000;
    for (int i = 0; i < iterations; ++i) {
        std::vector<std::uint8_t> b;
        const auto shape = rng() % 4;
        if (shape == 0) {
            // Pure noise, mostly short.
            b.resize(rng() % 2 == 0 ? rng() % 64 : rng() % 1600);
            for (auto& x : b) x = std::uint8_t(rng());
        } else {
            // A captured frame, seen from the Ethernet, IPv4 or L4 header, mutated.
            const auto& seed = *seeds[rng() % std::size(seeds)];
            const std::size_t start = shape == 1 ? 0 : shape == 2 ? 14 : 34;
            b.assign(seed.begin() + std::ptrdiff_t(std::min(start, seed.size())), seed.end());
            mutate(b, rng);
            if (shape == 1 && seed[12] == 0x08 && seed[13] == 0x00) maybe_fix_checksums(b, 14, rng);
            if (shape == 2 && seed[12] == 0x08 && seed[13] == 0x00) maybe_fix_checksums(b, 0, rng);
            if (shape == 3 && seed[23] == 6 && b.size() >= 20 && rng() % 2 == 0)
                test::fix_tcp_checksum(b, test::host_a, test::host_b);
        }
        on_exact_copy(b, [&](std::span<const std::uint8_t> exact) { exercise(exact, test::host_a, test::host_b, out); });
        if (::testing::Test::HasFailure()) FAIL() << "iteration " << i;
    }
    // Mutation must reach the accepting paths too, not only the early drops.
    EXPECT_GT(out.accepted, unsigned(iterations) / 4);
    EXPECT_GT(out.tcp_verified, unsigned(iterations) / 100);
    EXPECT_GT(out.frames, unsigned(iterations) / 100);
    EXPECT_GT(out.bad_option, unsigned(iterations) / 500);
    RecordProperty("accepted", int(out.accepted));
    RecordProperty("tcp_verified", int(out.tcp_verified));
    RecordProperty("frames", int(out.frames));
    RecordProperty("bad_option", int(out.bad_option));
    RecordProperty("sink", int(out.sink & 0x7fffffff));
}

struct outcome_v6 {
    unsigned ip = 0;         // IPv6 headers accepted
    unsigned extensions = 0; // of those, with an extension header walked
    unsigned icmp = 0;       // ICMPv6 messages with a verified checksum
    unsigned nd = 0;         // NS or NA read
    unsigned sink = 0;
};

// The IPv6 parsers over one buffer: every view inside it and consistent with it.
void exercise_v6(std::span<const std::uint8_t> buf, outcome_v6& out) {
    const auto* begin = buf.data();
    const auto* end = buf.data() + buf.size();
    auto inside = [&](std::span<const std::uint8_t> s) {
        return s.empty() || (s.data() >= begin && s.data() + s.size() <= end);
    };
    for (bool quoted : {false, true}) {
        auto ip = quoted ? ipv6_view::parse_quoted(buf) : ipv6_view::parse(buf);
        if (!ip) continue;
        EXPECT_TRUE(inside(ip->packet()));
        EXPECT_TRUE(inside(ip->upper()));
        EXPECT_EQ(ip->upper_offset() + ip->upper().size(), ip->packet().size());
        if (!quoted) {
            EXPECT_EQ(ip->packet().size(), ipv6_header_length + ip->payload_length());
        }
        EXPECT_LE(ip->upper_offset(), ipv6_header_length + ipv6_max_extension_headers * 2048);
        out.sink += ip->upper_protocol() + ip->hop_limit() + ip->flow_label() + ip->src().bytes[15] + touch(ip->upper());
        if (quoted) continue;
        ++out.ip;
        if (ip->upper_offset() > ipv6_header_length) ++out.extensions;
        if (ip->fragment()) out.sink += ip->fragment()->id + ip->fragment()->offset;
        for (bool verify : {true, false}) {
            auto m = icmp_view::parse(ip->upper(), ip->src(), ip->dst(), verify);
            if (!m) continue;
            if (verify) ++out.icmp;
            EXPECT_TRUE(inside(m->payload()));
            out.sink += m->type() + m->rest_of_header() + touch(m->payload());
            if (auto nd = nd_message::parse(*m)) {
                if (verify) ++out.nd;
                out.sink += nd->flags + nd->target.bytes[15] + (nd->link_layer ? nd->link_layer->bytes[5] : 0);
            }
            if (auto q = icmpv6_quoted_tcp::parse(m->payload())) out.sink += q->src_port + q->seq;
        }
    }
}

// Fixes an IPv6 packet's ICMPv6 or TCP checksum now and then (when its upper layer follows
// the fixed header), so that mutations reach what comes after the checksum check.
void maybe_fix_v6_checksum(std::vector<std::uint8_t>& b, std::mt19937_64& rng) {
    if (rng() % 2 == 0 || b.size() < ipv6_header_length + 8) return;
    const std::uint8_t next = b[ipv6_field::next_header];
    const std::size_t field = next == ip_protocol::icmpv6 ? icmp_field::checksum : next == ip_protocol::tcp ? tcp_field::checksum : 0;
    if (field == 0 || b.size() < ipv6_header_length + field + 2) return;
    ipv6_addr src, dst;
    std::copy_n(b.begin() + ipv6_field::src, 16, src.bytes.begin());
    std::copy_n(b.begin() + ipv6_field::dst, 16, dst.bytes.begin());
    std::uint8_t* upper = b.data() + ipv6_header_length;
    const std::size_t length = b.size() - ipv6_header_length;
    store_be16(upper + field, 0);
    store_be16(upper + field, checksum_fold(checksum_add({upper, length}, pseudo_header_sum(src, dst, next, std::uint32_t(length)))));
    store_be16(b.data() + ipv6_field::payload_length, std::uint16_t(length));
}

TEST(Fuzz, IPv6BuffersThroughTheIPv6Parsers) {
    std::mt19937_64 rng(0x74657236); // "ter6"
    const std::vector<std::uint8_t>* seeds[] = {&test::v6_dad_solicitation, &test::v6_mld_report,
                                                &test::v6_neighbor_solicitation, &test::v6_neighbor_advertisement,
                                                &test::v6_echo_request, &test::v6_syn, &test::v6_data_ping};
    outcome_v6 out;
    constexpr int iterations = 50'000;
    for (int i = 0; i < iterations; ++i) {
        std::vector<std::uint8_t> b;
        if (rng() % 5 == 0) {
            b.resize(rng() % 128);
            for (auto& x : b) x = std::uint8_t(rng());
            if (!b.empty()) b[0] = std::uint8_t(0x60 | (b[0] & 0x0f));
        } else {
            const auto& seed = *seeds[rng() % std::size(seeds)];
            b = seed;
            // Also: the first Next Header, or an extension header's Next Header or length.
            mutate(b, rng, [&](std::vector<std::uint8_t>& v) {
                if (v.size() > 41) v[rng() % 2 ? ipv6_field::next_header : 40 + rng() % 2] = std::uint8_t(rng() % 64);
            });
            maybe_fix_v6_checksum(b, rng);
        }
        on_exact_copy(b, [&](std::span<const std::uint8_t> exact) { exercise_v6(exact, out); });
        if (::testing::Test::HasFailure()) FAIL() << "iteration " << i;
    }
    EXPECT_GT(out.ip, unsigned(iterations) / 4);
    EXPECT_GT(out.extensions, unsigned(iterations) / 100);
    EXPECT_GT(out.icmp, unsigned(iterations) / 20);
    EXPECT_GT(out.nd, unsigned(iterations) / 50);
    RecordProperty("ip", int(out.ip));
    RecordProperty("extensions", int(out.extensions));
    RecordProperty("icmp", int(out.icmp));
    RecordProperty("nd", int(out.nd));
    RecordProperty("sink", int(out.sink & 0x7fffffff));
}

} // namespace
} // namespace tern::wire
