// SYN cookies (RFC 4987 §3.6): when a listener's SYN backlog is full, the SYN,ACK's ISN
// carries what the connection needs, and nothing is kept until the ACK comes back.
//
// The cookie (our ISN), 32 bits:
//   bits 31..5  a keyed hash (SipHash) of the 4-tuple, the peer's ISN, the counter and
//               the MSS index, so that no bit of the cookie can be changed unnoticed
//   bits  4..3  the low two bits of the counter, which ticks every 64 s
//   bits  2..0  an index into syn_cookie_mss, the largest entry not above the peer's MSS
// An ACK is valid when SEG.ACK - 1 is a cookie for its 4-tuple and SEG.SEQ - 1 made
// within the last two ticks (counter now or now - 1), so it lives 64 to 128 s.
//
// Window scale and SACK-permitted do not fit; when the SYN has timestamps they ride in
// the low five bits of our TSval, which the ACK echoes in TSecr (as Linux does):
//   bits 3..0  the peer's window shift (15: none)    bit 4  SACK permitted
// Without timestamps the SYN,ACK offers neither, so nothing is lost by not remembering it.
#pragma once

#include <array>
#include <cstdint>
#include <optional>

#include "tcp/seq.hpp"
#include "tcp/siphash.hpp"
#include "tcp/types.hpp"
#include "tern/time.hpp"
#include "wire/tcp.hpp"

namespace tern::tcp {

// The MSS values a cookie can say (a peer below 256 gets 256: none is seen in practice).
inline constexpr std::array<std::uint16_t, 8> syn_cookie_mss = {256, 536, 1200, 1360, 1400, 1440, 1460, 8960};
inline constexpr duration syn_cookie_tick = std::chrono::seconds(64);

// The index of the largest table entry not above `mss` (0 below the first).
std::uint8_t syn_cookie_mss_index(std::uint16_t mss);

class syn_cookies {
public:
    explicit syn_cookies(siphash_key key) : key_(key) {}

    // Our ISN for a SYN,ACK to the SYN of `f` (f.local is us) with ISN `peer_isn` and MSS
    // `peer_mss` (536 when it had none, RFC 9293 §3.7.1).
    seq32 make(const flow& f, seq32 peer_isn, std::uint16_t peer_mss, instant now) const;
    // The MSS the cookie recorded, if `cookie` (SEG.ACK - 1 of the ACK) is one for `f` and
    // `peer_isn` (SEG.SEQ - 1) made within the last two ticks.
    std::optional<std::uint16_t> check(const flow& f, seq32 peer_isn, seq32 cookie, instant now) const;

private:
    std::uint32_t hash(const flow& f, seq32 peer_isn, std::uint64_t tick, std::uint8_t mss_index) const;
    siphash_key key_;
};

// The low TSval bits (see above): `tsval` with them set, never later than `tsval`.
std::uint32_t syn_cookie_tsval(std::uint32_t tsval, std::optional<std::uint8_t> window_scale, bool sack_permitted);

// The SYN,ACK with a cookie that answers `syn`, as a connection of `options` in SYN-RECEIVED
// would send it, except that without timestamps it offers no window scale and no SACK.
wire::tcp_repr syn_cookie_syn_ack(const segment& syn, seq32 cookie, instant now, const tcp_config& config,
                                  const connection_options& options);

// The options of the SYN as far as the cookie and the ACK's TSecr tell them, for
// connection::open_from_cookie: the MSS, and with timestamps the window shift, SACK and
// the ACK's own timestamp.
wire::tcp_options syn_cookie_peer_options(const segment& ack, std::uint16_t mss);

} // namespace tern::tcp
