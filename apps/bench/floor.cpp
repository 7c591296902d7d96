#include "bench/floor.hpp"

#include <regex>
#include <string>

namespace tern::bench {

// The formats link_floor's printf lines have; p99.9 is matched in its place, so p99.99's
// figure cannot stand in for it.
std::optional<floor_round_trip> parse_floor_round_trip(std::string_view out) {
    static const std::regex line(R"(round trip \(ns, (\d+) samples\): p50 (\d+)  p90 \d+  p99 (\d+)  p99\.9 (\d+))");
    std::match_results<std::string_view::const_iterator> m;
    if (!std::regex_search(out.begin(), out.end(), m, line) || std::stoull(m[1].str()) == 0) return std::nullopt;
    return floor_round_trip{std::stoull(m[1].str()), std::stod(m[2].str()) / 1000, std::stod(m[3].str()) / 1000,
                            std::stod(m[4].str()) / 1000};
}

std::optional<double> parse_floor_gbit(std::string_view out, std::string_view what) {
    const std::regex line("(^|\\n)" + std::string(what) + R"(: ([0-9.]+) Gbit/s)");
    std::match_results<std::string_view::const_iterator> m;
    if (!std::regex_search(out.begin(), out.end(), m, line)) return std::nullopt;
    return std::stod(m[2].str());
}

std::optional<floor_rounds> parse_floor_rounds(std::string_view out) {
    static const std::regex line(R"((^|\n)rounds: (\d+) in flight, ([0-9.]+) round trips/s)");
    std::match_results<std::string_view::const_iterator> m;
    if (!std::regex_search(out.begin(), out.end(), m, line)) return std::nullopt;
    const floor_rounds r{unsigned(std::stoul(m[2].str())), std::stod(m[3].str())};
    if (r.in_flight == 0 || r.per_second <= 0) return std::nullopt;
    return r;
}

} // namespace tern::bench
