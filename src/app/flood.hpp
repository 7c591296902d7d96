// A SYN flood (RFC 4987 §2) for testing a server's defences: SYNs to one target from
// addresses that never answer, at a set rate or as fast as the engine's transmit takes them.
// Each SYN has a random source address (in `sources`), port, sequence number and TSval, and
// the options a Linux client sends; nothing of it is kept. The sources must lie off-link,
// behind the server's gateway (us): the server's SYN,ACKs then come to our MAC for
// addresses that are not ours, and the engine drops them in silence, as the Internet drops
// the answers to a spoofing attacker. It runs as a poller of one engine, beside a load
// generator on the same engine (the real connections whose fate under the flood we measure).
#pragma once

#include <atomic>
#include <cstdint>

#include "core/engine.hpp"
#include "tern/addr.hpp"
#include "tern/time.hpp"

namespace tern::app {

struct flood_options {
    ipv4_cidr sources;            // spoofed source addresses
    ipv4_addr target;
    std::uint16_t target_port = 80;
    double rate = 0;              // SYNs a second; 0: as many as the engine sends
};

class syn_flood {
public:
    // Registers itself as a poller of `eng`; starts at once.
    syn_flood(engine& eng, const flood_options& options, std::uint64_t seed);
    syn_flood(const syn_flood&) = delete;
    syn_flood& operator=(const syn_flood&) = delete;

    // Any thread: SYNs handed to the engine so far.
    std::uint64_t sent() const { return sent_.load(std::memory_order_relaxed); }
    // Stops sending (the end of a run).
    void stop() { stopped_ = true; }

private:
    void poll(instant now);
    bool send_one();
    std::uint64_t next_random();

    engine& engine_;
    flood_options options_;
    std::uint64_t state_;
    std::optional<instant> start_;
    std::uint64_t due_taken_ = 0; // at a set rate: SYNs sent or skipped since start_
    bool stopped_ = false;
    std::atomic<std::uint64_t> sent_{0};
};

} // namespace tern::app
