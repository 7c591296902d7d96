// Time as the engine sees it: nanoseconds on a monotonic clock that the engine owns
// (the TSC in production, a virtual clock in tests). The TCP core never reads a clock;
// it is handed an instant.
#pragma once

#include <chrono>
#include <cstdint>

namespace tern {

using duration = std::chrono::nanoseconds;

// The tag clock of tern's instants; there is no now() here on purpose.
struct engine_clock {
    using rep = std::int64_t;
    using period = std::nano;
    using duration = std::chrono::nanoseconds;
    using time_point = std::chrono::time_point<engine_clock, duration>;
    static constexpr bool is_steady = true;
};

using instant = engine_clock::time_point;

using namespace std::chrono_literals;

} // namespace tern
