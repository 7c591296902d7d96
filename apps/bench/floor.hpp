// What link_floor (bench/link_floor.cpp) prints, read back: the bare memif link's round trips (a ping),
// its round trips a second with many frames in flight (rounds) and its rate (a sink), measured by tern-bench on the same pair, cores and ring as tern's rows, so
// that its table says what the link itself allows in the same run.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace tern::bench {

// A ping's round trips, in microseconds.
struct floor_round_trip {
    std::uint64_t samples = 0;
    double p50_us = 0, p99_us = 0, p99_9_us = 0;
};

// From a line "round trip (ns, N samples): p50 A  p90 B  p99 C  p99.9 D ..."; nullopt when
// the text has none, or one without samples.
std::optional<floor_round_trip> parse_floor_round_trip(std::string_view out);

// From a line "WHAT: R Gbit/s, F frames/s" (WHAT: sink or blast); nullopt when absent.
std::optional<double> parse_floor_gbit(std::string_view out, std::string_view what);

// Rounds: frames kept in flight, each sent again as it comes back (tern's rps rows keep one
// request a connection in flight).
struct floor_rounds {
    unsigned in_flight = 0;
    double per_second = 0;
};

// From a line "rounds: N in flight, R round trips/s"; nullopt when absent or without any.
std::optional<floor_rounds> parse_floor_rounds(std::string_view out);

} // namespace tern::bench
