// tern-server: the server backend. Today it brings up the engines on a port and answers
// ARP and ICMP echo; the TCP modes (echo, sink, source, http) arrive with the endpoint.
//
//   tern-server [EAL args] -- --ip 198.18.0.2/24 [options]
#include <cstdio>
#include <iostream>

#include "common/cli.hpp"
#include "dpdk/eal.hpp"

namespace po = boost::program_options;
using namespace tern;

int main(int argc, char** argv) {
    auto eal = eal::start(argc, argv);
    if (!eal) {
        std::cerr << "tern-server: " << eal.error() << "\n";
        return 1;
    }
    po::options_description desc("tern-server options");
    desc.add_options()("help,h", "this text");
    cli::add_engine_options(desc);
    po::variables_map vm;
    int exit_code = 0;
    if (!cli::parse(eal->app_args(), desc, vm, exit_code, "usage: tern-server [EAL args] -- --ip ADDR/PREFIX [options]"))
        return exit_code;

    runtime_options options;
    try {
        options = cli::engine_options_from(vm);
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

    cli::install_signal_handlers();
    cli::stop_after(vm["duration"].as<double>());
    (*rt)->run(cli::stop_requested);

    std::printf("tern-server: stopped. counters:\n%s", cli::summary(**rt).c_str());
    for (auto& n : (*rt)->neighbors().entries())
        std::printf("  arp %s %s%s\n", n.ip.to_string().c_str(), n.mac.to_string().c_str(), n.is_static ? " static" : "");
    std::fflush(stdout);
    return 0;
}
