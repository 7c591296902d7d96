// Drives one tern::tcp::connection the way packetdrill drives a kernel socket: segments
// in and out in notation.hpp's notation, a virtual clock that only moves when told, and
// the application side as plain calls and a log of events.
//
//   harness h;                       // our ISN and the peer's ISN are fixed (near 2^32, so
//   h.listen();                      // every test crosses the sequence wrap)
//   h.deliver("S 0:0(0) win 65535 <mss 1460>");
//   h.expect_tx("S. 0:0(0) ack 1 <mss 1460>");
//   h.advance(1s);                   // fires every timer due on the way, at its instant
//
// Failures are reported at the caller's line (std::source_location).
#pragma once

#include <cstdint>
#include <deque>
#include <source_location>
#include <string>
#include <string_view>
#include <vector>

#include "notation.hpp"
#include "tcp/connection.hpp"

namespace tern::tcp::test {

// Byte i of the peer's stream (relative sequence number i + 1) when deliver() fills it.
inline std::uint8_t pattern_byte(std::uint32_t offset) { return std::uint8_t('a' + offset % 26); }

struct sent_segment {
    flow flow_id;
    wire::tcp_repr header;
    std::vector<std::uint8_t> payload;
    instant when;
    wire::ecn_codepoint ecn = wire::ecn_codepoint::not_ect; // the IPv4 header's ECN field
};

class harness final : public segment_sink, public connection_events {
public:
    static constexpr std::uint32_t default_our_iss = 0xffffff00u;  // wraps after 255 bytes
    static constexpr std::uint32_t default_peer_isn = 0xfffffc00u; // wraps after 1023 bytes
    static constexpr endpoint local{ipv4_addr::from_octets(198, 18, 0, 1), 8080};
    static constexpr endpoint remote{ipv4_addr::from_octets(198, 18, 0, 2), 40000};

    explicit harness(tcp_config config = {}, connection_options options = {},
                     std::uint32_t our_iss = default_our_iss, std::uint32_t peer_isn = default_peer_isn);

    // ---- opening ----
    void listen();  // passive OPEN on `local`
    void connect(); // active OPEN to `remote`
    // Passive open through the three-way handshake into ESTABLISHED, then forgets the
    // SYN,ACK and the events, so a test starts from a clean ESTABLISHED connection.
    void establish(std::string_view syn = "S 0:0(0) win 65535 <mss 1460>",
                   std::string_view ack = ". 1:1(0) ack 1 win 65535",
                   std::source_location at = std::source_location::current());

    // ---- the peer ----
    // The payload is pattern bytes for the segment's relative range unless given.
    void deliver(std::string_view notation, std::source_location at = std::source_location::current());
    // The same, with the IPv4 ECN field `ecn` (a router's CE mark, RFC 3168).
    void deliver_marked(std::string_view notation, wire::ecn_codepoint ecn,
                        std::source_location at = std::source_location::current());
    void deliver(std::string_view notation, std::span<const std::uint8_t> payload,
                 std::source_location at = std::source_location::current());
    // The oldest segment not yet checked must match: flags exactly, seq and length exactly,
    // ack / win / options when written. Also checks it goes to `remote` from `local`.
    void expect_tx(std::string_view notation, std::source_location at = std::source_location::current());
    void expect_no_tx(std::source_location at = std::source_location::current());

    // ---- the clock ----
    void advance(duration d); // fires on_timer at every deadline up to now + d, in order

    // ---- the application ----
    std::size_t send(std::size_t n); // n pattern bytes of our own stream
    void close();    // Linux's close(): data after it resets
    void shutdown(); // half-close: we keep receiving
    void abort();
    void expect_state(tcp_state s, std::source_location at = std::source_location::current());
    // The events since the last check, in order: "connected", "data N", "writable",
    // "peer_closed", "closed <reason>".
    void expect_events(std::vector<std::string> expected, std::source_location at = std::source_location::current());

    tcp_config config; // before conn, which keeps a reference to it
    std::vector<void*> released; // buffers of send_owned, acknowledged (before conn, which releases)
    connection conn;
    instant now{};
    std::uint32_t our_iss;
    std::uint32_t peer_isn;
    std::deque<sent_segment> sent;       // not yet checked by expect_tx
    wire::ecn_codepoint delivered_ecn = wire::ecn_codepoint::not_ect; // deliver_marked's, for the next segment
    std::vector<std::uint8_t> received;  // every byte the app got, in order
    std::vector<std::string> events;     // not yet checked by expect_events
    std::uint32_t app_bytes_sent = 0;

private:
    void emit(const flow& f, const wire::tcp_repr& header, const tx_payload& payload, wire::ecn_codepoint ecn) override;
    void release(void* owner) override { released.push_back(owner); }
    void on_connected() override { events.push_back("connected"); }
    void on_data(std::span<const std::uint8_t> bytes, void* packet) override;
    void on_writable() override { events.push_back("writable"); }
    void on_peer_closed() override { events.push_back("peer_closed"); }
    void on_closed(close_reason why) override { events.push_back("closed " + std::string(to_string(why))); }
};

// The stream a test expects: `len` pattern bytes starting at offset 0.
std::vector<std::uint8_t> pattern(std::uint32_t len, std::uint32_t from = 0);

// Options with Nagle off, for tests that look at each segment a send makes.
inline connection_options no_delay() {
    connection_options o;
    o.no_delay = true;
    return o;
}

} // namespace tern::tcp::test
