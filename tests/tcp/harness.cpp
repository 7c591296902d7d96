#include "harness.hpp"

#include <gtest/gtest.h>

#include <algorithm>

namespace tern::tcp::test {

namespace {

void fail_at(std::source_location at, const std::string& message) {
    ADD_FAILURE_AT(at.file_name(), int(at.line())) << message;
}

} // namespace

std::vector<std::uint8_t> pattern(std::uint32_t len, std::uint32_t from) {
    std::vector<std::uint8_t> v(len);
    for (std::uint32_t i = 0; i < len; ++i) v[i] = pattern_byte(from + i);
    return v;
}

harness::harness(tcp_config config_, connection_options options, std::uint32_t our_iss_, std::uint32_t peer_isn_)
    : config(config_), conn(config, options, *this, *this), our_iss(our_iss_), peer_isn(peer_isn_) {}

void harness::listen() { ASSERT_TRUE(conn.open_passive(local, seq32(our_iss), now).has_value()); }

void harness::connect() { ASSERT_TRUE(conn.open_active(flow{local, remote}, seq32(our_iss), now).has_value()); }

void harness::establish(std::string_view syn, std::string_view ack, std::source_location at) {
    listen();
    deliver(syn, at);
    if (sent.size() != 1 || sent.front().header.flags != (wire::tcp_flags::syn | wire::tcp_flags::ack))
        return fail_at(at, "no SYN,ACK in answer to the SYN");
    sent.clear();
    deliver(ack, at);
    expect_state(tcp_state::established, at);
    events.clear();
}

void harness::deliver(std::string_view notation, std::source_location at) {
    auto parsed = parse_segment(notation);
    if (!parsed) return fail_at(at, "cannot parse \"" + std::string(notation) + "\": " + parsed.error());
    // Relative seq 1 is the peer's first data byte, i.e. offset 0 of its stream.
    auto bytes = pattern(parsed->len, parsed->seq - 1);
    deliver(notation, bytes, at);
}

void harness::deliver(std::string_view notation, std::span<const std::uint8_t> payload, std::source_location at) {
    auto parsed = parse_segment(notation);
    if (!parsed) return fail_at(at, "cannot parse \"" + std::string(notation) + "\": " + parsed.error());
    if (payload.size() != parsed->len) return fail_at(at, "payload length differs from the notation");
    segment seg;
    seg.src_addr = remote.addr;
    seg.dst_addr = local.addr;
    seg.header = to_repr(*parsed, peer_isn, our_iss);
    seg.header.src_port = remote.port;
    seg.header.dst_port = local.port;
    seg.payload = payload;
    seg.ecn = delivered_ecn;
    conn.on_segment(seg, now);
}

void harness::deliver_marked(std::string_view notation, wire::ecn_codepoint ecn, std::source_location at) {
    delivered_ecn = ecn;
    deliver(notation, at);
    delivered_ecn = wire::ecn_codepoint::not_ect;
}

void harness::expect_tx(std::string_view notation, std::source_location at) {
    auto parsed = parse_segment(notation);
    if (!parsed) return fail_at(at, "cannot parse \"" + std::string(notation) + "\": " + parsed.error());
    if (sent.empty()) return fail_at(at, "expected " + std::string(notation) + "\n  but nothing was sent");
    const sent_segment got = sent.front();
    sent.pop_front();
    const notation_segment actual = from_repr(got.header, got.payload.size(), our_iss, peer_isn);
    const notation_segment& want = *parsed;
    bool same = actual.flags == want.flags && actual.seq == want.seq && actual.len == want.len;
    if (want.ack) same = same && actual.ack == want.ack;
    if (want.win) same = same && actual.win == want.win;
    if (want.options) same = same && actual.options == want.options;
    if (!same)
        fail_at(at, "expected " + format_segment(want) + "\n     sent " + format_segment(actual));
    if (got.flow_id != flow{local, remote} || got.header.src_port != local.port || got.header.dst_port != remote.port)
        fail_at(at, "segment " + format_segment(actual) + " not sent from local to remote");
}

void harness::expect_no_tx(std::source_location at) {
    if (sent.empty()) return;
    std::string all;
    for (const auto& s : sent) all += "\n  " + format_segment(from_repr(s.header, s.payload.size(), our_iss, peer_isn));
    sent.clear();
    fail_at(at, "expected nothing sent, but sent:" + all);
}

void harness::advance(duration d) {
    const instant until = now + d;
    while (auto next = conn.next_deadline()) {
        if (*next > until) break;
        now = std::max(now, *next);
        conn.on_timer(now);
    }
    now = until;
}

std::size_t harness::send(std::size_t n) {
    auto bytes = pattern(std::uint32_t(n), app_bytes_sent);
    auto r = conn.send(bytes, now);
    if (!r) {
        ADD_FAILURE() << "send failed";
        return 0;
    }
    app_bytes_sent += std::uint32_t(*r);
    return *r;
}

void harness::close() { EXPECT_TRUE(conn.close(now).has_value()); }
void harness::shutdown() { EXPECT_TRUE(conn.shutdown(now).has_value()); }

void harness::abort() { conn.abort(now); }

void harness::expect_state(tcp_state s, std::source_location at) {
    if (conn.state() != s)
        fail_at(at, "state is " + std::string(to_string(conn.state())) + ", expected " + std::string(to_string(s)));
}

void harness::expect_events(std::vector<std::string> expected, std::source_location at) {
    if (events != expected) {
        std::string got, want;
        for (const auto& e : events) got += " [" + e + "]";
        for (const auto& e : expected) want += " [" + e + "]";
        fail_at(at, "events:" + got + "\nexpected:" + want);
    }
    events.clear();
}

void harness::emit(const flow& f, const wire::tcp_repr& header, const tx_payload& payload, wire::ecn_codepoint ecn) {
    sent_segment s{f, header, {}, now, ecn};
    s.payload.resize(payload.size());
    payload.copy_to(s.payload.data());
    sent.push_back(std::move(s));
}

void harness::on_data(std::span<const std::uint8_t> bytes, void* /*packet*/) {
    events.push_back("data " + std::to_string(bytes.size()));
    received.insert(received.end(), bytes.begin(), bytes.end());
}

} // namespace tern::tcp::test
