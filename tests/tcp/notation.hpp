// packetdrill's tcpdump-like notation for one TCP segment, for tests:
//
//   <flags> <seq>:<end>(<len>) [ack <n>] [win <n>] [<opt,opt,...>]
//
// flags: S (SYN), F (FIN), R (RST), P (PSH), U (URG), E (ECE), W (CWR), and "." for ACK,
// written in that order ("S.", "F.", "FP.", "R."). <seq>:<end>(<len>) is the payload's
// sequence range and length (a SYN or FIN is not counted, as in tcpdump). Options:
// "mss N", "sackOK", "TS val N ecr N", "nop", "eol", "wscale N", "sack L:R L:R ...".
//
// Numbers are RELATIVE, as in packetdrill: a segment's seq counts from its sender's ISN
// and its ack (and SACK blocks) from its receiver's ISN, so "S 0:0(0)" is any ISN and the
// first data byte is 1. Timestamps are absolute. to_repr / from_repr convert with the two
// ISNs; window values are the raw 16-bit field.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "tern/result.hpp"
#include "wire/tcp.hpp"

namespace tern::tcp::test {

struct notation_segment {
    std::uint8_t flags = 0;
    std::uint32_t seq = 0;                     // relative to the sender's ISN
    std::uint32_t len = 0;                     // payload bytes
    std::optional<std::uint32_t> ack;          // relative to the receiver's ISN
    std::optional<std::uint16_t> win;          // raw field
    std::optional<wire::tcp_options> options;  // present when "<...>" was written; SACK blocks relative like ack

    friend bool operator==(const notation_segment&, const notation_segment&) = default;
};

result<notation_segment, std::string> parse_segment(std::string_view text);
std::string format_segment(const notation_segment& s);
std::string format_options(const wire::tcp_options& o);

// The wire header for a notation segment, given the sender's and receiver's ISNs. A
// missing window becomes 65535; missing options, none.
wire::tcp_repr to_repr(const notation_segment& s, std::uint32_t sender_isn, std::uint32_t receiver_isn);
// The notation of a header, with every field present.
notation_segment from_repr(const wire::tcp_repr& r, std::size_t payload_len, std::uint32_t sender_isn,
                           std::uint32_t receiver_isn);

} // namespace tern::tcp::test
