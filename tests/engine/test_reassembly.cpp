// IPv4 fragment reassembly in the engine (core/ipv4_reassembly.hpp, RFC 791 §3.2, RFC 1122
// §3.3.2): an echo request of 1,000 bytes cut into fragments must be answered once, whole,
// whatever their order; duplicates, overlaps, bad shapes, oversize datagrams, timeouts and a
// full table each end as the rules say, and every mbuf comes back (harness destructor).
#include <algorithm>
#include <vector>

#include "harness.hpp"
#include "tcp_frames.hpp"

namespace tern::test {
namespace {

constexpr std::size_t ip_at = wire::ethernet_repr::length;
constexpr std::size_t payload = 1000;
constexpr std::size_t data_length = wire::icmp_header_length + payload; // the datagram's data: 1,008 bytes

class reassembly_test : public engine_test {
protected:
    void SetUp() override { start(default_config()); }
    void start(const engine_config& c) {
        make_engine(c);
        neighbors_.update(peer_ip, peer_mac, clock_.now() + std::chrono::hours(1));
        rte_mbuf* m = echo_request(peer_ip, 0x77, 5, payload);
        whole_.assign(bytes(m).begin(), bytes(m).end());
        rte_pktmbuf_free(m);
    }
    // Delivers the fragment holding data bytes [begin, end) of the echo request (MF unless it
    // reaches the end), identification `id`.
    void deliver_piece(std::size_t begin, std::size_t end, std::uint16_t id = 1) {
        deliver(frame(ipv4_fragment(whole_, begin, end, end == data_length, id)));
    }
    void deliver_bytes(const std::vector<std::uint8_t>& f) { deliver(frame(f)); }
    std::uint64_t dropped(drop_reason r) const { return engine_->stats().dropped(r); }
    const engine_stats& stats() const { return engine_->stats(); }
    // The one frame sent since the last call, checked to be the whole echo reply.
    void expect_one_reply() {
        auto sent = take_sent();
        ASSERT_EQ(sent.size(), 1u);
        expect_echo_reply(bytes(sent[0]), 0x77, 5, payload);
        free_all(sent);
    }

    std::vector<std::uint8_t> whole_;
};

// Cut points of the 1,008 data bytes: fragments of 256, 256, 256 and 240 bytes.
const std::vector<std::size_t> cuts = {0, 256, 512, 768, data_length};

TEST_F(reassembly_test, fragments_in_any_order_make_one_whole_datagram) {
    const std::vector<std::vector<int>> orders = {{0, 1, 2, 3}, {3, 2, 1, 0}, {2, 0, 3, 1}, {1, 3, 0, 2}};
    std::uint16_t id = 1;
    for (const auto& order : orders) {
        SCOPED_TRACE("order starting with piece " + std::to_string(order[0]));
        for (std::size_t k = 0; k < order.size(); ++k) {
            EXPECT_TRUE(dev_.sent.empty()) << "answered before the last fragment came";
            deliver_piece(cuts[order[k]], cuts[order[k] + 1], id);
        }
        expect_one_reply();
        EXPECT_EQ(engine_->reassembly_in_progress(), 0u);
        ++id;
    }
    EXPECT_EQ(stats().ipv4_fragments_in.get(), 16u);
    EXPECT_EQ(stats().ipv4_reassembled.get(), 4u);
    EXPECT_EQ(stats().dropped_total(), 0u);
}

TEST_F(reassembly_test, datagrams_from_one_source_are_told_apart_by_identification) {
    deliver_piece(0, 256, 1);
    deliver_piece(0, 256, 2);
    deliver_piece(256, data_length, 2);
    expect_one_reply();
    deliver_piece(256, data_length, 1);
    expect_one_reply();
    EXPECT_EQ(stats().ipv4_reassembled.get(), 2u);
}

// RFC 791: fragment zero's options are the datagram's; later fragments need not carry them.
TEST_F(reassembly_test, fragment_zero_with_ip_options_leads_the_datagram) {
    auto zero = ipv4_fragment(whole_, 0, 256, false);
    std::uint8_t* ip = zero.data() + ip_at;
    ip[0] = 0x46; // IHL 6: one word of options
    wire::store_be16(ip + wire::ipv4_field::total_length, 24 + 256);
    zero.insert(zero.begin() + ip_at + 20, {1, 1, 1, 1}); // NOPs
    ip = zero.data() + ip_at;
    wire::store_be16(ip + wire::ipv4_field::checksum, 0);
    wire::store_be16(ip + wire::ipv4_field::checksum, wire::checksum_fold(wire::checksum_add({ip, 24})));
    deliver_piece(512, data_length);
    deliver_bytes(zero);
    deliver_piece(256, 512);
    expect_one_reply();
    EXPECT_EQ(stats().dropped_total(), 0u);
}

TEST_F(reassembly_test, a_repeated_fragment_is_dropped_alone) {
    deliver_piece(0, 256);
    deliver_piece(256, 512);
    deliver_piece(256, 512);
    deliver_piece(256, 384); // inside what came, the same bytes
    EXPECT_EQ(dropped(drop_reason::ipv4_fragment_duplicate), 2u);
    deliver_piece(512, data_length);
    expect_one_reply();
}

TEST_F(reassembly_test, an_overlap_with_other_bounds_discards_the_datagram_until_its_timeout) {
    deliver_piece(0, 256);
    deliver_piece(128, 384); // half over the first
    EXPECT_EQ(dropped(drop_reason::ipv4_fragment_overlap), 1u);
    deliver_piece(256, 512);
    deliver_piece(512, data_length);
    EXPECT_TRUE(dev_.sent.empty());
    EXPECT_EQ(dropped(drop_reason::ipv4_fragment_overlap), 3u) << "the rest of a discarded datagram is dropped";
    EXPECT_EQ(engine_->reassembly_in_progress(), 1u);
    EXPECT_EQ(in_use(), 0u) << "a discarded datagram holds no mbuf";
    clock_.advance(std::chrono::seconds(61));
    engine_->poll();
    EXPECT_TRUE(dev_.sent.empty()) << "no time exceeded for a datagram already discarded";
    EXPECT_EQ(engine_->reassembly_in_progress(), 0u);
    for (std::size_t k = 0; k + 1 < cuts.size(); ++k) deliver_piece(cuts[k], cuts[k + 1]);
    expect_one_reply();
}

TEST_F(reassembly_test, an_overlap_with_the_same_bounds_but_other_bytes_discards_the_datagram) {
    deliver_piece(0, 256);
    auto changed = ipv4_fragment(whole_, 0, 256, false);
    changed[ip_at + 20 + 100] ^= 0xff; // one data byte differs
    deliver_bytes(changed);
    EXPECT_EQ(dropped(drop_reason::ipv4_fragment_overlap), 1u);
    for (std::size_t k = 1; k + 1 < cuts.size(); ++k) deliver_piece(cuts[k], cuts[k + 1]);
    EXPECT_TRUE(dev_.sent.empty());
}

TEST_F(reassembly_test, fragments_of_a_bad_shape_are_malformed) {
    deliver_piece(0, 100); // MF and 100 bytes: not a multiple of 8
    auto empty = ipv4_fragment(whole_, 8, 8, false);
    deliver_bytes(empty); // MF and no data
    auto far = ipv4_fragment(whole_, 0, 64, false);
    wire::store_be16(far.data() + ip_at + wire::ipv4_field::flags_fragment, std::uint16_t(wire::ipv4_flag_mf | 0x1fff));
    wire::store_be16(far.data() + ip_at + wire::ipv4_field::checksum, 0);
    wire::store_be16(far.data() + ip_at + wire::ipv4_field::checksum,
                     wire::checksum_fold(wire::checksum_add({far.data() + ip_at, 20})));
    deliver_bytes(far); // 65,528 + 64 + 20: past the 65,535 bytes a datagram may have
    EXPECT_EQ(dropped(drop_reason::ipv4_fragment_malformed), 3u);
    EXPECT_EQ(stats().ipv4_fragments_in.get(), 3u);
}

TEST_F(reassembly_test, a_last_fragment_that_ends_before_received_data_discards_the_datagram) {
    deliver_piece(512, 768);
    deliver(frame(ipv4_fragment(whole_, 256, 512, true))); // says the datagram ends at 512
    EXPECT_EQ(dropped(drop_reason::ipv4_fragment_malformed), 1u);
    deliver_piece(0, 256);
    deliver_piece(768, data_length);
    EXPECT_EQ(dropped(drop_reason::ipv4_fragment_malformed), 3u);
    EXPECT_TRUE(dev_.sent.empty());
}

TEST_F(reassembly_test, data_past_the_known_end_discards_the_datagram) {
    deliver(frame(ipv4_fragment(whole_, 512, 768, true))); // the datagram ends at 768
    deliver(frame(ipv4_fragment(whole_, 768, 1000, false)));
    deliver_piece(0, 256);
    EXPECT_EQ(dropped(drop_reason::ipv4_fragment_malformed), 2u);
    EXPECT_TRUE(dev_.sent.empty());
}

TEST_F(reassembly_test, a_datagram_longer_than_one_mbuf_holds_is_refused) {
    // The test pool's mbufs hold 2,048 bytes after the headroom.
    std::vector<std::uint8_t> big(whole_.begin(), whole_.begin() + ip_at + 20);
    big.resize(ip_at + 20 + 4000, 0x5a);
    deliver(frame(ipv4_fragment(big, 3000, 3200, false)));
    EXPECT_EQ(dropped(drop_reason::ipv4_fragment_too_large), 1u);
    deliver(frame(ipv4_fragment(big, 0, 1000, false)));
    EXPECT_EQ(dropped(drop_reason::ipv4_fragment_too_large), 2u) << "the rest of it is refused as well";
    EXPECT_EQ(in_use(), 0u);
}

TEST_F(reassembly_test, a_datagram_in_too_many_pieces_is_discarded) {
    // Every other 8-byte piece: runs that never touch, one more than reassembly tracks.
    for (std::size_t k = 0; k <= ipv4_reassembly::max_runs; ++k) deliver_piece(16 * k + 8, 16 * k + 16);
    EXPECT_EQ(dropped(drop_reason::ipv4_fragment_scattered), 1u);
    EXPECT_EQ(in_use(), 0u);
}

TEST_F(reassembly_test, a_timeout_with_fragment_zero_in_tells_the_source) {
    deliver_piece(0, 256);
    deliver_piece(512, 768);
    clock_.advance(std::chrono::milliseconds(59'900));
    engine_->poll();
    EXPECT_TRUE(dev_.sent.empty()) << "RFC 1122 §3.3.2's timeout is 60 s here";
    clock_.advance(std::chrono::milliseconds(200));
    engine_->poll();
    auto sent = take_sent();
    ASSERT_EQ(sent.size(), 1u);
    auto eth = wire::ethernet_view::parse(bytes(sent[0]));
    ASSERT_TRUE(eth);
    EXPECT_EQ(eth->dst(), peer_mac);
    auto ip = wire::ipv4_view::parse(eth->payload());
    ASSERT_TRUE(ip);
    EXPECT_EQ(ip->src(), our_ip);
    EXPECT_EQ(ip->dst(), peer_ip);
    EXPECT_EQ(ip->protocol(), wire::ip_protocol::icmp);
    auto icmp = wire::icmp_view::parse(ip->payload());
    ASSERT_TRUE(icmp) << "checksum";
    EXPECT_EQ(icmp->type(), wire::icmp_type::time_exceeded);
    EXPECT_EQ(icmp->code(), wire::icmp_time_exceeded_code::reassembly);
    // The quote: fragment zero's header as it came, then its first 8 bytes of data.
    const auto fragment_zero = ipv4_fragment(whole_, 0, 256, false);
    ASSERT_EQ(icmp->payload().size(), 28u);
    EXPECT_TRUE(std::equal(icmp->payload().begin(), icmp->payload().end(), fragment_zero.begin() + ip_at));
    free_all(sent);
    EXPECT_EQ(stats().ipv4_reassembly_timeouts.get(), 1u);
    EXPECT_EQ(stats().icmp_time_exceeded_out.get(), 1u);
    EXPECT_EQ(engine_->reassembly_in_progress(), 0u);
}

TEST_F(reassembly_test, a_timeout_without_fragment_zero_is_silent) {
    deliver_piece(256, 512);
    clock_.advance(std::chrono::seconds(61));
    engine_->poll();
    EXPECT_TRUE(dev_.sent.empty());
    EXPECT_EQ(stats().ipv4_reassembly_timeouts.get(), 1u);
    EXPECT_EQ(stats().icmp_time_exceeded_out.get(), 0u);
}

TEST_F(reassembly_test, no_time_exceeded_about_an_icmp_error) {
    // The same datagram made an ICMP destination unreachable: RFC 1122 §3.2.2 forbids an
    // error about an error.
    whole_[ip_at + 20 + wire::icmp_field::type] = wire::icmp_type::destination_unreachable;
    deliver_piece(0, 256);
    clock_.advance(std::chrono::seconds(61));
    engine_->poll();
    EXPECT_TRUE(dev_.sent.empty());
    EXPECT_EQ(stats().ipv4_reassembly_timeouts.get(), 1u);
}

TEST_F(reassembly_test, a_full_table_gives_up_its_oldest_datagram) {
    engine_config c = default_config();
    c.reassembly.max_datagrams = 4;
    start(c);
    for (std::uint16_t id = 1; id <= 5; ++id) {
        deliver_piece(0, 256, id);
        clock_.advance(std::chrono::milliseconds(1));
    }
    EXPECT_EQ(stats().ipv4_reassembly_evicted.get(), 1u);
    EXPECT_EQ(engine_->reassembly_in_progress(), 4u);
    EXPECT_EQ(in_use(), 4u) << "one mbuf a datagram in progress, no more";
    deliver_piece(256, data_length, 1); // datagram 1 lost its first piece: starts again
    EXPECT_TRUE(dev_.sent.empty());
    deliver_piece(256, data_length, 5);
    expect_one_reply();
}

TEST_F(reassembly_test, with_reassembly_off_fragments_are_dropped) {
    engine_config c = default_config();
    c.reassembly.max_datagrams = 0;
    start(c);
    deliver_piece(0, 256);
    EXPECT_EQ(dropped(drop_reason::ipv4_fragment), 1u);
}

} // namespace
} // namespace tern::test
