// Whole connection lives with both ends in one process: tern-load's generator (src/app/load)
// on one engine and tern-server's HTTP service on the other, over a sim_link on a virtual
// clock (tests/common/two_nodes.hpp). It measures the CPU time each engine spends on one
// connection (cps) or one request (rps). There is no NIC, no memif copy and no idle polling
// in it, and no second process to share the cores with. These are the per-side costs
// behind tern-bench's cps and rps rows, steady enough to compare two builds and to profile:
//   perf record -g ./bench/bench_life --benchmark_filter=cps
// The virtual clock moves a fixed step a round, so every round finds the same work waiting
// as an engine at a steady rate would: `rate` per second of virtual time.
#include <chrono>
#include <cstdint>
#include <optional>

#include <benchmark/benchmark.h>

#include "app/load.hpp"
#include "app/services.hpp"
#include "eal_bench.hpp"
#include "two_nodes.hpp"

namespace tern::test {
namespace {

using bench::start_eal;
using wall = std::chrono::steady_clock;

// TIME-WAIT for 2 x 250 ms: at a million connections a second, half a million records, as
// many as a real run's table holds before it lets the oldest go.
tcp::tcp_config short_time_wait() {
    tcp::tcp_config c;
    c.msl = 250ms;
    return c;
}

// The client's source addresses beside its own: enough 4-tuples for the TIME-WAIT records of
// a run at a million connections a second.
const ipv4_range extra_sources{ipv4_addr::from_octets(198, 18, 0, 100), 64};

struct life_rig {
    explicit life_rig(const app::load_options& o)
        : p(std::nullopt, 0us, extra_sources, 1u << 20, 1500, 1u << 20, short_time_wait()) {
        p.know_neighbours();
        for (std::uint32_t i = 0; i < extra_sources.count; ++i)
            p.server->neighbors.update(extra_sources.at(i), client_mac, instant::max(), true);
        tcp::listen_options l;
        l.connection.no_delay = true; // as tern-server listens
        l.syn_backlog = 1024;
        if (!p.server->ep.listen(80, l, http).has_value()) return;
        gen.emplace(p.client->eng, p.client->ep, o, 0, 1, measuring);
        ready = true;
    }
    ~life_rig() {
        if (gen) gen->abort_all();
    }

    // One round of each engine, each timed; then the clock moves on by `step`.
    void round(duration step) {
        const auto t0 = wall::now();
        p.client->eng.poll();
        const auto t1 = wall::now();
        p.server->eng.poll();
        const auto t2 = wall::now();
        client_time += t1 - t0;
        server_time += t2 - t1;
        p.clock_.set(p.clock_.now() + step);
    }

    std::uint64_t get(app::load_counter c) const { return gen->get(c); }

    two_nodes p;
    app::http_service http{app::http_options{100}};
    std::atomic<bool> measuring{true};
    std::optional<app::load_generator> gen;
    bool ready = false;
    wall::duration client_time{}, server_time{};
};

app::load_options http_load(app::workload kind, double rate, std::uint32_t connections) {
    app::load_options o;
    o.kind = kind;
    o.target = server_ip;
    o.target_port = 80;
    o.sources = extra_sources;
    o.rate = rate;
    o.connections = connections;
    o.connect.connection.no_delay = true;
    return o;
}

// Reports what one unit of work (a connection, a request) cost each side in ns, with the
// units done and the errors seen while timing.
void report(benchmark::State& state, life_rig& r, app::load_counter unit, std::uint64_t units_before,
            std::uint64_t errors_before) {
    const std::uint64_t units = r.get(unit) - units_before;
    const std::uint64_t errors = app::errors(r.gen->totals()) - errors_before;
    if (units == 0) return state.SkipWithError("no work completed");
    const auto ns = [&](wall::duration d) {
        return double(std::chrono::duration_cast<std::chrono::nanoseconds>(d).count()) / double(units);
    };
    state.counters["client_ns"] = ns(r.client_time);
    state.counters["server_ns"] = ns(r.server_time);
    state.counters["units"] = double(units);
    state.counters["errors"] = double(errors);
    state.counters["missed"] = double(r.get(app::load_counter::opens_missed));
    state.SetItemsProcessed(std::int64_t(units));
}

// cps: new connections at range(0) per second of virtual time (a round is 10 us), one GET
// each, the client closes first (its TIME-WAIT records pile up as in a real run).
void bm_cps(benchmark::State& state) {
    if (!start_eal()) return state.SkipWithError("EAL start-up failed");
    auto o = http_load(app::workload::cps, double(state.range(0)), 1u << 20);
    o.requests_per_connection = 1;
    life_rig r(o);
    if (!r.ready) return state.SkipWithError("set-up failed");
    for (int i = 0; i < 20'000; ++i) r.round(10us); // warm: tables and pools in use
    r.client_time = r.server_time = {};
    const std::uint64_t before = r.get(app::load_counter::completed);
    const std::uint64_t errors = app::errors(r.gen->totals());
    for (auto _ : state) r.round(10us);
    report(state, r, app::load_counter::completed, before, errors);
}
BENCHMARK(bm_cps)->Name("cps")->Arg(500'000)->Arg(1'000'000)->Unit(benchmark::kMicrosecond);

// rps: range(0) keep-alive connections, closed loop (each sends its next GET when the last
// is answered), a round every 10 us.
void bm_rps(benchmark::State& state) {
    if (!start_eal()) return state.SkipWithError("EAL start-up failed");
    auto o = http_load(app::workload::rps, 0, std::uint32_t(state.range(0)));
    life_rig r(o);
    if (!r.ready) return state.SkipWithError("set-up failed");
    for (int i = 0; i < 20'000; ++i) r.round(10us);
    if (r.get(app::load_counter::established) != std::uint64_t(state.range(0)))
        return state.SkipWithError("not every connection was established");
    r.client_time = r.server_time = {};
    const std::uint64_t before = r.get(app::load_counter::responses);
    const std::uint64_t errors = app::errors(r.gen->totals());
    for (auto _ : state) r.round(10us);
    report(state, r, app::load_counter::responses, before, errors);
}
BENCHMARK(bm_rps)->Name("rps")->Arg(32)->Arg(1000)->Unit(benchmark::kMicrosecond);

} // namespace
} // namespace tern::test

int main(int argc, char** argv) { return tern::bench::run_benchmarks(argc, argv); }
