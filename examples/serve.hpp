// What the two server examples share: their arguments after "--" (--ip, --port,
// --seconds), and a run of one engine with one listener that stops on SIGINT, SIGTERM or
// after --seconds. Uses the installed tern headers only, like the examples.
#pragma once

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <tern/stack.hpp>
#include <tern/tcp.hpp>

namespace example {

struct server_args {
    tern::engine_config config;
    std::uint16_t port = 0;
    double seconds = 0; // 0: until a signal
};

inline std::atomic<bool> stop{false};

// The arguments, or none after saying on stderr what is wrong with them.
inline std::optional<server_args> parse_server_args(const std::vector<std::string>& args, const char* program) {
    auto usage = [program](const std::string& why) {
        std::fprintf(stderr, "%s: %s\nusage: %s [EAL args] -- --ip A.B.C.D/N --port P [--seconds S]\n", program,
                     why.c_str(), program);
        return std::nullopt;
    };
    server_args a;
    if (args.size() % 2 == 0) return usage("an option without its value");
    for (std::size_t i = 1; i + 1 < args.size(); i += 2) {
        const std::string_view name = args[i];
        const std::string& value = args[i + 1];
        if (name == "--ip") {
            auto cidr = tern::ipv4_cidr::parse(value);
            if (!cidr) return usage("--ip: '" + value + "' is not an address with a prefix");
            a.config.address = *cidr;
        } else if (name == "--port") {
            const int port = std::atoi(value.c_str());
            if (port < 1 || port > 65535) return usage("--port: '" + value + "' is outside 1-65535");
            a.port = std::uint16_t(port);
        } else if (name == "--seconds") {
            a.seconds = std::atof(value.c_str());
        } else {
            return usage("unknown option " + std::string(name));
        }
    }
    if (a.config.address.addr.is_unspecified()) return usage("--ip is required");
    if (a.port == 0) return usage("--port is required");
    return a;
}

// Sets up the port and one engine, listens on a.port with `app`, and runs until stopped.
// The exit status for main().
inline int serve(tern::stack& s, const server_args& a, tern::tcp::app_events& app, const char* program) {
    if (auto up = s.create(a.config); !up) return std::fprintf(stderr, "%s: %s\n", program, up.error().message.c_str()), 1;
    tern::tcp::tcp_endpoint ep(s.engine_at(0), tern::tcp::tcp_config{}); // goes before the engines it runs on
    if (!ep.listen(a.port, {}, app)) return std::fprintf(stderr, "%s: --port: %u is in use\n", program, a.port), 1;
    std::printf("%s: listening on %s port %u\n", program, a.config.address.addr.to_string().c_str(), a.port);
    std::fflush(stdout);
    std::signal(SIGINT, [](int) { stop = true; });
    std::signal(SIGTERM, [](int) { stop = true; });
    if (a.seconds > 0)
        std::thread([seconds = a.seconds] {
            std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
            stop = true;
        }).detach();
    s.run(stop);
    std::printf("%s: stopped, %zu connection(s) open\n", program, ep.connections());
    return 0;
}

} // namespace example
