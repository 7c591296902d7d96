#include "load/report.hpp"

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <sstream>
#include <stdexcept>

#include "common/json.hpp"

namespace tern::load {

namespace {

std::string decimal(histogram::u128 v) {
    std::string s;
    do s.insert(s.begin(), char('0' + int(v % 10)));
    while ((v /= 10) != 0);
    return s;
}

histogram::u128 parse_u128(const json::value& v, const std::string& where) {
    if (v.type != json::value::kind::number || v.text.empty() || v.text.size() > 38)
        throw std::invalid_argument(where + ": not an unsigned integer");
    histogram::u128 n = 0;
    for (char c : v.text) {
        if (c < '0' || c > '9') throw std::invalid_argument(where + ": not an unsigned integer");
        n = n * 10 + unsigned(c - '0');
    }
    return n;
}

// {"count": N, "min_ns": .., "max_ns": .., "sum_ns": .., "buckets": [[HIGHEST_NS, COUNT], ...]}:
// each non-empty bucket named by the highest value it holds, which is also what a percentile
// falling in it reports.
std::string histogram_json(const histogram& h) {
    std::ostringstream j;
    j << "{\"count\": " << h.count() << ", \"min_ns\": " << h.min() << ", \"max_ns\": " << h.max()
      << ", \"sum_ns\": " << decimal(h.sum()) << ", \"buckets\": [";
    bool first = true;
    for (std::size_t i = 0; i < histogram::bucket_count; ++i) {
        if (h.count_in_bucket(i) == 0) continue;
        j << (first ? "" : ", ") << "[" << histogram::bucket_highest(i) << ", " << h.count_in_bucket(i) << "]";
        first = false;
    }
    j << "]}";
    return j.str();
}

histogram histogram_from(const json::value& v, const std::string& where) {
    std::vector<std::pair<std::size_t, std::uint64_t>> buckets;
    const auto& items = v.at("buckets", where).as_array(where + ".buckets");
    for (std::size_t k = 0; k < items.size(); ++k) {
        const std::string at = where + ".buckets[" + std::to_string(k) + "]";
        const auto& pair = items[k].as_array(at);
        if (pair.size() != 2) throw std::invalid_argument(at + ": not [HIGHEST_NS, COUNT]");
        const std::uint64_t highest = pair[0].as_u64(at);
        const std::size_t i = histogram::bucket_index(highest);
        if (histogram::bucket_highest(i) != highest)
            throw std::invalid_argument(at + ": " + std::to_string(highest) + " is no bucket's highest value (histograms of " +
                                        std::to_string(histogram::sub_bucket_bits) + " sub-bucket bits)");
        buckets.emplace_back(i, pair[1].as_u64(at));
    }
    histogram h;
    const std::uint64_t count = v.at("count", where).as_u64(where + ".count");
    if (!h.assign(buckets, v.at("min_ns", where).as_u64(where + ".min_ns"), v.at("max_ns", where).as_u64(where + ".max_ns"),
                  parse_u128(v.at("sum_ns", where), where + ".sum_ns")) ||
        h.count() != count)
        throw std::invalid_argument(where + ": count, min, max, sum and buckets do not agree");
    return h;
}

std::string series_json(const std::vector<histogram>& series) {
    std::string j = "[";
    for (std::size_t s = 0; s < series.size(); ++s) j += (s ? ",\n    " : "\n    ") + histogram_json(series[s]);
    return j + (series.empty() ? "]" : "\n  ]");
}

std::string totals_json(const std::vector<std::pair<std::string, std::uint64_t>>& totals) {
    std::string j = "{";
    for (std::size_t i = 0; i < totals.size(); ++i)
        j += (i ? ", " : "") + json::quote(totals[i].first) + ": " + std::to_string(totals[i].second);
    return j + "}";
}

std::vector<std::pair<std::string, std::uint64_t>> totals_from(const json::value& v, const std::string& where) {
    if (v.type != json::value::kind::object) throw std::invalid_argument(where + ": not an object");
    std::vector<std::pair<std::string, std::uint64_t>> totals;
    for (auto& [k, n] : v.members) totals.emplace_back(k, n.as_u64(where + "." + k));
    return totals;
}

// [{"totals": {...}, "latency": HISTOGRAM, "connect_latency": HISTOGRAM}, ...]
std::string per_engine_json(const std::vector<engine_part>& parts) {
    std::string j = "[";
    for (std::size_t e = 0; e < parts.size(); ++e)
        j += std::string(e ? ",\n    " : "\n    ") + "{\"totals\": " + totals_json(parts[e].totals) +
             ",\n     \"latency\": " + histogram_json(parts[e].latency) +
             ",\n     \"connect_latency\": " + histogram_json(parts[e].connect_latency) + "}";
    return j + (parts.empty() ? "]" : "\n  ]");
}

std::vector<engine_part> per_engine_from(const json::value& v) {
    std::vector<engine_part> parts;
    const auto& items = v.as_array("per_engine");
    for (std::size_t e = 0; e < items.size(); ++e) {
        const std::string where = "per_engine[" + std::to_string(e) + "]";
        engine_part p;
        p.totals = totals_from(items[e].at("totals", where), where + ".totals");
        p.latency = histogram_from(items[e].at("latency", where), where + ".latency");
        p.connect_latency = histogram_from(items[e].at("connect_latency", where), where + ".connect_latency");
        parts.push_back(std::move(p));
    }
    return parts;
}

std::vector<histogram> series_from(const json::value& v, const std::string& where) {
    std::vector<histogram> series;
    const auto& items = v.as_array(where);
    for (std::size_t s = 0; s < items.size(); ++s) series.push_back(histogram_from(items[s], where + "[" + std::to_string(s) + "]"));
    return series;
}

std::string latency_json(const percentiles& p) {
    char s[320];
    std::snprintf(s, sizeof s,
                  "{\"samples\": %" PRIu64 ", \"p50_us\": %.3f, \"p90_us\": %.3f, \"p99_us\": %.3f, \"p99_9_us\": %.3f, "
                  "\"p99_99_us\": %.3f, \"max_us\": %.3f, \"mean_us\": %.3f}",
                  p.count, p.p50, p.p90, p.p99, p.p999, p.p9999, p.max, p.mean);
    return s;
}

void merge_series(std::vector<histogram>& into, const std::vector<histogram>& from) {
    if (into.size() < from.size()) into.resize(from.size());
    for (std::size_t s = 0; s < from.size(); ++s) into[s].merge(from[s]);
}

} // namespace

std::uint64_t total(const report& r, std::string_view name) {
    for (auto& [n, v] : r.totals)
        if (n == name) return v;
    return 0;
}

percentiles of(const histogram& h) {
    auto us = [](std::uint64_t ns) { return double(ns) / 1000.0; };
    return {us(h.percentile(50)),  us(h.percentile(90)), us(h.percentile(99)), us(h.percentile(99.9)),
            us(h.percentile(99.99)), us(h.max()),        h.mean() / 1000.0,    h.count()};
}

std::string to_json(const report& r) {
    const double secs = r.measured_s > 0 ? r.measured_s : 1;
    std::ostringstream j;
    j << "{\n  \"workload\": " << json::quote(r.workload) << ",\n  \"target\": " << json::quote(r.target)
      << ",\n  \"hosts\": " << r.hosts << ",\n  \"engines\": " << r.engines << ",\n  \"connections\": " << r.connections
      << ",\n  \"rate\": " << r.rate << ",\n  \"warmup_s\": " << r.warmup_s << ",\n  \"measured_s\": " << r.measured_s
      << ",\n  \"totals\": " << totals_json(r.totals);
    j << ",\n  \"errors\": " << r.errors << ",\n  \"conn_per_s\": " << double(total(r, "established")) / secs
      << ",\n  \"req_per_s\": " << double(total(r, "responses")) / secs
      << ",\n  \"mbit_in_per_s\": " << double(total(r, "bytes_in")) * 8 / secs / 1e6
      << ",\n  \"mbit_out_per_s\": " << double(total(r, "bytes_out")) * 8 / secs / 1e6
      << ",\n  \"latency\": " << latency_json(of(r.latency))
      << ",\n  \"connect_latency\": " << latency_json(of(r.connect_latency))
      << ",\n  \"connections_open_at_end\": " << r.connections_open_at_end << ",\n  \"flood_syns\": " << r.flood_syns
      << ",\n  \"ok\": " << (r.ok ? "true" : "false")
      << ",\n  \"histograms\": {\"sub_bucket_bits\": " << histogram::sub_bucket_bits
      << ",\n    \"latency\": " << histogram_json(r.latency) << ",\n    \"connect_latency\": " << histogram_json(r.connect_latency)
      << "},\n  \"latency_by_second\": " << series_json(r.latency_series)
      << ",\n  \"connect_latency_by_second\": " << series_json(r.connect_series)
      << ",\n  \"per_engine\": " << per_engine_json(r.per_engine) << "\n}\n";
    return j.str();
}

namespace {

// What the run was and what it counted (its histograms apart).
report read_run(const json::value& v) {
    report r;
    r.workload = v.at("workload", "").as_string("workload");
    r.target = v.at("target", "").as_string("target");
    r.hosts = v.has("hosts") ? v.at("hosts", "").as_u64("hosts") : 1;
    r.engines = v.at("engines", "").as_u64("engines");
    r.connections = v.at("connections", "").as_u64("connections");
    r.rate = v.at("rate", "").as_double("rate");
    r.warmup_s = v.at("warmup_s", "").as_double("warmup_s");
    r.measured_s = v.at("measured_s", "").as_double("measured_s");
    r.totals = totals_from(v.at("totals", ""), "totals");
    r.errors = v.at("errors", "").as_u64("errors");
    r.connections_open_at_end = v.at("connections_open_at_end", "").as_u64("connections_open_at_end");
    r.flood_syns = v.at("flood_syns", "").as_u64("flood_syns");
    r.ok = v.at("ok", "").as_bool("ok");
    return r;
}

// The histograms' object, whose buckets must be this tern-load's to merge with its.
const json::value& histograms_of(const json::value& v) {
    if (!v.has("histograms"))
        throw std::invalid_argument("no \"histograms\" (a report of a tern-load older than merge?)");
    const json::value& h = v.at("histograms", "");
    const std::uint64_t bits = h.at("sub_bucket_bits", "histograms").as_u64("histograms.sub_bucket_bits");
    if (bits != histogram::sub_bucket_bits)
        throw std::invalid_argument("histograms.sub_bucket_bits: " + std::to_string(bits) + ", this tern-load's are " +
                                    std::to_string(histogram::sub_bucket_bits));
    return h;
}

} // namespace

report from_json(std::string_view text, const std::string& name) {
    try {
        const json::value v = json::parse(text);
        report r = read_run(v);
        const json::value& h = histograms_of(v);
        r.latency = histogram_from(h.at("latency", "histograms"), "histograms.latency");
        r.connect_latency = histogram_from(h.at("connect_latency", "histograms"), "histograms.connect_latency");
        r.latency_series = series_from(v.at("latency_by_second", ""), "latency_by_second");
        r.connect_series = series_from(v.at("connect_latency_by_second", ""), "connect_latency_by_second");
        if (v.has("per_engine")) r.per_engine = per_engine_from(v.at("per_engine", ""));
        return r;
    } catch (const std::invalid_argument& e) {
        throw std::invalid_argument(name + ": " + e.what());
    }
}

report merge(const std::vector<report>& reports, const std::vector<std::string>& names) {
    if (reports.empty()) throw std::invalid_argument("no report to merge");
    report m = reports[0];
    for (std::size_t i = 1; i < reports.size(); ++i) {
        const report& r = reports[i];
        const std::string differs = names[i] + " differs from " + names[0] + " in its ";
        if (r.workload != m.workload) throw std::invalid_argument(differs + "workload (" + r.workload + ", " + m.workload + ")");
        if (r.target != m.target) throw std::invalid_argument(differs + "target (" + r.target + ", " + m.target + ")");
        if (r.totals.size() != m.totals.size())
            throw std::invalid_argument(differs + "counters (another version of tern-load?)");
        for (std::size_t k = 0; k < r.totals.size(); ++k) {
            if (r.totals[k].first != m.totals[k].first)
                throw std::invalid_argument(differs + "counters (another version of tern-load?)");
            m.totals[k].second += r.totals[k].second;
        }
        m.hosts += r.hosts;
        m.engines += r.engines;
        m.connections += r.connections;
        m.rate += r.rate;
        m.warmup_s = std::max(m.warmup_s, r.warmup_s);
        m.measured_s = std::max(m.measured_s, r.measured_s);
        m.errors += r.errors;
        m.connections_open_at_end += r.connections_open_at_end;
        m.flood_syns += r.flood_syns;
        m.ok = m.ok && r.ok;
        m.latency.merge(r.latency);
        m.connect_latency.merge(r.connect_latency);
        merge_series(m.latency_series, r.latency_series);
        merge_series(m.connect_series, r.connect_series);
        m.per_engine.insert(m.per_engine.end(), r.per_engine.begin(), r.per_engine.end());
    }
    return m;
}

} // namespace tern::load
