// A simulated wire between two endpoints in one process: what end a() transmits, end b()
// receives after the propagation delay (and the serialisation time, when the link has a
// bandwidth), measured on the given clock, and the other way round. Each direction is a
// FIFO: packets arrive in the order they were sent, never before they are due. Faults are
// not modelled here: wrap an end in a fault_device (STYLE.md #13).
#pragma once

#include <cstdint>
#include <deque>
#include <optional>
#include <string>

#include "tern/clock.hpp"
#include "dpdk/device.hpp"
#include "tern/result.hpp"
#include "tern/time.hpp"

namespace tern {

struct sim_link_config {
    duration delay{0};                 // one-way propagation delay, each direction
    std::uint64_t bits_per_second = 0; // 0: no serialisation time
    // Packets per direction sent and not yet received by the other end (waiting for the
    // line, on the wire, or arrived and unread). A packet sent beyond it is dropped and
    // counted, as a full queue drops on a real link. To model a bottleneck buffer of B
    // packets on a path holding P packets in flight, use B + P.
    std::uint32_t queue_limit = 1024;

    status<std::string> validate() const;
};

struct sim_link_counters {
    std::uint64_t sent = 0;      // accepted onto the wire
    std::uint64_t delivered = 0; // received by the other end
    std::uint64_t dropped = 0;   // queue full
    std::uint64_t in_flight = 0; // now: sent - delivered
};

class sim_link {
public:
    enum class direction { a_to_b, b_to_a };

    // `config` must validate (asserted); `clk` must outlive the link.
    sim_link(clock& clk, const sim_link_config& config);
    ~sim_link(); // frees every packet in flight
    sim_link(const sim_link&) = delete;
    sim_link& operator=(const sim_link&) = delete;

    device& a() { return a_; }
    device& b() { return b_; }

    sim_link_counters counters(direction dir) const;
    // When the next packet in flight arrives (it may already have), if any.
    std::optional<instant> next_arrival() const;
    // Time to put `bytes` on the line at the configured rate, rounded up to whole ns.
    duration serialisation_time(std::uint32_t bytes) const;

private:
    struct in_flight {
        instant arrival;
        rte_mbuf* pkt;
    };
    // One direction: arrival times only grow, so a FIFO is ordered by arrival.
    struct wire {
        std::deque<in_flight> queue;
        instant line_free{}; // when the transmitter finishes the last packet it was given
        sim_link_counters counters;
    };

    class end final : public device {
    public:
        end(sim_link& link, wire& out, wire& in) : link_(link), out_(out), in_(in) {}
        std::uint16_t rx_burst(rte_mbuf** pkts, std::uint16_t n) override;
        // Takes every packet: each is either on the wire or dropped (queue full).
        std::uint16_t tx_burst(rte_mbuf** pkts, std::uint16_t n) override;

    private:
        sim_link& link_;
        wire& out_;
        wire& in_;
    };

    std::uint16_t transmit(wire& w, rte_mbuf** pkts, std::uint16_t n);
    std::uint16_t receive(wire& w, rte_mbuf** pkts, std::uint16_t n);

    clock& clock_;
    sim_link_config config_;
    wire a_to_b_;
    wire b_to_a_;
    end a_{*this, a_to_b_, b_to_a_};
    end b_{*this, b_to_a_, a_to_b_};
};

} // namespace tern
