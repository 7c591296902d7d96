// sim_link: a FIFO wire each way with propagation delay, serialisation time and a bounded
// queue, on a virtual clock.
#include "dpdk/sim_link.hpp"

#include "dpdk/fault_device.hpp"
#include "sim_test.hpp"

namespace tern::test {
namespace {

using sim_link_test = sim_test;

std::vector<rte_mbuf*> receive_all(device& d) {
    std::vector<rte_mbuf*> got;
    rte_mbuf* burst[32];
    while (std::uint16_t n = d.rx_burst(burst, 32)) got.insert(got.end(), burst, burst + n);
    return got;
}

TEST_F(sim_link_test, config_validation) {
    EXPECT_TRUE(sim_link_config{}.validate());
    sim_link_config c;
    c.delay = -1ns;
    auto s = c.validate();
    ASSERT_FALSE(s);
    EXPECT_NE(s.error().find("delay"), std::string::npos);
    c = {};
    c.queue_limit = 0;
    s = c.validate();
    ASSERT_FALSE(s);
    EXPECT_NE(s.error().find("queue_limit"), std::string::npos);
}

TEST_F(sim_link_test, delivers_in_order_exactly_when_due) {
    sim_link link(clock_, {.delay = 50us});
    std::vector<rte_mbuf*> out;
    for (std::uint32_t i = 0; i < 10; ++i) out.push_back(packet(i));
    EXPECT_EQ(link.a().tx_burst(out.data(), 10), 10);
    EXPECT_EQ(link.counters(sim_link::direction::a_to_b).in_flight, 10u);
    EXPECT_EQ(link.next_arrival(), clock_.now() + 50us);

    rte_mbuf* burst[32];
    clock_.advance(50us - 1ns);
    EXPECT_EQ(link.b().rx_burst(burst, 32), 0) << "delivered before the propagation delay";
    EXPECT_EQ(link.a().rx_burst(burst, 32), 0) << "a's own packets came back to it";
    clock_.advance(1ns);
    auto got = receive_all(link.b());
    ASSERT_EQ(got.size(), 10u);
    for (std::uint32_t i = 0; i < 10; ++i) EXPECT_EQ(id_of(got[i]), i);
    auto c = link.counters(sim_link::direction::a_to_b);
    EXPECT_EQ(c.sent, 10u);
    EXPECT_EQ(c.delivered, 10u);
    EXPECT_EQ(c.dropped, 0u);
    EXPECT_EQ(c.in_flight, 0u);
    EXPECT_FALSE(link.next_arrival());
    free_all(got);
}

TEST_F(sim_link_test, rx_burst_takes_at_most_n_and_keeps_the_rest_in_order) {
    sim_link link(clock_, {.delay = 1us});
    for (std::uint32_t i = 0; i < 5; ++i) {
        rte_mbuf* m = packet(i);
        ASSERT_EQ(link.b().tx_burst(&m, 1), 1);
    }
    clock_.advance(1us);
    rte_mbuf* burst[2];
    std::vector<std::uint32_t> ids;
    while (std::uint16_t n = link.a().rx_burst(burst, 2)) {
        EXPECT_LE(n, 2);
        for (std::uint16_t i = 0; i < n; ++i) {
            ids.push_back(id_of(burst[i]));
            rte_pktmbuf_free(burst[i]);
        }
    }
    EXPECT_EQ(ids, (std::vector<std::uint32_t>{0, 1, 2, 3, 4}));
}

TEST_F(sim_link_test, directions_are_independent) {
    sim_link link(clock_, {.delay = 10us});
    rte_mbuf* ab = packet(1);
    ASSERT_EQ(link.a().tx_burst(&ab, 1), 1);
    clock_.advance(5us);
    rte_mbuf* ba = packet(2);
    ASSERT_EQ(link.b().tx_burst(&ba, 1), 1);
    rte_mbuf* burst[4];
    clock_.advance(5us);
    EXPECT_EQ(link.a().rx_burst(burst, 4), 0);
    ASSERT_EQ(link.b().rx_burst(burst, 4), 1);
    EXPECT_EQ(id_of(burst[0]), 1u);
    rte_pktmbuf_free(burst[0]);
    clock_.advance(5us);
    ASSERT_EQ(link.a().rx_burst(burst, 4), 1);
    EXPECT_EQ(id_of(burst[0]), 2u);
    rte_pktmbuf_free(burst[0]);
}

TEST_F(sim_link_test, serialisation_delay_queues_packets_behind_each_other) {
    // 1 Gbit/s: a 1000-byte packet takes 8 us on the line.
    sim_link link(clock_, {.delay = 10us, .bits_per_second = 1'000'000'000});
    EXPECT_EQ(link.serialisation_time(1000), 8us);
    EXPECT_EQ(link.serialisation_time(1), 8ns);
    const instant t0 = clock_.now();
    rte_mbuf* out[3] = {packet(0, 1000), packet(1, 1000), packet(2, 1000)};
    ASSERT_EQ(link.a().tx_burst(out, 3), 3);

    rte_mbuf* burst[4];
    for (std::uint32_t i = 0; i < 3; ++i) {
        const instant due = t0 + 10us + 8us * (i + 1);
        clock_.set(due - 1ns);
        EXPECT_EQ(link.b().rx_burst(burst, 4), 0) << "packet " << i << " arrived before its last bit";
        clock_.set(due);
        ASSERT_EQ(link.b().rx_burst(burst, 4), 1) << "packet " << i << " not delivered when due";
        EXPECT_EQ(id_of(burst[0]), i);
        rte_pktmbuf_free(burst[0]);
    }
    // The line has been idle since t0 + 24 us: a new packet starts at once.
    clock_.set(t0 + 100us);
    rte_mbuf* late = packet(3, 1000);
    ASSERT_EQ(link.a().tx_burst(&late, 1), 1);
    EXPECT_EQ(link.next_arrival(), t0 + 100us + 8us + 10us);
    clock_.set(t0 + 118us);
    ASSERT_EQ(link.b().rx_burst(burst, 4), 1);
    rte_pktmbuf_free(burst[0]);
}

TEST_F(sim_link_test, full_queue_drops_and_counts) {
    sim_link link(clock_, {.delay = 1us, .queue_limit = 4});
    std::vector<rte_mbuf*> out;
    for (std::uint32_t i = 0; i < 10; ++i) out.push_back(packet(i));
    const std::uint32_t before = pool_.in_use();
    // A wire takes everything; what does not fit is dropped (freed), not handed back.
    EXPECT_EQ(link.a().tx_burst(out.data(), 10), 10);
    EXPECT_EQ(pool_.in_use(), before - 6);
    auto c = link.counters(sim_link::direction::a_to_b);
    EXPECT_EQ(c.sent, 4u);
    EXPECT_EQ(c.dropped, 6u);
    EXPECT_EQ(c.in_flight, 4u);

    clock_.advance(1us);
    auto got = receive_all(link.b());
    ASSERT_EQ(got.size(), 4u);
    for (std::uint32_t i = 0; i < 4; ++i) EXPECT_EQ(id_of(got[i]), i);
    free_all(got);
    // Room again once the other end has read.
    rte_mbuf* more = packet(10);
    ASSERT_EQ(link.a().tx_burst(&more, 1), 1);
    EXPECT_EQ(link.counters(sim_link::direction::a_to_b).dropped, 6u);
    EXPECT_EQ(link.counters(sim_link::direction::a_to_b).in_flight, 1u);
}

TEST_F(sim_link_test, destruction_frees_packets_in_flight) {
    {
        sim_link link(clock_, {.delay = 1s});
        for (std::uint32_t i = 0; i < 100; ++i) {
            rte_mbuf* m = packet(i);
            ASSERT_EQ((i % 2 ? link.a() : link.b()).tx_burst(&m, 1), 1);
        }
        EXPECT_EQ(pool_.in_use(), start_in_use_ + 100);
    }
    EXPECT_EQ(pool_.in_use(), start_in_use_);
}

// Faults compose by wrapping an end: loss on a's transmit side, duplication on b's
// receive side, and the link carries whatever the wrappers pass.
TEST_F(sim_link_test, fault_device_wraps_a_link_end) {
    sim_link link(clock_, {.delay = 20us});
    fault_config fa;
    fa.tx.loss = 0.25;
    fa.seed = 7;
    fault_device a(link.a(), clock_, fa);
    fault_config fb;
    fb.rx.duplicate = 1.0;
    fault_device b(link.b(), clock_, fb);

    std::vector<std::uint32_t> ids;
    rte_mbuf* burst[32];
    for (std::uint32_t i = 0; i < 1000; ++i) {
        rte_mbuf* m = packet(i);
        ASSERT_EQ(a.tx_burst(&m, 1), 1);
        clock_.advance(1us);
        while (std::uint16_t n = b.rx_burst(burst, 32)) {
            for (std::uint16_t k = 0; k < n; ++k) {
                ids.push_back(id_of(burst[k]));
                rte_pktmbuf_free(burst[k]);
            }
        }
    }
    clock_.advance(20us);
    while (std::uint16_t n = b.rx_burst(burst, 32)) {
        for (std::uint16_t k = 0; k < n; ++k) {
            ids.push_back(id_of(burst[k]));
            rte_pktmbuf_free(burst[k]);
        }
    }
    const auto at = a.counters(fault_direction::tx);
    EXPECT_EQ(at.received, 1000u);
    EXPECT_EQ(at.passed + at.dropped, 1000u);
    EXPECT_EQ(link.counters(sim_link::direction::a_to_b).delivered, at.passed);
    ASSERT_EQ(ids.size(), 2 * at.passed);
    for (std::size_t i = 0; i + 1 < ids.size(); i += 2) {
        EXPECT_EQ(ids[i], ids[i + 1]) << "a duplicate must follow its original";
        if (i >= 2) {
            EXPECT_GT(ids[i], ids[i - 2]) << "the link reordered";
        }
    }
}

} // namespace
} // namespace tern::test
