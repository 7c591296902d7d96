#include "wire/ethernet.hpp"

#include <gtest/gtest.h>

#include <vector>

#include "fixtures.hpp"

namespace tern::wire {
namespace {

static_assert(ethernet_repr::length == 14);

TEST(Ethernet, ParsesCapturedFrame) {
    const auto& frame = test::tcp_syn_frame;
    auto eth = ethernet_view::parse(frame);
    ASSERT_TRUE(eth);
    EXPECT_EQ(eth->dst(), test::mac_b);
    EXPECT_EQ(eth->src(), test::mac_a);
    EXPECT_EQ(eth->type(), ether_type::ipv4);
    EXPECT_EQ(eth->payload().size(), frame.size() - 14);
    EXPECT_EQ(eth->payload().data(), frame.data() + 14);
    EXPECT_EQ(eth->header().size(), 14u);

    auto arp = ethernet_view::parse(test::arp_request_frame);
    ASSERT_TRUE(arp);
    EXPECT_EQ(arp->dst(), mac_addr::broadcast());
    EXPECT_EQ(arp->type(), ether_type::arp);
}

TEST(Ethernet, HeaderOnlyFrameHasEmptyPayload) {
    std::vector<std::uint8_t> frame(test::tcp_syn_frame.begin(), test::tcp_syn_frame.begin() + 14);
    auto eth = ethernet_view::parse(frame);
    ASSERT_TRUE(eth);
    EXPECT_TRUE(eth->payload().empty());
}

TEST(Ethernet, TruncatedAtEveryLengthBelowHeader) {
    for (std::size_t n = 0; n < ethernet_header_len; ++n) {
        auto eth = ethernet_view::parse(std::span(test::tcp_syn_frame).first(n));
        ASSERT_FALSE(eth) << n;
        EXPECT_EQ(eth.error(), drop_reason::eth_truncated) << n;
    }
}

TEST(Ethernet, EmitMatchesCaptureAndRoundTrips) {
    ethernet_repr repr{test::mac_b, test::mac_a, ether_type::ipv4};
    std::vector<std::uint8_t> out(ethernet_repr::length, 0xee);
    repr.emit(out.data());
    EXPECT_EQ(out, std::vector<std::uint8_t>(test::tcp_syn_frame.begin(), test::tcp_syn_frame.begin() + 14));
    auto eth = ethernet_view::parse(out);
    ASSERT_TRUE(eth);
    EXPECT_EQ(ethernet_repr::from(*eth), repr);
}

} // namespace
} // namespace tern::wire
