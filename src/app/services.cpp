#include "app/services.hpp"

#include <algorithm>
#include <charconv>
#include <cstring>

#include "app/http_head.hpp"

namespace tern::app {

buffered_service::~buffered_service() {
    while (sessions_) {
        session* next = sessions_->next;
        delete sessions_;
        sessions_ = next;
    }
}

void buffered_service::start(tcp::stream& s) {
    s.user = &no_session;
    counters_.opened.add();
    opened(s);
}

session& buffered_service::state(tcp::stream& s) {
    if (session* st = held(s)) return *st;
    auto* st = new session();
    st->next = sessions_;
    if (sessions_) sessions_->prev = st;
    sessions_ = st;
    ++session_count_;
    s.user = st;
    return *st;
}

void buffered_service::free_session(tcp::stream& s, session* st) {
    (st->prev ? st->prev->next : sessions_) = st->next;
    if (st->next) st->next->prev = st->prev;
    delete st;
    --session_count_;
    s.user = &no_session;
}

void buffered_service::on_data(tcp::stream& s, const tcp::rx_data& data) {
    if (!s.user) return;
    counters_.bytes_in.add(data.size());
    // Retransmissions show up in the per-second line while a stream lives: sampled here
    // (an ACK for retransmitted data usually comes with data or precedes on_writable), on
    // on_writable, and at the close.
    sample_retransmits(s);
    received(s, data);
}

void buffered_service::on_closed(tcp::stream& s, tcp::close_reason why) {
    if (!s.user) return;
    session* st = held(s);
    const std::uint64_t seen = st ? st->retransmits_seen : 0;
    counters_.retransmits.add(s.retransmits() - seen);
    counters_.closed.add();
    if (why == tcp::close_reason::reset) counters_.resets.add();
    if (why == tcp::close_reason::timed_out) counters_.timeouts.add();
    if (why == tcp::close_reason::aborted) counters_.aborted.add();
    if (st) free_session(s, st);
    s.user = nullptr;
}

void buffered_service::sample_retransmits(tcp::stream& s) {
    const std::uint64_t now = s.retransmits();
    const session* st = held(s);
    const std::uint64_t seen = st ? st->retransmits_seen : 0;
    if (now == seen) return; // most streams never retransmit: no session for them
    counters_.retransmits.add(now - seen);
    state(s).retransmits_seen = now;
}

namespace {

bool waiting(const session& st) { return st.pending_at < st.pending.size() || !st.lasting.empty(); }

// Sends views from the first while the stream takes them whole.
template <class Send>
void send_views(std::vector<std::string_view>& views, Send send) {
    std::size_t done = 0;
    for (; done < views.size(); ++done) {
        views[done].remove_prefix(send(views[done]));
        if (!views[done].empty()) break;
    }
    views.erase(views.begin(), views.begin() + std::ptrdiff_t(done));
}

} // namespace

std::size_t buffered_service::copied_bytes() const {
    std::size_t n = 0;
    for (const session* st = sessions_; st; st = st->next) n += st->pending.size() - st->pending_at;
    return n;
}

// Sends what the stream takes of `bytes`; returns how much that was.
std::size_t buffered_service::send_some(tcp::stream& s, std::string_view bytes) {
    auto sent = s.send({reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size()});
    const std::size_t n = sent ? *sent : 0;
    counters_.bytes_out.add(n);
    return n;
}

void buffered_service::write(tcp::stream& s, std::string_view bytes, bool lasting) {
    if (const session* held_st = held(s); !held_st || !waiting(*held_st)) bytes.remove_prefix(send_some(s, bytes));
    if (bytes.empty()) return;
    session& st = state(s);
    if (lasting && st.pending_at == st.pending.size()) {
        st.lasting.push_back(bytes);
        return;
    }
    // Views waiting ahead of a copy become part of the copy, so the order holds.
    for (std::string_view v : st.lasting) st.pending.append(v);
    st.lasting.clear();
    st.pending.append(bytes);
}

void buffered_service::flush(tcp::stream& s) {
    session* held_st = held(s); // null too for a stream no longer ours (user null)
    if (!held_st) return;
    session& st = *held_st;
    if (waiting(st)) {
        // Sent from where it starts: erasing the front of a large copy moved the rest each time.
        if (st.pending_at < st.pending.size()) {
            st.pending_at += send_some(s, std::string_view(st.pending).substr(st.pending_at));
            if (st.pending_at == st.pending.size()) {
                // A large copy's memory goes with it; a small one is kept for the next.
                if (st.pending.capacity() > 64 * 1024) std::string().swap(st.pending);
                else st.pending.clear();
                st.pending_at = 0;
            }
        } else {
            send_views(st.lasting, [&](std::string_view v) { return send_some(s, v); });
        }
        sample_retransmits(s);
    }
    if (!waiting(st) && st.close_when_sent) {
        st.close_when_sent = false;
        (void)s.close();
    }
    settle(s);
}

void buffered_service::close_after_sending(tcp::stream& s) {
    if (!s.user) return;
    if (const session* st = held(s); !st || !waiting(*st)) {
        (void)s.close(); // nothing waits: no session just to remember the close
        return;
    }
    state(s).close_when_sent = true;
    flush(s);
}

void buffered_service::settle(tcp::stream& s) {
    session* st = held(s);
    if (!st || st->close_when_sent || st->done || !st->input.empty() || waiting(*st) || st->block.valid() ||
        st->offset != 0 || st->retransmits_seen != 0)
        return;
    free_session(s, st);
}

void echo_service::received(tcp::stream& s, const tcp::rx_data& data) {
    write(s, {reinterpret_cast<const char*>(data.data()), data.size()});
}

// ---- source --------------------------------------------------------------------------

namespace {
constexpr std::size_t source_block = 64 * 1024; // asked of allocate(); an mbuf holds less
} // namespace

source_service::source_service() : pattern_(source_block + 26) {
    for (std::size_t i = 0; i < pattern_.size(); ++i) pattern_[i] = std::uint8_t('a' + i % 26);
}

void source_service::fill(tcp::stream& s) {
    session& st = state(s);
    while (!st.done) {
        if (!st.block.valid()) {
            auto b = s.allocate(source_block);
            if (!b && b.error() == tcp::send_error::no_buffer) {
                // The pool is empty: copy instead, so the stream does not stall waiting for
                // an on_writable that an empty send buffer would never bring.
                auto n = s.send(std::span(pattern_).subspan(st.offset % 26, source_block));
                if (!n || *n == 0) return;
                counters_.bytes_out.add(*n);
                st.offset += *n;
                continue;
            }
            if (!b) {
                st.done = true; // closing or closed
                return;
            }
            const std::size_t n = b->room().size();
            std::memcpy(b->room().data(), pattern_.data() + st.offset % 26, n);
            b->resize(n);
            st.block = std::move(*b);
        }
        const std::size_t n = st.block.size();
        auto sent = s.send(st.block);
        if (!sent) {
            st.done = true;
            return;
        }
        if (*sent == 0) return; // full: on_writable follows
        counters_.bytes_out.add(n);
        st.offset += n;
    }
}

void source_service::on_writable(tcp::stream& s) {
    if (!s.user) return;
    sample_retransmits(s);
    fill(s);
}

void source_service::on_peer_closed(tcp::stream& s) {
    session& st = state(s);
    st.done = true;
    st.block.reset();
    (void)s.close(); // what is queued goes out, then our FIN
}

namespace {

// What the head of a request says, as far as it has been read.
using request_head = http_request_head;

// RFC 9110 §7.6.1: Connection is a comma-separated list of options.
void read_connection(std::string_view value, request_head& r) {
    while (!value.empty()) {
        const std::size_t comma = http::find_char(value, ',');
        const std::string_view option = http::trim(value.substr(0, comma));
        value = comma == http::npos ? std::string_view{} : value.substr(comma + 1);
        if (http::iequals_lower(option, "close")) r.close = true;
        if (http::iequals_lower(option, "keep-alive")) r.keep = true;
    }
}

// RFC 9112 §3: method SP request-target SP HTTP-version. The method is uppercase letters
// (all the registered ones are); the target is anything between the first and last SP.
bool read_request_line(std::string_view line, request_head& r) {
    const std::size_t sp1 = http::find_char(line, ' '), sp2 = line.rfind(' ');
    if (sp1 == http::npos || sp1 == sp2 || sp1 == 0 || sp2 + 1 >= line.size()) return false;
    const std::string_view version = line.substr(sp2 + 1);
    if (version == "HTTP/1.0") r.http10 = true;
    else if (version != "HTTP/1.1") return false;
    for (char c : line.substr(0, sp1))
        if (c < 'A' || c > 'Z') return false;
    return true;
}

// One field line. Of the names that matter here each has a length of its own, so the
// length picks the one candidate to compare.
bool read_field(std::string_view line, request_head& r) {
    const std::size_t colon = http::find_char(line, ':');
    // RFC 9112 §5.1: no whitespace between the field name and the colon.
    if (colon == http::npos || colon == 0 || line[colon - 1] == ' ' || line[colon - 1] == '\t') return false;
    const std::string_view name = line.substr(0, colon);
    switch (name.size()) {
    case 10:
        if (http::iequals_lower(name, "connection")) read_connection(http::trim(line.substr(colon + 1)), r);
        return true;
    case 14: {
        if (!http::iequals_lower(name, "content-length")) return true;
        const std::string_view value = http::trim(line.substr(colon + 1));
        std::size_t n = 0;
        auto [p, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
        if (ec != std::errc{} || p != value.data() + value.size() || value.empty()) return false;
        // RFC 9112 §6.3 (5): differing Content-Length values are unrecoverable.
        if (r.have_length && n != r.content_length) return false;
        r.content_length = n;
        r.have_length = true;
        return true;
    }
    case 17:
        // Chunked request bodies are not supported: 400.
        return !http::iequals_lower(name, "transfer-encoding");
    default:
        return true;
    }
}

} // namespace

http_request read_request(std::string_view in, std::size_t max_request, http_request_memo* heads) {
    http_request out;
    request_head r;
    std::size_t head = 0;
    if (const request_head* known = heads ? heads->recall(in) : nullptr) {
        r = *known;
        head = heads->size();
    } else {
        // The head must end within max_request + 4 bytes (its empty line's CRLF included).
        const std::size_t cap = in.size() > max_request ? max_request + 4 : in.size();
        head = http::scan_head(in.substr(0, cap), [&](std::string_view line, bool first) {
            if (r.bad) return;
            r.bad = !(first ? read_request_line(line, r) : read_field(line, r));
        });
        if (heads && head > 0 && !r.bad) heads->remember(in.substr(0, head), r);
    }
    if (head == 0) {
        // RFC 6585 §5: a head over the limit, complete or not, is refused.
        if (in.size() > max_request) out.what = http_request::kind::head_too_large;
        return out;
    }
    if (r.bad) {
        out.what = http_request::kind::bad_request;
        return out;
    }
    // RFC 9110 §15.5.14: a body larger than the server will take is refused with 413.
    if (r.content_length > max_request) {
        out.what = http_request::kind::content_too_large;
        return out;
    }
    if (in.size() - head < r.content_length) return out; // the body is still coming
    out.what = http_request::kind::complete;
    out.size = head + r.content_length;
    out.http10 = r.http10;
    // RFC 9112 §9.3: HTTP/1.1 persists by default; HTTP/1.0 only with "keep-alive"
    // (RFC 9112 §C.2.2); "close" ends either (RFC 9112 §9.6).
    out.keep_alive = (!r.http10 || r.keep) && !r.close;
    return out;
}

http_service::http_service(const http_options& options) : options_(options) {
    std::string body(options.body_size, 'x');
    for (std::size_t i = 0; i < body.size(); ++i) body[i] = char('a' + i % 26);
    if (!body.empty()) body.back() = '\n';
    // Whole responses, built once: each leaves in one send(), so Nagle (RFC 9293 §3.7.4)
    // never holds a body behind its unacknowledged head for the peer's delayed ACK.
    auto response = [&](const char* connection) {
        return "HTTP/1.1 200 OK\r\nServer: tern\r\nContent-Type: text/plain\r\nContent-Length: " +
               std::to_string(body.size()) + "\r\n" + connection + "\r\n" + body;
    };
    keep_alive_ = response("");
    close_ = response("Connection: close\r\n");
    // RFC 9112 §C.2.2: an HTTP/1.0 client that asked to keep the connection is told so.
    keep_alive_10_ = response("Connection: keep-alive\r\n");
}

void http_service::received(tcp::stream& s, const tcp::rx_data& data) {
    session* st = held(s);
    // RFC 9112 §9.6: after the response that closes, no further request is read.
    if (st && st->close_when_sent) return;
    const std::string_view in(reinterpret_cast<const char*>(data.data()), data.size());
    if (!st || st->input.empty()) {
        // The usual case: whole requests, read where they lie; only an unfinished one is kept.
        const std::size_t used = answer(s, in);
        if (used != stop_reading && used < in.size()) state(s).input.assign(in.substr(used)); // (input is empty)
        return;
    }
    st->input.append(in);
    const std::size_t used = answer(s, st->input);
    if (used == stop_reading) {
        st->input.clear();
        return;
    }
    st->input.erase(0, used);
    settle(s);
}

std::size_t http_service::answer(tcp::stream& s, std::string_view in) {
    for (std::size_t used = 0;;) {
        const http_request r = read_request(in.substr(used), options_.max_request, &heads_);
        switch (r.what) {
        case http_request::kind::incomplete: return used;
        case http_request::kind::bad_request: return fail(s, "400 Bad Request");
        case http_request::kind::content_too_large: return fail(s, "413 Content Too Large");
        case http_request::kind::head_too_large: return fail(s, "431 Request Header Fields Too Large");
        case http_request::kind::complete: break;
        }
        used += r.size;
        counters_.requests.add();
        // RFC 9112 §9.6: a server that will close says so with "Connection: close".
        write(s, !r.keep_alive ? close_ : r.http10 ? keep_alive_10_ : keep_alive_, true);
        if (!r.keep_alive) {
            close_after_sending(s);
            return stop_reading;
        }
    }
}

std::size_t http_service::fail(tcp::stream& s, const char* status) {
    counters_.bad_requests.add();
    write(s, std::string("HTTP/1.1 ") + status + "\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    close_after_sending(s);
    return stop_reading;
}

} // namespace tern::app
