// tern-load's report across hosts: what --json writes reads back the same, and merging the
// reports of two runs gives what one run with both runs' samples reports: the histograms
// bucket by bucket (so the percentiles exactly), the totals summed.
#include <gtest/gtest.h>

#include <random>
#include <stdexcept>
#include <string>

#include "load/report.hpp"

using namespace tern;

namespace {

// Latencies of a few microseconds with a tail to tens of milliseconds, as a load shows.
void record_some(histogram& h, std::mt19937_64& rng, int n) {
    std::lognormal_distribution<double> ns(10.0, 1.2);
    for (int i = 0; i < n; ++i) h.record(std::uint64_t(ns(rng)));
}

load::report sample_report(std::uint64_t responses) {
    load::report r;
    r.workload = "rps";
    r.target = "198.18.0.2:80";
    r.engines = 1;
    r.connections = 8;
    r.rate = 1000;
    r.measured_s = 2;
    r.totals = {{"established", 8}, {"responses", responses}, {"bytes_in", 100 * responses}, {"bytes_out", 50 * responses}};
    r.ok = true;
    return r;
}

void expect_same(const histogram& a, const histogram& b) {
    ASSERT_EQ(a.count(), b.count());
    EXPECT_EQ(a.min(), b.min());
    EXPECT_EQ(a.max(), b.max());
    EXPECT_TRUE(a.sum() == b.sum());
    for (std::size_t i = 0; i < histogram::bucket_count; ++i) ASSERT_EQ(a.count_in_bucket(i), b.count_in_bucket(i)) << i;
    for (double p : {0.0, 50.0, 90.0, 99.0, 99.9, 99.99, 100.0}) EXPECT_EQ(a.percentile(p), b.percentile(p)) << p;
}

std::string with_replaced(std::string text, const std::string& from, const std::string& to) {
    auto at = text.find(from);
    EXPECT_NE(at, std::string::npos) << from;
    return text.replace(at, from.size(), to);
}

} // namespace

TEST(load_report, json_reads_back_the_same) {
    std::mt19937_64 rng(1);
    load::report r = sample_report(1000);
    record_some(r.latency, rng, 1000);
    record_some(r.connect_latency, rng, 8);
    r.latency_series.resize(2);
    record_some(r.latency_series[0], rng, 400);
    record_some(r.latency_series[1], rng, 600);
    const load::report back = load::from_json(load::to_json(r), "a.json");
    EXPECT_EQ(back.workload, "rps");
    EXPECT_EQ(back.target, "198.18.0.2:80");
    EXPECT_EQ(back.totals, r.totals);
    EXPECT_EQ(back.measured_s, 2);
    expect_same(back.latency, r.latency);
    expect_same(back.connect_latency, r.connect_latency);
    ASSERT_EQ(back.latency_series.size(), 2u);
    expect_same(back.latency_series[1], r.latency_series[1]);
    EXPECT_TRUE(back.connect_series.empty());
    EXPECT_EQ(load::to_json(back), load::to_json(r));
}

// tern-load on several engines: each engine's counters and histograms travel whole, an old
// report without them still reads, and a merge lists every host's engines in turn.
TEST(load_report, per_engine_parts_read_back_and_merge_by_listing) {
    std::mt19937_64 rng(3);
    load::report r = sample_report(1000);
    r.engines = 2;
    for (std::uint64_t share : {400u, 600u}) {
        load::engine_part part;
        part.totals = {{"established", 4}, {"responses", share}, {"bytes_in", 100 * share}, {"bytes_out", 50 * share}};
        record_some(part.latency, rng, int(share));
        record_some(part.connect_latency, rng, 4);
        r.latency.merge(part.latency);
        r.per_engine.push_back(part);
    }
    const load::report back = load::from_json(load::to_json(r), "a.json");
    ASSERT_EQ(back.per_engine.size(), 2u);
    EXPECT_EQ(back.per_engine[1].totals, r.per_engine[1].totals);
    expect_same(back.per_engine[0].latency, r.per_engine[0].latency);
    expect_same(back.per_engine[1].connect_latency, r.per_engine[1].connect_latency);
    EXPECT_EQ(load::to_json(back), load::to_json(r));

    const std::string old = with_replaced(load::to_json(sample_report(5)), ",\n  \"per_engine\": []", "");
    EXPECT_TRUE(load::from_json(old, "old.json").per_engine.empty());

    const load::report m = load::merge({back, r}, {"a.json", "b.json"});
    ASSERT_EQ(m.per_engine.size(), 4u);
    EXPECT_EQ(m.engines, 4u);
    EXPECT_EQ(m.per_engine[2].totals, r.per_engine[0].totals);

    const std::string bad = with_replaced(load::to_json(r), "{\"totals\": {\"established\": 4", "{\"totals\": {\"established\": -4");
    try {
        load::from_json(bad, "bad.json");
        ADD_FAILURE() << "a negative count was read";
    } catch (const std::invalid_argument& e) {
        EXPECT_NE(std::string(e.what()).find("per_engine[0].totals.established"), std::string::npos) << e.what();
    }
}

TEST(load_report, merge_equals_one_run_with_both_runs_samples) {
    std::mt19937_64 rng(2);
    load::report a = sample_report(3000), b = sample_report(5000);
    b.ok = false;
    b.measured_s = 3;
    histogram both, both_second0, both_second2;
    a.latency_series.resize(1);
    b.latency_series.resize(3);
    for (load::report* r : {&a, &b}) {
        histogram h;
        record_some(h, rng, int(load::total(*r, "responses")));
        r->latency = h;
        both.merge(h);
        record_some(r->latency_series[0], rng, 100);
        both_second0.merge(r->latency_series[0]);
    }
    record_some(b.latency_series[2], rng, 50);
    both_second2.merge(b.latency_series[2]);
    const load::report m = load::merge({load::from_json(load::to_json(a), "a.json"), load::from_json(load::to_json(b), "b.json")},
                                       {"a.json", "b.json"});
    expect_same(m.latency, both);
    ASSERT_EQ(m.latency_series.size(), 3u);
    expect_same(m.latency_series[0], both_second0);
    EXPECT_EQ(m.latency_series[1].count(), 0u);
    expect_same(m.latency_series[2], both_second2);
    EXPECT_EQ(load::total(m, "responses"), 8000u);
    EXPECT_EQ(load::total(m, "bytes_in"), 800000u);
    EXPECT_EQ(m.hosts, 2u);
    EXPECT_EQ(m.connections, 16u);
    EXPECT_EQ(m.measured_s, 3);
    EXPECT_FALSE(m.ok);
    // Percentiles of the merge are the merged buckets', never the average of the two runs'.
    const std::string j = load::to_json(m);
    char p99[64];
    std::snprintf(p99, sizeof p99, "\"p99_us\": %.3f", double(both.percentile(99)) / 1000.0);
    EXPECT_NE(j.find(p99), std::string::npos) << j.substr(0, 800);
    // A merged report merges again (hosts of hosts).
    EXPECT_EQ(load::merge({m, a}, {"m.json", "a.json"}).hosts, 3u);
}

TEST(load_report, merge_refuses_reports_of_other_runs) {
    load::report a = sample_report(10), b = sample_report(10);
    b.workload = "cps";
    try {
        load::merge({a, b}, {"a.json", "b.json"});
        FAIL() << "merged a cps report into an rps one";
    } catch (const std::invalid_argument& e) {
        EXPECT_STREQ(e.what(), "b.json differs from a.json in its workload (cps, rps)");
    }
    b = sample_report(10);
    b.target = "198.18.0.3:80";
    EXPECT_THROW(load::merge({a, b}, {"a.json", "b.json"}), std::invalid_argument);
    b = sample_report(10);
    b.totals[1].first = "answers";
    EXPECT_THROW(load::merge({a, b}, {"a.json", "b.json"}), std::invalid_argument);
}

// What cannot be a report of ours is refused with the file and the place named.
TEST(load_report, malformed_reports_are_refused_by_name) {
    load::report r = sample_report(10);
    r.latency.record(1000);
    r.latency.record(5000);
    const std::string good = load::to_json(r);
    auto refused = [](const std::string& text) {
        try {
            load::from_json(text, "x.json");
        } catch (const std::invalid_argument& e) {
            return std::string(e.what());
        }
        return std::string("accepted");
    };
    EXPECT_EQ(refused("{\"workload\": \"rps\""), "x.json: not JSON at byte 18: '}' expected");
    EXPECT_EQ(refused("[]"), "x.json: not an object");
    EXPECT_EQ(refused(with_replaced(good, "\"workload\"", "\"kind\"")), "x.json: no \"workload\"");
    EXPECT_EQ(refused(with_replaced(good, "\"responses\": 10", "\"responses\": -10")), "x.json: totals.responses: not an unsigned integer");
    EXPECT_EQ(refused(with_replaced(good, "\"histograms\"", "\"old\"")),
              "x.json: no \"histograms\" (a report of a tern-load older than merge?)");
    EXPECT_EQ(refused(with_replaced(good, "\"sub_bucket_bits\": 7", "\"sub_bucket_bits\": 8")),
              "x.json: histograms.sub_bucket_bits: 8, this tern-load's are 7");
    // 1000 ns falls in the bucket 1000-1003: 1001 names no bucket.
    EXPECT_EQ(refused(with_replaced(good, "[1003, 1]", "[1001, 1]")),
              "x.json: histograms.latency.buckets[0]: 1001 is no bucket's highest value (histograms of 7 sub-bucket bits)");
    EXPECT_EQ(refused(with_replaced(good, "\"count\": 2", "\"count\": 3")),
              "x.json: histograms.latency: count, min, max, sum and buckets do not agree");
    EXPECT_EQ(refused(with_replaced(good, "\"min_ns\": 1000", "\"min_ns\": 5000")),
              "x.json: histograms.latency: count, min, max, sum and buckets do not agree");
    EXPECT_EQ(refused(good), "accepted");
}

// The histogram itself: assign() takes what an export gives, refuses what none could.
TEST(load_report, histogram_assign_checks_its_parts) {
    histogram h;
    h.record(10);
    h.record(300);
    const std::vector<std::pair<std::size_t, std::uint64_t>> parts = {{histogram::bucket_index(10), 1},
                                                                      {histogram::bucket_index(300), 1}};
    histogram back;
    ASSERT_TRUE(back.assign(parts, 10, 300, 310));
    expect_same(back, h);
    EXPECT_FALSE(back.assign(parts, 10, 300, 700));  // sum above count * max
    EXPECT_FALSE(back.assign(parts, 11, 300, 311));  // 11 is not in the first bucket
    EXPECT_FALSE(back.assign({{{histogram::bucket_count, 1}}}, 0, 0, 0));
    EXPECT_FALSE(back.assign({{{5, 0}}}, 5, 5, 0));
    expect_same(back, h); // unchanged by what it refused
}
