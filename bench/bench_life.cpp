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
#include <map>
#include <optional>
#include <utility>

#include <benchmark/benchmark.h>

#include "app/load.hpp"
#include "app/services.hpp"
#include "eal_bench.hpp"
#include "two_nodes.hpp"

namespace tern::test {
namespace {

using bench::start_eal;
using wall = std::chrono::steady_clock;

// As tern-bench runs the pair: tern-server with --msl 1 --max-connections 524288, tern-load
// with its default --max-flows (2^18) and 8 source addresses; the server closes first, so the
// TIME-WAIT records (2 s of them) are the server's.
tcp::tcp_config bench_tcp_config() {
    tcp::tcp_config c;
    c.msl = 1s;
    return c;
}

// The client's source addresses beside its own.
const ipv4_range extra_sources{ipv4_addr::from_octets(198, 18, 0, 100), 8};

// Pools as tern-server and tern-load make them: large enough for mbuf_pool's per-lcore
// cache, without which every alloc and free goes to the pool's shared ring.
constexpr std::uint32_t production_pool = 16383;

// Over IPv6 (ipv6): the same pair on 2001:2::/64, the client's 8 sources extra_ip6(0-7).
// The server knows the sources' MAC from the start, as it knows the IPv4 ones (rps_over says
// why); the rest is found by Neighbor Discovery during the warm-up rounds.
struct life_rig {
    explicit life_rig(const app::load_options& o, bool ipv6 = false)
        : p(std::nullopt, 0us, extra_sources, 1u << 18, 1500, 1u << 19, bench_tcp_config(), production_pool, ipv6) {
        p.know_neighbours();
        for (std::uint32_t i = 0; i < extra_sources.count; ++i) {
            p.server->neighbors.update(extra_sources.at(i), client_mac, instant::max(), true);
            if (ipv6) p.server->neighbors.update(extra_ip6(i), client_mac, instant::max());
        }
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

    // One round of each engine, each timed; then the clock moves on by `step`. The two
    // polls are functions of their own so that a profile (or callgrind's inclusive
    // instruction counts) tells the sides apart.
    [[gnu::noinline]] void poll_client() { p.client->eng.poll(); }
    [[gnu::noinline]] void poll_server() { p.server->eng.poll(); }
    void round(duration step) {
        const auto t0 = wall::now();
        poll_client();
        const auto t1 = wall::now();
        poll_server();
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
    double sent_before[2] = {};

    // Starts the timed part: the times and packet counts from zero.
    void start_timing() {
        client_time = server_time = {};
        sent_before[0] = double(p.link_.counters(sim_link::direction::a_to_b).sent);
        sent_before[1] = double(p.link_.counters(sim_link::direction::b_to_a).sent);
    }
};

// The timed rounds, a function of their own for callgrind: `valgrind --tool=callgrind
// --collect-atstart=no --toggle-collect='*timed_rounds*'` counts the instructions in them
// alone; divided by the counter timed_units (every timed unit of every run Google Benchmark
// made of this benchmark, where `units` is the last run's) that is instructions a
// connection or request. scripts/instructions does it.
std::map<std::pair<app::load_counter, std::int64_t>, std::uint64_t> timed_units; // by (unit, argument)

[[gnu::noinline]] void timed_rounds(benchmark::State& state, life_rig& r) {
    for (auto _ : state) r.round(10us);
}

app::load_options http_load(app::workload kind, double rate, std::uint32_t connections, bool ipv6 = false) {
    app::load_options o;
    o.kind = kind;
    o.target = ipv6 ? ip_addr(server_ip6) : ip_addr(server_ip);
    o.target_port = 80;
    o.sources = ipv6 ? app::source_range(extra_ip6(0), extra_sources.count) : app::source_range(extra_sources);
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
    std::uint64_t& timed = timed_units[{unit, state.range(0)}];
    timed += units;
    state.counters["timed_units"] = double(timed);
    state.counters["errors"] = double(errors);
    state.counters["missed"] = double(r.get(app::load_counter::opens_missed));
    const auto sent = [&](sim_link::direction d) { return double(r.p.link_.counters(d).sent); };
    state.counters["c2s_pkts"] = (sent(sim_link::direction::a_to_b) - r.sent_before[0]) / double(units);
    state.counters["s2c_pkts"] = (sent(sim_link::direction::b_to_a) - r.sent_before[1]) / double(units);
    state.SetItemsProcessed(std::int64_t(units));
}

// cps: new connections at range(0) per second of virtual time (a round is 10 us), one GET
// each, answered with "Connection: close": the server closes first, as in tern-bench.
void cps_over(benchmark::State& state, bool ipv6) {
    if (!start_eal()) return state.SkipWithError("EAL start-up failed");
    auto o = http_load(app::workload::cps, double(state.range(0)), 1u << 20, ipv6);
    o.requests_per_connection = 1;
    o.client_closes = false;
    life_rig r(o, ipv6);
    if (!r.ready) return state.SkipWithError("set-up failed");
    for (int i = 0; i < 5'000; ++i) r.round(10us); // warm: pools and tables in use (50 ms of virtual time)
    r.start_timing();
    const std::uint64_t before = r.get(app::load_counter::completed);
    const std::uint64_t errors = app::errors(r.gen->totals());
    timed_rounds(state, r);
    report(state, r, app::load_counter::completed, before, errors);
}
void bm_cps(benchmark::State& state) { cps_over(state, false); }
BENCHMARK(bm_cps)->Name("cps")->Arg(500'000)->Arg(1'000'000)->Unit(benchmark::kMicrosecond);

// The same over IPv6, for the two families side by side (issue 13: within 10%).
void bm_cps6(benchmark::State& state) { cps_over(state, true); }
BENCHMARK(bm_cps6)->Name("cps6")->Arg(1'000'000)->Unit(benchmark::kMicrosecond);

// rps: range(0) keep-alive connections, closed loop (each sends its next GET when the last
// is answered), a round every 10 us. With one connection every round carries one segment
// in and one out on each side, as in the ping-pong row: what each side's TCP, IP and
// application add to the link's round trip (the memif copies and the wait for the next
// round are not in it).
void rps_over(benchmark::State& state, bool ipv6) {
    if (!start_eal()) return state.SkipWithError("EAL start-up failed");
    auto o = http_load(app::workload::rps, 0, std::uint32_t(state.range(0)), ipv6);
    life_rig r(o, ipv6);
    if (!r.ready) return state.SkipWithError("set-up failed");
    // Warm (50 ms of virtual time), and until every connection is up, at most 3 s. Over
    // IPv6 the server once had to solicit each of the client's 8 sources first, and with
    // 1000 connections, by the time it read the last SYNs the 880 connections already up
    // filled its RX budget every round (a link without delay, the engines taking turns):
    // behind on its input, it dropped those 120 SYNs as busy (syn_dropped_busy), and they
    // came again after the SYN's 1 s RTO. That second of virtual time took ~27 s of wall
    // time natively and over 16 minutes under callgrind; with the sources known (life_rig),
    // 2 s, and the same instructions a request.
    for (int i = 0; i < 300'000 && (i < 5'000 || r.get(app::load_counter::established) < std::uint64_t(state.range(0))); ++i)
        r.round(10us);
    if (r.get(app::load_counter::established) != std::uint64_t(state.range(0)))
        return state.SkipWithError(("not every connection was established: " + std::to_string(r.get(app::load_counter::established)) + " of " + std::to_string(state.range(0))).c_str());
    r.start_timing();
    const std::uint64_t before = r.get(app::load_counter::responses);
    const std::uint64_t errors = app::errors(r.gen->totals());
    timed_rounds(state, r);
    report(state, r, app::load_counter::responses, before, errors);
}
void bm_rps(benchmark::State& state) { rps_over(state, false); }
BENCHMARK(bm_rps)->Name("rps")->Arg(1)->Arg(32)->Arg(1000)->Unit(benchmark::kMicrosecond);

// The same over IPv6 (issue 13: within 10% of IPv4).
void bm_rps6(benchmark::State& state) { rps_over(state, true); }
BENCHMARK(bm_rps6)->Name("rps6")->Arg(32)->Arg(1000)->Unit(benchmark::kMicrosecond);

} // namespace
} // namespace tern::test

int main(int argc, char** argv) { return tern::bench::run_benchmarks(argc, argv); }
