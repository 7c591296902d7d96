// The machine's own pauses: how often a thread that does nothing but read the clock on one
// core is kept from running for longer than a threshold (the guest's timer tick, the
// hypervisor running something else on the vCPU, interrupts). No program on that core can
// answer faster than such a pause lets it, so they set a floor under tail latencies: on
// the 2-vCPU VM of 2026-12-05 each core was paused over 20 us some 360 times a second,
// and a ping-pong that needs both cores for each of its ~590k round trips a second met one
// in about 0.12% of them, above the 0.1% a p99.9 leaves. tern-bench measures it before its
// scenarios, so its tail rows can be read against it.
#pragma once

#include <chrono>
#include <cstdint>
#include <vector>

namespace tern::bench {

// Pauses in one run of clock readings.
struct pause_count {
    int core = -1;
    double seconds = 0;          // from the first reading to the last
    std::uint64_t over_10us = 0; // gaps between consecutive readings longer than 10 us
    std::uint64_t over_20us = 0;
    std::uint64_t over_100us = 0;
    double longest_us = 0;
    double per_second(std::uint64_t n) const { return seconds > 0 ? double(n) / seconds : 0; }
};

// Counts the gaps between consecutive clock readings, given in order.
class pause_meter {
public:
    using time_point = std::chrono::steady_clock::time_point;
    void reading(time_point t);
    pause_count result(int core) const;

private:
    bool started_ = false;
    time_point first_{}, last_{};
    pause_count count_;
};

// Spins one thread on each core (all at once, as a pair's two processes run) for `span`,
// reading the clock, and returns each core's pauses. Throws when a thread cannot be pinned
// to its core.
std::vector<pause_count> measure_pauses(const std::vector<int>& cores, std::chrono::milliseconds span);

} // namespace tern::bench
