// tern-load: the load generator. One load_generator (src/app/load.hpp) per engine; this
// file reads the options, prints a progress line every second (--interval), excludes the
// warm-up, and writes the final report (and --json FILE).
//
//   tern-load [EAL args] -- --ip 198.18.0.1/24 --target 198.18.0.2:80 --workload rps --rate 10000 [options]
#include <algorithm>
#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <memory>
#include <random>
#include <sstream>
#include <thread>
#include <vector>

#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include "app/flood.hpp"
#include "app/load.hpp"
#include "common/cli.hpp"
#include "common/tool.hpp"
#include "load/plot.hpp"
#include "load/report.hpp"
#include "dpdk/eal.hpp"
#include "tern/tcp.hpp"

namespace fs = std::filesystem;
namespace po = boost::program_options;
using namespace tern;

namespace {

struct run_options {
    app::load_options load;
    double warmup = 0;
    double run_seconds = 0;
    double interval = 1; // seconds between progress lines
    std::optional<std::string> json;
    std::optional<std::string> plot; // a PNG, drawn by gnuplot
    std::uint32_t max_flows = 0;
    cli::tcp_settings tcp; // engine-wide config and the options of every connection
    std::optional<app::flood_options> flood; // --flood-rate: a SYN flood beside the workload
};

std::pair<std::string, std::string> split(const std::string& s, char sep) {
    auto at = s.find(sep);
    if (at == std::string::npos) return {s, ""};
    return {s.substr(0, at), s.substr(at + 1)};
}

unsigned parse_port(const std::string& option, const std::string& text) {
    unsigned v = 0;
    std::size_t used = 0;
    try {
        v = unsigned(std::stoul(text, &used));
    } catch (const std::exception&) {
        used = 0;
    }
    if (used == 0 || used != text.size() || v == 0 || v > 65535)
        throw std::invalid_argument("--" + option + ": '" + text + "' is not a port in 1-65535");
    return v;
}

// "198.18.0.2:80", "198.18.0.2", "[2001:2::2]:80" or "2001:2::2" (RFC 5952 §6's brackets
// when a port follows an IPv6 address): the address and the port, empty when none is given.
std::pair<std::string, std::string> split_target(const std::string& s) {
    if (!s.empty() && s[0] == '[') {
        const auto close = s.find(']');
        if (close == std::string::npos || (close + 1 < s.size() && s[close + 1] != ':'))
            throw std::invalid_argument("--target: '" + s + "' is not [IPv6]:PORT");
        return {s.substr(1, close - 1), close + 1 < s.size() ? s.substr(close + 2) : ""};
    }
    if (std::count(s.begin(), s.end(), ':') > 1) return {s, ""}; // an IPv6 address alone
    return split(s, ':');
}

// An IPv6 --source-ip (FIRST or FIRST-LAST, ascending, in the last 32 bits): addresses of
// ours on the prefix of an IPv6 --ip, each detected and defended as that one is (at most
// 64: every one joins a solicited-node group and answers its solicitations).
app::source_range ipv6_sources(const std::string& s, engine_config& e) {
    const auto dash = s.find('-');
    const auto first = ipv6_addr::parse(s.substr(0, dash));
    const auto last = dash == std::string::npos ? first : ipv6_addr::parse(s.substr(dash + 1));
    auto high = [](const ipv6_addr& a) { return std::vector<std::uint8_t>(a.bytes.begin(), a.bytes.begin() + 12); };
    auto low = [](const ipv6_addr& a) {
        return std::uint32_t(a.bytes[12]) << 24 | std::uint32_t(a.bytes[13]) << 16 | std::uint32_t(a.bytes[14]) << 8 | a.bytes[15];
    };
    if (!first || !last || high(*first) != high(*last) || low(*last) < low(*first))
        throw std::invalid_argument("--source-ip: '" + s + "' is not IPv6 or IPv6-IPv6 (ascending, differing in the last 32 bits)");
    const std::uint32_t count = low(*last) - low(*first) + 1;
    if (count > 64) throw std::invalid_argument("--source-ip: '" + s + "' holds " + std::to_string(count) + " IPv6 addresses; at most 64");
    std::optional<std::uint8_t> prefix;
    for (const ipv6_cidr& c : e.ipv6)
        if (c.contains(*first) && c.contains(*last)) prefix = c.prefix_len;
    if (!prefix) throw std::invalid_argument("--source-ip: '" + s + "' is not within an IPv6 --ip's prefix");
    const app::source_range r{ip_addr(*first), count};
    for (std::uint32_t i = 0; i < count; ++i) {
        const ipv6_addr a = r.at(i).v6();
        for (const ipv6_cidr& c : e.ipv6)
            if (c.addr == a) throw std::invalid_argument("--source-ip: '" + s + "' holds --ip's own " + a.to_string());
    }
    for (std::uint32_t i = 0; i < count; ++i) e.ipv6.push_back(ipv6_cidr{r.at(i).v6(), *prefix});
    return r;
}

// An IPv6 target: on the prefix of an IPv6 --ip or behind an IPv6 --gateway.
void check_ipv6_target(const ipv6_addr& target, const engine_config& e) {
    if (e.ipv6.empty()) throw std::invalid_argument("--target: " + target.to_string() + " is IPv6 and no --ip is; add one, like --ip 2001:2::1/64");
    const bool on_link = std::any_of(e.ipv6.begin(), e.ipv6.end(), [&](const ipv6_cidr& c) { return c.contains(target); });
    if (!on_link && !e.ipv6_gateway)
        throw std::invalid_argument("--target: " + target.to_string() + " is off every IPv6 --ip's prefix and there is no IPv6 --gateway");
}

// "198.18.0.2:80", "[2001:2::2]:80".
std::string target_text(const app::load_options& o) {
    const std::string port = ":" + std::to_string(o.target_port);
    return o.target.is_v4() ? o.target.to_string() + port : "[" + o.target.to_string() + "]" + port;
}

// Where the connections come from, for the first lines: the --source-ip range, else our
// address of the target's family (IPv6: the first --ip of that family).
std::string source_text(const app::load_options& o, const engine_config& me) {
    if (o.sources.count > 1) return o.sources.first.to_string() + "-" + o.sources.at(o.sources.count - 1).to_string();
    if (o.sources.count == 1) return o.sources.first.to_string();
    if (o.target.is_v4() || me.ipv6.empty()) return me.address.addr.to_string();
    return me.ipv6.front().addr.to_string();
}

// --flood-rate and --flood-sources, together. The sources lie off our prefix: the target
// sends its answers to them through its gateway, us, and our engine drops them as not ours.
app::flood_options flood_options_from(const po::variables_map& vm, const engine_config& me, const app::load_options& o) {
    if (!vm.count("flood-rate")) throw std::invalid_argument("--flood-sources: needs --flood-rate");
    if (!vm.count("flood-sources")) throw std::invalid_argument("--flood-rate: needs --flood-sources");
    if (o.target.is_v6()) throw std::invalid_argument("--flood-rate: the SYN flood is IPv4 only; the target is IPv6");
    app::flood_options f;
    f.rate = vm["flood-rate"].as<double>();
    if (!(f.rate >= 0 && f.rate <= 1e9)) throw std::invalid_argument("--flood-rate: must be within 0-1e9 (0: as fast as the port takes)");
    const std::string text = vm["flood-sources"].as<std::string>();
    auto sources = ipv4_cidr::parse(text);
    if (!sources) throw std::invalid_argument("--flood-sources: '" + text + "' is not IP/PREFIX");
    // Two prefixes are nested or apart: one holds an address of the other, or none does.
    if (sources->contains(me.address.addr) || me.address.contains(sources->addr))
        throw std::invalid_argument("--flood-sources: " + text + " overlaps --ip's prefix: the flood's sources must lie "
                                    "off it (the target answers them through its gateway, us)");
    if (sources->contains(o.target.v4())) throw std::invalid_argument("--flood-sources: " + text + " holds the target");
    f.sources = *sources;
    f.target = o.target.v4();
    f.target_port = o.target_port;
    return f;
}

// An output file found writable before the run, not after it: opened to append (nothing is
// lost), and removed again if it was not there. Throws naming --option.
std::string writable(const char* option, const std::string& path) {
    std::error_code ec;
    const bool existed = fs::exists(path, ec);
    if (!std::ofstream(path, std::ios::app))
        throw std::invalid_argument(std::string("--") + option + ": cannot write " + path + ": " + std::strerror(errno));
    if (!existed) fs::remove(path, ec);
    return path;
}

// Every option of tern-load beyond the engine's, checked; throws std::invalid_argument
// naming the option.
run_options load_options_from(const po::variables_map& vm, runtime_options& rt) {
    run_options r;
    app::load_options& o = r.load;
    const std::string w = vm["workload"].as<std::string>();
    auto kind = app::workload_from(w);
    if (!kind) throw std::invalid_argument("--workload: '" + w + "' is not cps, rps, http, ping-pong or throughput");
    o.kind = *kind;

    const std::string target = vm["target"].as<std::string>();
    auto [host, port] = split_target(target);
    auto addr = ip_addr::parse(host);
    if (!addr) throw std::invalid_argument("--target: '" + target + "' is not IP[:PORT] or [IPv6]:PORT");
    o.target = *addr;
    o.target_port = std::uint16_t(port.empty() ? (o.kind == app::workload::ping_pong ? 7 : 80) : parse_port("target", port));
    if (o.kind == app::workload::throughput && port.empty())
        throw std::invalid_argument("--target: throughput needs a port (the server's sink, source or echo)");

    const bool closed_loop = vm["closed-loop"].as<bool>();
    o.rate = vm.count("rate") ? vm["rate"].as<double>() : 0;
    if (vm.count("rate") && !(o.rate > 0 && o.rate <= 1e9))
        throw std::invalid_argument("--rate: must be above 0 and at most 1e9");
    if (o.kind == app::workload::cps && !vm.count("rate")) throw std::invalid_argument("--rate: cps needs a rate (connections/s)");
    if (o.kind == app::workload::rps && !vm.count("rate") && !closed_loop)
        throw std::invalid_argument("--rate: rps needs a rate (requests/s), or --closed-loop");
    if (closed_loop && vm.count("rate")) throw std::invalid_argument("--closed-loop: conflicts with --rate");
    if (vm.count("rate") && (o.kind == app::workload::ping_pong || o.kind == app::workload::throughput))
        throw std::invalid_argument("--rate: " + w + " has no rate (it runs closed loop)");

    const bool many = o.kind == app::workload::rps || o.kind == app::workload::http;
    o.connections = vm.count("connections") ? vm["connections"].as<unsigned>()
                  : o.kind == app::workload::cps ? 60000u : many ? 16u : 1u;
    if (o.connections == 0 || o.connections > 16'000'000)
        throw std::invalid_argument("--connections: " + std::to_string(o.connections) + " is outside 1-16000000");
    o.max_handshakes = vm["max-handshakes"].as<unsigned>();
    if (o.max_handshakes == 0 || o.max_handshakes > 16'000'000)
        throw std::invalid_argument("--max-handshakes: must be within 1-16000000");
    const double grace_ms = vm["open-grace"].as<double>();
    if (!(grace_ms >= 0 && grace_ms <= 10000)) throw std::invalid_argument("--open-grace: must be within 0-10000 ms");
    o.open_grace = std::chrono::duration_cast<duration>(std::chrono::duration<double, std::milli>(grace_ms));
    o.requests_per_connection = vm["requests"].as<unsigned>();
    if (o.requests_per_connection == 0) throw std::invalid_argument("--requests: must be at least 1");
    const std::string close = vm["close"].as<std::string>();
    if (close != "client" && close != "server") throw std::invalid_argument("--close: '" + close + "' is not client or server");
    o.client_closes = close == "client";
    o.pipeline = vm["pipeline"].as<unsigned>();
    if (o.pipeline == 0 || o.pipeline > 1024) throw std::invalid_argument("--pipeline: must be within 1-1024");
    const double ramp = vm["ramp"].as<double>();
    if (!(ramp >= 0 && ramp <= 3600)) throw std::invalid_argument("--ramp: must be within 0-3600 seconds");
    o.ramp = std::chrono::duration_cast<duration>(std::chrono::duration<double>(ramp));
    o.message_size = vm["size"].as<unsigned>();
    if (o.message_size == 0 || o.message_size > 65536) throw std::invalid_argument("--size: must be within 1-65536");
    const std::string dir = vm["direction"].as<std::string>();
    if (dir == "upload") o.direction = app::bulk_direction::upload;
    else if (dir == "download") o.direction = app::bulk_direction::download;
    else if (dir == "both") o.direction = app::bulk_direction::both;
    else throw std::invalid_argument("--direction: '" + dir + "' is not upload, download or both");
    o.zero_copy = vm["zero-copy"].as<bool>();
    if (o.zero_copy && (o.kind != app::workload::throughput || o.direction == app::bulk_direction::download))
        throw std::invalid_argument("--zero-copy: only for --workload throughput that sends (upload or both)");
    o.path = vm["path"].as<std::string>();
    if (o.path.empty() || o.path[0] != '/' || o.path.find_first_of(" \r\n") != std::string::npos)
        throw std::invalid_argument("--path: '" + o.path + "' is not an absolute path without spaces");
    o.host = vm.count("host") ? vm["host"].as<std::string>() : host;
    // It goes into every request's head as it is: a line break would end the header early.
    if (o.host.empty()) throw std::invalid_argument("--host: is empty");
    if (o.host.find_first_of(" \t\r\n") != std::string::npos)
        throw std::invalid_argument("--host: holds spaces or line breaks; a Host header is a name and a port at most");

    if (vm.count("source-ip") && o.target.is_v6()) {
        o.sources = ipv6_sources(vm["source-ip"].as<std::string>(), rt.engine);
    } else if (vm.count("source-ip")) {
        const std::string s = vm["source-ip"].as<std::string>();
        auto [a, b] = split(s, '-');
        auto first = ipv4_addr::parse(a);
        auto last = b.empty() ? first : ipv4_addr::parse(b);
        if (!first || !last || last->value < first->value)
            throw std::invalid_argument("--source-ip: '" + s + "' is not IP or IP-IP (ascending), of the target's family");
        if (!rt.engine.address.contains(*first) || !rt.engine.address.contains(*last))
            throw std::invalid_argument("--source-ip: '" + s + "' is not within --ip's prefix");
        if (rt.engine.address.addr.value >= first->value && rt.engine.address.addr.value <= last->value)
            throw std::invalid_argument("--source-ip: '" + s + "' holds --ip's own address");
        rt.engine.extra_addresses = ipv4_range{*first, last->value - first->value + 1};
        o.sources = rt.engine.extra_addresses;
    }
    if (vm.count("source-ports")) {
        const std::string s = vm["source-ports"].as<std::string>();
        auto [a, b] = split(s, '-');
        if (b.empty()) throw std::invalid_argument("--source-ports: '" + s + "' is not FIRST-LAST");
        const unsigned first = parse_port("source-ports", a), last = parse_port("source-ports", b);
        if (last < first) throw std::invalid_argument("--source-ports: '" + s + "' is not ascending");
        if (last - first + 1 < rt.engine.engines)
            throw std::invalid_argument("--source-ports: fewer ports than engines");
        o.source_port_first = std::uint16_t(first);
        o.source_port_last = std::uint16_t(last);
    }

    r.warmup = vm["warmup"].as<double>();
    if (!(r.warmup >= 0)) throw std::invalid_argument("--warmup: must not be negative");
    r.run_seconds = vm["duration"].as<double>();
    r.interval = vm["interval"].as<double>();
    if (!(r.interval >= 0.1 && r.interval <= 10)) throw std::invalid_argument("--interval: must be within 0.1-10 seconds");
    if (vm.count("json")) r.json = writable("json", vm["json"].as<std::string>());
    if (vm.count("plot")) {
        r.plot = writable("plot", vm["plot"].as<std::string>());
        if (!tool::on_path("gnuplot")) throw std::invalid_argument("--plot: gnuplot not found: install gnuplot-nox");
    }
    r.max_flows = vm["max-flows"].as<unsigned>();
    if (r.max_flows < 16 || r.max_flows > (1u << 26)) throw std::invalid_argument("--max-flows: must be within 16-67108864");
    r.tcp = cli::tcp_options_from(vm);
    o.connect.connection = r.tcp.connection;
    o.connect.park_idle = r.tcp.park_idle;
    o.connect.park_after = r.tcp.park_after;
    // Said before the run, not found out from a rate that alternates between full and
    // nothing once every source port sits in TIME-WAIT.
    const app::source_budget budget = app::check_sources(o, r.tcp.config.msl);
    if (budget.refuse) throw std::invalid_argument(budget.problem);
    if (!budget.problem.empty()) std::cerr << "tern-load: warning: " << budget.problem << "\n";

    if (vm.count("flood-rate") || vm.count("flood-sources")) r.flood = flood_options_from(vm, rt.engine, o);

    if (o.target.is_v6()) {
        check_ipv6_target(o.target.v6(), rt.engine);
        return r;
    }
    // Resolve the target's next hop at start (the generators wait for it).
    const ipv4_cidr& me = rt.engine.address;
    if (me.contains(o.target.v4())) rt.resolve.push_back(o.target.v4());
    else if (rt.engine.gateway) rt.resolve.push_back(*rt.engine.gateway);
    else throw std::invalid_argument("--target: " + o.target.to_string() + " is off --ip's prefix and there is no --gateway");
    return r;
}

std::vector<app::load_totals> each_totals(const std::vector<std::unique_ptr<app::load_generator>>& gens) {
    std::vector<app::load_totals> each;
    for (auto& g : gens) each.push_back(g->totals());
    return each;
}

app::load_totals sum(const std::vector<app::load_totals>& each) {
    app::load_totals t{};
    for (const auto& one : each)
        for (std::size_t i = 0; i < t.size(); ++i) t[i] += one[i];
    return t;
}

std::uint64_t at(const app::load_totals& t, app::load_counter c) { return t[std::size_t(c)]; }

// With several engines, each one's share of the interval after the progress line's columns:
// responses a second, or Mbit/s received when the workload has no responses (throughput).
// `now` and `last` are each engine's totals, read once for the whole line.
std::string per_engine_shares(const std::vector<app::load_totals>& now, const std::vector<app::load_totals>& last,
                              double dt, bool responses) {
    if (now.size() < 2) return "";
    std::string out = responses ? "  per engine req/s:" : "  per engine Mbps_in:";
    for (std::size_t i = 0; i < now.size(); ++i) {
        const app::load_totals d = app::difference(now[i], last[i]);
        const double v = responses ? double(at(d, app::load_counter::responses)) / dt
                                   : double(at(d, app::load_counter::bytes_in)) * 8 / dt / 1e6;
        char cell[32];
        std::snprintf(cell, sizeof cell, responses ? " %.0f" : " %.1f", v);
        out += cell;
    }
    return out;
}

// Prints the progress line every --interval (a second by default); ends the warm-up and the run.
// Its last columns say what was missed and why it may have been: the opens missed in the
// interval, and the time the engines' rounds stalled (engine::count_stall, summed over them).
void progress(const std::vector<std::unique_ptr<app::load_generator>>& gens, const run_options& r,
              const std::function<std::uint64_t()>& stalled_us, std::atomic<bool>& measuring,
              double& measured_seconds) {
    using clk = std::chrono::steady_clock;
    // The run starts when the engines make their first opens: over IPv6 our addresses are
    // tentative for a second (RFC 4862 §5.4), and a clock started before that counted the
    // wait as seconds of the run (a 2 s cps run reported 55% of its rate, nothing missed).
    // Each engine starts within 5 s in any case (load_generator::poll).
    while (!cli::stop.requested() && !std::all_of(gens.begin(), gens.end(), [](const auto& g) { return g->started(); }))
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    const auto begin = clk::now();
    auto measure_from = begin;
    auto last_time = begin;
    std::vector<app::load_totals> last_each = each_totals(gens);
    app::load_totals last = sum(last_each);
    std::uint64_t last_stalled = stalled_us();
    std::printf("%7s %9s %10s %9s %9s %8s %7s %6s %7s %6s %7s %8s\n", "time_s", "conn/s", "req/s", "Mbps_in", "Mbps_out",
                "estab", "retrans", "resets", "timeout", "errors", "missed", "stall_ms");
    std::fflush(stdout);
    for (int tick = 1; !cli::stop.requested(); ++tick) {
        const auto next = begin + std::chrono::duration_cast<clk::duration>(std::chrono::duration<double>(tick * r.interval));
        cli::stop.wait_until(next); // a stop ends the interval early: its line is still printed
        const auto now = clk::now();
        const std::vector<app::load_totals> each = each_totals(gens);
        const app::load_totals t = sum(each);
        const double dt = std::chrono::duration<double>(now - last_time).count();
        const double elapsed = std::chrono::duration<double>(now - begin).count();
        const app::load_totals d = app::difference(t, last);
        std::uint64_t open = 0, rtx = at(t, app::load_counter::retransmits);
        for (auto& g : gens) open += g->open_connections(), rtx += g->open_retransmits();
        const std::string shares = per_engine_shares(each, last_each, dt, r.load.kind != app::workload::throughput);
        const std::uint64_t stalled = stalled_us();
        std::printf("%7.1f %9.0f %10.0f %9.1f %9.1f %8" PRIu64 " %7" PRIu64 " %6" PRIu64 " %7" PRIu64 " %6" PRIu64
                    " %7" PRIu64 " %8.1f%s%s\n",
                    elapsed, double(at(d, app::load_counter::established)) / dt,
                    double(at(d, app::load_counter::responses)) / dt,
                    double(at(d, app::load_counter::bytes_in)) * 8 / dt / 1e6,
                    double(at(d, app::load_counter::bytes_out)) * 8 / dt / 1e6, open, rtx,
                    at(t, app::load_counter::reset), at(t, app::load_counter::timed_out), app::errors(t),
                    at(d, app::load_counter::opens_missed), double(stalled - last_stalled) / 1000, shares.c_str(),
                    measuring ? "" : "  (warm-up)");
        last_stalled = stalled;
        std::fflush(stdout);
        last = t;
        last_each = each;
        last_time = now;
        if (!measuring && elapsed >= r.warmup) {
            // Each engine takes its own counts as it sees this (measured_totals).
            measure_from = now;
            measuring = true;
        }
        if (r.run_seconds > 0 && elapsed >= r.warmup + r.run_seconds) break;
    }
    // The last counters are read after the engines stopped (the caller); up to here.
    measured_seconds = std::chrono::duration<double>(clk::now() - measure_from).count();
    if (!measuring) measured_seconds = 0;
    cli::stop.request();
}

std::string latency_line(const char* name, const load::percentiles& p) {
    char line[256];
    std::snprintf(line, sizeof line,
                  "  %s (us, %" PRIu64 " samples): p50 %.1f  p90 %.1f  p99 %.1f  p99.9 %.1f  p99.99 %.1f  max %.1f  mean %.1f\n",
                  name, p.count, p.p50, p.p90, p.p99, p.p999, p.p9999, p.max, p.mean);
    return line;
}

// The engines' histograms of each second merged into one series.
std::vector<histogram> merged_series(const std::vector<std::unique_ptr<app::load_generator>>& gens,
                                     const std::vector<histogram>& (app::load_generator::*series)() const) {
    std::vector<histogram> out;
    for (auto& g : gens) {
        const auto& s = (*g.*series)();
        if (out.size() < s.size()) out.resize(s.size());
        for (std::size_t i = 0; i < s.size(); ++i) out[i].merge(s[i]);
    }
    return out;
}

// Runs a tool to its end, its output ours; its exit code (127: it could not be started).
int run_tool(std::vector<std::string> args) {
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    pid_t pid = 0;
    if (::posix_spawnp(&pid, argv[0], nullptr, nullptr, argv.data(), environ) != 0) return 127;
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

bool write_file(const fs::path& path, const std::string& text) {
    std::ofstream f(path);
    f << text;
    return bool(f);
}

std::string read_file(const std::string& path) {
    std::ifstream f(path);
    if (!f) throw std::invalid_argument(path + ": cannot read (" + std::strerror(errno) + ")");
    std::ostringstream text;
    text << f.rdbuf();
    return text.str();
}

// The report drawn into `png` by gnuplot, from a script beside it (FILE.png: FILE.gnuplot),
// which is kept to redraw or change. False, with the reason on stderr, if it could not be.
bool plot(const load::report& r, const std::string& png, const char* app) {
    const fs::path script = fs::path(png).replace_extension(".gnuplot");
    if (!write_file(script, load::gnuplot_script(r, png))) {
        std::cerr << app << ": --plot: cannot write " << script.string() << "\n";
        return false;
    }
    const int rc = run_tool({"gnuplot", script.string()});
    if (rc != 0) {
        std::cerr << app << ": --plot: gnuplot " << script.string() << " exited " << rc
                  << (rc == 127 ? " (not found: install gnuplot-nox)" : "") << "\n";
        return false;
    }
    return true;
}

// The reports of `names` merged; throws std::invalid_argument naming the file at fault.
load::report merge_files(const std::vector<std::string>& names) {
    if (names.size() < 2) throw std::invalid_argument("needs two reports or more (tern-load --json files)");
    std::vector<load::report> reports;
    for (const std::string& name : names) reports.push_back(load::from_json(read_file(name), name));
    return load::merge(reports, names);
}

// tern-load merge A.json B.json ... [--json OUT] [--plot PNG]: one report of runs on many
// hosts. Without --json the merged JSON goes to standard output; with it, a summary does.
int merge_main(int argc, char** argv) {
    po::options_description desc("tern-load merge options");
    desc.add_options()("help,h", "this text")
        ("json", po::value<std::string>(), "write the merged report here (default: standard output)")
        ("plot", po::value<std::string>(), "draw the merged report into this PNG (with gnuplot)")
        ("report", po::value<std::vector<std::string>>()->default_value({}, ""), "tern-load --json reports, two or more");
    po::positional_options_description files;
    files.add("report", -1);
    po::variables_map vm;
    const char* usage = "usage: tern-load merge A.json B.json ... [--json OUT] [--plot PNG]";
    load::report merged;
    try {
        po::store(po::command_line_parser(argc - 1, argv + 1).options(desc).positional(files).run(), vm);
        if (vm.count("help")) {
            std::cout << usage << "\n" << desc;
            return 0;
        }
        merged = merge_files(vm["report"].as<std::vector<std::string>>());
    } catch (const po::error& e) {
        std::cerr << "tern-load merge: " << e.what() << "\n" << usage << "\n";
        return 2;
    } catch (const std::invalid_argument& e) {
        std::cerr << "tern-load merge: " << e.what() << "\n";
        return 2;
    }
    if (vm.count("plot") && !plot(merged, vm["plot"].as<std::string>(), "tern-load merge")) return 1;
    if (!vm.count("json")) {
        std::cout << load::to_json(merged);
        return 0;
    }
    const std::string out = vm["json"].as<std::string>();
    if (!write_file(out, load::to_json(merged))) {
        std::cerr << "tern-load merge: --json: cannot write " << out << "\n";
        return 1;
    }
    std::printf("tern-load merge: %" PRIu64 " runs, %s against %s, %.2f s measured\n%s%s", merged.hosts,
                merged.workload.c_str(), merged.target.c_str(), merged.measured_s,
                latency_line("request latency", load::of(merged.latency)).c_str(),
                latency_line("connect", load::of(merged.connect_latency)).c_str());
    return 0;
}

} // namespace

int main(int argc, char** argv) {
    if (argc > 1 && std::string_view(argv[1]) == "merge") return merge_main(argc, argv);
    po::options_description desc("tern-load options");
    desc.add_options()("help,h", "this text")
        ("workload", po::value<std::string>()->required(), "cps, rps, http, ping-pong or throughput")
        ("target", po::value<std::string>()->required(), "the server, IP[:PORT] (port: 80; ping-pong 7)")
        ("rate", po::value<double>(), "cps: new connections/s; rps, http: requests/s (open loop), over all engines")
        ("closed-loop", po::bool_switch(), "rps: each connection sends its next request when the last returns")
        ("connections", po::value<unsigned>(), "concurrent connections (rps, http: 16; ping-pong, throughput: 1; "
                                               "cps: at most this many open, 60000)")
        ("requests", po::value<unsigned>()->default_value(1), "cps: requests per connection")
        ("close", po::value<std::string>()->default_value("client"), "cps: who closes first, client or server")
        ("pipeline", po::value<unsigned>()->default_value(16), "open loop: most requests outstanding per connection")
        ("ramp", po::value<double>()->default_value(0), "open the connections evenly over this many seconds")
        ("max-handshakes", po::value<unsigned>()->default_value(1024),
         "cps: at most this many connections in their handshake per engine; opens beyond are missed "
         "(the rate is at most this / the handshake's round trip: raise it on a long path)")
        ("open-grace", po::value<double>()->default_value(25),
         "cps: milliseconds an open held back may still go late (counted from its intended time); later ones are missed")
        ("size", po::value<unsigned>()->default_value(64), "ping-pong: message bytes")
        ("direction", po::value<std::string>()->default_value("upload"), "throughput: upload, download or both")
        ("zero-copy", po::bool_switch(), "throughput: send one filled buffer by reference, not copies of it (as iperf3 -Z)")
        ("path", po::value<std::string>()->default_value("/"), "HTTP request path")
        ("host", po::value<std::string>(), "HTTP Host header (default: the target address)")
        ("source-ip", po::value<std::string>(), "source addresses IP or IP-IP, on --ip's prefix (besides --ip)")
        ("source-ports", po::value<std::string>(), "source ports FIRST-LAST (default: ephemeral)")
        ("warmup", po::value<double>()->default_value(0), "seconds excluded from the results at the start")
        ("interval", po::value<double>()->default_value(1), "seconds between progress lines (0.1-10; the time column has 0.1 s steps)")
        ("json", po::value<std::string>(), "write the final report to this file as JSON (tern-load merge reads it)")
        ("plot", po::value<std::string>(), "draw the rate, p50 and p99 per second and the latency percentiles into "
                                           "this PNG (with gnuplot; its script beside it)")
        ("max-flows", po::value<unsigned>()->default_value(1u << 18), "connections per engine, and as many TIME-WAIT records apart from them")
        ("flood-rate", po::value<double>(), "testing: a SYN flood beside the workload, spoofed SYNs a second to the "
                                            "target (0: as fast as the port takes); needs --flood-sources")
        ("flood-sources", po::value<std::string>(), "testing: the flood's source addresses, IP/PREFIX off --ip's "
                                                    "prefix; the target must route them through us (its gateway)")
        ;
    cli::add_engine_options(desc);
    cli::add_tcp_options(desc, cli::nagle_default::off);
    po::variables_map vm;
    int exit_code = 0;
    if (!cli::parse(cli::app_args(argc, argv), desc, vm, exit_code,
                    "usage: tern-load [EAL args] -- --ip ADDR/PREFIX --target IP[:PORT] --workload KIND [options]\n"
                    "       tern-load merge A.json B.json ... [--json OUT] [--plot PNG]"))
        return exit_code;

    runtime_options options;
    run_options run;
    try {
        options = cli::engine_options_from(vm);
        run = load_options_from(vm, options);
    } catch (const std::invalid_argument& e) {
        std::cerr << "tern-load: " << e.what() << "\n";
        return 2;
    }
    auto eal = eal::start(argc, argv);
    if (!eal) return cli::setup_failed("tern-load", eal.error());
    auto rt = runtime::create(options);
    if (!rt) return cli::setup_failed("tern-load", rt.error());
    const app::load_options& lo = run.load;
    std::printf("tern-load: %s\n", (*rt)->eth_port().describe().c_str());
    std::printf("tern-load: %s from %s on %zu engine(s) to %s\n", std::string(app::to_string(lo.kind)).c_str(),
                source_text(lo, options.engine).c_str(), (*rt)->engine_count(), target_text(lo).c_str());
    std::fflush(stdout);

    tcp::tcp_config tcp_cfg = run.tcp.config;
    tcp_cfg.mtu = options.engine.mtu;
    // Without a warm-up the engines measure from their first round: every count is the run's.
    std::atomic<bool> measuring{run.warmup <= 0};
    std::vector<std::unique_ptr<tcp::tcp_endpoint>> endpoints;
    std::vector<std::unique_ptr<app::load_generator>> gens;
    for (std::size_t i = 0; i < (*rt)->engine_count(); ++i) {
        endpoints.push_back(std::make_unique<tcp::tcp_endpoint>((*rt)->engine_at(i), tcp_cfg, run.max_flows));
        gens.push_back(std::make_unique<app::load_generator>((*rt)->engine_at(i), *endpoints.back(), lo, i,
                                                             (*rt)->engine_count(), measuring));
    }
    for (auto& g : gens)
        if (g->problem()) {
            std::cerr << "tern-load: " << *g->problem() << "\n";
            return 2;
        }
    std::unique_ptr<app::syn_flood> flood;
    if (run.flood) flood = std::make_unique<app::syn_flood>((*rt)->engine_at(0), *run.flood, std::random_device{}());

    cli::install_signal_handlers();
    double seconds = 0;
    const auto stalled_us = [&rt] {
        std::uint64_t us = 0;
        for (std::size_t i = 0; i < (*rt)->engine_count(); ++i) us += (*rt)->engine_at(i).stats().stalled_us.get();
        return us;
    };
    std::thread printer([&] { progress(gens, run, stalled_us, measuring, seconds); });
    (*rt)->run(cli::stop.flag());
    printer.join();
    if (flood) flood->stop();
    // A problem found after the start: over IPv6 without --source-ip, --source-ports is
    // shared out once duplicate detection has given the source address (each open failed).
    for (auto& g : gens)
        if (g->problem()) std::cerr << "tern-load: " << *g->problem() << "\n";
    // Persistent workloads asked for this many connections: a run that could not hold them
    // all (server's limit, ports, SYNs unanswered) has not done what was asked.
    // A connection in its first handshake (a reconnect to a server that closes as it goes)
    // counts; one whose SYN went unanswered does not.
    std::uint64_t open_at_end = 0, reconnecting_at_end = 0;
    for (auto& g : gens) {
        open_at_end += g->open_connections();
        reconnecting_at_end += g->first_handshakes();
    }
    const bool persistent = lo.kind != app::workload::cps;
    const bool ramp_done = std::chrono::duration<double>(lo.ramp).count() < run.warmup + seconds; // as run: SIGINT may cut it
    const bool too_few_open = persistent && ramp_done && open_at_end + reconnecting_at_end < lo.connections;
    // RST every connection still open so the server is not left holding them. The engines
    // have stopped, so this thread may poll them: a few hundred RSTs whenever the TX backlog
    // has drained (a million at once would overflow it), for at most 10 s; then 200 ms more,
    // so the last RSTs leave and the peer has read them before the port closes (a memif
    // peer reading while we disconnect has crashed in DPDK 22.11's memif PMD).
    for (auto& g : gens) g->stop_opening();
    // First the requests in flight get their answers, for up to 100 ms (a few round trips
    // however loaded, not a retransmission), so that a run's requests and responses agree:
    // aborted at once, a request sent in the last microseconds went unanswered.
    const auto answers_until = std::chrono::steady_clock::now() + std::chrono::milliseconds(100);
    auto in_flight = [&] {
        return std::any_of(gens.begin(), gens.end(), [](const auto& g) { return g->requests_in_flight() > 0; });
    };
    while (in_flight() && std::chrono::steady_clock::now() < answers_until)
        for (std::size_t i = 0; i < (*rt)->engine_count(); ++i) (*rt)->engine_at(i).poll();
    const auto abort_until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    for (bool left = true; left && std::chrono::steady_clock::now() < abort_until;) {
        left = false;
        for (std::size_t i = 0; i < (*rt)->engine_count(); ++i) {
            engine& e = (*rt)->engine_at(i);
            e.poll();
            if (e.tx_backlog() == 0) gens[i]->abort_all(256);
            left |= gens[i]->live_connections() > 0;
        }
    }
    for (auto& g : gens) g->abort_all();
    const auto settle_until = std::chrono::steady_clock::now() + std::chrono::milliseconds(200);
    while (std::chrono::steady_clock::now() < settle_until)
        for (std::size_t i = 0; i < (*rt)->engine_count(); ++i) (*rt)->engine_at(i).poll();

    // The engines have stopped: their histograms and connections may be read here.
    std::vector<app::load_totals> shares; // each engine's over the measured time
    app::load_totals t{};
    histogram latency, connect;
    for (std::size_t i = 0; i < gens.size(); ++i) {
        app::load_totals share = gens[i]->measured_totals();
        share[std::size_t(app::load_counter::retransmits)] += gens[i]->live_retransmits();
        for (std::size_t k = 0; k < t.size(); ++k) t[k] += share[k];
        shares.push_back(share);
        latency.merge(gens[i]->latency());
        connect.merge(gens[i]->connect_latency());
    }
    const double secs = seconds > 0 ? seconds : 1;
    const std::uint64_t errors = app::errors(t);
    const bool throughput = lo.kind == app::workload::throughput;
    const bool did_work = throughput ? at(t, app::load_counter::bytes_in) + at(t, app::load_counter::bytes_out) > 0
                                     : at(t, app::load_counter::responses) > 0;

    const bool ok = errors == 0 && did_work && !too_few_open;
    std::ostringstream out;
    char line[256];
    std::snprintf(line, sizeof line, "tern-load: %s against %s, %.2f s measured (after %.1f s warm-up)\n",
                  std::string(app::to_string(lo.kind)).c_str(), target_text(lo).c_str(), seconds, run.warmup);
    out << line;
    for (std::size_t i = 0; i < app::load_counter_count; ++i) {
        if (i == app::first_error_counter) out << "  errors " << errors << "\n";
        std::snprintf(line, sizeof line, "  %s %" PRIu64 "\n", std::string(app::to_string(app::load_counter(i))).c_str(), t[i]);
        out << line;
    }
    std::snprintf(line, sizeof line, "  conn/s %.1f  req/s %.1f  Mbit/s in %.2f  out %.2f\n",
                  double(at(t, app::load_counter::established)) / secs, double(at(t, app::load_counter::responses)) / secs,
                  double(at(t, app::load_counter::bytes_in)) * 8 / secs / 1e6,
                  double(at(t, app::load_counter::bytes_out)) * 8 / secs / 1e6);
    out << line;
    if (!throughput) out << latency_line(lo.kind == app::workload::ping_pong ? "round trip" : "request latency", load::of(latency));
    out << latency_line("connect", load::of(connect));
    if (flood) out << "  flood: " << flood->sent() << " spoofed SYNs sent\n";
    if (gens.size() > 1) {
        for (std::size_t i = 0; i < gens.size(); ++i) {
            const load::percentiles p = load::of(gens[i]->latency());
            std::snprintf(line, sizeof line,
                          "  engine %zu: conn/s %.1f  req/s %.1f  errors %" PRIu64 "  retransmits %" PRIu64 "  p50 %.1f us  p99 %.1f us\n",
                          i, double(at(shares[i], app::load_counter::established)) / secs,
                          double(at(shares[i], app::load_counter::responses)) / secs, app::errors(shares[i]),
                          at(shares[i], app::load_counter::retransmits), p.p50, p.p99);
            out << line;
        }
    }
    std::printf("%s", out.str().c_str());
    std::printf("tern-load: engine counters:\n%s%s", cli::summary(**rt).c_str(), cli::tcp_summary(endpoints).c_str());
    std::printf("  connections open at the end %" PRIu64 " of %u", open_at_end, lo.connections);
    if (reconnecting_at_end > 0) std::printf(" (and %" PRIu64 " in their first handshake)", reconnecting_at_end);
    std::printf("\n");
    if (errors > 0) std::printf("tern-load: FAILED: %" PRIu64 " errors (see above)\n", errors);
    if (too_few_open)
        std::printf("tern-load: FAILED: %" PRIu64 " of the %u connections asked for were open at the end\n", open_at_end,
                    lo.connections);
    if (!did_work) std::printf("tern-load: FAILED: nothing was done in the measured time\n");
    std::fflush(stdout);

    if (run.json || run.plot) {
        load::report r;
        r.workload = app::to_string(lo.kind);
        r.target = target_text(lo);
        r.engines = (*rt)->engine_count();
        r.connections = lo.connections;
        r.rate = lo.rate;
        r.warmup_s = run.warmup;
        r.measured_s = seconds;
        for (std::size_t i = 0; i < app::load_counter_count; ++i)
            r.totals.emplace_back(app::to_string(app::load_counter(i)), t[i]);
        r.errors = errors;
        r.connections_open_at_end = open_at_end;
        r.flood_syns = flood ? flood->sent() : 0;
        r.ok = ok;
        r.latency = latency;
        r.connect_latency = connect;
        r.latency_series = merged_series(gens, &app::load_generator::latency_by_second);
        r.connect_series = merged_series(gens, &app::load_generator::connect_latency_by_second);
        for (std::size_t i = 0; i < gens.size(); ++i) {
            load::engine_part part;
            for (std::size_t k = 0; k < app::load_counter_count; ++k)
                part.totals.emplace_back(app::to_string(app::load_counter(k)), shares[i][k]);
            part.latency = gens[i]->latency();
            part.connect_latency = gens[i]->connect_latency();
            r.per_engine.push_back(std::move(part));
        }
        if (run.json && !write_file(*run.json, load::to_json(r))) {
            std::cerr << "tern-load: --json: cannot write " << *run.json << "\n";
            return 1;
        }
        if (run.plot && !plot(r, *run.plot, "tern-load")) return 1;
    }
    gens.clear(); // before the endpoints and the runtime they drive
    endpoints.clear();
    return ok ? 0 : 3;
}
