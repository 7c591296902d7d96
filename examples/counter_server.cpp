// A request/response server with state per connection, on tern's installed headers and
// tern.pc only: each line a client sends is a request, answered with one line that
// counts the connection's requests and bytes so far:
//
//   $ printf 'a\nbb\n' | nc 198.18.0.2 9000
//   1 2 a
//   2 5 bb
//
//   counter_server -l 0 --vdev=net_tap0,iface=tern0 -- --ip 198.18.0.2/24 --port 9000 [--seconds 60]
//
// A request over 4 KiB without its newline closes the connection.
#include <cstdio>
#include <string>

#include <tern/stack.hpp>
#include <tern/tcp.hpp>

#include "serve.hpp"

namespace {

constexpr std::size_t max_request = 4096;

// One connection's state, kept in stream::user from on_accepted to on_closed.
struct session {
    std::uint64_t requests = 0;
    std::uint64_t bytes = 0; // of the requests answered, newlines included
    std::string partial; // a request whose newline has not come yet
    std::string unsent;  // answers the send buffer did not take yet
};

struct counter final : tern::tcp::app_events {
    static session& of(tern::tcp::stream& s) { return *static_cast<session*>(s.user); }

    static void flush(tern::tcp::stream& s) {
        session& st = of(s);
        auto sent = s.send({reinterpret_cast<const std::uint8_t*>(st.unsent.data()), st.unsent.size()});
        if (!sent) return s.abort();
        st.unsent.erase(0, *sent);
        if (st.unsent.empty() && s.state() == tern::tcp::tcp_state::close_wait) (void)s.close();
    }
    void on_accepted(tern::tcp::stream& s) override { s.user = new session; }
    void on_data(tern::tcp::stream& s, const tern::tcp::rx_data& d) override {
        session& st = of(s);
        st.partial.append(reinterpret_cast<const char*>(d.data()), d.size());
        std::size_t start = 0;
        for (std::size_t nl; (nl = st.partial.find('\n', start)) != std::string::npos; start = nl + 1) {
            ++st.requests;
            st.bytes += nl + 1 - start;
            st.unsent += std::to_string(st.requests) + " " + std::to_string(st.bytes) + " " +
                         st.partial.substr(start, nl - start) + "\n";
        }
        st.partial.erase(0, start);
        if (st.partial.size() > max_request) return s.abort();
        flush(s);
    }
    void on_writable(tern::tcp::stream& s) override { flush(s); }
    void on_peer_closed(tern::tcp::stream& s) override { flush(s); }
    void on_closed(tern::tcp::stream& s, tern::tcp::close_reason) override {
        delete static_cast<session*>(s.user);
        s.user = nullptr;
    }
};

} // namespace

int main(int argc, char** argv) {
    auto s = tern::stack::start(argc, argv);
    if (!s) return std::fprintf(stderr, "counter_server: %s\n", s.error().message.c_str()), 1;
    auto args = example::parse_server_args((*s)->app_args(), "counter_server");
    if (!args) return 2;
    counter app;
    return example::serve(**s, *args, app, "counter_server");
}
