#include "bench/capacity.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <sstream>

namespace tern::bench {

namespace {

// The number after "key": in tern-load's flat JSON (keys are unique across its nesting, and
// the leading quote keeps "errors" from matching "protocol_errors").
std::optional<double> field(std::string_view json, std::string_view key) {
    std::string needle(1, '"');
    needle.append(key).append("\": ");
    const auto at = json.find(needle);
    if (at == std::string_view::npos) return std::nullopt;
    const std::string rest(json.substr(at + needle.size(), 32));
    char* end = nullptr;
    const double v = std::strtod(rest.c_str(), &end);
    if (end == rest.c_str()) return std::nullopt;
    return v;
}

std::string percent(double share) {
    char b[32];
    std::snprintf(b, sizeof b, "%.2f%%", share * 100);
    return b;
}

// A line's whitespace-separated words.
std::vector<std::string> words_of(const std::string& line) {
    std::istringstream in(line);
    std::vector<std::string> words;
    for (std::string w; in >> w;) words.push_back(w);
    return words;
}

// Where `name` stands among a header's words.
std::optional<std::size_t> column_of(const std::vector<std::string>& words, std::string_view name) {
    const auto at = std::find(words.begin(), words.end(), name);
    if (at == words.end()) return std::nullopt;
    return std::size_t(at - words.begin());
}

// A whole word as a number; nullopt when it is not one.
std::optional<double> number_of(const std::string& word) {
    char* end = nullptr;
    const double v = std::strtod(word.c_str(), &end);
    if (end == word.c_str() || *end != '\0') return std::nullopt;
    return v;
}

std::string rate_text(double r) {
    char b[32];
    std::snprintf(b, sizeof b, "%.0f", r);
    return b;
}

// " (missed_behind 92%, missed_capped 8%)": the causes of the missed opens, largest first.
std::string missed_causes(const cps_run& r) {
    auto by = r.missed_by;
    std::erase_if(by, [](const auto& c) { return c.second == 0; });
    if (by.empty() || r.opens_missed == 0) return "";
    std::stable_sort(by.begin(), by.end(), [](const auto& a, const auto& b) { return a.second > b.second; });
    std::string s = " (";
    for (std::size_t i = 0; i < by.size(); ++i) {
        char share[16];
        std::snprintf(share, sizeof share, "%.0f%%", 100.0 * double(by[i].second) / double(r.opens_missed));
        s += (i ? ", " : "") + by[i].first + " " + share;
    }
    return s + ")";
}

} // namespace

parsed_run parse_cps_report(std::string_view json, double offered) {
    cps_run r;
    r.offered = offered;
    struct want {
        const char* key;
        double* real;
        std::uint64_t* count;
    } wants[] = {{"conn_per_s", &r.achieved, nullptr},
                 {"errors", nullptr, &r.errors},
                 {"connects", nullptr, &r.connects},
                 {"opens_missed", nullptr, &r.opens_missed},
                 {"retransmits", nullptr, &r.retransmits}};
    for (auto& w : wants) {
        auto v = field(json, w.key);
        if (!v) return {std::nullopt, w.key};
        if (w.real) *w.real = *v;
        else *w.count = std::uint64_t(std::llround(*v));
    }
    for (const char* cause : {"missed_late", "missed_behind", "missed_capped", "missed_round", "missed_paused"})
        if (auto v = field(json, cause)) r.missed_by.emplace_back(cause, std::uint64_t(std::llround(*v)));
    return {r, ""};
}

bool link_carried_nothing(std::string_view json) {
    const auto in = field(json, "bytes_in"), established = field(json, "established"),
               unreachable = field(json, "unreachable");
    return in && established && unreachable && *in == 0 && *established == 0 && *unreachable > 0;
}

std::string clean_rule::text() const {
    return "clean = 0 errors, opens_missed <= " + percent(max_missed_share) +
           " of opens (connects + opens_missed), retransmissions <= " + percent(max_rtx_per_connection) +
           " of connections opened, conn/s >= " + percent(min_achieved_share) +
           " of offered; opens_missed and conn/s over the seconds without a stall of " +
           rate_text(machine_stall_ms) + " ms or more when the run had both kinds";
}

namespace {

// Do the run's lines without a machine stall keep the rule's shares of missed opens and rate?
bool unstalled_lines_keep(const cps_run& r, const clean_rule& rule) {
    const machine_stalls& m = r.stalls;
    if (m.lines == 0 || m.other_lines == 0 || m.other_seconds <= 0 || r.offered <= 0) return false;
    const double opens = m.other_established + m.other_missed;
    const double missed = opens > 0 ? m.other_missed / opens : 0;
    return missed <= rule.max_missed_share && m.other_established / m.other_seconds >= rule.min_achieved_share * r.offered;
}

} // namespace

std::string unclean_reasons(const cps_run& r, const clean_rule& rule) {
    std::string why;
    auto add = [&](const std::string& s) { why += (why.empty() ? "" : "; ") + s; };
    bool excusable = true; // broken only where a machine stall shows
    if (r.errors > 0) {
        add("errors " + std::to_string(r.errors));
        excusable = false;
    }
    const double opens = double(r.connects + r.opens_missed);
    const double missed = opens > 0 ? double(r.opens_missed) / opens : 0;
    if (missed > rule.max_missed_share) add("opens_missed " + percent(missed) + " of opens" + missed_causes(r));
    const double rtx = r.connects > 0 ? double(r.retransmits) / double(r.connects) : 0;
    if (rtx > rule.max_rtx_per_connection) {
        add("retransmissions " + percent(rtx) + " of connections");
        excusable = false;
    }
    const double got = r.offered > 0 ? r.achieved / r.offered : 0;
    if (got < rule.min_achieved_share) add("conn/s " + percent(got) + " of offered");
    if (why.empty() || (excusable && unstalled_lines_keep(r, rule))) return "";
    if (r.stalls.lines > 0) add("tern-load " + r.stalls.text());
    return why;
}

std::string search_plan::text() const {
    std::ostringstream s;
    s << "offered conn/s from " << rate_text(start) << ", x" << factor << " while clean (halved while the first is unclean), then "
      << bisections << " bisections between the highest clean and the lowest unclean; at most " << max_runs
      << " runs; the figure is the highest clean run's conn/s";
    return s.str();
}

search_result find_max(const search_plan& plan, const clean_rule& rule,
                       const std::function<cps_run(double rate)>& measure) {
    search_result out;
    std::optional<double> clean, unclean; // the highest clean and lowest unclean rates so far
    auto attempt = [&](double rate) {
        cps_run r = measure(rate);
        r.offered = rate;
        search_step s{r, unclean_reasons(r, rule)};
        out.steps.push_back(s);
        if (s.clean()) {
            clean = rate;
            out.best = out.steps.size() - 1;
        } else {
            unclean = rate;
        }
        return s.clean();
    };
    auto room = [&] { return out.steps.size() < plan.max_runs; };

    for (double rate = plan.start; room() && attempt(rate);) rate = std::round(rate * plan.factor);
    while (!clean && unclean && room() && *unclean / 2 >= plan.min_rate) attempt(std::round(*unclean / 2));
    for (int i = 0; i < plan.bisections && clean && unclean && room(); ++i) {
        const double mid = std::round((*clean + *unclean) / 2);
        if (mid <= *clean || mid >= *unclean) break; // adjacent integers: nothing between
        attempt(mid);
    }
    out.bounded = clean && unclean;
    return out;
}

std::vector<second> parse_progress(std::string_view log) {
    std::vector<second> out;
    bool in_table = false;
    std::optional<std::size_t> stall_column, missed_column;
    std::istringstream in{std::string(log)};
    for (std::string line; std::getline(in, line);) {
        const auto words = words_of(line);
        if (!in_table) {
            in_table = line.find("time_s") != std::string::npos && line.find("conn/s") != std::string::npos;
            if (in_table) {
                stall_column = column_of(words, "stall_ms");
                missed_column = column_of(words, "missed");
            }
            continue;
        }
        if (line.rfind("tern-load:", 0) == 0) break; // the final report follows the table
        const auto t = words.size() >= 2 ? number_of(words[0]) : std::nullopt;
        const auto cps = words.size() >= 2 ? number_of(words[1]) : std::nullopt;
        if (!t || !cps) continue;
        second s{*t, *cps};
        if (stall_column && *stall_column < words.size()) s.stall_ms = number_of(words[*stall_column]).value_or(0);
        if (missed_column && *missed_column < words.size()) s.missed = number_of(words[*missed_column]).value_or(0);
        s.warmup = line.find("(warm-up)") != std::string::npos;
        out.push_back(s);
    }
    return out;
}

machine_stalls stalls_in(const std::vector<second>& lines, double min_ms) {
    machine_stalls m;
    m.min_ms = min_ms;
    double last_end = 0;
    for (const second& s : lines) {
        const double length = s.end_s - last_end;
        last_end = s.end_s;
        if (s.warmup) continue;
        if (s.stall_ms >= min_ms) {
            ++m.lines;
            m.total_ms += s.stall_ms;
        } else {
            ++m.other_lines;
            m.other_seconds += length;
            m.other_established += s.conn_per_s * length;
            m.other_missed += s.missed;
        }
    }
    return m;
}

std::string machine_stalls::text() const {
    return "stood still " + std::to_string(std::llround(total_ms)) + " ms in " + std::to_string(lines) + " line" +
           (lines == 1 ? "" : "s") + " of " + std::to_string(std::llround(min_ms)) + " ms or more";
}

std::vector<second> whole_seconds(const std::vector<second>& lines) {
    std::vector<second> out;
    std::size_t n = 0; // lines in out.back()
    for (const auto& l : lines) {
        // The time column has 0.1 s steps: 1.0 belongs to second 1, 1.1 to second 2.
        const double k = std::ceil(l.end_s - 1e-6);
        if (out.empty() || out.back().end_s != k) {
            out.push_back({k, 0});
            n = 0;
        }
        auto& s = out.back();
        s.conn_per_s = (s.conn_per_s * double(n) + l.conn_per_s) / double(n + 1);
        s.stall_ms += l.stall_ms;
        ++n;
    }
    return out;
}

std::optional<overload_figures> overload_from(const std::vector<second>& lines, double stall_s, double resume_s) {
    const auto seconds = whole_seconds(lines);
    overload_figures f;
    std::optional<double> pre;
    double sum = 0, sum_unstalled = 0;
    for (std::size_t i = 0; i < seconds.size(); ++i) {
        f.peak = std::max(f.peak, seconds[i].conn_per_s);
        if (seconds[i].end_s <= stall_s) pre = seconds[i].conn_per_s;
        // The first second starts from idle: no connections yet in TIME_WAIT, no backlog.
        if (i > 0 || seconds.size() == 1) {
            sum += seconds[i].conn_per_s;
            if (seconds[i].stall_ms >= machine_stall_ms) ++f.stalled_seconds;
            else sum_unstalled += seconds[i].conn_per_s;
        }
    }
    if (!pre) return std::nullopt;
    f.pre_stall = *pre;
    const std::size_t counted = seconds.size() > 1 ? seconds.size() - 1 : 1;
    f.goodput_share = f.peak > 0 ? sum / double(counted) / f.peak : 0;
    const std::size_t unstalled = counted - f.stalled_seconds;
    if (unstalled > 0) f.goodput_share_unstalled = f.peak > 0 ? sum_unstalled / double(unstalled) / f.peak : 0;
    for (const auto& l : lines)
        if (l.end_s > resume_s && l.conn_per_s >= 0.9 * f.pre_stall) {
            f.recovery_s = l.end_s - resume_s;
            break;
        }
    return f;
}

} // namespace tern::bench
