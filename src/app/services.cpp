#include "app/services.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>

namespace tern::app {

void buffered_service::start(tcp::stream& s) {
    s.user = new session();
    ++connections_;
}

void buffered_service::on_closed(tcp::stream& s, tcp::close_reason) {
    delete static_cast<session*>(s.user);
    s.user = nullptr;
}

void buffered_service::write(tcp::stream& s, std::string_view bytes) {
    session& st = state(s);
    if (st.pending.empty()) {
        auto sent = s.send({reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size()});
        std::size_t n = sent ? *sent : 0;
        bytes.remove_prefix(n);
    }
    st.pending.append(bytes);
}

void buffered_service::flush(tcp::stream& s) {
    if (!s.user) return;
    session& st = state(s);
    if (!st.pending.empty()) {
        auto sent = s.send({reinterpret_cast<const std::uint8_t*>(st.pending.data()), st.pending.size()});
        if (sent) st.pending.erase(0, *sent);
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

void echo_service::on_data(tcp::stream& s, const tcp::rx_data& data) {
    write(s, {reinterpret_cast<const char*>(data.data()), data.size()});
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
    std::size_t content_length = 0;
};

// RFC 9112 §3: method SP request-target SP HTTP-version, then header fields.
request_head parse_head(std::string_view head) {
    request_head r;
    auto eol = head.find("\r\n");
    std::string_view line = head.substr(0, eol);
    auto sp1 = line.find(' '), sp2 = line.rfind(' ');
    if (sp1 == std::string_view::npos || sp1 == sp2 || sp1 == 0 || sp2 + 1 >= line.size()) return r;
    std::string_view version = line.substr(sp2 + 1);
    if (version == "HTTP/1.0") r.keep_alive = false;
    else if (version != "HTTP/1.1") return r;
    for (char c : line.substr(0, sp1))
        if (!std::isupper(static_cast<unsigned char>(c))) return r;
    std::string_view rest = eol == std::string_view::npos ? std::string_view{} : head.substr(eol + 2);
    while (!rest.empty()) {
        auto end = rest.find("\r\n");
        std::string_view field = rest.substr(0, end);
        rest = end == std::string_view::npos ? std::string_view{} : rest.substr(end + 2);
        auto colon = field.find(':');
        if (colon == std::string_view::npos || colon == 0) return r;
        std::string_view name = field.substr(0, colon), value = trim(field.substr(colon + 1));
        if (iequals(name, "connection")) {
            if (iequals(value, "close")) r.keep_alive = false;
            if (iequals(value, "keep-alive")) r.keep_alive = true;
        } else if (iequals(name, "content-length")) {
            auto [p, ec] = std::from_chars(value.data(), value.data() + value.size(), r.content_length);
            if (ec != std::errc{} || p != value.data() + value.size()) return r;
        } else if (iequals(name, "transfer-encoding")) {
            return r; // chunked request bodies are not supported: 400
        }
    }
    r.valid = true;
    return r;
}

} // namespace

http_service::http_service(const http_options& options) : options_(options), body_(options.body_size, 'x') {
    for (std::size_t i = 0; i < body_.size(); ++i) body_[i] = char('a' + i % 26);
    if (!body_.empty()) body_.back() = '\n';
}

void http_service::on_data(tcp::stream& s, const tcp::rx_data& data) {
    const std::span<const std::uint8_t> bytes = data.bytes();
    session& st = state(s);
    if (st.close_when_sent) return; // answered with an error: the rest is ignored
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
    std::size_t total = end + 4 + head.content_length;
    if (st.input.size() < total) return false; // the body is still coming
    st.input.erase(0, total);
    ++requests_;
    std::string response = "HTTP/1.1 200 OK\r\nServer: tern\r\nContent-Type: text/plain\r\nContent-Length: " +
                           std::to_string(body_.size()) + "\r\n" + (head.keep_alive ? "" : "Connection: close\r\n") +
                           "\r\n";
    write(s, response);
    write(s, body_);
    if (!head.keep_alive) close_after_sending(s);
    return head.keep_alive;
}

void http_service::fail(tcp::stream& s, const char* status) {
    ++bad_requests_;
    state(s).input.clear();
    write(s, std::string("HTTP/1.1 ") + status + "\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    close_after_sending(s);
}

} // namespace tern::app
