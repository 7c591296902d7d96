// tern-server: the server backend. Brings up the engines on a port (ARP, ICMP echo) and,
// with --mode, serves TCP on every engine: echo, or an HTTP/1.1 responder.
//
//   tern-server [EAL args] -- --ip 198.18.0.2/24 --mode http --port 80 [options]
#include <cstdio>
#include <iostream>
#include <memory>
#include <vector>

#include "app/services.hpp"
#include "common/cli.hpp"
#include "dpdk/eal.hpp"
#include "tern/tcp.hpp"

namespace po = boost::program_options;
using namespace tern;

int main(int argc, char** argv) {
    auto eal = eal::start(argc, argv);
    if (!eal) {
        std::cerr << "tern-server: " << eal.error() << "\n";
        return 1;
    }
    po::options_description desc("tern-server options");
    desc.add_options()("help,h", "this text")
        ("mode", po::value<std::string>()->default_value("none"), "TCP service: none, echo or http")
        ("port", po::value<unsigned>(), "TCP port to listen on (default: 7 for echo, 80 for http)")
        ("body-size", po::value<unsigned>()->default_value(13), "http: bytes of response body (0-16777216)")
        ("no-delay", po::bool_switch(), "turn Nagle's algorithm off on every connection");
    cli::add_engine_options(desc);
    po::variables_map vm;
    int exit_code = 0;
    if (!cli::parse(eal->app_args(), desc, vm, exit_code, "usage: tern-server [EAL args] -- --ip ADDR/PREFIX [options]"))
        return exit_code;

    runtime_options options;
    std::string mode = vm["mode"].as<std::string>();
    try {
        options = cli::engine_options_from(vm);
        if (mode != "none" && mode != "echo" && mode != "http")
            throw std::invalid_argument("--mode: '" + mode + "' is not none, echo or http");
        if (vm.count("port") && (vm["port"].as<unsigned>() == 0 || vm["port"].as<unsigned>() > 65535))
            throw std::invalid_argument("--port: " + std::to_string(vm["port"].as<unsigned>()) + " is outside 1-65535");
        if (vm["body-size"].as<unsigned>() > (1u << 24))
            throw std::invalid_argument("--body-size: must be at most 16777216");
    } catch (const std::invalid_argument& e) {
        std::cerr << "tern-server: " << e.what() << "\n";
        return 2;
    }
    auto rt = runtime::create(options);
    if (!rt) {
        std::cerr << "tern-server: " << rt.error() << "\n";
        return 1;
    }
    std::printf("tern-server: %s\n", (*rt)->eth_port().describe().c_str());
    std::printf("tern-server: %s on %zu engine(s), mac %s\n", options.engine.address.addr.to_string().c_str(),
                (*rt)->engine_count(), (*rt)->engine_at(0).mac().to_string().c_str());
    std::fflush(stdout);

    // One TCP endpoint per engine, all listening on the same port (declared after the
    // runtime, so they go before the engines they serve).
    app::echo_service echo;
    app::http_service http(app::http_options{vm["body-size"].as<unsigned>()});
    tcp::app_events* service = mode == "echo" ? static_cast<tcp::app_events*>(&echo)
                             : mode == "http" ? static_cast<tcp::app_events*>(&http) : nullptr;
    std::vector<std::unique_ptr<tcp::tcp_endpoint>> endpoints;
    if (service) {
        tcp::tcp_config tcp_cfg;
        tcp_cfg.mtu = options.engine.mtu;
        tcp::listen_options listen;
        listen.connection.no_delay = vm["no-delay"].as<bool>();
        auto port = std::uint16_t(vm.count("port") ? vm["port"].as<unsigned>() : mode == "echo" ? 7 : 80);
        for (std::size_t i = 0; i < (*rt)->engine_count(); ++i) {
            endpoints.push_back(std::make_unique<tcp::tcp_endpoint>((*rt)->engine_at(i), tcp_cfg));
            (void)endpoints.back()->listen(port, listen, *service);
        }
        std::printf("tern-server: %s on TCP port %u\n", mode.c_str(), port);
        std::fflush(stdout);
    }

    cli::install_signal_handlers();
    cli::stop_after(vm["duration"].as<double>());
    (*rt)->run(cli::stop_requested);

    std::printf("tern-server: stopped. counters:\n%s", cli::summary(**rt).c_str());
    if (service) {
        std::uint64_t accepted = 0, rst = 0;
        for (auto& ep : endpoints) {
            accepted += ep->stats().accepted;
            rst += ep->stats().rst_sent;
        }
        std::printf("  tcp_accepted %llu\n  tcp_rst_sent %llu\n", (unsigned long long)accepted, (unsigned long long)rst);
        if (mode == "http")
            std::printf("  http_requests %llu\n  http_bad_requests %llu\n", (unsigned long long)http.requests(),
                        (unsigned long long)http.bad_requests());
    }
    for (auto& n : (*rt)->neighbors().entries())
        std::printf("  arp %s %s%s\n", n.ip.to_string().c_str(), n.mac.to_string().c_str(), n.is_static ? " static" : "");
    std::fflush(stdout);
    return 0;
}
