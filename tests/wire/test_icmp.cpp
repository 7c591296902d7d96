#include "wire/icmp.hpp"

#include <gtest/gtest.h>

#include <vector>

#include "fixtures.hpp"

namespace tern::wire {
namespace {

std::vector<std::uint8_t> request_message() { return test::l4_part(test::icmp_echo_request_frame); }

TEST(Icmp, ParsesCapturedEchoRequest) {
    auto message = request_message();
    auto icmp = icmp_view::parse(message);
    ASSERT_TRUE(icmp);
    EXPECT_EQ(icmp->type(), icmp_type::echo_request);
    EXPECT_EQ(icmp->code(), 0);
    EXPECT_EQ(icmp->checksum(), 0xf12c);
    EXPECT_EQ(icmp->identifier(), 7024);
    EXPECT_EQ(icmp->sequence(), 1);
    EXPECT_EQ(icmp->rest_of_header(), 0x1b700001u);
    EXPECT_EQ(icmp->payload().size(), 16u);
    EXPECT_EQ(icmp->payload().data(), message.data() + 8);
    EXPECT_EQ(icmp->message().size(), 24u);

    auto reply = icmp_view::parse(test::icmp_echo_reply_message);
    ASSERT_TRUE(reply);
    EXPECT_EQ(reply->type(), icmp_type::echo_reply);
}

TEST(Icmp, TruncatedAtEveryLengthBelow8) {
    auto message = request_message();
    for (std::size_t n = 0; n < icmp_header_length; ++n) {
        auto v = icmp_view::parse(std::span(message).first(n));
        ASSERT_FALSE(v) << n;
        EXPECT_EQ(v.error(), drop_reason::icmp_truncated) << n;
        auto unverified = icmp_view::parse(std::span(message).first(n), false);
        ASSERT_FALSE(unverified) << n;
        EXPECT_EQ(unverified.error(), drop_reason::icmp_truncated) << n;
    }
}

TEST(Icmp, BadChecksumOverTheWholeMessage) {
    for (std::size_t byte = 0; byte < 24; ++byte) {
        auto message = request_message();
        message[byte] ^= 0x04;
        auto v = icmp_view::parse(message);
        ASSERT_FALSE(v) << byte;
        EXPECT_EQ(v.error(), drop_reason::icmp_bad_checksum) << byte;
        EXPECT_TRUE(icmp_view::parse(message, false)) << byte;
    }
}

TEST(Icmp, HeaderOnlyMessage) {
    std::vector<std::uint8_t> message = {8, 0, 0, 0, 0, 1, 0, 2};
    test::fix_icmp_checksum(message);
    auto v = icmp_view::parse(message);
    ASSERT_TRUE(v);
    EXPECT_TRUE(v->payload().empty());
}

TEST(Icmp, OtherTypesParseToo) {
    // Destination unreachable, port unreachable, carrying a (made-up) original header:
    // the type is the engine's business, not the parser's.
    std::vector<std::uint8_t> message = {3, 3, 0, 0, 0, 0, 0, 0, 0x45, 0, 0, 28};
    test::fix_icmp_checksum(message);
    auto v = icmp_view::parse(message);
    ASSERT_TRUE(v);
    EXPECT_EQ(v->type(), icmp_type::destination_unreachable);
    EXPECT_EQ(v->code(), 3);
    EXPECT_EQ(v->payload().size(), 4u);
}

// Linux answered the captured request with the captured reply; writing our reply over
// the request, as the engine does in place, gives the same bytes.
TEST(Icmp, EchoReplyInPlaceMatchesLinuxReply) {
    auto message = request_message();
    auto req = icmp_view::parse(message);
    ASSERT_TRUE(req);
    icmp_echo_repr reply{icmp_type::echo_reply, req->identifier(), req->sequence(), req->payload()};
    EXPECT_EQ(reply.length(), 24u);
    reply.emit(message.data());
    EXPECT_EQ(message, test::icmp_echo_reply_message);
}

TEST(Icmp, EchoEmitCopiesPayloadAndRoundTrips) {
    for (std::size_t len : {0, 1, 2, 3, 55, 56, 1472}) {
        std::vector<std::uint8_t> payload(len);
        for (std::size_t i = 0; i < len; ++i) payload[i] = std::uint8_t(i * 7 + 1);
        icmp_echo_repr repr{icmp_type::echo_request, 0xbeef, std::uint16_t(len), payload};
        std::vector<std::uint8_t> out(repr.length(), 0xee);
        repr.emit(out.data());
        auto v = icmp_view::parse(out);
        ASSERT_TRUE(v) << len;
        EXPECT_EQ(v->type(), icmp_type::echo_request);
        EXPECT_EQ(v->code(), 0);
        EXPECT_EQ(v->identifier(), 0xbeef);
        EXPECT_EQ(v->sequence(), len);
        EXPECT_TRUE(std::equal(v->payload().begin(), v->payload().end(), payload.begin(), payload.end()));
    }
}

TEST(Icmp, EchoEmitWithOverlappingPayload) {
    // The payload starts 4 bytes into the output: it must be moved before the header is
    // written over it.
    std::vector<std::uint8_t> buffer(40);
    for (std::size_t i = 0; i < buffer.size(); ++i) buffer[i] = std::uint8_t(i);
    std::vector<std::uint8_t> expected_payload(buffer.begin() + 4, buffer.begin() + 24);
    icmp_echo_repr repr{icmp_type::echo_reply, 1, 2, std::span(buffer).subspan(4, 20)};
    repr.emit(buffer.data());
    auto v = icmp_view::parse(std::span(buffer).first(repr.length()));
    ASSERT_TRUE(v);
    EXPECT_TRUE(std::equal(v->payload().begin(), v->payload().end(), expected_payload.begin(), expected_payload.end()));
}

} // namespace
} // namespace tern::wire
