// tern-bench's arithmetic (apps/bench/capacity.hpp): when a cps run is clean, which rates
// the capacity search tries, and the overload figures from tern-load's progress lines.
#include <gtest/gtest.h>

#include <vector>

#include "bench/capacity.hpp"

using namespace tern::bench;

namespace {

// A run at `rate` that did everything asked, without a retransmission.
cps_run perfect(double rate) {
    cps_run r;
    r.offered = rate;
    r.achieved = rate;
    r.connects = std::uint64_t(rate * 10);
    return r;
}

// A pair whose capacity is `limit`: above it, tern-load misses 1% of its opens.
auto capacity_of(double limit, std::vector<double>& asked) {
    return [limit, &asked](double rate) {
        asked.push_back(rate);
        cps_run r = perfect(rate);
        if (rate > limit) {
            r.achieved = limit;
            r.opens_missed = r.connects / 99;
        }
        return r;
    };
}

} // namespace

TEST(clean_rule, a_perfect_run_is_clean) {
    EXPECT_EQ(unclean_reasons(perfect(1000), clean_rule{}), "");
}

TEST(clean_rule, any_error_is_unclean) {
    cps_run r = perfect(1000);
    r.errors = 1;
    EXPECT_EQ(unclean_reasons(r, clean_rule{}), "errors 1");
}

TEST(clean_rule, opens_missed_up_to_half_a_percent_of_opens) {
    cps_run r = perfect(1000);
    r.connects = 995;
    r.opens_missed = 5; // 0.5% of 1000 opens
    EXPECT_EQ(unclean_reasons(r, clean_rule{}), "");
    r.opens_missed = 6;
    EXPECT_EQ(unclean_reasons(r, clean_rule{}), "opens_missed 0.60% of opens");
    // With tern-load's causes, the largest first (none of a cause: not named).
    r.missed_by = {{"missed_late", 1}, {"missed_behind", 5}, {"missed_capped", 0}};
    EXPECT_EQ(unclean_reasons(r, clean_rule{}), "opens_missed 0.60% of opens (missed_behind 83%, missed_late 17%)");
}

TEST(clean_rule, retransmissions_up_to_a_tenth_of_a_percent_of_connections) {
    cps_run r = perfect(1000);
    r.connects = 10000;
    r.retransmits = 10;
    EXPECT_EQ(unclean_reasons(r, clean_rule{}), "");
    r.retransmits = 11;
    EXPECT_EQ(unclean_reasons(r, clean_rule{}), "retransmissions 0.11% of connections");
}

TEST(clean_rule, achieved_at_least_95_percent_of_offered) {
    cps_run r = perfect(1000);
    r.achieved = 950;
    EXPECT_EQ(unclean_reasons(r, clean_rule{}), "");
    r.achieved = 949;
    EXPECT_EQ(unclean_reasons(r, clean_rule{}), "conn/s 94.90% of offered");
}

TEST(clean_rule, every_broken_condition_is_named) {
    cps_run r = perfect(1000);
    r.errors = 2;
    r.achieved = 500;
    EXPECT_EQ(unclean_reasons(r, clean_rule{}), "errors 2; conn/s 50.00% of offered");
}

TEST(parse_cps_report, reads_tern_loads_json) {
    // Shaped as apps/tern-load.cpp writes it (--json), numbers made up.
    const char* json = R"({
  "workload": "cps",
  "rate": 150000,
  "measured_s": 10.0001,
  "totals": {"connects": 1499000, "established": 1498900, "completed": 1498800, "requests": 1, "responses": 1, "bytes_in": 1, "bytes_out": 1, "retransmits": 12, "opens_missed": 1000, "missed_late": 10, "missed_behind": 900, "missed_capped": 90, "missed_round": 0, "missed_paused": 0, "refused": 0, "reset": 0, "timed_out": 0, "unreachable": 0, "bad_status": 0, "protocol_errors": 7, "connect_failed": 0, "closed_early": 0, "overflow": 0},
  "errors": 3,
  "conn_per_s": 149889.9,
  "req_per_s": 149880
})";
    auto p = parse_cps_report(json, 150000);
    ASSERT_TRUE(p.run) << p.missing;
    EXPECT_EQ(p.run->offered, 150000);
    EXPECT_DOUBLE_EQ(p.run->achieved, 149889.9);
    EXPECT_EQ(p.run->errors, 3u); // not protocol_errors' 7
    EXPECT_EQ(p.run->connects, 1499000u);
    EXPECT_EQ(p.run->opens_missed, 1000u);
    EXPECT_EQ(p.run->retransmits, 12u);
    using cause = std::pair<std::string, std::uint64_t>;
    EXPECT_EQ(p.run->missed_by, (std::vector<cause>{{"missed_late", 10}, {"missed_behind", 900}, {"missed_capped", 90},
                                                     {"missed_round", 0}, {"missed_paused", 0}}));
}

TEST(parse_cps_report, names_a_missing_field) {
    auto p = parse_cps_report(R"({"errors": 0, "conn_per_s": 5})", 10);
    EXPECT_FALSE(p.run);
    EXPECT_EQ(p.missing, "connects");
}

// The totals of a --quick overload run whose memif link never came up (tern-bench,
// 2026-12-01): tern-server saw no packet; tern-load's ARP went unanswered.
const char* link_down_totals = R"({"totals": {"connects": 11855, "established": 0, "completed": 0, "requests": 0, "responses": 0, "bytes_in": 0, "bytes_out": 0, "retransmits": 6200, "opens_missed": 0, "refused": 0, "reset": 0, "timed_out": 0, "unreachable": 11855, "bad_status": 0, "protocol_errors": 0, "connect_failed": 0, "closed_early": 0, "overflow": 0},
  "errors": 11855})";

TEST(link_carried_nothing, a_link_that_never_came_up) {
    EXPECT_TRUE(link_carried_nothing(link_down_totals));
}

TEST(link_carried_nothing, a_run_that_moved_a_byte_or_failed_otherwise) {
    std::string some_in = link_down_totals;
    some_in.replace(some_in.find("\"bytes_in\": 0"), 13, "\"bytes_in\": 9");
    EXPECT_FALSE(link_carried_nothing(some_in));
    std::string refused = link_down_totals;
    refused.replace(refused.find("\"unreachable\": 11855"), 20, "\"unreachable\": 0");
    EXPECT_FALSE(link_carried_nothing(refused)); // a server that refuses is a result
    EXPECT_FALSE(link_carried_nothing("{}"));
}

TEST(find_max, climbs_while_clean_then_bisects) {
    std::vector<double> asked;
    auto r = find_max(search_plan{}, clean_rule{}, capacity_of(260000, asked));
    // 100k, 150k, 225k clean; 337.5k not; then 281.25k (not), 253.125k (clean) and
    // 267.188k (not).
    EXPECT_EQ(asked, (std::vector<double>{100000, 150000, 225000, 337500, 281250, 253125, 267188}));
    ASSERT_TRUE(r.best);
    EXPECT_EQ(r.steps[*r.best].run.offered, 253125);
    EXPECT_TRUE(r.bounded);
    EXPECT_FALSE(r.steps[3].clean());
    EXPECT_NE(r.steps[3].unclean.find("opens_missed"), std::string::npos);
}

TEST(find_max, halves_when_the_first_rate_is_unclean) {
    std::vector<double> asked;
    auto r = find_max(search_plan{}, clean_rule{}, capacity_of(30000, asked));
    // 100k, 50k unclean; 25k clean; then 37.5k (not), 31.25k (not) and 28.125k (clean).
    EXPECT_EQ(asked, (std::vector<double>{100000, 50000, 25000, 37500, 31250, 28125}));
    ASSERT_TRUE(r.best);
    EXPECT_EQ(r.steps[*r.best].run.offered, 28125);
}

TEST(find_max, stops_at_max_runs_and_says_it_found_no_ceiling) {
    std::vector<double> asked;
    search_plan plan;
    plan.max_runs = 3;
    auto r = find_max(plan, clean_rule{}, capacity_of(1e9, asked));
    EXPECT_EQ(asked.size(), 3u);
    ASSERT_TRUE(r.best);
    EXPECT_EQ(r.steps[*r.best].run.offered, 225000);
    EXPECT_FALSE(r.bounded);
}

TEST(find_max, reports_nothing_when_nothing_is_clean) {
    std::vector<double> asked;
    search_plan plan;
    plan.start = 1000;
    plan.min_rate = 200;
    auto r = find_max(plan, clean_rule{}, capacity_of(10, asked));
    EXPECT_EQ(asked, (std::vector<double>{1000, 500, 250}));
    EXPECT_FALSE(r.best);
    EXPECT_FALSE(r.bounded);
}

// tern-load's progress table (apps/tern-load.cpp, progress()), as in its log.
const char* progress_log = R"(tern-load: memif
tern-load: cps from 198.18.2.2 on 1 engine(s) to 198.18.2.1:8080
 time_s    conn/s      req/s   Mbps_in  Mbps_out    estab retrans resets timeout errors
    1.0    300000     300000     155.3      91.0       21       0      0       0      0
    2.0    310000     310000     160.4      94.0       25       0      0       0      0
    3.0    200000     200000     103.5      60.7       30     120      0       0      0
    4.0    250000     250000     129.4      75.9       19     120      0       0      0
    5.0    290000     290000     150.1      88.0       22     120      0       0      0
tern-load: cps against 198.18.2.1:8080, 5.00 s measured (after 0.0 s warm-up)
  conn/s 268000.0  req/s 268000.0  Mbit/s in 1.00  out 1.00
)";

TEST(parse_progress, reads_the_table_and_nothing_after_it) {
    auto s = parse_progress(progress_log);
    ASSERT_EQ(s.size(), 5u);
    EXPECT_EQ(s[0].end_s, 1.0);
    EXPECT_EQ(s[0].conn_per_s, 300000);
    EXPECT_EQ(s[4].end_s, 5.0);
    EXPECT_EQ(s[4].conn_per_s, 290000);
}

// The same table as tern-load prints it now, with its warm-up and the stall_ms column.
const char* stalled_log = R"( time_s    conn/s      req/s   Mbps_in  Mbps_out    estab retrans resets timeout errors  missed stall_ms
    1.0    150056     150056     133.2      92.4        0       0      0       0      0       0    104.0  (warm-up)
    2.0    149994     149993     133.2      92.4        1       0      0       0      0       0      0.0
    3.0    138871     138871     123.3      85.5        0       0      0       0      0   11438    107.6
    4.0    149643     149643     132.9      92.2        0       0      0       0      0       0     49.9
    5.0    139626     139625     124.0      86.0        1       0      0       0      0   10318     93.5
tern-load: cps against [2001:2::1]:8080, 4.00 s measured (after 1.0 s warm-up)
)";

TEST(parse_progress, reads_the_stall_column_and_the_warm_up) {
    auto s = parse_progress(stalled_log);
    ASSERT_EQ(s.size(), 5u);
    EXPECT_EQ(s[2].missed, 11438);
    EXPECT_EQ(s[1].missed, 0);
    EXPECT_TRUE(s[0].warmup);
    EXPECT_EQ(s[0].stall_ms, 104.0);
    EXPECT_FALSE(s[1].warmup);
    EXPECT_EQ(s[2].conn_per_s, 138871);
    EXPECT_EQ(s[2].stall_ms, 107.6);
    EXPECT_EQ(s[4].stall_ms, 93.5);
    // A table without the column reads as no stall.
    for (const auto& l : parse_progress(progress_log)) EXPECT_EQ(l.stall_ms, 0);
}

TEST(stalls_in, counts_measured_lines_of_50_ms_or_more) {
    const auto m = stalls_in(parse_progress(stalled_log)); // not the warm-up's 104, not 49.9
    EXPECT_EQ(m.lines, 2u);
    EXPECT_DOUBLE_EQ(m.total_ms, 107.6 + 93.5);
    EXPECT_EQ(m.text(), "stood still 201 ms in 2 lines of 50 ms or more");
    const auto lower = stalls_in(parse_progress(stalled_log), 40); // 49.9 counts at 40
    EXPECT_EQ(lower.lines, 3u);
    EXPECT_EQ(lower.text(), "stood still 251 ms in 3 lines of 40 ms or more");
    EXPECT_EQ(stalls_in(parse_progress(progress_log)).lines, 0u);
}

TEST(stalls_in, adds_up_the_lines_without_a_stall) {
    const auto m = stalls_in(parse_progress(stalled_log)); // lines 2.0 and 4.0 (49.9 is no stall)
    EXPECT_EQ(m.other_lines, 2u);
    EXPECT_DOUBLE_EQ(m.other_seconds, 2.0);
    EXPECT_DOUBLE_EQ(m.other_established, 149994 + 149643);
    EXPECT_DOUBLE_EQ(m.other_missed, 0);
}

// stalled_log's run offered 150000 conn/s: its misses all fell in the two stalled lines.
cps_run stalled_run() {
    cps_run r = perfect(150000);
    r.connects = 149994 + 138871 + 149643 + 139626;
    r.achieved = double(r.connects) / 4;
    r.opens_missed = 11438 + 10318;
    r.stalls = stalls_in(parse_progress(stalled_log));
    return r;
}

TEST(unclean_reasons, leaves_out_the_lines_the_machine_stalled) {
    cps_run r = stalled_run();
    EXPECT_EQ(unclean_reasons(r, clean_rule{}), "");
    r.stalls = {}; // the same totals with no stall to show for them
    EXPECT_EQ(unclean_reasons(r, clean_rule{}), "opens_missed 3.63% of opens");
}

TEST(unclean_reasons, names_the_machines_stalls_of_an_unclean_run) {
    cps_run r = stalled_run();
    r.stalls.other_missed = 1000; // the unstalled seconds missed 0.33% of theirs: still clean
    EXPECT_EQ(unclean_reasons(r, clean_rule{}), "");
    r.stalls.other_missed = 2000; // 0.66%
    EXPECT_EQ(unclean_reasons(r, clean_rule{}),
              "opens_missed 3.63% of opens; tern-load stood still 201 ms in 2 lines of 50 ms or more");
    r.stalls.other_missed = 0;
    r.stalls.other_established = 0.94 * 150000 * 2; // under 95% of the rate without the stalls
    EXPECT_NE(unclean_reasons(r, clean_rule{}), "");
}

// Errors and retransmissions are not the machine's doing: no stall excuses them, and a run
// that stalled in every measured line has nothing left to judge.
TEST(unclean_reasons, a_stall_excuses_no_error_and_no_retransmission) {
    cps_run r = stalled_run();
    r.errors = 1;
    EXPECT_EQ(unclean_reasons(r, clean_rule{}),
              "errors 1; opens_missed 3.63% of opens; tern-load stood still 201 ms in 2 lines of 50 ms or more");
    r = stalled_run();
    r.retransmits = r.connects / 100 + 1;
    EXPECT_NE(unclean_reasons(r, clean_rule{}).find("retransmissions 1.00%"), std::string::npos);
    r = stalled_run();
    r.stalls.other_lines = 0;
    r.stalls.other_seconds = r.stalls.other_established = 0;
    EXPECT_NE(unclean_reasons(r, clean_rule{}), "");
}

TEST(overload_from, peak_goodput_and_recovery) {
    // Stalled from 2.02 s to 2.12 s: the second before it ran at 310000; 90% is 279000.
    auto f = overload_from(parse_progress(progress_log), 2.02, 2.12);
    ASSERT_TRUE(f);
    EXPECT_EQ(f->peak, 310000);
    EXPECT_EQ(f->pre_stall, 310000);
    // Seconds 2-5 (the first starts from idle): 1050000 / 4 over 310000.
    EXPECT_DOUBLE_EQ(f->goodput_share, 1050000.0 / 4 / 310000);
    ASSERT_TRUE(f->recovery_s);
    EXPECT_NEAR(*f->recovery_s, 5.0 - 2.12, 1e-9);
}

TEST(overload_from, the_second_holding_the_resume_counts) {
    auto f = overload_from(parse_progress(progress_log), 1.5, 1.6); // against 300000: 270000 needed
    ASSERT_TRUE(f);
    EXPECT_EQ(f->pre_stall, 300000);
    ASSERT_TRUE(f->recovery_s);
    EXPECT_NEAR(*f->recovery_s, 2.0 - 1.6, 1e-9); // second 2 (310000) already counts
}

TEST(overload_from, not_recovered_within_the_run) {
    auto f = overload_from({{1.0, 100}, {2.0, 100}, {3.0, 89}}, 2.0, 2.1);
    ASSERT_TRUE(f);
    EXPECT_FALSE(f->recovery_s);
}

// A second in which tern-load's loop stood still 50 ms or more (the machine) counts in the
// goodput, and is left out of the goodput without stalls; a stall under 50 ms is not one.
TEST(overload_from, goodput_without_the_machines_stalls) {
    auto lines = parse_progress(progress_log);
    lines[2].stall_ms = 100.4; // second 3: 200000
    lines[3].stall_ms = 49.9;  // second 4: 250000, not a machine stall
    auto f = overload_from(lines, 1.5, 1.6);
    ASSERT_TRUE(f);
    EXPECT_DOUBLE_EQ(f->goodput_share, 1050000.0 / 4 / 310000);
    EXPECT_EQ(f->stalled_seconds, 1u);
    ASSERT_TRUE(f->goodput_share_unstalled);
    EXPECT_DOUBLE_EQ(*f->goodput_share_unstalled, (310000.0 + 250000 + 290000) / 3 / 310000);
    // Every counted second stalled: no goodput without them, rather than 0%.
    auto all = lines;
    for (auto& l : all) l.stall_ms = 60;
    auto g = overload_from(all, 1.5, 1.6);
    ASSERT_TRUE(g);
    EXPECT_EQ(g->stalled_seconds, 4u);
    EXPECT_FALSE(g->goodput_share_unstalled);
    // Tenths of a second add up to their second's stall.
    std::vector<second> tenths;
    for (int i = 1; i <= 20; ++i) tenths.push_back({i / 10.0, 100000, i == 13 || i == 14 ? 30.0 : 0.0});
    const auto s = whole_seconds(tenths);
    ASSERT_EQ(s.size(), 2u);
    EXPECT_EQ(s[0].stall_ms, 0);
    EXPECT_EQ(s[1].stall_ms, 60);
}

// Ten lines a second (tern-load --interval 0.1): seconds are their means, the recovery
// is as fine as the lines.
TEST(overload_from, lines_of_a_tenth_of_a_second) {
    std::vector<second> lines;
    for (int i = 1; i <= 30; ++i) lines.push_back({i / 10.0, i <= 10 ? 1000.0 : 2000.0});
    lines[20].conn_per_s = 0;    // 2.1: the stall
    lines[21].conn_per_s = 1700; // 2.2: below 90% of 2000
    const auto s = whole_seconds(lines);
    ASSERT_EQ(s.size(), 3u);
    EXPECT_EQ(s[0].end_s, 1);
    EXPECT_DOUBLE_EQ(s[0].conn_per_s, 1000);
    EXPECT_DOUBLE_EQ(s[1].conn_per_s, 2000);
    EXPECT_DOUBLE_EQ(s[2].conn_per_s, (8 * 2000.0 + 1700) / 10);
    auto f = overload_from(lines, 2.02, 2.12);
    ASSERT_TRUE(f);
    EXPECT_EQ(f->peak, 2000);
    EXPECT_EQ(f->pre_stall, 2000);
    ASSERT_TRUE(f->recovery_s);
    EXPECT_NEAR(*f->recovery_s, 2.3 - 2.12, 1e-9); // 2.2 is still below 1800
}

TEST(overload_from, needs_a_second_before_the_stall) {
    EXPECT_FALSE(overload_from(parse_progress(progress_log), 0.5, 0.6));
}
