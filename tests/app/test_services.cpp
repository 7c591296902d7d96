// The services of src/app on a real engine (DESIGN.md "Testing", ring 2): a server engine
// runs the service, a client engine talks to it through the public TCP API, both joined by
// a sim_link on one virtual clock. Nothing sleeps: when nothing is due, the clock jumps.
#include <functional>
#include <ostream>
#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "app/services.hpp"
#include "core/engine.hpp"
#include "dpdk/fault_device.hpp"
#include "dpdk/mempool.hpp"
#include "dpdk/sim_link.hpp"
#include "tern/clock.hpp"
#include "tern/tcp.hpp"
#include "two_nodes.hpp"

namespace tern::test {
namespace {

using namespace std::chrono_literals;

constexpr std::uint16_t port = 80;

// The client: sends `request` once connected, records what comes back and how it ends.
struct client final : tcp::app_events {
    void on_connected(tcp::stream& s) override {
        stream = &s;
        send(request);
    }
    void on_data(tcp::stream& s, const tcp::rx_data& d) override {
        received.append(reinterpret_cast<const char*>(d.data()), d.size());
        if (on_bytes) on_bytes(s);
    }
    void on_writable(tcp::stream&) override { send({}); }
    void on_peer_closed(tcp::stream& s) override {
        peer_closed = true;
        (void)s.close();
    }
    void on_closed(tcp::stream&, tcp::close_reason why) override {
        reason = why;
        stream = nullptr;
    }
    // Sends `more` after whatever is still unsent.
    void send(std::string_view more) {
        unsent.append(more);
        if (!stream || unsent.empty()) return;
        auto n = stream->send({reinterpret_cast<const std::uint8_t*>(unsent.data()), unsent.size()});
        if (n) unsent.erase(0, *n);
    }

    std::string request, unsent, received;
    tcp::stream* stream = nullptr;
    bool peer_closed = false;
    std::optional<tcp::close_reason> reason;
    std::function<void(tcp::stream&)> on_bytes;
};

// The two engines of tests/common/two_nodes.hpp, rebuilt with a fault_device on the
// client's side by with_faults.
class services : public ::testing::Test {
protected:
    services() { pair_.emplace(); }
    // The client's side through a seeded fault_device (acting on both directions).
    void with_faults(const fault_config& faults) {
        pair_.reset();
        pair_.emplace(faults);
    }

    template <class P>
    bool run_until(P done, duration limit) {
        return pair_->run_until(done, limit);
    }
    // Connects `c` to the service on `port` and runs until the client's connection closes
    // (TIME_WAIT included where the client closed first: 2·MSL of virtual time).
    void exchange(tcp::app_events& service, client& c, duration limit = 200s) {
        ASSERT_TRUE(server_node().ep.listen(port, {}, service).has_value());
        ASSERT_TRUE(client_node().ep.connect(server_ip, port, {}, c).has_value());
        ASSERT_TRUE(run_until([&] { return c.reason.has_value(); }, limit)) << "received: " << c.received;
    }
    // Runs until both endpoints hold no connection (TIME_WAIT included) and nothing is in flight.
    bool settle() { return pair_->settle(200s); }

    std::optional<two_nodes> pair_;
    node& client_node() { return *pair_->client; }
    node& server_node() { return *pair_->server; }
    virtual_clock& clock() { return pair_->clock_; }
};

// The responses in `text`, each as status line + whether it says "Connection: close" +
// its body, read by its Content-Length (which is what checks the Content-Length).
struct response {
    std::string status;
    bool close = false;
    bool keep_alive = false;
    std::string body;
};
std::vector<response> parse_responses(std::string text) {
    std::vector<response> out;
    while (!text.empty()) {
        auto end = text.find("\r\n\r\n");
        if (end == std::string::npos) break;
        std::string head = text.substr(0, end);
        response r;
        r.status = head.substr(0, head.find("\r\n"));
        r.close = head.find("\r\nConnection: close") != std::string::npos;
        r.keep_alive = head.find("\r\nConnection: keep-alive") != std::string::npos;
        auto cl = head.find("\r\nContent-Length: ");
        std::size_t length = cl == std::string::npos ? 0 : std::stoul(head.substr(cl + 18));
        r.body = text.substr(end + 4, length);
        if (r.body.size() < length) break; // incomplete
        text.erase(0, end + 4 + length);
        out.push_back(r);
    }
    return out;
}

// ---- http ------------------------------------------------------------------------------

// RFC 9112 §9.3.2: pipelined requests are answered in order; the Content-Length of each
// response is its body's length (the parser reads the bodies by it).
TEST_F(services, http_answers_pipelined_requests_in_order_with_their_content_length) {
    app::http_service http(app::http_options{1000, 16 * 1024});
    client c;
    c.request = "GET /1 HTTP/1.1\r\nHost: a\r\n\r\n"
                "POST /2 HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello"
                "GET /3 HTTP/1.1\r\nHost: a\r\n\r\n";
    c.on_bytes = [&](tcp::stream& s) {
        if (parse_responses(c.received).size() == 3) (void)s.close();
    };
    exchange(http, c);
    auto responses = parse_responses(c.received);
    ASSERT_EQ(responses.size(), 3u) << c.received;
    for (auto& r : responses) {
        EXPECT_EQ(r.status, "HTTP/1.1 200 OK");
        EXPECT_EQ(r.body.size(), 1000u);
        EXPECT_EQ(r.body.substr(0, 26), "abcdefghijklmnopqrstuvwxyz");
        EXPECT_FALSE(r.close);
    }
    EXPECT_EQ(http.requests(), 3u);
    EXPECT_EQ(http.bad_requests(), 0u);
    EXPECT_EQ(*c.reason, tcp::close_reason::normal);
    ASSERT_TRUE(settle());
    EXPECT_EQ(http.counters().opened.get(), 1u);
    EXPECT_EQ(http.counters().closed.get(), 1u);
    EXPECT_EQ(http.counters().open(), 0u);
}

// A keep-alive stream whose requests come whole and whose answers fit holds no session
// between requests (the memory of an idle connection); a request cut in two holds one
// until its end comes, and then gives it back.
TEST_F(services, http_session_exists_only_while_something_is_held) {
    app::http_service http(app::http_options{100, 16 * 1024});
    client c;
    c.request = "GET /1 HTTP/1.1\r\nHost: a\r\n\r\n";
    ASSERT_TRUE(server_node().ep.listen(port, {}, http).has_value());
    ASSERT_TRUE(client_node().ep.connect(server_ip, port, {}, c).has_value());
    ASSERT_TRUE(run_until([&] { return parse_responses(c.received).size() == 1; }, 10s));
    EXPECT_EQ(http.counters().open(), 1u);
    EXPECT_EQ(http.sessions(), 0u);
    c.send("GET /2 HTTP/1.1\r\nHo");
    EXPECT_TRUE(run_until([&] { return http.sessions() == 1; }, 10s));
    c.send("st: a\r\n\r\n");
    ASSERT_TRUE(run_until([&] { return parse_responses(c.received).size() == 2; }, 10s));
    EXPECT_EQ(http.sessions(), 0u);
    EXPECT_EQ(http.requests(), 2u);
    (void)c.stream->close();
    ASSERT_TRUE(run_until([&] { return c.reason.has_value(); }, 200s));
    ASSERT_TRUE(settle());
    EXPECT_EQ(http.counters().open(), 0u);
    EXPECT_EQ(http.sessions(), 0u);
}

// A response larger than the send buffer waits for the peer's window as a view of the
// service's prepared response, not as a copy per connection (a 16 MiB body to 20 slow
// readers held 320 MB in tern-server); so do pipelined responses behind it.
TEST_F(services, http_large_response_waits_uncopied) {
    app::http_service http(app::http_options{1 << 20, 16 * 1024});
    client c;
    c.request = "GET /1 HTTP/1.1\r\nHost: a\r\n\r\nGET /2 HTTP/1.1\r\nHost: a\r\n\r\n";
    std::size_t most_copied = 0, most_sessions = 0;
    c.on_bytes = [&](tcp::stream& s) {
        most_copied = std::max(most_copied, http.copied_bytes());
        most_sessions = std::max(most_sessions, http.sessions());
        if (parse_responses(c.received).size() == 2) (void)s.close();
    };
    exchange(http, c);
    auto responses = parse_responses(c.received);
    ASSERT_EQ(responses.size(), 2u);
    for (auto& r : responses) EXPECT_EQ(r.body.size(), std::size_t(1) << 20);
    // Both wait as views, the second behind the first; copied, they were 2 MiB less what
    // the send buffer took.
    EXPECT_EQ(most_copied, 0u);
    // The views waited in the stream's session, given back once they were sent.
    EXPECT_EQ(most_sessions, 1u);
    EXPECT_EQ(http.sessions(), 0u);
}

// RFC 9112 §9.6: after the response to "Connection: close" the server closes, and reads no
// further request: the pipelined one behind it gets no answer.
TEST_F(services, http_connection_close_closes_after_the_response) {
    app::http_service http(app::http_options{13, 16 * 1024});
    client c;
    c.request = "GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\nGET /late HTTP/1.1\r\nHost: a\r\n\r\n";
    exchange(http, c);
    EXPECT_TRUE(c.peer_closed); // the server's FIN came first
    auto responses = parse_responses(c.received);
    ASSERT_EQ(responses.size(), 1u) << c.received;
    EXPECT_EQ(responses[0].status, "HTTP/1.1 200 OK");
    EXPECT_TRUE(responses[0].close);
    EXPECT_EQ(http.requests(), 1u);
}

// RFC 9110 §7.6.1: Connection holds a list of options; "close" anywhere in it closes.
TEST_F(services, http_close_in_a_connection_list_closes) {
    app::http_service http(app::http_options{13, 16 * 1024});
    client c;
    c.request = "GET / HTTP/1.1\r\nHost: a\r\nConnection: keep-alive, close\r\n\r\n";
    exchange(http, c);
    EXPECT_TRUE(c.peer_closed);
    auto responses = parse_responses(c.received);
    ASSERT_EQ(responses.size(), 1u) << c.received;
    EXPECT_TRUE(responses[0].close);
}

// RFC 9112 §9.3: an HTTP/1.0 request without keep-alive closes after its response.
TEST_F(services, http_1_0_closes_by_default) {
    app::http_service http(app::http_options{13, 16 * 1024});
    client c;
    c.request = "GET / HTTP/1.0\r\n\r\n";
    exchange(http, c);
    EXPECT_TRUE(c.peer_closed);
    auto responses = parse_responses(c.received);
    ASSERT_EQ(responses.size(), 1u) << c.received;
    EXPECT_TRUE(responses[0].close);
}

// RFC 9112 §C.2.2: an HTTP/1.0 client that sends "Connection: keep-alive" is told the
// connection persists, and it does: a second request is answered.
TEST_F(services, http_1_0_keep_alive_persists_and_says_so) {
    app::http_service http(app::http_options{13, 16 * 1024});
    client c;
    c.request = "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n";
    c.on_bytes = [&](tcp::stream& s) {
        if (parse_responses(c.received).size() == 2) (void)s.close();
    };
    exchange(http, c);
    auto responses = parse_responses(c.received);
    ASSERT_EQ(responses.size(), 2u) << c.received;
    for (auto& r : responses) {
        EXPECT_TRUE(r.keep_alive);
        EXPECT_FALSE(r.close);
    }
    EXPECT_EQ(http.requests(), 2u);
}

// With Nagle on (the default) a response still leaves at once: head and body go in one
// send(), so no part of it waits for the ACK the client delays (RFC 9293 §3.7.4 with
// RFC 1122 §4.2.3.2). 20 requests one after the other over a 50 us link take well under
// one delayed-ACK time (40 ms) each.
TEST_F(services, http_response_is_not_held_by_nagle) {
    app::http_service http(app::http_options{200, 16 * 1024});
    client c;
    int answered = 0;
    c.request = "GET / HTTP/1.1\r\nHost: a\r\n\r\n";
    c.on_bytes = [&](tcp::stream& s) {
        const int n = int(parse_responses(c.received).size());
        if (n == answered) return;
        answered = n;
        if (n < 20) c.send("GET / HTTP/1.1\r\nHost: a\r\n\r\n");
        else (void)s.close();
    };
    ASSERT_TRUE(server_node().ep.listen(port, {}, http).has_value());
    ASSERT_TRUE(client_node().ep.connect(server_ip, port, {}, c).has_value());
    const instant start = clock().now();
    ASSERT_TRUE(run_until([&] { return answered == 20; }, 10s));
    EXPECT_LT(clock().now() - start, 20ms) << "some response waited for a delayed ACK";
    ASSERT_TRUE(settle());
}

// A request split anywhere across segments is answered once, as if it had come whole:
// two pipelined requests (the second with a body) cut at every byte, the first piece
// waiting at the server before the second is sent; then the pair one byte a segment.
TEST_F(services, http_requests_split_anywhere_are_answered_once) {
    app::http_service http(app::http_options{13, 16 * 1024});
    const std::string pair = "GET /1 HTTP/1.1\r\nHost: a\r\n\r\n"
                             "POST /2 HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello";
    client c;
    tcp::connect_options no_delay;
    no_delay.connection.no_delay = true; // each send() its own segment
    ASSERT_TRUE(server_node().ep.listen(port, {}, http).has_value());
    ASSERT_TRUE(client_node().ep.connect(server_ip, port, no_delay, c).has_value());
    ASSERT_TRUE(run_until([&] { return c.stream != nullptr; }, 1s));
    std::size_t expected = 0;
    auto send_in_pieces = [&](const std::vector<std::string_view>& pieces) {
        for (std::string_view piece : pieces) {
            const std::uint64_t arrived = http.counters().bytes_in.get() + piece.size();
            c.send(piece);
            ASSERT_TRUE(run_until([&] { return http.counters().bytes_in.get() == arrived; }, 1s));
        }
        expected += 2;
        ASSERT_TRUE(run_until([&] { return parse_responses(c.received).size() == expected; }, 1s)) << c.received;
    };
    const std::string_view whole = pair;
    for (std::size_t cut = 1; cut < pair.size(); ++cut) {
        SCOPED_TRACE(cut);
        send_in_pieces({whole.substr(0, cut), whole.substr(cut)});
    }
    std::vector<std::string_view> bytes;
    for (std::size_t i = 0; i < pair.size(); ++i) bytes.push_back(whole.substr(i, 1));
    send_in_pieces(bytes);
    EXPECT_EQ(http.requests(), expected);
    EXPECT_EQ(http.bad_requests(), 0u);
    for (auto& r : parse_responses(c.received)) {
        EXPECT_EQ(r.status, "HTTP/1.1 200 OK");
        EXPECT_EQ(r.body.size(), 13u);
    }
}

// RFC 9112 §9.6: nothing after a request that closes is read, not even to refuse it (the
// server refused the bytes behind such a request with a 431 once its answer had gone out).
TEST_F(services, http_nothing_after_a_closing_request_is_read) {
    app::http_service http(app::http_options{13, 256});
    client c;
    c.request = "GET / HTTP/1.1\r\nConnection: close\r\n\r\n" + std::string(300, 'y');
    exchange(http, c);
    EXPECT_TRUE(c.peer_closed);
    auto responses = parse_responses(c.received);
    ASSERT_EQ(responses.size(), 1u) << c.received;
    EXPECT_EQ(responses[0].status, "HTTP/1.1 200 OK");
    EXPECT_EQ(http.requests(), 1u);
    EXPECT_EQ(http.bad_requests(), 0u);
}

struct bad_case {
    const char* name;
    std::string request;
    const char* status;
};
void PrintTo(const bad_case& c, std::ostream* os) { *os << c.name; }

class http_bad : public services, public ::testing::WithParamInterface<bad_case> {};

// Malformed or oversized requests get their status, "Connection: close", and the close.
TEST_P(http_bad, gets_its_status_and_the_connection_closed) {
    app::http_service http(app::http_options{13, 256});
    client c;
    c.request = GetParam().request;
    exchange(http, c);
    EXPECT_TRUE(c.peer_closed);
    auto responses = parse_responses(c.received);
    ASSERT_EQ(responses.size(), 1u) << c.received;
    EXPECT_EQ(responses[0].status, std::string("HTTP/1.1 ") + GetParam().status);
    EXPECT_TRUE(responses[0].close);
    EXPECT_EQ(http.bad_requests(), 1u);
    EXPECT_EQ(http.requests(), 0u);
}

INSTANTIATE_TEST_SUITE_P(
    services, http_bad,
    ::testing::Values(
        bad_case{"not_http", "NOT A REQUEST\r\n\r\n", "400 Bad Request"},
        bad_case{"unknown_version", "GET / HTTP/2.0\r\n\r\n", "400 Bad Request"},
        bad_case{"field_without_colon", "GET / HTTP/1.1\r\nHost a\r\n\r\n", "400 Bad Request"},
        // RFC 9112 §5.1: whitespace between field name and colon MUST be rejected with 400.
        bad_case{"space_before_colon", "GET / HTTP/1.1\r\nHost : a\r\n\r\n", "400 Bad Request"},
        // RFC 9112 §6.3 (5): differing Content-Length values.
        bad_case{"two_content_lengths",
                 "POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab", "400 Bad Request"},
        bad_case{"content_length_not_a_number", "POST / HTTP/1.1\r\nContent-Length: x\r\n\r\n", "400 Bad Request"},
        bad_case{"chunked_body", "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", "400 Bad Request"},
        // RFC 9110 §15.5.14: a body over the limit (256 here).
        bad_case{"body_over_the_limit", "POST / HTTP/1.1\r\nContent-Length: 1000\r\n\r\n", "413 Content Too Large"},
        // RFC 6585 §5: a head over the limit, complete or not.
        bad_case{"head_over_the_limit", "GET / HTTP/1.1\r\nX: " + std::string(400, 'y') + "\r\n\r\n",
                 "431 Request Header Fields Too Large"},
        bad_case{"unfinished_head_over_the_limit", "GET / HTTP/1.1\r\nX: " + std::string(400, 'y'),
                 "431 Request Header Fields Too Large"}),
    [](const ::testing::TestParamInfo<bad_case>& info) { return info.param.name; });

// ---- read_request (the request reader, without an engine) --------------------------------

using kind = app::http_request::kind;

// Every proper prefix of a request is incomplete, the whole is complete, and the bytes
// after it are not its own.
TEST(read_request, is_incomplete_until_the_last_byte_of_its_body) {
    const std::string request = "POST /a HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello";
    for (std::size_t n = 0; n < request.size(); ++n) {
        SCOPED_TRACE(n);
        EXPECT_EQ(app::read_request(std::string_view(request).substr(0, n), 1024).what, kind::incomplete);
    }
    const auto r = app::read_request(request + "GET / HTTP/1.1\r\n", 1024);
    EXPECT_EQ(r.what, kind::complete);
    EXPECT_EQ(r.size, request.size());
    EXPECT_TRUE(r.keep_alive);
    EXPECT_FALSE(r.http10);
}

// A memo of the last head changes nothing read_request says: requests whose heads are the
// memo's, extend it, differ from it in a byte, are cut short of it, or carry a body give
// the same answer (what, size, keep-alive, HTTP/1.0) with the memo as without, at every
// length of the input; and the memo is used when the same head comes again.
TEST(read_request, a_memo_of_the_last_head_reads_the_same) {
    const std::vector<std::string> requests = {
        "GET / HTTP/1.1\r\nHost: a\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: a\r\n\r\n",                                   // the memo's head
        "GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",            // longer, same start
        "GET / HTTP/1.0\r\nHost: a\r\n\r\n",                                   // one byte differs
        "POST / HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc",
        "POST / HTTP/1.1\r\nContent-Length: 3\r\n\r\nab",                       // its body not all in
        "POST / HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc",
        "GET / HTTP/1.1\r\nHost: a\r\n",                                         // cut short of a head
    };
    auto said = [](const app::http_request& r) {
        return std::to_string(int(r.what)) + " " + std::to_string(r.size) + " " + std::to_string(r.keep_alive) + " " +
               std::to_string(r.http10);
    };
    app::http_request_memo memo;
    for (const auto& request : requests)
        for (std::size_t n = 0; n <= request.size(); ++n) {
            const std::string_view in = std::string_view(request).substr(0, n);
            ASSERT_EQ(said(app::read_request(in, 1024, &memo)), said(app::read_request(in, 1024))) << request << n;
        }
    EXPECT_GT(memo.hits(), 0u);
    app::http_request_memo fresh;
    for (const auto& request : requests) (void)app::read_request(request, 1024, &fresh);
    EXPECT_EQ(fresh.hits(), 3u); // the second GET's head, and the second and third POSTs' heads
}

// RFC 9110 §5.1: field names are case-insensitive; RFC 9110 §7.6.1: so are the options.
TEST(read_request, knows_its_fields_in_any_case) {
    const std::string head = "POST / HTTP/1.1\r\nCONTENT-LENGTH: 2\r\ncOnNeCtIoN: Keep-Alive, CLOSE\r\n\r\n";
    auto r = app::read_request(head + "ab", 1024);
    EXPECT_EQ(r.what, kind::complete);
    EXPECT_EQ(r.size, head.size() + 2);
    EXPECT_FALSE(r.keep_alive);
    r = app::read_request("GET / HTTP/1.0\r\nconnection: KEEP-ALIVE\r\n\r\n", 1024);
    EXPECT_TRUE(r.keep_alive);
    EXPECT_TRUE(r.http10);
    EXPECT_EQ(app::read_request("POST / HTTP/1.1\r\nTRANSFER-encoding: chunked\r\n\r\n", 1024).what,
              kind::bad_request);
}

// Names that differ from ours only in bit 0x20 where ours has no letter ('-' and CR) are
// other names: case folding touches letters only.
TEST(read_request, folds_the_case_of_letters_only) {
    const std::string head = "POST / HTTP/1.1\r\nContent\rLength: 2\r\n\r\n";
    const auto r = app::read_request(head + "ab", 1024);
    EXPECT_EQ(r.what, kind::complete);
    EXPECT_EQ(r.size, head.size()); // no body: not a Content-Length
    const auto r10 = app::read_request("GET / HTTP/1.0\r\nConnection: keep\ralive\r\n\r\n", 1024);
    EXPECT_FALSE(r10.keep_alive);   // nor "keep-alive"
}

// RFC 6585 §5: the head, with its empty line, must end within max_request + 4 bytes; a
// head still coming is refused as soon as it is longer than max_request.
TEST(read_request, refuses_a_head_over_the_limit_at_the_limit) {
    const std::string start = "GET / HTTP/1.1\r\nX: ";
    const std::size_t max = 64;
    const std::string fits = start + std::string(max - start.size(), 'y') + "\r\n\r\n";
    ASSERT_EQ(fits.size(), max + 4);
    EXPECT_EQ(app::read_request(fits, max).what, kind::complete);
    const std::string over = start + std::string(max + 1 - start.size(), 'y') + "\r\n\r\n";
    EXPECT_EQ(app::read_request(over, max).what, kind::head_too_large);
    EXPECT_EQ(app::read_request(std::string_view(over).substr(0, max), max).what, kind::incomplete);
    EXPECT_EQ(app::read_request(std::string_view(over).substr(0, max + 1), max).what, kind::head_too_large);
    EXPECT_EQ(app::read_request("POST / HTTP/1.1\r\nContent-Length: 65\r\n\r\n", max).what,
              kind::content_too_large);
}

// The first thing wrong decides, and only once the head is complete: a bad request line
// is not refused before its head has ended.
TEST(read_request, is_refused_once_its_head_is_complete) {
    EXPECT_EQ(app::read_request("get / HTTP/1.1\r\nHost: a\r\n", 1024).what, kind::incomplete);
    EXPECT_EQ(app::read_request("get / HTTP/1.1\r\nHost: a\r\n\r\n", 1024).what, kind::bad_request);
    EXPECT_EQ(app::read_request("\r\n\r\n", 1024).what, kind::bad_request); // an empty request line
    EXPECT_EQ(app::read_request("GET / HTTP/1.1\r\nContent-Length: 99\r\nHost : a\r\n\r\n", 64).what,
              kind::bad_request); // 400 before 413: the head is bad
}

// ---- sink and source -------------------------------------------------------------------

// The sink takes every byte, counts it, answers nothing, and closes when the peer does.
TEST_F(services, sink_counts_what_arrives_and_closes_after_the_peer) {
    app::sink_service sink;
    client c;
    c.request = std::string(300000, 'z');
    ASSERT_TRUE(server_node().ep.listen(port, {}, sink).has_value());
    ASSERT_TRUE(client_node().ep.connect(server_ip, port, {}, c).has_value());
    ASSERT_TRUE(run_until([&] { return c.stream && c.unsent.empty(); }, 10s));
    ASSERT_TRUE(c.stream->close().has_value());
    ASSERT_TRUE(run_until([&] { return c.reason.has_value(); }, 200s));
    EXPECT_TRUE(c.peer_closed);
    EXPECT_EQ(*c.reason, tcp::close_reason::normal);
    EXPECT_EQ(c.received, "");
    EXPECT_EQ(sink.counters().bytes_in.get(), 300000u);
    EXPECT_EQ(sink.counters().bytes_out.get(), 0u);
    ASSERT_TRUE(settle());
    EXPECT_EQ(sink.counters().closed.get(), 1u);
}

// The source sends without end the pattern 'a' + offset % 26 (across zero-copy blocks and
// refills); once the client has enough it closes, and the source closes too.
TEST_F(services, source_streams_the_pattern_until_the_peer_closes) {
    app::source_service source;
    client c;
    constexpr std::size_t want = 1 << 20;
    c.on_bytes = [&](tcp::stream& s) {
        if (c.received.size() >= want && s.state() == tcp::tcp_state::established) (void)s.close();
    };
    exchange(source, c);
    // After close() more data may still arrive and reset the connection (RFC 1122
    // §4.2.2.13): either way the client got the stream up to its close.
    ASSERT_GE(c.received.size(), want);
    std::size_t bad = 0;
    for (std::size_t i = 0; i < c.received.size(); ++i)
        if (c.received[i] != char('a' + i % 26)) ++bad;
    EXPECT_EQ(bad, 0u);
    ASSERT_TRUE(settle());
    EXPECT_GE(source.counters().bytes_out.get(), c.received.size());
    EXPECT_EQ(source.counters().closed.get(), 1u);
    EXPECT_EQ(pair_->server_pool_.in_use(), 0u); // every zero-copy block came back
}

// Echo sends back what arrives, and closes after the peer's FIN.
TEST_F(services, echo_returns_what_arrives) {
    app::echo_service echo;
    client c;
    c.request = std::string(100000, 'q');
    c.on_bytes = [&](tcp::stream& s) {
        if (c.received.size() == 100000) (void)s.close();
    };
    exchange(echo, c);
    EXPECT_EQ(c.received, std::string(100000, 'q'));
    EXPECT_EQ(echo.counters().bytes_in.get(), 100000u);
    EXPECT_EQ(echo.counters().bytes_out.get(), 100000u);
    EXPECT_EQ(echo.counters().retransmits.get(), 0u); // a clean link
}

// The service counts its streams' retransmissions (tern-server's "rtx"): over a lossy link
// the echoed data needed some, and the count outlives the connection.
TEST_F(services, echo_counts_retransmissions_over_loss) {
    fault_config faults;
    faults.rx.loss = faults.tx.loss = 0.05;
    faults.seed = 7;
    with_faults(faults);
    app::echo_service echo;
    client c;
    c.request = std::string(200000, 'q');
    c.on_bytes = [&](tcp::stream& s) {
        if (c.received.size() == 200000) (void)s.close();
    };
    exchange(echo, c);
    EXPECT_EQ(c.received, std::string(200000, 'q'));
    ASSERT_TRUE(settle());
    EXPECT_GT(echo.counters().retransmits.get(), 0u);
    EXPECT_GT(pair_->fault_->counters(fault_direction::rx).dropped, 0u);
}

} // namespace
} // namespace tern::test
