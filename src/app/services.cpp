#include "app/services.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstring>

namespace tern::app {

buffered_service::~buffered_service() {
    while (sessions_) {
        session* next = sessions_->next;
        delete sessions_;
        sessions_ = next;
    }
}

void buffered_service::start(tcp::stream& s) {
    auto* st = new session();
    st->next = sessions_;
    if (sessions_) sessions_->prev = st;
    sessions_ = st;
    s.user = st;
    counters_.opened.add();
    opened(s);
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
    sample_retransmits(s);
    counters_.closed.add();
    if (why == tcp::close_reason::reset) counters_.resets.add();
    if (why == tcp::close_reason::timed_out) counters_.timeouts.add();
    if (why == tcp::close_reason::aborted) counters_.aborted.add();
    session* st = static_cast<session*>(s.user);
    (st->prev ? st->prev->next : sessions_) = st->next;
    if (st->next) st->next->prev = st->prev;
    delete st;
    s.user = nullptr;
}

void buffered_service::sample_retransmits(tcp::stream& s) {
    session& st = state(s);
    const std::uint64_t now = s.retransmits();
    counters_.retransmits.add(now - st.retransmits_seen);
    st.retransmits_seen = now;
}

void buffered_service::write(tcp::stream& s, std::string_view bytes) {
    session& st = state(s);
    if (st.pending.empty()) {
        auto sent = s.send({reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size()});
        std::size_t n = sent ? *sent : 0;
        counters_.bytes_out.add(n);
        bytes.remove_prefix(n);
    }
    st.pending.append(bytes);
}

void buffered_service::flush(tcp::stream& s) {
    if (!s.user) return;
    session& st = state(s);
    if (!st.pending.empty()) {
        auto sent = s.send({reinterpret_cast<const std::uint8_t*>(st.pending.data()), st.pending.size()});
        if (sent) {
            st.pending.erase(0, *sent);
            counters_.bytes_out.add(*sent);
        }
        sample_retransmits(s);
    }
    if (st.pending.empty() && st.close_when_sent) {
        st.close_when_sent = false;
        (void)s.close();
    }
}

void buffered_service::close_after_sending(tcp::stream& s) {
    if (!s.user) return;
    state(s).close_when_sent = true;
    flush(s);
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

bool iequals(std::string_view a, std::string_view b) {
    return a.size() == b.size() &&
           std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) { return std::tolower(x) == std::tolower(y); });
}

std::string_view trim(std::string_view v) {
    while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
    while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.remove_suffix(1);
    return v;
}

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

// RFC 9110 §7.6.1: Connection is a comma-separated list of options.
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

// RFC 9112 §3: method SP request-target SP HTTP-version, then header fields.
request_head parse_head(std::string_view head) {
    request_head r;
    auto eol = head.find("\r\n");
    std::string_view line = head.substr(0, eol);
    auto sp1 = line.find(' '), sp2 = line.rfind(' ');
    if (sp1 == std::string_view::npos || sp1 == sp2 || sp1 == 0 || sp2 + 1 >= line.size()) return r;
    std::string_view version = line.substr(sp2 + 1);
    // RFC 9112 §9.3: HTTP/1.1 persists by default; HTTP/1.0 only with "keep-alive".
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
        // RFC 9112 §5.1: no whitespace between the field name and the colon.
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
            // RFC 9112 §6.3 (5): differing Content-Length values are unrecoverable.
            if (have_length && n != r.content_length) return r;
            r.content_length = n;
            have_length = true;
        } else if (iequals(name, "transfer-encoding")) {
            return r; // chunked request bodies are not supported: 400
        }
    }
    // RFC 9112 §9.6 "close" ends it; RFC 9112 §C.2.2: "keep-alive" keeps an HTTP/1.0 one.
    if (keep) r.keep_alive = true;
    if (close) r.keep_alive = false;
    r.valid = true;
    return r;
}

} // namespace

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
    const std::span<const std::uint8_t> bytes = data.bytes();
    session& st = state(s);
    // RFC 9112 §9.6: after the response that closes, no further request is read.
    if (st.close_when_sent) return;
    st.input.append(reinterpret_cast<const char*>(bytes.data()), bytes.size());
    while (answer_one(s)) {
    }
    if (!st.close_when_sent && st.input.size() > options_.max_request && st.input.find("\r\n\r\n") == std::string::npos)
        fail(s, "431 Request Header Fields Too Large");
}

bool http_service::answer_one(tcp::stream& s) {
    session& st = state(s);
    if (st.close_when_sent) return false;
    auto end = st.input.find("\r\n\r\n");
    if (end == std::string::npos) return false;
    if (end > options_.max_request) {
        fail(s, "431 Request Header Fields Too Large");
        return false;
    }
    request_head head = parse_head(std::string_view(st.input).substr(0, end));
    if (!head.valid) {
        fail(s, "400 Bad Request");
        return false;
    }
    // RFC 9110 §15.5.14: a body larger than the server will take is refused with 413.
    if (head.content_length > options_.max_request) {
        fail(s, "413 Content Too Large");
        return false;
    }
    std::size_t total = end + 4 + head.content_length;
    if (st.input.size() < total) return false; // the body is still coming
    st.input.erase(0, total);
    counters_.requests.add();
    // RFC 9112 §9.6: a server that will close says so with "Connection: close".
    write(s, !head.keep_alive ? close_ : head.http10 ? keep_alive_10_ : keep_alive_);
    if (!head.keep_alive) close_after_sending(s);
    return head.keep_alive;
}

void http_service::fail(tcp::stream& s, const char* status) {
    counters_.bad_requests.add();
    state(s).input.clear();
    write(s, std::string("HTTP/1.1 ") + status + "\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    close_after_sending(s);
}

} // namespace tern::app
