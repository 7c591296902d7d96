// tern-peer: the tern side of the kernel interop tests that tern-server does not cover.
// One engine, and one behaviour chosen on the command line:
//
//   --connect IP:PORT [--request TEXT]   active open; sends TEXT (C escapes \r \n), prints
//                                        what comes back (status line, length, SHA-256) and
//                                        how the connection ended, then exits
//   --listen PORT:BEHAVIOUR (repeatable), where BEHAVIOUR is
//     close-first    close as soon as the connection is accepted (TIME_WAIT here)
//     hold           never close: CLOSE_WAIT is held after the peer's FIN until SIGUSR1,
//                    which closes every held stream
//     abort          abort (RST) on the first data
//     close-on-data  close on the first data (with a path delay, both FINs cross:
//                    simultaneous close)
//
// Every event is printed as one line, flushed, so a test can wait for it in the log.
#include <atomic>
#include <csignal>
#include <cstdio>
#include <iostream>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "common/cli.hpp"
#include "dpdk/eal.hpp"
#include "core/runtime.hpp"
#include "tern/tcp.hpp"

namespace po = boost::program_options;
using namespace tern;

namespace {

std::atomic<bool> phase_done{false}; // the engine loop returns to main when set
std::atomic<bool> close_held{false}; // SIGUSR1
std::atomic<bool> stopping{false};   // SIGINT, SIGTERM, --duration, or the client is done

void on_stop_signal(int) {
    stopping = true;
    phase_done = true;
}
void on_usr1(int) {
    close_held = true;
    phase_done = true;
}

void say(const std::string& line) {
    std::printf("tern-peer: %s\n", line.c_str());
    std::fflush(stdout);
}

std::string unescape(const std::string& s) {
    std::string out;
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '\\' && i + 1 < s.size()) {
            const char c = s[++i];
            out += c == 'r' ? '\r' : c == 'n' ? '\n' : c;
        } else {
            out += s[i];
        }
    }
    return out;
}

// SHA-256 (FIPS 180-4), so the test compares bodies without trusting lengths alone.
class sha256 {
public:
    void update(std::span<const std::uint8_t> bytes) {
        for (std::uint8_t b : bytes) {
            block_[used_++] = b;
            if (used_ == 64) compress();
        }
        length_ += bytes.size();
    }
    std::string hex() {
        const std::uint64_t bits = length_ * 8;
        block_[used_++] = 0x80;
        if (used_ > 56) {
            while (used_ < 64) block_[used_++] = 0;
            compress();
        }
        while (used_ < 56) block_[used_++] = 0;
        for (int i = 7; i >= 0; --i) block_[used_++] = std::uint8_t(bits >> (i * 8));
        compress();
        char out[65];
        for (int i = 0; i < 8; ++i) std::snprintf(out + i * 8, 9, "%08x", h_[i]);
        return out;
    }

private:
    static std::uint32_t rotr(std::uint32_t x, int n) { return (x >> n) | (x << (32 - n)); }
    void compress() {
        static constexpr std::uint32_t k[64] = {
            0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
            0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
            0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
            0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
            0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
            0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
            0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
            0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2};
        std::uint32_t w[64];
        for (int i = 0; i < 16; ++i)
            w[i] = std::uint32_t(block_[i * 4]) << 24 | std::uint32_t(block_[i * 4 + 1]) << 16 |
                   std::uint32_t(block_[i * 4 + 2]) << 8 | block_[i * 4 + 3];
        for (int i = 16; i < 64; ++i) {
            const std::uint32_t s0 = rotr(w[i - 15], 7) ^ rotr(w[i - 15], 18) ^ (w[i - 15] >> 3);
            const std::uint32_t s1 = rotr(w[i - 2], 17) ^ rotr(w[i - 2], 19) ^ (w[i - 2] >> 10);
            w[i] = w[i - 16] + s0 + w[i - 7] + s1;
        }
        std::uint32_t a = h_[0], b = h_[1], c = h_[2], d = h_[3], e = h_[4], f = h_[5], g = h_[6], h = h_[7];
        for (int i = 0; i < 64; ++i) {
            const std::uint32_t t1 = h + (rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)) + ((e & f) ^ (~e & g)) + k[i] + w[i];
            const std::uint32_t t2 = (rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
            h = g; g = f; f = e; e = d + t1; d = c; c = b; b = a; a = t1 + t2;
        }
        h_[0] += a; h_[1] += b; h_[2] += c; h_[3] += d; h_[4] += e; h_[5] += f; h_[6] += g; h_[7] += h;
        used_ = 0;
    }

    std::uint32_t h_[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                           0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
    std::uint8_t block_[64] = {};
    std::size_t used_ = 0;
    std::uint64_t length_ = 0;
};

// The active side: one connection, one request, everything the peer sends until it closes.
class client final : public tcp::app_events {
public:
    explicit client(std::string request) : request_(std::move(request)) {}
    bool refused() const { return reason_ == tcp::close_reason::refused; }
    bool got_reply() const { return bytes_ > 0; }

private:
    void on_connected(tcp::stream& s) override {
        say("connected");
        if (!request_.empty())
            (void)s.send({reinterpret_cast<const std::uint8_t*>(request_.data()), request_.size()});
    }
    // Everything after the first blank line is the body: it alone is hashed, so the test
    // compares it with the file the server sent.
    void on_data(tcp::stream&, const tcp::rx_data& data) override {
        const auto bytes = data.bytes();
        bytes_ += bytes.size();
        if (in_body_) {
            body_ += bytes.size();
            hash_.update(bytes);
            return;
        }
        head_.append(reinterpret_cast<const char*>(bytes.data()), bytes.size());
        if (const auto end = head_.find("\r\n\r\n"); end != std::string::npos) {
            in_body_ = true;
            const std::string rest = head_.substr(end + 4);
            head_.resize(end);
            body_ += rest.size();
            hash_.update({reinterpret_cast<const std::uint8_t*>(rest.data()), rest.size()});
        }
    }
    void on_peer_closed(tcp::stream& s) override {
        say("peer closed after " + std::to_string(bytes_) + " bytes");
        (void)s.close();
    }
    void on_closed(tcp::stream&, tcp::close_reason why) override {
        reason_ = why;
        if (bytes_ > 0) {
            say("status " + head_.substr(0, head_.find("\r\n")));
            say("body " + std::to_string(body_) + " bytes sha256 " + hash_.hex());
        }
        say("closed: " + std::string(to_string(why)));
        stopping = true;
        phase_done = true;
    }

    std::string request_;
    std::string head_;
    bool in_body_ = false;
    std::uint64_t bytes_ = 0;
    std::uint64_t body_ = 0;
    sha256 hash_;
    tcp::close_reason reason_ = tcp::close_reason::aborted;
};

// The passive side: reacts to accept or to the first data as told.
class server final : public tcp::app_events {
public:
    explicit server(std::string behaviour) : behaviour_(std::move(behaviour)) {}
    void close_held() {
        for (tcp::stream* s : held_) {
            say("closing a held stream in " + std::string(to_string(s->state())));
            (void)s->close();
        }
        held_.clear();
    }

private:
    void on_accepted(tcp::stream& s) override {
        say("accepted");
        if (behaviour_ == "close-first") {
            say("closing first");
            (void)s.close();
        }
    }
    void on_data(tcp::stream& s, const tcp::rx_data& data) override {
        say("data " + std::to_string(data.size()) + " bytes");
        if (behaviour_ == "abort") {
            say("aborting");
            s.abort();
        } else if (behaviour_ == "close-on-data" && s.state() == tcp::tcp_state::established) {
            say("closing on data");
            (void)s.close();
        } else if (behaviour_ == "hold") {
            held_.insert(&s);
        }
    }
    void on_peer_closed(tcp::stream& s) override {
        say("peer closed; state " + std::string(to_string(s.state())));
        if (behaviour_ == "hold") held_.insert(&s);
    }
    void on_closed(tcp::stream& s, tcp::close_reason why) override {
        held_.erase(&s);
        say("closed: " + std::string(to_string(why)));
    }

    std::string behaviour_;
    std::set<tcp::stream*> held_;
};

// "198.18.0.1:8080" -> address and port, or an error naming the option.
std::pair<ipv4_addr, std::uint16_t> parse_target(const std::string& text) {
    const auto colon = text.rfind(':');
    auto ip = ipv4_addr::parse(text.substr(0, colon == std::string::npos ? 0 : colon));
    unsigned long port = 0;
    try {
        if (colon != std::string::npos) port = std::stoul(text.substr(colon + 1));
    } catch (const std::exception&) {
        port = 0;
    }
    if (!ip || port == 0 || port > 65535) throw std::invalid_argument("--connect: '" + text + "' is not IP:PORT");
    return {*ip, std::uint16_t(port)};
}

// "5001:hold" -> port and behaviour, or an error naming the option.
std::pair<std::uint16_t, std::string> parse_listen(const std::string& text) {
    static const std::set<std::string> behaviours{"close-first", "hold", "abort", "close-on-data"};
    const auto colon = text.find(':');
    unsigned long port = 0;
    try {
        port = std::stoul(text.substr(0, colon));
    } catch (const std::exception&) {
        port = 0;
    }
    const std::string behaviour = colon == std::string::npos ? "" : text.substr(colon + 1);
    if (port == 0 || port > 65535 || !behaviours.contains(behaviour))
        throw std::invalid_argument("--listen: '" + text + "' is not PORT:close-first|hold|abort|close-on-data");
    return {std::uint16_t(port), behaviour};
}

} // namespace

int main(int argc, char** argv) {
    auto eal = eal::start(argc, argv);
    if (!eal) return cli::setup_failed("tern-peer", eal.error());
    po::options_description desc("tern-peer options");
    desc.add_options()("help,h", "this text")
        ("connect", po::value<std::string>(), "IP:PORT to open a connection to")
        ("request", po::value<std::string>()->default_value(""), "bytes to send once connected (\\r \\n escapes)")
        ("listen", po::value<std::vector<std::string>>(), "PORT:BEHAVIOUR to serve (repeatable)");
    cli::add_engine_options(desc);
    po::variables_map vm;
    int exit_code = 0;
    if (!cli::parse(eal->app_args(), desc, vm, exit_code, "usage: tern-peer [EAL args] -- --ip ADDR/PREFIX (--connect IP:PORT | --listen PORT:BEHAVIOUR...) [options]"))
        return exit_code;

    runtime_options options;
    std::pair<ipv4_addr, std::uint16_t> target{};
    std::vector<std::pair<std::uint16_t, std::string>> listens;
    try {
        options = cli::engine_options_from(vm);
        if (vm.count("connect") == vm.count("listen")) throw std::invalid_argument("give one of --connect and --listen");
        if (vm.count("connect")) target = parse_target(vm["connect"].as<std::string>());
        if (vm.count("listen"))
            for (const auto& l : vm["listen"].as<std::vector<std::string>>()) listens.push_back(parse_listen(l));
    } catch (const std::invalid_argument& e) {
        std::cerr << "tern-peer: " << e.what() << "\n";
        return 2;
    }
    auto rt = runtime::create(options);
    if (!rt) return cli::setup_failed("tern-peer", rt.error());
    tcp::tcp_config config;
    config.mtu = options.engine.mtu;
    tcp::tcp_endpoint ep((*rt)->engine_at(0), config);
    client active(unescape(vm["request"].as<std::string>()));
    std::vector<std::unique_ptr<server>> servers;

    std::signal(SIGINT, on_stop_signal);
    std::signal(SIGTERM, on_stop_signal);
    std::signal(SIGUSR1, on_usr1);
    const double duration = vm["duration"].as<double>();
    std::thread([duration] {
        if (duration <= 0) return;
        std::this_thread::sleep_for(std::chrono::duration<double>(duration));
        on_stop_signal(0);
    }).detach();

    for (const auto& [port, behaviour] : listens) {
        servers.push_back(std::make_unique<server>(behaviour));
        if (!ep.listen(port, tcp::listen_options{}, *servers.back())) {
            std::cerr << "tern-peer: --listen: port " << port << " given twice\n";
            return 2;
        }
        say("listening on " + std::to_string(port) + " (" + behaviour + ")");
    }
    if (listens.empty()) {
        // An active open needs the peer's MAC: --resolve or --static-arp gives it.
        auto s = ep.connect(target.first, target.second, tcp::connect_options{}, active);
        if (!s) {
            say("connect failed");
            return 1;
        }
    }
    // The engine runs in phases: SIGUSR1 ends one so that main closes the held streams
    // (the engine is not running then, so nothing else touches them).
    while (!stopping) {
        phase_done = false;
        (*rt)->run(phase_done);
        if (close_held.exchange(false))
            for (auto& srv : servers) srv->close_held();
    }
    say("stopped: " + std::to_string(ep.connections()) + " connection(s) left");
    if (vm.count("connect")) return active.got_reply() ? 0 : active.refused() ? 3 : 4;
    return 0;
}
