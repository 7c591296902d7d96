// Micro benchmarks of src/dpdk/rss.hpp: one Toeplitz hash of an IPv4 TCP 4-tuple by tern's
// tables, beside DPDK's bit-by-bit rte_softrss (the key as the NIC takes it) and
// rte_softrss_be (a key converted once); the engine a hash maps to through the RETA; and
// building one (local, remote, remote port) triple's port pools.
// Run from a release build:
//   ./bench/bench_rss --benchmark_min_time=0.5
#include <benchmark/benchmark.h>

#include <array>
#include <cstdint>
#include <random>
#include <vector>

#include <rte_thash.h>

#include "dpdk/rss.hpp"

namespace {

using namespace tern;
using rss::ipv4_tuple;

// Random tuples, cycled through so no hash is a repeat the CPU could keep in a register.
const std::vector<ipv4_tuple>& tuples() {
    static const std::vector<ipv4_tuple> t = [] {
        std::mt19937_64 rng(1);
        std::vector<ipv4_tuple> v(1024);
        for (auto& x : v)
            x = ipv4_tuple{ipv4_addr{std::uint32_t(rng())}, ipv4_addr{std::uint32_t(rng())}, std::uint16_t(rng()),
                           std::uint16_t(rng())};
        return v;
    }();
    return t;
}

void bm_toeplitz(benchmark::State& state) {
    const rss::toeplitz h = rss::toeplitz::symmetric();
    const auto& t = tuples();
    std::size_t i = 0;
    for (auto _ : state) {
        benchmark::DoNotOptimize(h.hash(t[i]));
        i = (i + 1) & (t.size() - 1);
    }
}
BENCHMARK(bm_toeplitz);

// The hash feeding the next tuple's address: one hash's latency rather than the throughput
// of independent ones (a steering loop hashes a burst's packets independently: the figure
// above is the one that counts there).
void bm_toeplitz_chained(benchmark::State& state) {
    const rss::toeplitz h = rss::toeplitz::symmetric();
    const auto& t = tuples();
    std::size_t i = 0;
    std::uint32_t last = 0;
    for (auto _ : state) {
        ipv4_tuple x = t[i];
        x.src.value ^= last & 1;
        last = h.hash(x);
        i = (i + 1) & (t.size() - 1);
    }
    benchmark::DoNotOptimize(last);
}
BENCHMARK(bm_toeplitz_chained);

rte_ipv4_tuple dpdk_tuple(const ipv4_tuple& x) {
    rte_ipv4_tuple in{};
    in.src_addr = x.src.value;
    in.dst_addr = x.dst.value;
    in.sport = x.src_port;
    in.dport = x.dst_port;
    return in;
}

void bm_rte_softrss(benchmark::State& state) {
    alignas(16) static constexpr auto key = rss::symmetric_key();
    const auto& t = tuples();
    std::size_t i = 0;
    for (auto _ : state) {
        rte_ipv4_tuple in = dpdk_tuple(t[i]);
        benchmark::DoNotOptimize(rte_softrss(reinterpret_cast<std::uint32_t*>(&in), RTE_THASH_V4_L4_LEN, key.data()));
        i = (i + 1) & (t.size() - 1);
    }
}
BENCHMARK(bm_rte_softrss);

void bm_rte_softrss_be(benchmark::State& state) {
    alignas(16) static constexpr auto key = rss::symmetric_key();
    alignas(16) std::array<std::uint8_t, key.size()> converted{};
    rte_convert_rss_key(reinterpret_cast<const std::uint32_t*>(key.data()),
                        reinterpret_cast<std::uint32_t*>(converted.data()), int(key.size()));
    const auto& t = tuples();
    std::size_t i = 0;
    for (auto _ : state) {
        rte_ipv4_tuple in = dpdk_tuple(t[i]);
        benchmark::DoNotOptimize(
            rte_softrss_be(reinterpret_cast<std::uint32_t*>(&in), RTE_THASH_V4_L4_LEN, converted.data()));
        i = (i + 1) & (t.size() - 1);
    }
}
BENCHMARK(bm_rte_softrss_be);

// Hash and RETA look-up: the owner engine of a packet, as software steering needs it.
void bm_engine_of(benchmark::State& state) {
    const rss::toeplitz h = rss::toeplitz::symmetric();
    const auto reta = rss::redirection_table::round_robin(512, 3);
    const auto& t = tuples();
    std::size_t i = 0;
    for (auto _ : state) {
        benchmark::DoNotOptimize(reta->engine_of(h.hash(t[i])));
        i = (i + 1) & (t.size() - 1);
    }
}
BENCHMARK(bm_engine_of);

// One triple's pools over tern's 28,232 ephemeral ports: the set-up cost per (local ip,
// remote ip, remote port).
void bm_port_pool_build(benchmark::State& state) {
    const rss::toeplitz h = rss::toeplitz::symmetric();
    const auto reta = rss::redirection_table::round_robin(512, std::uint16_t(state.range(0)));
    for (auto _ : state) {
        auto pool = rss::port_pool::make(h, *reta, ipv4_addr{0xc6120001u}, ipv4_addr{0xc6130001u}, 80);
        benchmark::DoNotOptimize(pool);
    }
}
BENCHMARK(bm_port_pool_build)->Arg(4)->Unit(benchmark::kMicrosecond);

} // namespace

BENCHMARK_MAIN();
