// Fetches one URL over HTTP/1.1 with tern and prints the body on stdout: a client on the
// installed headers and tern.pc only. The host is an IPv4 address (no DNS here).
//
//   http_client -l 0 --vdev=net_tap0,iface=tern0 -- --ip 198.18.0.2/24 http://198.18.0.1:8080/index.html
//
// Exit 0 with the body for a 2xx answer; 1 for another status, a reset or a timeout (10 s).
#include <atomic>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include <tern/stack.hpp>
#include <tern/tcp.hpp>

namespace {

std::atomic<bool> stop{false};

struct url {
    tern::ipv4_addr host;
    std::uint16_t port = 80;
    std::string path = "/";
};

bool parse_url(std::string_view text, url& out) {
    constexpr std::string_view scheme = "http://";
    if (text.substr(0, scheme.size()) != scheme) return false;
    text.remove_prefix(scheme.size());
    const std::size_t slash = text.find('/');
    if (slash != std::string_view::npos) out.path = std::string(text.substr(slash));
    std::string_view authority = text.substr(0, slash);
    if (const std::size_t colon = authority.find(':'); colon != std::string_view::npos) {
        const int port = std::atoi(std::string(authority.substr(colon + 1)).c_str());
        if (port < 1 || port > 65535) return false;
        out.port = std::uint16_t(port);
        authority = authority.substr(0, colon);
    }
    auto host = tern::ipv4_addr::parse(authority);
    if (!host) return false;
    out.host = *host;
    return true;
}

// The response as it arrives: the head up to its empty line, then Content-Length bytes of
// body (or, without one, the body ends with the connection).
struct fetch final : tern::tcp::app_events {
    std::string request, received;
    int status = 0;
    bool done = false;

    void on_connected(tern::tcp::stream& s) override {
        (void)s.send({reinterpret_cast<const std::uint8_t*>(request.data()), request.size()});
    }
    void on_data(tern::tcp::stream& s, const tern::tcp::rx_data& d) override {
        received.append(reinterpret_cast<const char*>(d.data()), d.size());
        const std::size_t end = received.find("\r\n\r\n");
        if (end == std::string::npos) return;
        std::string head = received.substr(0, end);
        for (char& c : head) c = char(std::tolower(static_cast<unsigned char>(c)));
        status = std::atoi(head.c_str() + head.find(' ') + 1);
        const std::size_t at = head.find("\r\ncontent-length:");
        if (at == std::string::npos) return; // the body ends with the connection
        const auto length = std::strtoull(head.c_str() + at + 17, nullptr, 10);
        if (received.size() - end - 4 >= length) {
            received.resize(end + 4 + length);
            done = true;
            (void)s.close();
        }
    }
    void on_peer_closed(tern::tcp::stream& s) override { (void)s.close(); }
    void on_closed(tern::tcp::stream&, tern::tcp::close_reason why) override {
        if (why == tern::tcp::close_reason::normal && status != 0) done = true;
        stop = true;
    }
};

int usage(const char* why) {
    std::fprintf(stderr, "http_client: %s\nusage: http_client [EAL args] -- --ip A.B.C.D/N [--gateway G] http://A.B.C.D[:P]/path\n", why);
    return 2;
}

} // namespace

int main(int argc, char** argv) {
    auto s = tern::stack::start(argc, argv);
    if (!s) return std::fprintf(stderr, "http_client: %s\n", s.error().message.c_str()), 1;
    const auto& args = (*s)->app_args();
    tern::engine_config config;
    url target;
    bool have_url = false;
    for (std::size_t i = 1; i < args.size(); ++i) {
        if ((args[i] == "--ip" || args[i] == "--gateway") && i + 1 < args.size()) {
            if (args[i] == "--ip") {
                auto cidr = tern::ipv4_cidr::parse(args[++i]);
                if (!cidr) return usage("--ip: not an address with a prefix");
                config.address = *cidr;
            } else if (auto g = tern::ipv4_addr::parse(args[++i])) {
                config.gateway = *g;
            } else {
                return usage("--gateway: not an address");
            }
        } else if (!have_url && parse_url(args[i], target)) {
            have_url = true;
        } else {
            return usage(("'" + args[i] + "' is neither an option nor an http:// URL with an IPv4 host").c_str());
        }
    }
    if (config.address.addr.is_unspecified()) return usage("--ip is required");
    if (!have_url) return usage("a URL is required");

    if (auto up = (*s)->create(config); !up) return std::fprintf(stderr, "http_client: %s\n", up.error().message.c_str()), 1;
    fetch app;
    app.request = "GET " + target.path + " HTTP/1.1\r\nHost: " + target.host.to_string() +
                  "\r\nUser-Agent: tern-example\r\nConnection: close\r\n\r\n";
    {
        tern::tcp::tcp_endpoint ep((*s)->engine_at(0), tern::tcp::tcp_config{});
        auto opened = ep.connect(target.host, target.port, {}, app);
        if (!opened) return std::fprintf(stderr, "http_client: %s\n", std::string(tern::tcp::to_string(opened.error())).c_str()), 1;
        const tern::instant give_up = (*s)->now() + std::chrono::seconds(10);
        (*s)->add_poller(0, [give_up](tern::instant now) { if (now > give_up) stop = true; });
        (*s)->run(stop);
    }
    if (!app.done) return std::fprintf(stderr, "http_client: no complete answer\n"), 1;
    const std::string_view body = std::string_view(app.received).substr(app.received.find("\r\n\r\n") + 4);
    std::fwrite(body.data(), 1, body.size(), stdout);
    if (app.status < 200 || app.status > 299) return std::fprintf(stderr, "http_client: status %d\n", app.status), 1;
    return 0;
}
