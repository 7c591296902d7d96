// tern-load --plot's gnuplot script: the run's rate and p50/p99 each second, and its
// percentile spectrum, drawn from the report's histograms; a run with no samples says so.
#include <gtest/gtest.h>

#include <string>

#include "load/plot.hpp"

using namespace tern;

namespace {

load::report two_seconds() {
    load::report r;
    r.workload = "rps";
    r.target = "198.18.0.2:80";
    r.latency_series.resize(2);
    for (int i = 0; i < 100; ++i) r.latency_series[0].record(1000 + std::uint64_t(i)); // 1-1.1 ms
    for (int i = 0; i < 300; ++i) r.latency_series[1].record(2000);
    for (auto& s : r.latency_series) r.latency.merge(s);
    return r;
}

} // namespace

TEST(load_plot, draws_rate_percentiles_by_second_and_spectrum) {
    const std::string g = load::gnuplot_script(two_seconds(), "/tmp/x.png");
    EXPECT_NE(g.find("set terminal pngcairo"), std::string::npos);
    EXPECT_NE(g.find("set output \"/tmp/x.png\""), std::string::npos);
    // The rate: 100 responses in the first second, 300 in the second.
    EXPECT_NE(g.find("\n0.5 100\n1.5 300\ne\n"), std::string::npos) << g;
    // p50 and p99 of each second, in microseconds (1000 + 49 falls in the bucket 1048-1055;
    // 2000 is the maximum, reported as itself rather than as its bucket's 2007).
    EXPECT_NE(g.find("\n0.5 1.055 1.099\n1.5 2.000 2.000\ne\n"), std::string::npos) << g;
    // The spectrum starts at p0 (the smallest sample's bucket, 1000-1003) and ends at the
    // maximum, at log10(400) nines.
    EXPECT_NE(g.find("\n0.00 1.003\n"), std::string::npos) << g;
    EXPECT_NE(g.find("\n2.60 2.000\ne\n"), std::string::npos) << g;
    EXPECT_NE(g.find("400 samples"), std::string::npos);
    EXPECT_EQ(g.find("no samples"), std::string::npos);
}

TEST(load_plot, a_run_without_samples_is_drawn_as_such) {
    load::report r;
    r.workload = "throughput";
    r.target = "198.18.0.2:5201";
    const std::string g = load::gnuplot_script(r, "t.png");
    EXPECT_NE(g.find("'no samples'"), std::string::npos);
    EXPECT_EQ(g.find("plot '-'"), std::string::npos) << "an empty data block stops gnuplot";
}

// cps measures connections: its rate and spectrum come from the connect latencies.
TEST(load_plot, cps_draws_connections) {
    load::report r;
    r.workload = "cps";
    r.target = "198.18.0.2:80";
    r.connect_series.resize(1);
    r.connect_series[0].record(50000);
    r.connect_latency.record(50000);
    const std::string g = load::gnuplot_script(r, "c.png");
    EXPECT_NE(g.find("connections per second"), std::string::npos);
    EXPECT_NE(g.find("\n0.5 1\ne\n"), std::string::npos) << g;
}
