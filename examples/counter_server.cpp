// An HTTP/1.1 server with state per connection, on tern's installed headers and tern.pc
// only: every GET is answered with how many requests this connection has made so far, so
// that a client that keeps its connection sees the count go up:
//
//   $ curl http://198.18.0.2:8080/a http://198.18.0.2:8080/b
//   request 1 on this connection: /a
//   request 2 on this connection: /b
//
//   counter_server -l 0 --vdev=net_tap0,iface=tern0 -- --ip 198.18.0.2/24 --port 8080 [--seconds 60]
//
// Heads only: a request with a body (Content-Length or Transfer-Encoding), one that is not
// HTTP, or a head over 8 KiB gets 400 and the connection closes.
#include <algorithm>
#include <cctype>
#include <cstdio>
#include <string>

#include <tern/stack.hpp>
#include <tern/tcp.hpp>

#include "serve.hpp"

namespace {

constexpr std::size_t max_head = 8192;

// One connection's state, kept in stream::user from on_accepted to on_closed.
struct session {
    std::uint64_t requests = 0;
    std::string in;     // received, not yet answered
    std::string unsent; // answers the send buffer did not take yet
    bool closing = false;
};

std::string lower(std::string s) {
    std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return char(std::tolower(c)); });
    return s;
}

std::string answer(int status, const std::string& body) {
    return "HTTP/1.1 " + std::string(status == 200 ? "200 OK" : "400 Bad Request") +
           "\r\nContent-Type: text/plain\r\nContent-Length: " + std::to_string(body.size()) + "\r\n" +
           (status == 200 ? "" : "Connection: close\r\n") + "\r\n" + body;
}

struct counter final : tern::tcp::app_events {
    static session& of(tern::tcp::stream& s) { return *static_cast<session*>(s.user); }

    // Sends what waits; closes once it is out and the connection is to end.
    static void flush(tern::tcp::stream& s) {
        session& st = of(s);
        auto sent = s.send({reinterpret_cast<const std::uint8_t*>(st.unsent.data()), st.unsent.size()});
        if (!sent) return s.abort();
        st.unsent.erase(0, *sent);
        if (st.unsent.empty() && (st.closing || s.state() == tern::tcp::tcp_state::close_wait)) (void)s.close();
    }
    // Answers every whole head at the front of the input.
    static void answer_heads(session& st) {
        std::size_t end;
        while (!st.closing && (end = st.in.find("\r\n\r\n")) != std::string::npos) {
            const std::string head = lower(st.in.substr(0, end + 2));
            st.in.erase(0, end + 4);
            const std::size_t sp = head.find(' '), sp2 = head.find(' ', sp + 1);
            if (head.rfind("get ", 0) != 0 || sp2 == std::string::npos || head.find("\r\ncontent-length:") != head.npos ||
                head.find("\r\ntransfer-encoding:") != head.npos) {
                st.unsent += answer(400, "GET without a body only\n");
                st.closing = true;
                break;
            }
            ++st.requests;
            st.unsent += answer(200, "request " + std::to_string(st.requests) + " on this connection: " +
                                         head.substr(sp + 1, sp2 - sp - 1) + "\n");
        }
        if (!st.closing && st.in.size() > max_head) {
            st.unsent += answer(400, "head too long\n");
            st.closing = true;
        }
    }

    void on_accepted(tern::tcp::stream& s) override { s.user = new session; }
    void on_data(tern::tcp::stream& s, const tern::tcp::rx_data& d) override {
        session& st = of(s);
        if (st.closing) return;
        st.in.append(reinterpret_cast<const char*>(d.data()), d.size());
        answer_heads(st);
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
