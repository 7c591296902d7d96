#include "app/flood.hpp"

#include <algorithm>
#include <cmath>

#include <rte_mbuf.h>

#include "wire/ipv4.hpp"
#include "wire/tcp.hpp"

namespace tern::app {

namespace {

// At most this many SYNs a round, so that received packets keep being read; and while the
// engine is behind none: a flood the device refuses only fills our own backlog.
constexpr unsigned max_per_round = 64;

} // namespace

syn_flood::syn_flood(engine& eng, const flood_options& options, std::uint64_t seed)
    : engine_(eng), options_(options), state_(seed | 1) {
    engine_.add_poller([this](instant now) { poll(now); });
}

// xorshift64*: cheap, and the flood's fields need to be unpredictable only to a server
// that does not try to predict them.
std::uint64_t syn_flood::next_random() {
    state_ ^= state_ >> 12;
    state_ ^= state_ << 25;
    state_ ^= state_ >> 27;
    return state_ * 0x2545f4914f6cdd1dull;
}

void syn_flood::poll(instant now) {
    if (stopped_) return;
    if (!start_) start_ = now;
    std::uint64_t due = max_per_round;
    if (options_.rate > 0) {
        const double elapsed = std::chrono::duration<double>(now - *start_).count();
        const auto owed = std::uint64_t(elapsed * options_.rate);
        // What could not be sent in time is not made up for in a burst.
        if (owed > due_taken_ + max_per_round) due_taken_ = owed - max_per_round;
        due = owed - due_taken_;
    }
    for (std::uint64_t i = 0; i < due && !engine_.congested(); ++i) {
        if (!send_one()) break;
        ++due_taken_;
    }
}

bool syn_flood::send_one() {
    rte_mbuf* m = rte_pktmbuf_alloc(engine_.pool());
    if (!m) return false;
    const std::uint64_t r = next_random();
    const std::uint32_t host_bits = options_.sources.prefix_len >= 32 ? 0 : ~options_.sources.mask();
    const ipv4_addr src{(options_.sources.addr.value & options_.sources.mask()) | (std::uint32_t(r) & host_bits)};
    wire::tcp_repr syn;
    syn.src_port = std::uint16_t(1024 + (r >> 32) % (65536 - 1024));
    syn.dst_port = options_.target_port;
    syn.seq = std::uint32_t(next_random());
    syn.flags = wire::tcp_flags::syn;
    syn.window = 64240;
    syn.options.mss = 1460;
    syn.options.sack_permitted = true;
    syn.options.timestamp = std::pair{std::uint32_t(r >> 16), 0u};
    syn.options.window_scale = 7;
    const std::size_t tcp_len = syn.header_length();
    const auto total = std::uint16_t(wire::ipv4_repr::header_length + tcp_len);
    auto* p = reinterpret_cast<std::uint8_t*>(rte_pktmbuf_append(m, total));
    wire::ipv4_repr{src, options_.target, wire::ip_protocol::tcp, 64, std::uint16_t(r >> 48), std::uint16_t(tcp_len),
                    true, 0}
        .emit(p);
    syn.emit(p + wire::ipv4_repr::header_length, src, options_.target, {}, wire::checksum_mode::software);
    engine_.send_ipv4(m, options_.target);
    sent_.store(sent_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
    return true;
}

} // namespace tern::app
