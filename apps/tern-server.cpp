// tern-server: the server backend. Brings up the engines on a port (ARP, ICMP echo) and,
// with --mode, serves TCP on every engine: echo, sink (discard, count), source (send
// forever) or an HTTP/1.1 responder. Options come from the command line and, with
// --config FILE, from an INI file (the command line wins). While it runs it prints one line
// of counters a second; on SIGINT/SIGTERM (or after --duration) a summary.
//
//   tern-server [EAL args] -- --ip 198.18.0.2/24 --mode http --port 80 [options]
#include <chrono>
#include <cstdio>
#include <iostream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "app/services.hpp"
#include "common/cli.hpp"
#include "dpdk/eal.hpp"
#include "tern/tcp.hpp"

namespace po = boost::program_options;
using namespace tern;

namespace {

std::uint16_t default_port(const std::string& mode) {
    if (mode == "echo") return 7;    // RFC 862
    if (mode == "sink") return 9;    // RFC 863 (discard)
    if (mode == "source") return 19; // RFC 864 (character generator)
    return 80;
}

std::unique_ptr<app::buffered_service> make_service(const std::string& mode, const app::http_options& http) {
    if (mode == "echo") return std::make_unique<app::echo_service>();
    if (mode == "sink") return std::make_unique<app::sink_service>();
    if (mode == "source") return std::make_unique<app::source_service>();
    if (mode == "http") return std::make_unique<app::http_service>(http);
    return nullptr;
}

using service_list = std::vector<std::unique_ptr<app::buffered_service>>;
using endpoint_list = std::vector<std::unique_ptr<tcp::tcp_endpoint>>;

// The services' and endpoints' counters summed over engines. Each engine writes its own
// (relaxed atomics); this reads them from any thread.
struct totals {
    std::uint64_t open = 0, opened = 0, closed = 0, resets = 0, timeouts = 0, aborted = 0;
    std::uint64_t bytes_in = 0, bytes_out = 0, retransmits = 0, requests = 0, bad_requests = 0;
    std::uint64_t drops = 0;  // the engines' packet drops, every reason
    std::uint64_t turned_away = 0; // SYNs and handshake ACKs dropped: table or accept backlog full, engine behind
    std::uint64_t cookies = 0;     // SYN cookies sent: the SYN backlog was full
    std::vector<std::uint64_t> opened_each, requests_each; // by engine (a service each)

    static totals of(const service_list& services, const endpoint_list& endpoints, const runtime& rt) {
        totals t;
        for (auto& ep : endpoints) {
            const tcp::endpoint_stats& s = ep->stats();
            t.turned_away += s.table_full + s.accept_backlog_full + s.syn_dropped_busy;
            t.cookies += s.syn_cookies_sent;
        }
        for (auto& s : services) {
            const app::service_counters& c = s->counters();
            t.opened += c.opened.get();
            t.closed += c.closed.get();
            t.resets += c.resets.get();
            t.timeouts += c.timeouts.get();
            t.aborted += c.aborted.get();
            t.bytes_in += c.bytes_in.get();
            t.bytes_out += c.bytes_out.get();
            t.retransmits += c.retransmits.get();
            t.requests += c.requests.get();
            t.bad_requests += c.bad_requests.get();
            t.opened_each.push_back(c.opened.get());
            t.requests_each.push_back(c.requests.get());
        }
        t.open = t.opened - t.closed;
        for (auto& [name, value] : rt.totals())
            if (name.starts_with("drop_")) t.drops += value;
        return t;
    }
};

// With several engines, each one's share of the interval: connections accepted, and
// requests a second for http.
std::string per_engine_shares(const totals& t, const totals& last, double dt, bool http) {
    if (t.opened_each.size() < 2) return "";
    std::string out = "  per engine accepted";
    char cell[32];
    for (std::size_t i = 0; i < t.opened_each.size(); ++i) {
        std::snprintf(cell, sizeof cell, "%s%llu", i ? "/" : " ", (unsigned long long)(t.opened_each[i] - last.opened_each[i]));
        out += cell;
    }
    if (!http) return out;
    out += " req/s";
    for (std::size_t i = 0; i < t.requests_each.size(); ++i) {
        std::snprintf(cell, sizeof cell, "%s%.0f", i ? "/" : " ", double(t.requests_each[i] - last.requests_each[i]) / dt);
        out += cell;
    }
    return out;
}

// One line every `interval` seconds until the stop flag is set: what happened in that
// interval, from counters the engines publish; nothing here touches an engine.
void print_progress(const service_list& services, const endpoint_list& endpoints, const runtime& rt,
                    double interval, bool http) {
    using clk = std::chrono::steady_clock;
    const auto start = clk::now();
    auto last_time = start;
    totals last = totals::of(services, endpoints, rt);
    auto next = start + std::chrono::duration_cast<clk::duration>(std::chrono::duration<double>(interval));
    while (!cli::stop.wait_until(next)) {
        const auto now = clk::now();
        next += std::chrono::duration_cast<clk::duration>(std::chrono::duration<double>(interval));
        const totals t = totals::of(services, endpoints, rt);
        const double dt = std::chrono::duration<double>(now - last_time).count();
        const double elapsed = std::chrono::duration<double>(now - start).count();
        char req[48] = "";
        if (http) std::snprintf(req, sizeof req, " req/s %.0f bad %llu", double(t.requests - last.requests) / dt,
                                (unsigned long long)(t.bad_requests - last.bad_requests));
        std::printf("tern-server: %7.1fs conns %llu accepted %llu closed %llu%s in %.2f Mbit/s out %.2f Mbit/s "
                    "rtx %llu resets %llu timeouts %llu drops %llu turned_away %llu cookies %llu%s\n",
                    elapsed, (unsigned long long)t.open, (unsigned long long)(t.opened - last.opened),
                    (unsigned long long)(t.closed - last.closed), req, double(t.bytes_in - last.bytes_in) * 8 / dt / 1e6,
                    double(t.bytes_out - last.bytes_out) * 8 / dt / 1e6,
                    (unsigned long long)(t.retransmits - last.retransmits), (unsigned long long)(t.resets - last.resets),
                    (unsigned long long)(t.timeouts - last.timeouts), (unsigned long long)(t.drops - last.drops),
                    (unsigned long long)(t.turned_away - last.turned_away),
                    (unsigned long long)(t.cookies - last.cookies), per_engine_shares(t, last, dt, http).c_str());
        std::fflush(stdout);
        last = t;
        last_time = now;
    }
}

} // namespace

int main(int argc, char** argv) {
    po::options_description desc("tern-server options");
    desc.add_options()("help,h", "this text")
        ("config", po::value<std::string>(), "read options from this INI file (name = value, as on the command line "
                                             "without --); the command line wins")
        ("mode", po::value<std::string>()->default_value("none"), "TCP service: none, echo, sink, source or http")
        ("port", po::value<std::vector<std::string>>(),
         "TCP port(s) to listen on, repeatable or comma-separated (default: 7 echo, 9 sink, 19 source, 80 http)")
        ("body-size", po::value<unsigned>()->default_value(13), "http: bytes of response body (0-16777216)")
        ("max-request", po::value<unsigned>()->default_value(16 * 1024),
         "http: bytes of request head (beyond: 431) and of request body (beyond: 413) (64-16777216)")
        ("max-connections", po::value<unsigned>()->default_value(4096),
         "connections per engine, and as many TIME-WAIT records apart from them (16-16777216)")
        ("syn-backlog", po::value<unsigned>()->default_value(tcp::listen_options{}.syn_backlog),
         "half-open connections per engine and port; past it, SYN cookies (RFC 4987) (1-16777216)")
        ("accept-backlog", po::value<unsigned>(),
         "established connections per engine and port; past it, SYNs are dropped (default: --max-connections)")
        ("interval", po::value<double>()->default_value(1), "seconds between progress lines (0: none)");
    cli::add_engine_options(desc);
    cli::add_tcp_options(desc);
    po::variables_map vm;
    int exit_code = 0;
    if (!cli::parse(cli::app_args(argc, argv), desc, vm, exit_code,
                    "usage: tern-server [EAL args] -- --ip ADDR/PREFIX [options]"))
        return exit_code;

    runtime_options options;
    cli::tcp_settings tcp_settings;
    tcp::listen_options listen;
    std::vector<std::uint16_t> ports;
    std::string mode = vm["mode"].as<std::string>();
    app::http_options http_opts;
    try {
        options = cli::engine_options_from(vm);
        tcp_settings = cli::tcp_options_from(vm);
        if (mode != "none" && mode != "echo" && mode != "sink" && mode != "source" && mode != "http")
            throw std::invalid_argument("--mode: '" + mode + "' is not none, echo, sink, source or http");
        if (vm.count("port") && mode == "none")
            throw std::invalid_argument("--port: needs --mode (echo, sink, source or http): without one, nothing listens");
        if (vm.count("port")) ports = cli::ports_from(vm["port"].as<std::vector<std::string>>());
        if (ports.empty()) ports.push_back(default_port(mode));
        if (vm["body-size"].as<unsigned>() > (1u << 24))
            throw std::invalid_argument("--body-size: must be at most 16777216");
        http_opts.body_size = vm["body-size"].as<unsigned>();
        http_opts.max_request = vm["max-request"].as<unsigned>();
        if (http_opts.max_request < 64 || http_opts.max_request > (1u << 24))
            throw std::invalid_argument("--max-request: " + std::to_string(http_opts.max_request) +
                                        " is outside 64-16777216");
        const unsigned max_connections = vm["max-connections"].as<unsigned>();
        if (max_connections < 16 || max_connections > (1u << 24))
            throw std::invalid_argument("--max-connections: " + std::to_string(max_connections) + " is outside 16-16777216");
        listen.syn_backlog = vm["syn-backlog"].as<unsigned>();
        if (listen.syn_backlog < 1 || listen.syn_backlog > (1u << 24))
            throw std::invalid_argument("--syn-backlog: " + std::to_string(listen.syn_backlog) + " is outside 1-16777216");
        // The services keep no pointer to a stream outside its callbacks (services.hpp).
        listen.park_idle = tcp_settings.park_idle;
        listen.park_after = tcp_settings.park_after;
        listen.accept_backlog = vm.count("accept-backlog") ? vm["accept-backlog"].as<unsigned>() : max_connections;
        if (listen.accept_backlog < 1 || listen.accept_backlog > max_connections)
            throw std::invalid_argument("--accept-backlog: " + std::to_string(listen.accept_backlog) +
                                        " is outside 1 to --max-connections (" + std::to_string(max_connections) + ")");
        const double interval = vm["interval"].as<double>();
        if (!(interval == 0 || (interval >= 0.1 && interval <= 3600)))
            throw std::invalid_argument("--interval: must be 0 or within 0.1-3600 seconds");
    } catch (const std::invalid_argument& e) {
        std::cerr << "tern-server: " << e.what() << "\n";
        return 2;
    }
    auto eal = eal::start(argc, argv);
    if (!eal) return cli::setup_failed("tern-server", eal.error());
    auto rt = runtime::create(options);
    if (!rt) return cli::setup_failed("tern-server", rt.error());
    std::printf("tern-server: %s\n", (*rt)->eth_port().describe().c_str());
    std::printf("tern-server: %s on %zu engine(s), mac %s\n", options.engine.address.addr.to_string().c_str(),
                (*rt)->engine_count(), (*rt)->engine_at(0).mac().to_string().c_str());
    std::fflush(stdout);

    // One service and one TCP endpoint per engine, every endpoint listening on every port
    // (declared after the runtime, so they go before the engines they serve). A service
    // serves one engine only: its counters have one writer.
    service_list services;
    endpoint_list endpoints;
    if (mode != "none") {
        tcp::tcp_config tcp_cfg = tcp_settings.config;
        tcp_cfg.mtu = options.engine.mtu;
        listen.connection = tcp_settings.connection;
        for (std::size_t i = 0; i < (*rt)->engine_count(); ++i) {
            services.push_back(make_service(mode, http_opts));
            endpoints.push_back(std::make_unique<tcp::tcp_endpoint>((*rt)->engine_at(i), tcp_cfg,
                                                                 vm["max-connections"].as<unsigned>()));
            for (std::uint16_t port : ports)
                if (!endpoints.back()->listen(port, listen, *services.back())) {
                    std::cerr << "tern-server: --port: " << port << " is in use\n";
                    return 1;
                }
        }
        std::string list;
        for (std::uint16_t port : ports) list += (list.empty() ? "" : ",") + std::to_string(port);
        std::printf("tern-server: %s on TCP port %s\n", mode.c_str(), list.c_str());
        std::fflush(stdout);
    }

    cli::install_signal_handlers();
    cli::stop_after(vm["duration"].as<double>());
    std::thread progress;
    if (vm["interval"].as<double>() > 0)
        progress = std::thread(print_progress, std::cref(services), std::cref(endpoints), std::cref(**rt), vm["interval"].as<double>(),
                               mode == "http");
    (*rt)->run(cli::stop.flag());
    if (progress.joinable()) progress.join();

    std::printf("tern-server: stopped. counters:\n%s", cli::summary(**rt).c_str());
    if (!services.empty()) {
        const totals t = totals::of(services, endpoints, **rt);
        const std::pair<const char*, std::uint64_t> rows[] = {
            {"connections_opened", t.opened}, {"connections_closed", t.closed}, {"connections_open", t.open},
            {"closed_by_reset", t.resets},    {"closed_timed_out", t.timeouts}, {"closed_aborted", t.aborted},
            {"bytes_in", t.bytes_in},         {"bytes_out", t.bytes_out},       {"retransmits", t.retransmits}};
        for (auto [name, value] : rows) std::printf("  %s %llu\n", name, (unsigned long long)value);
        // The engines have stopped: their endpoints' counters may be read here.
        std::printf("%s", cli::tcp_summary(endpoints).c_str());
        if (mode == "http")
            std::printf("  http_requests %llu\n  http_bad_requests %llu\n", (unsigned long long)t.requests,
                        (unsigned long long)t.bad_requests);
    }
    for (auto& n : (*rt)->neighbors().entries())
        std::printf("  arp %s %s%s\n", n.ip.to_string().c_str(), n.mac.to_string().c_str(), n.is_static ? " static" : "");
    std::fflush(stdout);
    return 0;
}
