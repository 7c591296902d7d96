// The load generator's schedule (intended send times, the connection ramp) and its HTTP
// response reader, without an engine.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "app/load.hpp"

namespace tern::app {
namespace {

using namespace std::chrono_literals;

const instant t0 = instant{} + 5s;

// A parked connection of tern-load keeps its source address as its offset in the range
// (index_of), and at() gives it back: across a carry in the last 32 bits too, for IPv4
// and IPv6; an address outside the range, or of the other family, has none.
TEST(source_range, index_of_is_at_reversed) {
    const source_range v4(ipv4_addr::from_octets(198, 18, 0, 250), 10);
    for (std::uint32_t i = 0; i < 10; ++i) EXPECT_EQ(v4.index_of(v4.at(i)), i);
    EXPECT_EQ(v4.at(9), ip_addr(ipv4_addr::from_octets(198, 18, 1, 3)));
    EXPECT_FALSE(v4.index_of(ipv4_addr::from_octets(198, 18, 0, 249)));
    EXPECT_FALSE(v4.index_of(v4.at(10)));
    auto v6addr = ipv6_addr::parse("2001:2::ffff:fffe");
    ASSERT_TRUE(v6addr.has_value());
    const source_range v6(ip_addr(*v6addr), 4);
    for (std::uint32_t i = 0; i < 4; ++i) EXPECT_EQ(v6.index_of(v6.at(i)), i);
    EXPECT_FALSE(v6.index_of(v4.at(0)));
    EXPECT_FALSE(source_range{}.index_of(v4.at(0)));
}

// wrk2: request k is intended at start + k/rate, whenever it actually goes out.
TEST(rate_schedule, intended_times_follow_the_rate_without_drift) {
    auto s = rate_schedule::per_second(t0, 3.0); // period 333,333,333 ns
    EXPECT_EQ(s.intended(0), t0);
    EXPECT_EQ(s.intended(3), t0 + 999'999'999ns);
    // Computed from k, not by adding periods one by one: a million events later the
    // error is still under one period's rounding times k (1 ns per event at most).
    EXPECT_EQ(s.intended(3'000'000), t0 + 999'999'999'000'000ns);
    auto exact = rate_schedule::per_second(t0, 1000.0);
    EXPECT_EQ(exact.intended(123'456), t0 + 123'456ms);
}

TEST(rate_schedule, due_counts_what_the_clock_has_reached) {
    auto s = rate_schedule::per_second(t0, 1000.0); // one per ms
    std::uint64_t n = 0;
    auto drain = [&](instant now) {
        while (s.due(now)) {
            EXPECT_LE(s.take(), now);
            ++n;
        }
    };
    drain(t0 - 1ns);
    EXPECT_EQ(n, 0u);
    drain(t0);
    EXPECT_EQ(n, 1u); // event 0 at the start itself
    drain(t0 + 10ms - 1ns);
    EXPECT_EQ(n, 10u);
    // A stall of 50 ms: the events that fell due meanwhile are all due at once, each with
    // its own intended time (the latency the stall caused is measured from those).
    drain(t0 + 60ms);
    EXPECT_EQ(n, 61u);
    EXPECT_EQ(s.taken(), 61u);
}

TEST(rate_schedule, ramp_opens_limit_connections_evenly) {
    rate_schedule ramp(t0, duration(10s) / 100, 100); // 100 connections over 10 s
    std::uint64_t opened = 0;
    for (instant now = t0; now <= t0 + 20s; now += 1s) {
        while (ramp.due(now)) {
            ramp.take();
            ++opened;
        }
        if (now == t0 + 1s) {
            EXPECT_EQ(opened, 11u); // 0, 0.1 s, ..., 1.0 s
        }
        if (now == t0 + 5s) {
            EXPECT_EQ(opened, 51u);
        }
    }
    EXPECT_EQ(opened, 100u); // and never more
    EXPECT_FALSE(ramp.due(t0 + 1000s));
}

TEST(rate_schedule, no_ramp_opens_all_at_once_and_no_rate_nothing) {
    rate_schedule all(t0, duration{}, 7);
    std::uint64_t n = 0;
    while (all.due(t0)) all.take(), ++n;
    EXPECT_EQ(n, 7u);
    EXPECT_FALSE(rate_schedule::per_second(t0, 0).due(t0 + 1000s));
    EXPECT_FALSE(rate_schedule().due(t0));
}

// Skipping what is due takes every due event at once, and only those: the same count as
// taking them one by one, with or without a limit, with or without a period.
TEST(rate_schedule, skip_due_takes_exactly_the_due_events) {
    auto s = rate_schedule::per_second(t0, 1000.0);
    EXPECT_EQ(s.skip_due(t0 - 1ns), 0u);
    EXPECT_EQ(s.skip_due(t0 + 10ms - 1ns), 10u);
    EXPECT_EQ(s.skip_due(t0 + 10ms - 1ns), 0u);
    s.take(); // event 10, not due yet: taken early
    EXPECT_EQ(s.skip_due(t0 + 20ms), 10u); // 11..20
    EXPECT_EQ(s.next(), t0 + 21ms);
    EXPECT_EQ(s.skip_due(t0 + 1000s), 1'000'000u - 20u);

    rate_schedule ramp(t0, 1ms, 5);
    EXPECT_EQ(ramp.skip_due(t0 + 1s), 5u);
    EXPECT_FALSE(ramp.next());
    rate_schedule all(t0, duration{}, 7);
    all.take();
    EXPECT_EQ(all.skip_due(t0), 6u);
    EXPECT_EQ(rate_schedule().skip_due(t0 + 1s), 0u);
}

// Feeds `in` whole, collecting the statuses of the responses that complete.
std::vector<unsigned> read_all(http_response_reader& r, std::string_view in, std::string* error = nullptr) {
    std::vector<unsigned> statuses;
    while (!in.empty()) {
        auto step = r.feed(in);
        if (!step.error.empty()) {
            if (error) *error = step.error;
            return statuses;
        }
        in.remove_prefix(step.used);
        if (step.complete) statuses.push_back(step.complete->status);
    }
    return statuses;
}

// The source budget: persistent connections beyond the 4-tuples are refused; a cps rate
// the tuples cannot carry through 2·MSL of TIME-WAIT (we close first) is warned of, with
// the figure; a server that closes first, or a rate that fits, is fine.
TEST(check_sources, says_what_the_addresses_and_ports_cannot_carry) {
    load_options o;
    o.kind = workload::rps;
    o.connections = 1000;
    o.source_port_first = 1000;
    o.source_port_last = 1999;
    EXPECT_EQ(check_sources(o, 30s).tuples, 1000u);
    EXPECT_FALSE(check_sources(o, 30s).refuse);
    o.connections = 1001;
    auto b = check_sources(o, 30s);
    EXPECT_TRUE(b.refuse);
    EXPECT_NE(b.problem.find("1001 asked"), std::string::npos) << b.problem;

    load_options c;
    c.kind = workload::cps;
    c.rate = 150'000;
    c.client_closes = true;
    c.sources = ipv4_range{ipv4_addr::from_octets(198, 18, 0, 10), 7}; // with --ip: 8 addresses
    b = check_sources(c, 1s);                                          // 225856 tuples over 2 s
    EXPECT_EQ(b.tuples, 8u * tcp::ephemeral_port_count);
    EXPECT_FALSE(b.refuse);
    EXPECT_NE(b.problem.find("112928 conn/s at the most"), std::string::npos) << b.problem;
    c.rate = 100'000;
    EXPECT_EQ(check_sources(c, 1s).problem, "");
    c.rate = 1'000'000;
    c.client_closes = false; // the server holds TIME-WAIT (and may reuse it, RFC 6191)
    EXPECT_EQ(check_sources(c, 1s).problem, "");
}

TEST(http_response_reader, pipelined_responses_split_anywhere) {
    const std::string two = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"
                            "HTTP/1.1 404 Not Found\r\ncontent-length:  0 \r\n\r\n"
                            "HTTP/1.1 204 No Content\r\n\r\n";
    for (std::size_t cut = 0; cut <= two.size(); ++cut) {
        SCOPED_TRACE(cut);
        http_response_reader r;
        auto a = read_all(r, std::string_view(two).substr(0, cut));
        auto b = read_all(r, std::string_view(two).substr(cut));
        a.insert(a.end(), b.begin(), b.end());
        EXPECT_EQ(a, (std::vector<unsigned>{200, 404, 204}));
        EXPECT_TRUE(r.idle());
    }
}

TEST(http_response_reader, connection_close_is_reported) {
    http_response_reader r;
    auto step = r.feed("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n");
    ASSERT_TRUE(step.complete);
    EXPECT_TRUE(step.complete->close);
    step = r.feed("HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n");
    ASSERT_TRUE(step.complete);
    EXPECT_TRUE(step.complete->close); // HTTP/1.0 closes by default
}

TEST(http_response_reader, malformed_responses_are_errors) {
    for (std::string bad : {"HTTX/1.1 200 OK\r\n\r\n", "HTTP/1.1 2x0 OK\r\nContent-Length: 0\r\n\r\n",
                            "HTTP/1.1 200 OK\r\nContent-Length: 12a\r\n\r\n",
                            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", "HTTP/1.1 200 OK\r\n\r\n",
                            "HTTP/1.1 200 OK\r\nno colon\r\n\r\n"}) {
        http_response_reader r;
        std::string error;
        auto got = read_all(r, bad, &error);
        EXPECT_TRUE(got.empty()) << bad;
        EXPECT_FALSE(error.empty()) << bad;
    }
    http_response_reader r;
    std::string error;
    read_all(r, "HTTP/1.1 200 OK\r\nX: " + std::string(20000, 'a'), &error);
    EXPECT_EQ(error, "response head over 16 KiB");
}

// What tern-server --mode http sends, twice: the same two responses come out wherever the
// stream is cut in three, and fed one byte at a time, and all of it is used.
TEST(http_response_reader, responses_split_in_three_anywhere_or_byte_by_byte) {
    const std::string one = "HTTP/1.1 200 OK\r\nServer: tern\r\nContent-Type: text/plain\r\n"
                            "Content-Length: 13\r\n\r\nabcdefghijkl\n";
    const std::string two = one + one;
    const std::vector<unsigned> expected{200, 200};
    for (std::size_t i = 0; i <= two.size(); ++i) {
        for (std::size_t j = i; j <= two.size(); ++j) {
            http_response_reader r;
            std::string error;
            auto got = read_all(r, std::string_view(two).substr(0, i), &error);
            for (auto piece : {std::string_view(two).substr(i, j - i), std::string_view(two).substr(j)}) {
                auto more = read_all(r, piece, &error);
                got.insert(got.end(), more.begin(), more.end());
            }
            ASSERT_EQ(got, expected) << "cuts at " << i << " and " << j;
            ASSERT_TRUE(error.empty());
            ASSERT_TRUE(r.idle());
        }
    }
    http_response_reader r;
    std::vector<unsigned> got;
    std::size_t used = 0;
    for (std::size_t i = 0; i < two.size(); ++i) {
        auto step = r.feed(std::string_view(two).substr(i, 1));
        ASSERT_TRUE(step.error.empty());
        used += step.used;
        if (step.complete) got.push_back(step.complete->status);
    }
    EXPECT_EQ(got, expected);
    EXPECT_EQ(used, two.size());
}

// A memo of the last head changes nothing that comes out: responses whose heads are the
// memo's, extend it, differ in one byte of it or are cut short of it give the same steps
// (used, status, close, error) with the memo as without, split anywhere; and the memo is
// used when the same head comes again.
TEST(http_response_reader, a_memo_of_the_last_head_reads_the_same) {
    const std::vector<std::string> responses = {
        "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nab",
        "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nab",                      // the memo's head
        "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nabHTTP/1.1 204 No\r\n\r\n", // and a second after it
        "HTTP/1.1 200 OK\r\nContent-Length: 20\r\n\r\n01234567890123456789",   // longer, same start
        "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc",                      // one byte differs
        "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nConnection: close\r\n\r\nxyz",
        "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc",
        "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n",                               // cut short of the memo
    };
    std::string all;
    for (const auto& r : responses) all += r;
    auto steps = [&](http_response_reader::memo* memo, std::size_t cut) {
        http_response_reader r;
        std::vector<std::string> out;
        for (std::string_view piece : {std::string_view(all).substr(0, cut), std::string_view(all).substr(cut)}) {
            while (!piece.empty()) {
                auto step = r.feed(piece, memo);
                out.push_back(std::to_string(step.used) + " " +
                              (step.complete ? std::to_string(step.complete->status) + (step.complete->close ? " close" : "")
                                             : std::string("-")) +
                              " " + std::string(step.error));
                if (!step.error.empty()) return out;
                piece.remove_prefix(step.used);
            }
        }
        return out;
    };
    for (std::size_t cut = 0; cut <= all.size(); ++cut) {
        http_response_reader::memo memo;
        ASSERT_EQ(steps(&memo, cut), steps(nullptr, cut)) << "cut at " << cut;
    }
    http_response_reader::memo memo;
    steps(&memo, 0);
    EXPECT_EQ(memo.hits(), 2u); // the second and third responses; every other head differs from the one before
}

// A Content-Length whose digits come in two reads is read whole: 12, not 1.
TEST(http_response_reader, content_length_split_across_reads) {
    http_response_reader r;
    auto step = r.feed("HTTP/1.1 200 OK\r\nContent-Length: 1");
    EXPECT_FALSE(step.complete);
    step = r.feed("2\r\n\r\n0123456789a");
    EXPECT_EQ(step.used, 16u);
    EXPECT_FALSE(step.complete);
    step = r.feed("bHTTP/1.1");
    EXPECT_EQ(step.used, 1u);
    ASSERT_TRUE(step.complete);
    EXPECT_EQ(step.complete->status, 200u);
}

// RFC 9110 §5.1: field names are case-insensitive (and the Connection options, §7.6.1).
TEST(http_response_reader, knows_its_fields_in_any_case) {
    http_response_reader r;
    auto step = r.feed("HTTP/1.1 200 OK\r\nCONTENT-LENGTH: 2\r\ncOnNeCtIoN: ClOsE\r\n\r\nab");
    ASSERT_TRUE(step.complete);
    EXPECT_TRUE(step.complete->close);
    step = r.feed("HTTP/1.0 200 OK\r\ncontent-length: 0\r\nCONNECTION: KEEP-ALIVE\r\n\r\n");
    ASSERT_TRUE(step.complete);
    EXPECT_FALSE(step.complete->close);
    EXPECT_EQ(r.feed("HTTP/1.1 200 OK\r\nTRANSFER-ENCODING: chunked\r\n\r\n").error,
              "chunked responses are not supported");
}

// Names that differ from ours only in bit 0x20 where ours has no letter ('-' and CR) are
// other names: case folding touches letters only.
TEST(http_response_reader, folds_the_case_of_letters_only) {
    http_response_reader r;
    EXPECT_EQ(r.feed("HTTP/1.1 200 OK\r\nContent\rLength: 0\r\n\r\n").error, "response without Content-Length");
    http_response_reader r10;
    auto step = r10.feed("HTTP/1.0 200 OK\r\nContent-Length: 0\r\nConnection: keep\ralive\r\n\r\n");
    ASSERT_TRUE(step.complete);
    EXPECT_TRUE(step.complete->close); // not "keep-alive": HTTP/1.0 still closes
}

// An error is reported once the head is complete, whichever line holds it, and the first
// one in line order wins; a head still coming is no error until it is over 16 KiB.
TEST(http_response_reader, errors_wait_for_the_whole_head) {
    http_response_reader r;
    auto step = r.feed("HTTX/1.1 200 OK\r\nno colon\r\n");
    EXPECT_TRUE(step.error.empty());
    EXPECT_FALSE(step.complete);
    EXPECT_EQ(r.feed("\r\n").error, "not an HTTP/1.x status line");
    http_response_reader fields;
    EXPECT_EQ(fields.feed("HTTP/1.1 200 OK\r\nContent-Length: x\r\nno colon\r\n\r\n").error, "bad Content-Length");
}

} // namespace
} // namespace tern::app
