#include "core/clock.hpp"

#include <time.h>

#include <rte_cycles.h>

namespace tern {

namespace {

duration monotonic_now() {
    timespec ts{};
    ::clock_gettime(CLOCK_MONOTONIC, &ts);
    return std::chrono::seconds(ts.tv_sec) + std::chrono::nanoseconds(ts.tv_nsec);
}

} // namespace

tsc_clock::tsc_clock() : scale_(rte_get_tsc_hz()), start_cycles_(rte_rdtsc()), start_(monotonic_now()) {
    assert(rte_get_tsc_hz() != 0 && "tsc_clock before rte_eal_init");
}

instant tsc_clock::now() { return instant(start_ + scale_(rte_rdtsc() - start_cycles_)); }

} // namespace tern
