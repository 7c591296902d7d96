// tern-bench's arithmetic, apart from the processes it starts: when a cps run counts as
// clean, which offered rates the capacity search tries, and the overload figures drawn
// from tern-load's per-second progress lines. Plain functions over numbers and text, so
// that tests/bench checks them without a network.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace tern::bench {

// The measured progress lines (not the warm-up's) of a tern-load run whose stall_ms column
// (its engines' rounds that started 1 ms or more late, added up over the line) reached
// `min_ms`: at machine_stall_ms a thread was kept off its CPU (a round of tern's own work
// takes microseconds), which is the machine's doing. This VM stalls ~100 ms at a time when
// both its cores have been busy for long.
constexpr double machine_stall_ms = 50;
struct machine_stalls {
    unsigned lines = 0;
    double total_ms = 0;
    double min_ms = machine_stall_ms; // the threshold the lines were counted at
    // The other measured lines, added up: what the run did while the machine let it run.
    unsigned other_lines = 0;
    double other_seconds = 0;
    double other_established = 0; // their conn/s times their length
    double other_missed = 0;      // their missed column
    std::string text() const;     // "stood still 201 ms in 2 lines of 50 ms or more"
};

// One tern-load cps run, from its --json report.
struct cps_run {
    double offered = 0;  // conn/s asked for (--rate)
    double achieved = 0; // conn_per_s: connections established per measured second
    std::uint64_t errors = 0;
    std::uint64_t connects = 0;     // connections opened
    std::uint64_t opens_missed = 0; // scheduled opens tern-load could not make
    std::uint64_t retransmits = 0;  // over all its connections, SYNs included
    // opens_missed by cause, as tern-load counts them (missed_late, ...); a report from
    // before it counted them has none.
    std::vector<std::pair<std::string, std::uint64_t>> missed_by;
    machine_stalls stalls;       // from its log (stalls_in), where the caller read it
    bool measured_again = false; // this run replaced one that met the machine's stalls
};

// The figures above out of tern-load's --json text; nullopt names the field missing.
struct parsed_run {
    std::optional<cps_run> run;
    std::string missing;
};
parsed_run parse_cps_report(std::string_view json, double offered);

// Did the link carry nothing at all (no byte in, nothing established, connects ending
// unreachable as ARP went unanswered)? Then the run measured no TCP: the memif link between
// the two processes never came up.
bool link_carried_nothing(std::string_view json);

// When a run counts as clean. Retransmissions are counted against connections because
// tern-load's report counts connections, not segments; a cps connection here carries
// about five segments each way, so 0.1% of connections is near 0.02% of segments.
// The rule excuses the seconds around a stall the log shows: a run whose opens
// missed or rate alone broke the rule, and whose lines without a machine stall keep it, is
// clean (each of CI's 2 s runs on a loaded VM, 2026-12-05, stood still 100-300 ms, and
// one 100 ms stall misses 5% of a 2 s run's opens).
struct clean_rule {
    double max_missed_share = 0.005;    // opens_missed / (connects + opens_missed)
    double max_rtx_per_connection = 0.001;
    double min_achieved_share = 0.95;   // achieved / offered
    std::string text() const;
};

// Empty when `r` is clean; otherwise each broken condition with its figure, and the
// machine's stalls the run met.
std::string unclean_reasons(const cps_run& r, const clean_rule& rule);

// Which rates the search tries: `start`, times `factor` while clean; if the very first is
// unclean, halved while unclean (not below `min_rate`); then `bisections` midpoints
// between the highest clean and the lowest unclean. Never more than `max_runs` runs.
// After a climb by x1.5 the capacity lies in a gap of half the clean rate; each bisection
// halves it: three leave the figure at most ~6% under the capacity, two left ~12% (a pair
// that carried 930k conn/s reported 854k).
struct search_plan {
    double start = 100000;
    double factor = 1.5;
    int bisections = 3;
    unsigned max_runs = 10;
    double min_rate = 100;
    std::string text() const;
};

struct search_step {
    cps_run run;
    std::string unclean; // empty: clean
    bool clean() const { return unclean.empty(); }
};

struct search_result {
    std::vector<search_step> steps;         // in the order run
    std::optional<std::size_t> best;        // the highest clean offered rate's step
    bool bounded = false;                   // an unclean rate above it was seen
};

// Runs `measure` at each rate the plan picks and judges it by `rule`.
search_result find_max(const search_plan& plan, const clean_rule& rule,
                       const std::function<cps_run(double rate)>& measure);

// ---- overload ------------------------------------------------------------------------

// One progress line of tern-load: the interval ending `end_s` seconds after its start.
struct second {
    double end_s = 0;
    double conn_per_s = 0;
    double stall_ms = 0;  // its stall_ms column: how long the engine's loop stood still (0 without one)
    double missed = 0;    // its missed column: opens missed in the line (0 without one)
    bool warmup = false;  // a line of the warm-up, marked "(warm-up)"
};

// tern-load's progress lines (apps/tern-load.cpp, progress()): a header naming time_s and
// conn/s (and stall_ms, where tern-load has it), then one line each --interval starting with
// those two numbers.
std::vector<second> parse_progress(std::string_view log);

// The stalls of `lines` (parse_progress) of `min_ms` or more, outside the warm-up, and
// what the other measured lines carried.
machine_stalls stalls_in(const std::vector<second>& lines, double min_ms = machine_stall_ms);

// Lines at an interval that divides a second (0.1 s, 1 s) as whole seconds: second k is the
// mean of the lines ending in (k-1, k], its stall_ms their sum.
std::vector<second> whole_seconds(const std::vector<second>& lines);

struct overload_figures {
    double peak = 0;                   // the best whole second, conn/s
    double goodput_share = 0;          // mean of every whole second but the first, over peak
    double pre_stall = 0;              // the last whole second ending at or before the stall
    unsigned stalled_seconds = 0;      // of those goodput counts, the ones tern-load met a
                                       // machine stall in (stall_ms >= machine_stall_ms)
    std::optional<double> goodput_share_unstalled; // goodput over the others alone (none: all stalled)
    std::optional<double> recovery_s;  // from SIGCONT to the end of the first line ending
                                       // after it at >= 90% of pre_stall
};

// The figures of an overload run whose server stood still from `stall_s` to `resume_s`
// (tern-load's clock), from its progress lines; the recovery is as fine as they are.
// nullopt when no whole second ended before the stall.
std::optional<overload_figures> overload_from(const std::vector<second>& lines, double stall_s, double resume_s);

} // namespace tern::bench
