// An echo server on tern: every byte a client sends comes back; when the client closes,
// so do we, once all of it is back. Built on the installed headers and tern.pc only:
//
//   c++ -o echo_server echo_server.cpp $(pkg-config --cflags --libs tern)
//   echo_server -l 0 --vdev=net_tap0,iface=tern0 -- --ip 198.18.0.2/24 --port 7 [--seconds 60]
//
// Everything below runs on the engine's lcore, inside stack::run().
#include <atomic>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <thread>

#include <tern/stack.hpp>
#include <tern/tcp.hpp>

namespace {

std::atomic<bool> stop{false};

// What a stream could not send yet (its send buffer was full), kept in stream::user.
struct echo final : tern::tcp::app_events {
    static std::string& pending(tern::tcp::stream& s) {
        if (!s.user) s.user = new std::string;
        return *static_cast<std::string*>(s.user);
    }
    // Sends what is pending; closes once the peer has closed and nothing is left.
    static void drain(tern::tcp::stream& s) {
        std::string& p = pending(s);
        if (!p.empty()) {
            auto sent = s.send({reinterpret_cast<const std::uint8_t*>(p.data()), p.size()});
            if (!sent) return s.abort();
            p.erase(0, *sent);
        }
        if (p.empty() && s.state() == tern::tcp::tcp_state::close_wait) (void)s.close();
    }
    void on_data(tern::tcp::stream& s, const tern::tcp::rx_data& d) override {
        pending(s).append(reinterpret_cast<const char*>(d.data()), d.size());
        drain(s);
    }
    void on_writable(tern::tcp::stream& s) override { drain(s); }
    void on_peer_closed(tern::tcp::stream& s) override { drain(s); }
    void on_closed(tern::tcp::stream& s, tern::tcp::close_reason) override {
        delete static_cast<std::string*>(s.user);
        s.user = nullptr;
    }
};

int usage(const char* why) {
    std::fprintf(stderr, "echo_server: %s\nusage: echo_server [EAL args] -- --ip A.B.C.D/N --port P [--seconds S]\n", why);
    return 2;
}

} // namespace

int main(int argc, char** argv) {
    auto s = tern::stack::start(argc, argv);
    if (!s) return std::fprintf(stderr, "echo_server: %s\n", s.error().message.c_str()), 1;
    const auto& args = (*s)->app_args();
    tern::engine_config config;
    int port = 0;
    double seconds = 0;
    for (std::size_t i = 1; i + 1 < args.size(); i += 2) {
        const std::string_view name = args[i];
        if (name == "--ip") {
            auto cidr = tern::ipv4_cidr::parse(args[i + 1]);
            if (!cidr) return usage("--ip: not an address with a prefix");
            config.address = *cidr;
        } else if (name == "--port") {
            port = std::atoi(args[i + 1].c_str());
        } else if (name == "--seconds") {
            seconds = std::atof(args[i + 1].c_str());
        } else {
            return usage("unknown option");
        }
    }
    if (args.size() % 2 == 0) return usage("an option without its value");
    if (config.address.addr.is_unspecified()) return usage("--ip is required");
    if (port < 1 || port > 65535) return usage("--port: 1-65535 is required");

    if (auto up = (*s)->create(config); !up) return std::fprintf(stderr, "echo_server: %s\n", up.error().message.c_str()), 1;
    echo app;
    {
        tern::tcp::tcp_endpoint ep((*s)->engine_at(0), tern::tcp::tcp_config{});
        if (!ep.listen(std::uint16_t(port), {}, app)) return usage("--port: in use");
        std::printf("echo_server: listening on %s port %d\n", config.address.addr.to_string().c_str(), port);
        std::fflush(stdout);
        std::signal(SIGINT, [](int) { stop = true; });
        std::signal(SIGTERM, [](int) { stop = true; });
        if (seconds > 0) std::thread([seconds] {
                std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
                stop = true;
            }).detach();
        (*s)->run(stop);
        std::printf("echo_server: stopped, %zu connection(s) open\n", ep.connections());
    } // the endpoint goes before the engines it ran on
    return 0;
}
