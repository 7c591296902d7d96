// IPv4 fragment reassembly for one engine (RFC 791 §3.2, RFC 1122 §3.3.2: a host MUST
// reassemble). Fragments are copied into one mbuf per datagram as they come and freed at
// once; the datagram leaves as an ordinary frame (fragment zero's Ethernet and IPv4 headers,
// MF and offset cleared) that the engine dispatches like any other.
//
// Bounded: at most reassembly_config::max_datagrams in progress, a new one evicting the
// oldest; each is given up `timeout` after its first fragment came. A datagram longer than
// one mbuf holds is refused: that is our EMTU_R (2,048 bytes or the MTU if larger,
// RFC 1122 asks for 576), and tern advertises an MSS its MTU carries, so TCP never needs more.
// Overlaps are not merged: a fragment that overlaps received bytes with other bytes or other
// bounds discards its datagram (as Linux does, and RFC 5722 asks of IPv6), since two
// readings of one datagram are an attack or a broken sender, never a repair. A fragment
// that repeats received bytes exactly is a duplicate, dropped alone.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include "core/stats.hpp"
#include "core/timer_wheel.hpp"
#include "tern/addr.hpp"
#include "tern/config.hpp"
#include "tern/drop_reason.hpp"
#include "tern/result.hpp"

struct rte_mbuf;
struct rte_mempool;

namespace tern {

namespace wire {
class ipv4_view;
}

class ipv4_reassembly {
public:
    // `timer_kind`: the kind its hooks carry, for the owner of the wheel to hand back to
    // expire(). Counts evictions in `stats`.
    ipv4_reassembly(const reassembly_config& config, rte_mempool* pool, timer_wheel& timers, std::uint32_t timer_kind,
                    engine_stats& stats);
    ~ipv4_reassembly();
    ipv4_reassembly(const ipv4_reassembly&) = delete;
    ipv4_reassembly& operator=(const ipv4_reassembly&) = delete;

    // Takes a fragment: `frame` is its mbuf (starting at the Ethernet header), `ip` its
    // parsed header (ip.is_fragment()). On success the fragment's bytes are kept and the
    // mbuf freed; the answer is the whole datagram, in a new mbuf, when this fragment
    // completed it, else null. On an error the mbuf is the caller's to drop for that reason.
    result<rte_mbuf*, drop_reason> add(rte_mbuf* frame, const wire::ipv4_view& ip, instant now);

    // A hook of this reassembly's kind fired: its datagram is given up. Returns, when
    // fragment zero had come and the datagram was not discarded before, an mbuf holding
    // what an ICMP error quotes of it (RFC 792): data starting at its IPv4 header, that
    // header and the first 8 bytes of its data. The caller owns it. Else null.
    rte_mbuf* expire(timer_hook& hook);

    std::uint16_t in_progress() const { return std::uint16_t(active_.size()); }

    // Fragment zero's headers (Ethernet, and IPv4 with options) go into the buffer's
    // headroom, before the data, which starts where a frame would: a datagram of the MTU
    // that sized the mbufs fits whatever its options.
    static constexpr std::uint16_t max_headers = 14 + 60;
    // Runs of received bytes a datagram may be in at once; more is a deliberate scatter.
    static constexpr std::size_t max_runs = 16;

private:
    struct run {
        std::uint16_t begin, end; // of the datagram's data, bytes
    };
    struct datagram {
        ipv4_addr src, dst;
        std::uint16_t id = 0;
        std::uint8_t protocol = 0;
        std::uint8_t header_length = 0;        // fragment zero's IHL in bytes; 0 until it came
        std::optional<std::uint16_t> length;   // of the data: known when the last fragment came
        std::optional<drop_reason> discarded;  // why the datagram was given up before its timer
        std::uint8_t runs = 0;
        std::array<run, max_runs> run_at{};   // in order, neither touching nor overlapping
        rte_mbuf* buffer = nullptr;
        instant started;
        owned_timer_hook timeout;
    };

    datagram* find(const wire::ipv4_view& ip);
    datagram* start(const wire::ipv4_view& ip, instant now);
    void discard(datagram& d, drop_reason why);
    void finish(datagram& d);
    result<bool, drop_reason> take_bytes(datagram& d, std::uint16_t begin, std::span<const std::uint8_t> bytes);
    std::uint16_t capacity(const datagram& d) const;
    bool complete(const datagram& d) const;
    rte_mbuf* release_whole(datagram& d);

    reassembly_config config_;
    rte_mempool* pool_;
    timer_wheel& timers_;
    std::uint32_t timer_kind_;
    engine_stats& stats_;
    std::unique_ptr<datagram[]> slots_;
    std::vector<datagram*> free_;
    std::vector<datagram*> active_;
};

} // namespace tern
