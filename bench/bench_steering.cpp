// What software steering (core/steering.hpp) costs a TCP segment: two engines on one thread,
// a burst of 32 segments arriving on engine 0's device each round, dispatched to a handler that
// frees them. "home": every segment's flow is engine 0's (the check and the hash, nothing
// handed over); "steered": every one is engine 1's (hash, enqueue on 0, dequeue and a second
// parse on 1); "single": one engine, no steering at all. Per segment, the mbuf filled from a
// template each time in all three. On one thread the rings and mbufs stay in this core's
// caches: across two cores each handed segment also moves its mbuf's lines and the ring's.
// Run from a release build:
//   ./bench/bench_steering --benchmark_min_time=0.5
#include <benchmark/benchmark.h>

#include <cstring>
#include <memory>
#include <vector>

#include <rte_mbuf.h>

#include "core/engine.hpp"
#include "core/steering.hpp"
#include "dpdk/mempool.hpp"
#include "eal_bench.hpp"
#include "engine_setup.hpp"
#include "tcp_frames.hpp"
#include "wire/tcp.hpp"

namespace {

using namespace tern;

const mac_addr our_mac{{0x02, 0, 0, 0, 0, 0x02}};
const mac_addr peer_mac{{0x02, 0, 0, 0, 0, 0x01}};
const ipv4_addr our_ip = ipv4_addr::from_octets(198, 18, 0, 2);
const ipv4_addr peer_ip = ipv4_addr::from_octets(198, 18, 0, 1);
constexpr std::uint16_t burst = 32;

// Hands out `pending` mbufs once, then nothing; takes and frees whatever is sent.
class feed_device final : public device {
public:
    std::uint16_t rx_burst(rte_mbuf** pkts, std::uint16_t n) override {
        const auto k = std::uint16_t(std::min<std::size_t>(n, pending.size()));
        std::memcpy(pkts, pending.data(), k * sizeof(rte_mbuf*));
        pending.clear();
        return k;
    }
    std::uint16_t tx_burst(rte_mbuf** pkts, std::uint16_t n) override {
        rte_pktmbuf_free_bulk(pkts, n);
        return n;
    }
    std::vector<rte_mbuf*> pending;
};

class sink final : public protocol_handler {
public:
    void on_tcp(rte_mbuf* m, const wire::ipv4_view&, const wire::tcp_view&) override { rte_pktmbuf_free(m); }
    void on_tcp6(rte_mbuf* m, const wire::ipv6_view&, const wire::tcp_view&) override { rte_pktmbuf_free(m); }
    void on_timer(timer_hook&) override {}
    void after_burst() override {}
};

std::vector<std::uint8_t> segment_frame(std::uint16_t src_port) {
    return test::tcp_frame_bytes({our_mac, peer_mac, peer_ip, our_ip}, test::bare_segment(src_port, 80, wire::tcp_flags::ack));
}

enum class mode { single, home, steered };

void run(benchmark::State& state, mode how) {
    if (!bench::start_eal()) {
        state.SkipWithError("EAL did not start");
        return;
    }
    static int n = 0;
    auto pool = mbuf_pool::create("bench_steer_" + std::to_string(n++), 4095);
    if (!pool) {
        state.SkipWithError("no mbuf pool");
        return;
    }
    const std::uint16_t engines = how == mode::single ? 1 : 2;
    std::unique_ptr<steering> st;
    if (engines > 1) {
        auto made = steering::create(engines);
        st = std::move(*made);
    }
    const engine_config c = test::config_for(our_ip, our_mac, {}, engines);
    virtual_clock clk;
    neighbor_cache neighbors(64);
    feed_device devs[2];
    sink handlers[2];
    std::vector<std::unique_ptr<engine>> engs;
    for (std::uint16_t i = 0; i < engines; ++i) {
        engs.push_back(std::make_unique<engine>(i, c, engine_port{0, i, our_mac, port_offloads{}}, devs[i], pool->get(),
                                                neighbors, clk));
        if (st) engs.back()->set_steering(st.get());
        engs.back()->set_protocol_handler(&handlers[i]);
    }
    // 32 flows, each owned by the engine the mode wants (any for "single").
    const std::uint16_t want = how == mode::steered ? 1 : 0;
    std::vector<std::vector<std::uint8_t>> frames;
    for (std::uint16_t p = 40000; frames.size() < burst; ++p)
        if (!st || st->owner({peer_ip, our_ip, p, 80}) == want) frames.push_back(segment_frame(p));
    for (auto _ : state) {
        rte_mbuf* ms[burst];
        if (rte_pktmbuf_alloc_bulk(pool->get(), ms, burst) != 0) {
            state.SkipWithError("pool empty");
            break;
        }
        for (std::uint16_t i = 0; i < burst; ++i) {
            std::memcpy(rte_pktmbuf_append(ms[i], std::uint16_t(frames[i].size())), frames[i].data(), frames[i].size());
            devs[0].pending.push_back(ms[i]);
        }
        for (auto& e : engs) e->poll();
    }
    state.SetItemsProcessed(state.iterations() * burst);
    state.counters["per_segment"] = benchmark::Counter(double(state.iterations()) * burst,
                                                       benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}

void bm_single_engine(benchmark::State& state) { run(state, mode::single); }
void bm_two_engines_home(benchmark::State& state) { run(state, mode::home); }
void bm_two_engines_steered(benchmark::State& state) { run(state, mode::steered); }

BENCHMARK(bm_single_engine);
BENCHMARK(bm_two_engines_home);
BENCHMARK(bm_two_engines_steered);

} // namespace

int main(int argc, char** argv) { return tern::bench::run_benchmarks(argc, argv); }
