// tern-load's report: what one run measured, written as JSON (--json), and read back and
// merged across runs on many hosts (tern-load merge). The latency histograms travel whole
// (their non-empty buckets, exact min, max and sum), for the run and for each second of it,
// so a merged report's percentiles come from the merged buckets: the same figures one
// process with every host's samples would report, never averaged percentiles.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/histogram.hpp"

namespace tern::load {

// One engine's share of a run on several engines: its counters over the measured time and its
// latency histograms. A merged report lists every host's engines in turn.
struct engine_part {
    std::vector<std::pair<std::string, std::uint64_t>> totals; // the same counters as report::totals
    histogram latency;
    histogram connect_latency;
};

struct report {
    std::string workload;
    std::string target; // IP:PORT
    std::uint64_t hosts = 1; // reports merged into this one
    std::uint64_t engines = 0;
    std::uint64_t connections = 0;
    double rate = 0;
    double warmup_s = 0;
    double measured_s = 0; // merged: the longest
    std::vector<std::pair<std::string, std::uint64_t>> totals; // tern-load's counters, in order
    std::uint64_t errors = 0;
    std::uint64_t connections_open_at_end = 0;
    std::uint64_t flood_syns = 0;
    bool ok = false;
    histogram latency;         // ns: requests (round trips for ping-pong)
    histogram connect_latency; // ns
    std::vector<histogram> latency_series; // one a second of measured time
    std::vector<histogram> connect_series;
    std::vector<engine_part> per_engine; // one per engine, summing to the above; empty in older reports
};

// A total by name, 0 when absent.
std::uint64_t total(const report& r, std::string_view name);

// Percentiles in microseconds, as every report prints them.
struct percentiles {
    double p50, p90, p99, p999, p9999, max, mean;
    std::uint64_t count;
};
percentiles of(const histogram& h);

// The --json document. Rates are the totals over measured_s.
std::string to_json(const report& r);
// Reads what to_json wrote; throws std::invalid_argument saying what is wrong, prefixed by
// `name` (the file).
report from_json(std::string_view text, const std::string& name);
// Totals, connections, engines and rates summed; histograms merged bucket by bucket, the
// series second by second; ok only if every report was. Throws std::invalid_argument when the
// reports are of different workloads, targets or counters (names[i] is reports[i]'s file).
report merge(const std::vector<report>& reports, const std::vector<std::string>& names);

} // namespace tern::load
