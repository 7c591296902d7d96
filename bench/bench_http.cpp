// Micro benchmarks of the HTTP/1.1 parsers of src/app: the response reader of tern-load
// (http_response_reader::feed) and the request reader of tern-server --mode http
// (read_request), on the messages the two exchange, per message. Beside each, the parser as
// it was before it read heads in one pass (commit f994a08), so one run shows both:
//   build-rel/bench/bench_http --benchmark_min_time=0.5 --benchmark_repetitions=5
//       --benchmark_enable_random_interleaving=true --benchmark_report_aggregates_only=true
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "app/load.hpp"
#include "app/services.hpp"

namespace {

using tern::app::http_request;
using tern::app::http_response_reader;

// ---- the messages ----------------------------------------------------------------------

// What tern-server --mode http answers (http_service, 13-byte body), and a fuller head of
// the kind nginx sends.
const std::string tern_response = "HTTP/1.1 200 OK\r\nServer: tern\r\nContent-Type: text/plain\r\n"
                                  "Content-Length: 13\r\n\r\nabcdefghijkl\n";
const std::string nginx_response = "HTTP/1.1 200 OK\r\nServer: nginx/1.22.1\r\nDate: Tue, 01 Dec 2026 17:00:00 GMT\r\n"
                                   "Content-Type: text/html\r\nContent-Length: 13\r\n"
                                   "Last-Modified: Tue, 01 Dec 2026 16:00:00 GMT\r\nConnection: keep-alive\r\n"
                                   "ETag: \"6568a5c0-d\"\r\nAccept-Ranges: bytes\r\n\r\nabcdefghijkl\n";
// What tern-load sends (load_generator's GET), and a fuller one of the kind curl sends.
const std::string tern_request = "GET / HTTP/1.1\r\nHost: tern\r\nUser-Agent: tern-load\r\n\r\n";
const std::string curl_request = "GET /index.html HTTP/1.1\r\nHost: 198.18.0.2:8080\r\nUser-Agent: curl/7.88.1\r\n"
                                 "Accept: */*\r\nConnection: keep-alive\r\n\r\n";

const std::string& response_of(std::int64_t i) { return i == 0 ? tern_response : nginx_response; }
const std::string& request_of(std::int64_t i) { return i == 0 ? tern_request : curl_request; }

// ---- before: the parsers at f994a08, unchanged but for names -----------------------------

namespace before {

bool iequals(std::string_view a, std::string_view b) {
    return a.size() == b.size() &&
           std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) { return std::tolower(x) == std::tolower(y); });
}

std::string_view trim(std::string_view v) {
    while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
    while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.remove_suffix(1);
    return v;
}

class response_reader {
public:
    using response = http_response_reader::response;
    using step = http_response_reader::step;
    static constexpr std::size_t max_head = 16 * 1024;

    step feed(std::string_view in) {
        step out;
        if (!in_body_) {
            const std::size_t held = head_.size();
            head_.append(in.substr(0, std::min(in.size(), max_head + 4 - std::min(held, max_head + 4))));
            const std::size_t end = head_.find("\r\n\r\n", held >= 3 ? held - 3 : 0);
            if (end == std::string::npos) {
                out.used = in.size();
                if (head_.size() > max_head) out.error = "response head over 16 KiB";
                return out;
            }
            out.used = end + 4 - held;
            std::string_view head(head_.data(), end);
            const std::size_t eol = head.find("\r\n");
            std::string_view line = head.substr(0, eol);
            if (line.size() < 12 || line.substr(0, 7) != "HTTP/1." || line[8] != ' ') {
                out.error = "not an HTTP/1.x status line";
                return out;
            }
            unsigned status = 0;
            auto [p, ec] = std::from_chars(line.data() + 9, line.data() + 12, status);
            if (ec != std::errc{} || p != line.data() + 12 || status < 100) {
                out.error = "bad status code";
                return out;
            }
            current_ = response{status, line[7] == '0'};
            body_left_ = 0;
            bool has_length = false;
            std::string_view rest = eol == std::string_view::npos ? std::string_view{} : head.substr(eol + 2);
            while (!rest.empty()) {
                const auto e = rest.find("\r\n");
                std::string_view field = rest.substr(0, e);
                rest = e == std::string_view::npos ? std::string_view{} : rest.substr(e + 2);
                const auto colon = field.find(':');
                if (colon == std::string_view::npos) {
                    out.error = "header field without ':'";
                    return out;
                }
                std::string_view name = field.substr(0, colon), value = trim(field.substr(colon + 1));
                if (iequals(name, "content-length")) {
                    auto [q, ec2] = std::from_chars(value.data(), value.data() + value.size(), body_left_);
                    if (ec2 != std::errc{} || q != value.data() + value.size()) {
                        out.error = "bad Content-Length";
                        return out;
                    }
                    has_length = true;
                } else if (iequals(name, "transfer-encoding")) {
                    out.error = "chunked responses are not supported";
                    return out;
                } else if (iequals(name, "connection")) {
                    if (iequals(value, "close")) current_.close = true;
                    if (iequals(value, "keep-alive")) current_.close = false;
                }
            }
            const bool bodyless = status < 200 || status == 204 || status == 304;
            if (bodyless) body_left_ = 0;
            else if (!has_length) {
                out.error = "response without Content-Length";
                return out;
            }
            head_.clear();
            in_body_ = true;
            in.remove_prefix(out.used);
        }
        const std::size_t take = std::size_t(std::min<std::uint64_t>(body_left_, in.size()));
        body_left_ -= take;
        out.used += take;
        if (body_left_ == 0) {
            in_body_ = false;
            out.complete = current_;
        }
        return out;
    }

private:
    std::string head_;
    bool in_body_ = false;
    std::uint64_t body_left_ = 0;
    response current_;
};

struct request_head {
    bool valid = false;
    bool keep_alive = true;
    bool http10 = false;
    std::size_t content_length = 0;
};

struct connection_header {
    bool close = false;
    bool keep_alive = false;
};

connection_header connection_options(std::string_view value) {
    connection_header c;
    while (!value.empty()) {
        auto comma = value.find(',');
        std::string_view option = trim(value.substr(0, comma));
        value = comma == std::string_view::npos ? std::string_view{} : value.substr(comma + 1);
        if (iequals(option, "close")) c.close = true;
        if (iequals(option, "keep-alive")) c.keep_alive = true;
    }
    return c;
}

request_head parse_head(std::string_view head) {
    request_head r;
    auto eol = head.find("\r\n");
    std::string_view line = head.substr(0, eol);
    auto sp1 = line.find(' '), sp2 = line.rfind(' ');
    if (sp1 == std::string_view::npos || sp1 == sp2 || sp1 == 0 || sp2 + 1 >= line.size()) return r;
    std::string_view version = line.substr(sp2 + 1);
    if (version == "HTTP/1.0") r.keep_alive = false, r.http10 = true;
    else if (version != "HTTP/1.1") return r;
    for (char c : line.substr(0, sp1))
        if (!std::isupper(static_cast<unsigned char>(c))) return r;
    bool close = false, keep = false, have_length = false;
    std::string_view rest = eol == std::string_view::npos ? std::string_view{} : head.substr(eol + 2);
    while (!rest.empty()) {
        auto end = rest.find("\r\n");
        std::string_view field = rest.substr(0, end);
        rest = end == std::string_view::npos ? std::string_view{} : rest.substr(end + 2);
        auto colon = field.find(':');
        if (colon == std::string_view::npos || colon == 0 || field[colon - 1] == ' ' || field[colon - 1] == '\t')
            return r;
        std::string_view name = field.substr(0, colon), value = trim(field.substr(colon + 1));
        if (iequals(name, "connection")) {
            const connection_header c = connection_options(value);
            close |= c.close;
            keep |= c.keep_alive;
        } else if (iequals(name, "content-length")) {
            std::size_t n = 0;
            auto [p, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
            if (ec != std::errc{} || p != value.data() + value.size() || value.empty()) return r;
            if (have_length && n != r.content_length) return r;
            r.content_length = n;
            have_length = true;
        } else if (iequals(name, "transfer-encoding")) {
            return r;
        }
    }
    if (keep) r.keep_alive = true;
    if (close) r.keep_alive = false;
    r.valid = true;
    return r;
}

// What http_service::received and answer_one did with one segment holding one request:
// append it to the session's input, find the head's end, parse the head, erase the request.
// Returns whether a request was complete and valid.
bool read_request(std::string& input, std::string_view segment, std::size_t max_request) {
    input.append(segment);
    const auto end = input.find("\r\n\r\n");
    if (end == std::string::npos || end > max_request) return false;
    const request_head head = parse_head(std::string_view(input).substr(0, end));
    if (!head.valid || head.content_length > max_request) return false;
    const std::size_t total = end + 4 + head.content_length;
    if (input.size() < total) return false;
    input.erase(0, total);
    return true;
}

} // namespace before

// ---- the benchmarks ----------------------------------------------------------------------

// One response a feed, as tern-load's on_data sees it from a server that answers each GET
// in one segment. range(0): 0 tern's response, 1 nginx's.
template <class Reader>
void bm_response(benchmark::State& state) {
    const std::string& message = response_of(state.range(0));
    Reader r;
    for (auto _ : state) {
        std::string_view in = message;
        benchmark::DoNotOptimize(in.data());
        auto step = r.feed(in);
        if (!step.complete || step.used != in.size()) state.SkipWithError("response not read");
        benchmark::DoNotOptimize(step);
    }
    state.SetItemsProcessed(std::int64_t(state.iterations()));
    state.SetBytesProcessed(std::int64_t(state.iterations() * message.size()));
}
BENCHMARK_TEMPLATE(bm_response, before::response_reader)->Name("response/before")->Arg(0)->Arg(1);
BENCHMARK_TEMPLATE(bm_response, http_response_reader)->Name("response/after")->Arg(0)->Arg(1);

// The same with the engine's memo of the last head, as tern-load reads (after the first).
void bm_response_memo(benchmark::State& state) {
    const std::string& message = response_of(state.range(0));
    http_response_reader r;
    http_response_reader::memo memo;
    for (auto _ : state) {
        std::string_view in = message;
        benchmark::DoNotOptimize(in.data());
        auto step = r.feed(in, &memo);
        if (!step.complete || step.used != in.size()) state.SkipWithError("response not read");
        benchmark::DoNotOptimize(step);
    }
    if (memo.hits() + 1 != std::uint64_t(state.iterations())) state.SkipWithError("memo not used");
    state.SetItemsProcessed(std::int64_t(state.iterations()));
    state.SetBytesProcessed(std::int64_t(state.iterations() * message.size()));
}
BENCHMARK(bm_response_memo)->Name("response/memo")->Arg(0)->Arg(1);

// One response in two reads, split in the middle of its Content-Length field: the head is
// held between the two.
template <class Reader>
void bm_response_split(benchmark::State& state) {
    const std::string& message = response_of(state.range(0));
    const std::size_t cut = message.find("Content-Length: 1") + 16;
    Reader r;
    for (auto _ : state) {
        std::string_view in = message;
        benchmark::DoNotOptimize(in.data());
        auto a = r.feed(in.substr(0, cut));
        auto b = r.feed(in.substr(cut));
        if (a.complete || !b.complete || a.used + b.used != in.size()) state.SkipWithError("response not read");
        benchmark::DoNotOptimize(b);
    }
    state.SetItemsProcessed(std::int64_t(state.iterations()));
}
BENCHMARK_TEMPLATE(bm_response_split, before::response_reader)->Name("response_split/before")->Arg(0)->Arg(1);
BENCHMARK_TEMPLATE(bm_response_split, http_response_reader)->Name("response_split/after")->Arg(0)->Arg(1);

// One request a segment, as http_service::received sees it from a client that waits for
// each answer (tern-load --closed-loop). range(0): 0 tern-load's GET, 1 curl's.
void bm_request_before(benchmark::State& state) {
    const std::string& message = request_of(state.range(0));
    std::string input;
    for (auto _ : state) {
        std::string_view in = message;
        benchmark::DoNotOptimize(in.data());
        if (!before::read_request(input, in, 16 * 1024)) state.SkipWithError("request not read");
        benchmark::DoNotOptimize(input.data());
    }
    state.SetItemsProcessed(std::int64_t(state.iterations()));
}
BENCHMARK(bm_request_before)->Name("request/before")->Arg(0)->Arg(1);

void bm_request_after(benchmark::State& state) {
    const std::string& message = request_of(state.range(0));
    for (auto _ : state) {
        std::string_view in = message;
        benchmark::DoNotOptimize(in.data());
        const http_request r = tern::app::read_request(in, 16 * 1024);
        if (r.what != http_request::kind::complete || r.size != in.size()) state.SkipWithError("request not read");
        benchmark::DoNotOptimize(r);
    }
    state.SetItemsProcessed(std::int64_t(state.iterations()));
}
BENCHMARK(bm_request_after)->Name("request/after")->Arg(0)->Arg(1);

// The same with the service's memo of the last head, as tern-server reads (after the first).
void bm_request_memo(benchmark::State& state) {
    const std::string& message = request_of(state.range(0));
    tern::app::http_request_memo memo;
    for (auto _ : state) {
        std::string_view in = message;
        benchmark::DoNotOptimize(in.data());
        const http_request r = tern::app::read_request(in, 16 * 1024, &memo);
        if (r.what != http_request::kind::complete || r.size != in.size()) state.SkipWithError("request not read");
        benchmark::DoNotOptimize(r);
    }
    if (memo.hits() + 1 != std::uint64_t(state.iterations())) state.SkipWithError("memo not used");
    state.SetItemsProcessed(std::int64_t(state.iterations()));
}
BENCHMARK(bm_request_memo)->Name("request/memo")->Arg(0)->Arg(1);

} // namespace

BENCHMARK_MAIN();
