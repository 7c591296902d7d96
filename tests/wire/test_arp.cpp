#include "wire/arp.hpp"

#include <gtest/gtest.h>

#include <vector>

#include "fixtures.hpp"

namespace tern::wire {
namespace {

static_assert(arp_repr::length == 28);

std::vector<std::uint8_t> request_body() { return test::ip_packet(test::arp_request_frame); }

TEST(Arp, ParsesCapturedRequestAndReply) {
    auto body = request_body();
    auto req = arp_view::parse(body);
    ASSERT_TRUE(req);
    EXPECT_EQ(req->op(), arp_op::request);
    EXPECT_EQ(req->sender_mac(), test::mac_a);
    EXPECT_EQ(req->sender_ip(), test::host_a);
    EXPECT_EQ(req->target_mac(), mac_addr{});
    EXPECT_EQ(req->target_ip(), test::host_b);

    auto reply_body = test::ip_packet(test::arp_reply_frame);
    auto reply = arp_view::parse(reply_body);
    ASSERT_TRUE(reply);
    EXPECT_EQ(reply->op(), arp_op::reply);
    EXPECT_EQ(reply->sender_mac(), test::mac_b);
    EXPECT_EQ(reply->sender_ip(), test::host_b);
    EXPECT_EQ(reply->target_mac(), test::mac_a);
    EXPECT_EQ(reply->target_ip(), test::host_a);
}

TEST(Arp, AcceptsEthernetPadding) {
    auto body = request_body();
    body.resize(46, 0); // a 60-byte minimum frame pads the 28-byte body to 46
    auto req = arp_view::parse(body);
    ASSERT_TRUE(req);
    EXPECT_EQ(req->bytes().size(), 28u);
    EXPECT_EQ(req->target_ip(), test::host_b);
}

TEST(Arp, TruncatedAtEveryLengthBelow28) {
    auto body = request_body();
    for (std::size_t n = 0; n < arp_length; ++n) {
        auto v = arp_view::parse(std::span(body).first(n));
        ASSERT_FALSE(v) << n;
        EXPECT_EQ(v.error(), drop_reason::arp_truncated) << n;
    }
}

struct bad_field {
    std::size_t offset;
    std::vector<std::uint8_t> value;
    drop_reason expected;
    const char* what;
};

TEST(Arp, DropsEveryBadFormatField) {
    const std::vector<bad_field> cases = {
        {0, {0x00, 0x06}, drop_reason::arp_bad_format, "htype 6 (IEEE 802)"},
        {0, {0x00, 0x00}, drop_reason::arp_bad_format, "htype 0"},
        {0, {0x01, 0x01}, drop_reason::arp_bad_format, "htype 0x0101"},
        {2, {0x86, 0xdd}, drop_reason::arp_bad_format, "ptype IPv6"},
        {2, {0x08, 0x06}, drop_reason::arp_bad_format, "ptype ARP"},
        {2, {0x00, 0x08}, drop_reason::arp_bad_format, "ptype byte-swapped"},
        {4, {8}, drop_reason::arp_bad_format, "hlen 8"},
        {4, {0}, drop_reason::arp_bad_format, "hlen 0"},
        {5, {16}, drop_reason::arp_bad_format, "plen 16"},
        {5, {6}, drop_reason::arp_bad_format, "plen 6"},
        {6, {0x00, 0x00}, drop_reason::arp_bad_op, "op 0"},
        {6, {0x00, 0x03}, drop_reason::arp_bad_op, "op 3 (RARP request)"},
        {6, {0x00, 0x04}, drop_reason::arp_bad_op, "op 4 (RARP reply)"},
        {6, {0x01, 0x00}, drop_reason::arp_bad_op, "op 1 byte-swapped"},
        {6, {0xff, 0xff}, drop_reason::arp_bad_op, "op 0xffff"},
    };
    for (const auto& c : cases) {
        auto body = request_body();
        std::copy(c.value.begin(), c.value.end(), body.begin() + std::ptrdiff_t(c.offset));
        auto v = arp_view::parse(body);
        ASSERT_FALSE(v) << c.what;
        EXPECT_EQ(v.error(), c.expected) << c.what;
    }
}

TEST(Arp, FormatIsCheckedBeforeOp) {
    auto body = request_body();
    body[4] = 8;
    body[7] = 9;
    auto v = arp_view::parse(body);
    ASSERT_FALSE(v);
    EXPECT_EQ(v.error(), drop_reason::arp_bad_format);
}

TEST(Arp, EmitMatchesCapturedReply) {
    arp_repr reply{arp_op::reply, test::mac_b, test::host_b, test::mac_a, test::host_a};
    std::vector<std::uint8_t> out(arp_repr::length, 0xee);
    reply.emit(out.data());
    EXPECT_EQ(out, test::ip_packet(test::arp_reply_frame));
}

TEST(Arp, RoundTrips) {
    arp_repr repr{arp_op::request, mac_addr{{0x02, 1, 2, 3, 4, 5}}, ipv4_addr::from_octets(198, 18, 1, 1), mac_addr{},
                  ipv4_addr::from_octets(198, 19, 0, 9)};
    std::vector<std::uint8_t> out(arp_repr::length);
    repr.emit(out.data());
    auto v = arp_view::parse(out);
    ASSERT_TRUE(v);
    EXPECT_EQ(arp_repr::from(*v), repr);

    auto captured = request_body();
    auto parsed = arp_view::parse(captured);
    ASSERT_TRUE(parsed);
    std::vector<std::uint8_t> again(arp_repr::length);
    arp_repr::from(*parsed).emit(again.data());
    EXPECT_EQ(again, captured);
}

} // namespace
} // namespace tern::wire
