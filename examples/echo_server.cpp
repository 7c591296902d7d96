// An echo server on tern: every byte a client sends comes back; when the client closes,
// so do we, once all of it is back. Built on the installed headers and tern.pc only:
//
//   c++ -std=c++20 -o echo_server echo_server.cpp $(pkg-config --cflags --libs tern)
//   echo_server -l 0 --vdev=net_tap0,iface=tern0 -- --ip 198.18.0.2/24 --port 7 [--seconds 60]
//
// The callbacks run on the engine's lcore, inside stack::run() (serve.hpp).
#include <cstdio>
#include <string>

#include <tern/stack.hpp>
#include <tern/tcp.hpp>

#include "serve.hpp"

namespace {

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

} // namespace

int main(int argc, char** argv) {
    auto s = tern::stack::start(argc, argv);
    if (!s) return std::fprintf(stderr, "echo_server: %s\n", s.error().message.c_str()), 1;
    auto args = example::parse_server_args((*s)->app_args(), "echo_server");
    if (!args) return 2;
    echo app;
    return example::serve(**s, *args, app, "echo_server");
}
