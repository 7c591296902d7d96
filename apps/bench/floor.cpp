#include "bench/floor.hpp"

#include <cstdlib>
#include <string>

namespace tern::bench {

namespace {

// The number after `key` on `line` (a space-separated key), if any.
std::optional<double> number_after(std::string_view line, std::string_view key) {
    for (std::size_t at = line.find(key); at != std::string_view::npos; at = line.find(key, at + 1)) {
        const bool starts_word = at == 0 || line[at - 1] == ' ' || line[at - 1] == '(';
        const std::size_t value = at + key.size();
        if (!starts_word || value >= line.size() || line[value] != ' ') continue;
        const std::string rest(line.substr(value + 1));
        char* end = nullptr;
        const double v = std::strtod(rest.c_str(), &end);
        if (end == rest.c_str()) return std::nullopt;
        return v;
    }
    return std::nullopt;
}

// The last line of `out` that starts with `head`.
std::optional<std::string_view> last_line(std::string_view out, std::string_view head) {
    std::optional<std::string_view> found;
    while (!out.empty()) {
        const std::size_t end = out.find('\n');
        const std::string_view line = out.substr(0, end);
        if (line.starts_with(head)) found = line;
        if (end == std::string_view::npos) break;
        out.remove_prefix(end + 1);
    }
    return found;
}

} // namespace

std::optional<floor_round_trip> parse_floor_round_trip(std::string_view out) {
    const auto line = last_line(out, "round trip (ns, ");
    if (!line) return std::nullopt;
    const auto samples = number_after(*line, "ns,");
    const auto p50 = number_after(*line, "p50"), p99 = number_after(*line, "p99"),
               p99_9 = number_after(*line, "p99.9");
    if (!samples || *samples < 1 || !p50 || !p99 || !p99_9) return std::nullopt;
    return floor_round_trip{std::uint64_t(*samples), *p50 / 1000, *p99 / 1000, *p99_9 / 1000};
}

std::optional<double> parse_floor_gbit(std::string_view out, std::string_view what) {
    const auto line = last_line(out, std::string(what) + ": ");
    if (!line) return std::nullopt;
    const std::string rest(line->substr(what.size() + 2));
    char* end = nullptr;
    const double v = std::strtod(rest.c_str(), &end);
    if (end == rest.c_str() || std::string_view(end).rfind(" Gbit/s", 0) != 0) return std::nullopt;
    return v;
}

} // namespace tern::bench
