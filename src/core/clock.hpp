// The engine's clocks. The engine reads its clock once per loop iteration and hands the
// instant to everything else (the TCP core and the timer wheel never read a clock).
#pragma once

#include <cassert>
#include <cstdint>

#include "tern/clock.hpp"
#include "tern/time.hpp"

namespace tern {

// Converts TSC cycles to time at `hz` cycles a second. Whole seconds and the remainder are
// scaled apart, so nothing overflows for any span a 64-bit cycle count can hold
// (cycles * 1e9 in one go would overflow after about 7 s at 2.5 GHz).
constexpr duration tsc_cycles_to_duration(std::uint64_t cycles, std::uint64_t hz) {
    constexpr std::uint64_t ns_per_s = 1'000'000'000;
    const std::uint64_t seconds = cycles / hz;
    const std::uint64_t rest = cycles % hz;  // rest * 1e9 fits while hz < 18 GHz
    return duration(static_cast<std::int64_t>(seconds * ns_per_s + rest * ns_per_s / hz));
}

// Production: the CPU's time-stamp counter through DPDK, counted from the system's
// monotonic clock (time since boot) at construction. Not from zero: TCP timestamps come
// from this clock, and a peer's TIME-WAIT rejects a SYN whose TSval is older than the last
// one it saw (RFC 7323 §5 PAWS; Linux's TIME-WAIT does), so a restarted process that
// started its clock again at 0 had every reused 4-tuple refused for one SYN timeout.
// Construct it only after rte_eal_init, which measures the TSC rate. Defined in clock.cpp,
// which keeps DPDK's headers out of this one.
class tsc_clock final : public clock {
public:
    tsc_clock();
    instant now() override;

private:
    std::uint64_t hz_;
    std::uint64_t start_cycles_;
    duration start_; // CLOCK_MONOTONIC at start_cycles_
};

} // namespace tern
