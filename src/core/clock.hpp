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

// The same conversion as one multiplication, for the clock the engine reads every round:
// tsc_cycles_to_duration divides three times (about 100 cycles; 8% of an idle-polling
// server's profile). The factor is 1e9/hz in 0.64 fixed point, rounded up, so a result is
// never below the exact one and above it only when the exact one lies within
// cycles/2^64 ns (under 0.06 ns for ten years of cycles) of the next nanosecond; it is
// monotonic in cycles. TSC rates up to 1 GHz (a factor of 1 or more) take the exact path.
class tsc_scale {
public:
    constexpr explicit tsc_scale(std::uint64_t hz) : hz_(hz), factor_(factor_for(hz)) {}
    constexpr duration operator()(std::uint64_t cycles) const {
        if (factor_ == 0) return tsc_cycles_to_duration(cycles, hz_);
        return duration(static_cast<std::int64_t>((static_cast<unsigned __int128>(cycles) * factor_) >> 64));
    }

private:
    static constexpr std::uint64_t factor_for(std::uint64_t hz) {
        constexpr std::uint64_t ns_per_s = 1'000'000'000;
        if (hz <= ns_per_s) return 0;
        const unsigned __int128 scaled = static_cast<unsigned __int128>(ns_per_s) << 64;
        return static_cast<std::uint64_t>((scaled + hz - 1) / hz);
    }
    std::uint64_t hz_;
    std::uint64_t factor_; // 0: the exact path
};

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
    tsc_scale scale_;
    std::uint64_t start_cycles_;
    duration start_; // CLOCK_MONOTONIC at start_cycles_
};

} // namespace tern
