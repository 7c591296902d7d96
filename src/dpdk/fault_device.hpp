// Seeded fault injection around any device (STYLE.md #13, after smoltcp's FaultInjector):
// loss, duplication, corruption, delay with jitter, and reordering, configured for the
// receive and the transmit direction apart. Decisions come from one PRNG per direction,
// seeded from a single seed, so a run replays exactly when the seed, the configuration,
// the clock and the packets are the same.
//
// Held packets (delayed, reordered, or refused by the inner device) sit in a bounded
// queue per direction and are released when due on the next call of rx_burst, tx_burst
// or poll; every call services both directions, so transmit-side holds drain even while
// the engine has nothing new to send. Nothing is lost silently: each packet taken in is
// passed on, dropped by the loss fault (counted), or still held.
//
// The clock is the engine's abstract tern::clock (tern/clock.hpp): a header-only interface
// with no link dependency. Taking it rather than a std::function keeps the device on the
// very clock object the engine and the test advance, without a type-erased callable.
#pragma once

#include <cstdint>
#include <deque>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "tern/clock.hpp"
#include "dpdk/device.hpp"
#include "tern/result.hpp"
#include "tern/time.hpp"

struct rte_mempool;

namespace tern {

// The faults of one direction. Each probability is per packet, in [0, 1]; at 0 the fault
// draws nothing from the PRNG, so turning one fault on leaves the others' draws alone.
struct fault_profile {
    double loss = 0.0;       // the packet is freed and counted as dropped
    double duplicate = 0.0;  // a full copy (own data) follows the packet
    double corrupt = 0.0;    // one bit flipped past the Ethernet header (checksums catch it)
    // An ECN-capable IPv4 packet (ECT(0) or ECT(1)) is marked CE, as a router's active
    // queue management would (RFC 3168 §5), with its header checksum mended (RFC 1624).
    double mark_ce = 0.0;
    duration delay{0};       // fixed delay of every packet
    duration jitter{0};      // plus uniform [0, jitter]: unequal delays reorder on their own
    // Explicit reordering: with this probability a packet is held back. With
    // reorder_packets > 0 it is released once that many later packets have been passed on
    // (or after reorder_time, when that is non-zero, if traffic stops first); with
    // reorder_packets == 0 it is held reorder_time longer than its delay.
    double reorder = 0.0;
    std::uint32_t reorder_packets = 0;
    duration reorder_time{0};
};

struct fault_config {
    fault_profile rx;
    fault_profile tx;
    std::uint64_t seed = 1;
    // Packets held per direction at most: delayed, reordered, or ready but refused by the
    // inner device. A packet is taken in only with room for it and its possible duplicate.
    std::uint32_t max_held = 4096;
    // Pool for duplicates and for the private copy made before corrupting a shared packet;
    // nullptr takes each packet's own pool.
    rte_mempool* copy_pool = nullptr;

    // Succeeds, or says what is wrong, naming the field.
    status<std::string> validate() const;
};

enum class fault_direction { rx, tx };

struct fault_counters {
    std::uint64_t received = 0;    // taken in: from the inner device (rx) or the caller (tx)
    std::uint64_t passed = 0;      // handed on: to the caller (rx) or taken by the inner device (tx)
    std::uint64_t dropped = 0;     // lost by the loss fault
    std::uint64_t duplicated = 0;  // extra copies made
    std::uint64_t corrupted = 0;   // packets with one bit flipped
    std::uint64_t ce_marked = 0;   // ECN-capable packets marked CE
    std::uint64_t delayed = 0;     // packets given a non-zero delay + jitter
    std::uint64_t reordered = 0;   // packets held back by the reorder fault
    std::uint64_t copy_failed = 0; // copy pool empty: duplicate not made, or corruption skipped
    std::uint64_t held = 0;        // now: received + duplicated == passed + dropped + held
};

class fault_device final : public device {
public:
    // `config` must validate (asserted); `inner` and `clk` must outlive the device.
    fault_device(device& inner, clock& clk, const fault_config& config);
    ~fault_device() override; // frees every held packet
    fault_device(const fault_device&) = delete;
    fault_device& operator=(const fault_device&) = delete;

    std::uint16_t rx_burst(rte_mbuf** pkts, std::uint16_t n) override;
    // Takes none while the inner device is refusing what is already due (back-pressure);
    // otherwise takes up to n while there is room to hold them.
    std::uint16_t tx_burst(rte_mbuf** pkts, std::uint16_t n) override;
    bool link_up() override { return inner_.link_up(); }
    // Releases what is due in both directions and hands due transmit packets on.
    void poll();

    // Changes one direction's faults from now on; packets already held keep their times.
    status<std::string> set_profile(fault_direction dir, const fault_profile& profile);

    std::uint64_t seed() const { return seed_; }
    fault_counters counters(fault_direction dir) const;
    // The earliest instant at which a held packet becomes due by time, if any.
    std::optional<instant> next_release() const;

private:
    struct timed_packet {
        instant due;
        std::uint64_t order; // intake order: equal due times leave in the order they came
        rte_mbuf* pkt;
    };
    struct counted_packet {
        std::uint64_t after; // released once `emitted` reaches this
        std::optional<instant> deadline;
        rte_mbuf* pkt;
    };
    // One direction's faults, PRNG, held packets and counters.
    struct lane {
        fault_profile profile;
        std::mt19937_64 rng;
        std::vector<timed_packet> timed;  // min-heap on (due, order)
        std::deque<counted_packet> counted; // FIFO: `after` and `deadline` only grow
        std::deque<rte_mbuf*> ready;      // due, in order, not yet handed on
        std::uint64_t emitted = 0;        // packets moved to `ready`, reorder releases aside
        std::uint64_t order = 0;
        fault_counters counters;

        std::size_t held() const { return timed.size() + counted.size() + ready.size(); }
    };

    void service(instant now);
    void release_due(lane& l, instant now);
    void flush_tx();
    std::size_t intake_room(const lane& l) const;
    void intake(lane& l, rte_mbuf* m, instant now);
    void schedule(lane& l, rte_mbuf* m, instant now);
    void emit(lane& l, rte_mbuf* m);
    rte_mbuf* corrupt(lane& l, rte_mbuf* m);
    rte_mbuf* mark_ce(lane& l, rte_mbuf* m);
    rte_mbuf* own_copy(lane& l, rte_mbuf* m) const;
    rte_mbuf* copy(rte_mbuf* m) const;

    static bool chance(lane& l, double p);
    static std::uint64_t below(lane& l, std::uint64_t bound);
    static void free_all(lane& l);

    device& inner_;
    clock& clock_;
    std::uint64_t seed_;
    std::uint32_t max_held_;
    rte_mempool* copy_pool_;
    lane rx_;
    lane tx_;
    std::vector<rte_mbuf*> scratch_;
};

} // namespace tern
