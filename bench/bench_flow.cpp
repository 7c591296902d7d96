// Micro benchmarks of the per-engine flow table: lookups one at a time against bursts of 32
// (the engine's RX burst) at 1K, 64K and 1M flows, and insert + erase churn; and the cost of
// one latency histogram record.
// Run from a release build:
//   ./bench/bench_flow --benchmark_min_time=0.5
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdint>
#include <random>
#include <vector>

#include "core/flow_table.hpp"
#include "core/histogram.hpp"

namespace {

using namespace tern;

struct conn {
    std::uint64_t id;
};

constexpr std::size_t burst = 32;

flow_key key_of(std::uint64_t n) {
    return flow_key{ipv4_addr{0xc6120001u}, ipv4_addr{0xc6130000u + std::uint32_t(n >> 16)}, 80,
                    std::uint16_t(n & 0xffff)};
}

// A table holding `flows` connections, and a long random sequence of lookups of them with
// their hashes precomputed (as the NIC's RSS hash would arrive with each packet).
struct fixture {
    flow_table<conn> table;
    std::vector<conn> conns;
    std::vector<flow_key> queries;
    std::vector<std::uint32_t> hashes;

    explicit fixture(std::size_t flows) : table(flows), conns(flows) {
        for (std::size_t i = 0; i < flows; ++i) {
            conns[i].id = i;
            table.insert(key_of(i), &conns[i]);
        }
        std::mt19937_64 rng(1);
        std::size_t q = std::max<std::size_t>(1 << 20, burst);
        queries.resize(q);
        hashes.resize(q);
        for (std::size_t i = 0; i < q; ++i) {
            queries[i] = key_of(rng() % flows);
            hashes[i] = table.hash(queries[i]);
        }
    }
};

fixture& fixture_for(std::size_t flows) {
    // One fixture per size, built once (building 1M flows is slower than the benchmark).
    static std::vector<std::pair<std::size_t, std::unique_ptr<fixture>>> cache;
    for (auto& [n, f] : cache)
        if (n == flows) return *f;
    cache.emplace_back(flows, std::make_unique<fixture>(flows));
    return *cache.back().second;
}

void BM_find_single(benchmark::State& state) {
    auto& f = fixture_for(std::size_t(state.range(0)));
    std::size_t pos = 0, q = f.queries.size();
    conn* out[burst];
    for (auto _ : state) {
        for (std::size_t k = 0; k < burst; ++k) out[k] = f.table.find(f.queries[pos + k], f.hashes[pos + k]);
        benchmark::DoNotOptimize(out);
        pos = (pos + burst) % q;
    }
    state.SetItemsProcessed(std::int64_t(state.iterations() * burst));
}

void BM_find_burst(benchmark::State& state) {
    auto& f = fixture_for(std::size_t(state.range(0)));
    std::size_t pos = 0, q = f.queries.size();
    conn* out[burst];
    for (auto _ : state) {
        benchmark::DoNotOptimize(f.table.find_burst(&f.queries[pos], &f.hashes[pos], burst, out));
        benchmark::DoNotOptimize(out);
        pos = (pos + burst) % q;
    }
    state.SetItemsProcessed(std::int64_t(state.iterations() * burst));
}

// The same two with the table's own hash computed per lookup (no RSS hash available).
void BM_find_single_hashing(benchmark::State& state) {
    auto& f = fixture_for(std::size_t(state.range(0)));
    std::size_t pos = 0, q = f.queries.size();
    conn* out[burst];
    for (auto _ : state) {
        for (std::size_t k = 0; k < burst; ++k) out[k] = f.table.find(f.queries[pos + k]);
        benchmark::DoNotOptimize(out);
        pos = (pos + burst) % q;
    }
    state.SetItemsProcessed(std::int64_t(state.iterations() * burst));
}

void BM_find_burst_hashing(benchmark::State& state) {
    auto& f = fixture_for(std::size_t(state.range(0)));
    std::size_t pos = 0, q = f.queries.size();
    conn* out[burst];
    for (auto _ : state) {
        benchmark::DoNotOptimize(f.table.find_burst(&f.queries[pos], burst, out));
        benchmark::DoNotOptimize(out);
        pos = (pos + burst) % q;
    }
    state.SetItemsProcessed(std::int64_t(state.iterations() * burst));
}

// Connection churn at a steady population: each item erases one live flow and inserts a
// new one (as one connection closes and another opens). The table is sized for the
// population (full), or for range(1) flows (the cps pair's tables: sized for 524,288, a
// population of a few hundred thousand, TIME-WAIT records among them).
void BM_churn_insert_erase(benchmark::State& state) {
    const std::size_t flows = std::size_t(state.range(0));
    flow_table<conn> table(std::max(flows, std::size_t(state.range(1))));
    std::vector<conn> conns(flows);
    // A ring of live keys: erase the oldest, insert a fresh one.
    std::vector<flow_key> live(flows);
    std::vector<std::uint32_t> live_hash(flows);
    std::uint64_t next = 0;
    auto fresh = [&] { return key_of(next++); }; // unique for 2^48 keys
    for (std::size_t i = 0; i < flows; ++i) {
        live[i] = fresh();
        live_hash[i] = table.hash(live[i]);
        table.insert(live[i], live_hash[i], &conns[i]);
    }
    std::size_t oldest = 0;
    for (auto _ : state) {
        benchmark::DoNotOptimize(table.erase(live[oldest], live_hash[oldest]));
        live[oldest] = fresh();
        live_hash[oldest] = table.hash(live[oldest]);
        benchmark::DoNotOptimize(table.insert(live[oldest], live_hash[oldest], &conns[oldest]));
        oldest = oldest + 1 == flows ? 0 : oldest + 1;
    }
    state.SetItemsProcessed(std::int64_t(state.iterations()));
    state.counters["max_displacement"] = double(table.max_displacement());
}

// The load generator records one latency per response: the cost of that record.
void BM_histogram_record(benchmark::State& state) {
    tern::histogram h;
    std::mt19937_64 rng(4);
    std::lognormal_distribution<double> latency(10.0, 1.5);
    std::vector<std::uint64_t> values(1 << 16);
    for (auto& v : values) v = std::uint64_t(latency(rng));
    std::size_t i = 0;
    for (auto _ : state) {
        h.record(values[i]);
        i = (i + 1) & (values.size() - 1);
    }
    benchmark::DoNotOptimize(h.count());
    state.SetItemsProcessed(std::int64_t(state.iterations()));
}

void sizes(benchmark::internal::Benchmark* b) {
    b->Arg(1 << 10)->Arg(64 << 10)->Arg(1 << 20);
}

void churn_sizes(benchmark::internal::Benchmark* b) {
    b->Args({1 << 10, 0})->Args({64 << 10, 0})->Args({1 << 20, 0});
    b->Args({32 << 10, 512 << 10})->Args({128 << 10, 512 << 10})->Args({256 << 10, 512 << 10});
}

BENCHMARK(BM_find_single)->Apply(sizes);
BENCHMARK(BM_find_burst)->Apply(sizes);
BENCHMARK(BM_find_single_hashing)->Apply(sizes);
BENCHMARK(BM_find_burst_hashing)->Apply(sizes);
BENCHMARK(BM_churn_insert_erase)->Apply(churn_sizes);
BENCHMARK(BM_histogram_record);

} // namespace

BENCHMARK_MAIN();
