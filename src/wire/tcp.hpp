// TCP header and options (RFC 9293 §3.1, §3.2; options of RFC 7323 and RFC 2018).
// Only the format: sequence numbers are raw uint32_t here and the TCP layer wraps them.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <utility>

#include "tern/addr.hpp"
#include "tern/drop_reason.hpp"
#include "tern/result.hpp"
#include "wire/bytes.hpp"

namespace tern::wire {

namespace tcp_flags {
inline constexpr std::uint8_t fin = 0x01;
inline constexpr std::uint8_t syn = 0x02;
inline constexpr std::uint8_t rst = 0x04;
inline constexpr std::uint8_t psh = 0x08;
inline constexpr std::uint8_t ack = 0x10;
inline constexpr std::uint8_t urg = 0x20;
inline constexpr std::uint8_t ece = 0x40;
inline constexpr std::uint8_t cwr = 0x80;
} // namespace tcp_flags

namespace tcp_field {
inline constexpr std::size_t src_port = 0;
inline constexpr std::size_t dst_port = 2;
inline constexpr std::size_t seq = 4;
inline constexpr std::size_t ack = 8;
inline constexpr std::size_t data_offset = 12; // high nibble; the low nibble is reserved
inline constexpr std::size_t flags = 13;
inline constexpr std::size_t window = 14;
inline constexpr std::size_t checksum = 16;
inline constexpr std::size_t urgent_pointer = 18;
inline constexpr std::size_t options = 20;
} // namespace tcp_field

inline constexpr std::size_t tcp_min_header_length = 20;
inline constexpr std::size_t tcp_max_header_length = 60;
inline constexpr std::size_t tcp_max_options_length = tcp_max_header_length - tcp_min_header_length;
static_assert(tcp_field::urgent_pointer + 2 == tcp_min_header_length);
static_assert(tcp_max_header_length == 15 * 4); // the largest 4-bit data offset

namespace tcp_option_kind {
inline constexpr std::uint8_t eol = 0;            // RFC 9293 §3.2
inline constexpr std::uint8_t nop = 1;            // RFC 9293 §3.2
inline constexpr std::uint8_t mss = 2;            // RFC 9293 §3.7.1, length 4
inline constexpr std::uint8_t window_scale = 3;   // RFC 7323 §2.2, length 3
inline constexpr std::uint8_t sack_permitted = 4; // RFC 2018 §2, length 2
inline constexpr std::uint8_t sack = 5;           // RFC 2018 §3, length 2 + 8n
inline constexpr std::uint8_t timestamp = 8;      // RFC 7323 §3.2, length 10
} // namespace tcp_option_kind

inline constexpr std::size_t tcp_max_sack_blocks = 4; // (40 - 2) / 8

struct sack_block {
    std::uint32_t left = 0;  // first sequence number of the block
    std::uint32_t right = 0; // sequence number just after the block

    friend bool operator==(const sack_block&, const sack_block&) = default;
};

// The options we understand, parsed once. Unknown kinds are skipped. Values are as on
// the wire: a window scale above 14 is reported as it is (RFC 7323 §2.3 has the TCP
// layer clamp it).
struct tcp_options {
    std::optional<std::uint16_t> mss;
    std::optional<std::uint8_t> window_scale;
    bool sack_permitted = false;
    std::optional<std::pair<std::uint32_t, std::uint32_t>> timestamp; // (TSval, TSecr)
    std::uint8_t sack_block_count = 0;                                // at most 4
    std::array<sack_block, tcp_max_sack_blocks> sack_blocks{};

    std::span<const sack_block> sacks() const& { return {sack_blocks.data(), sack_block_count}; }
    // view.options() is a temporary: keep it in a variable before taking its blocks.
    std::span<const sack_block> sacks() const&& = delete;

    // Blocks past sack_block_count do not take part.
    friend bool operator==(const tcp_options& a, const tcp_options& b) {
        if (a.mss != b.mss || a.window_scale != b.window_scale || a.sack_permitted != b.sack_permitted ||
            a.timestamp != b.timestamp || a.sack_block_count != b.sack_block_count)
            return false;
        for (std::size_t i = 0; i < a.sack_block_count && i < tcp_max_sack_blocks; ++i)
            if (a.sack_blocks[i] != b.sack_blocks[i]) return false;
        return true;
    }
};

// Parses the option bytes of a header (everything after the first 20 bytes, up to the
// data offset). EOL ends the list, NOP is skipped, every other option needs a length
// byte of at least 2 that stays within `bytes`; a known option with a length other than
// its own is tcp_bad_option, and so is a list longer than 40 bytes.
result<tcp_options, drop_reason> parse_tcp_options(std::span<const std::uint8_t> bytes);

namespace detail {

// Where tcp_view::parse's one walk over the option list found each known option: the
// offset of its value from the start of the option bytes, 0 if absent (a value starts at
// offset 2 or later). A view keeps these 6 bytes rather than a 56-byte tcp_options: a
// view is copied into its result<> right after it is built, and copying a struct just
// written field by field stalls on store forwarding (measured: parsing a segment without
// its checksum took 20 ns with tcp_options in the view, 4 ns with the offsets).
struct tcp_option_offsets {
    std::uint8_t mss = 0;
    std::uint8_t window_scale = 0;
    std::uint8_t timestamp = 0;
    std::uint8_t sack = 0;
    std::uint8_t sack_block_count = 0;
    bool sack_permitted = false;
};

// Reads the values at the offsets that the walk found in `bytes`.
inline tcp_options decode_tcp_options(const std::uint8_t* bytes, tcp_option_offsets at) {
    tcp_options o;
    if (at.mss) o.mss = load_be16(bytes + at.mss);
    if (at.window_scale) o.window_scale = bytes[at.window_scale];
    o.sack_permitted = at.sack_permitted;
    if (at.timestamp) o.timestamp = std::pair{load_be32(bytes + at.timestamp), load_be32(bytes + at.timestamp + 4)};
    o.sack_block_count = at.sack_block_count;
    for (std::size_t b = 0; b < at.sack_block_count; ++b)
        o.sack_blocks[b] = {load_be32(bytes + at.sack + 8 * b), load_be32(bytes + at.sack + 8 * b + 4)};
    return o;
}

} // namespace detail

class tcp_view {
public:
    // Checks, in order: length (tcp_truncated), data offset (tcp_bad_data_offset), the
    // checksum over the pseudo-header and the whole segment unless the NIC has verified
    // it (tcp_bad_checksum), the options (tcp_bad_option). `segment` is the IPv4 payload,
    // already trimmed to the IPv4 total length; `src` and `dst` are the IPv4 addresses.
    static result<tcp_view, drop_reason> parse(std::span<const std::uint8_t> segment, ipv4_addr src, ipv4_addr dst,
                                               bool verify_checksum = true);
    // The same over IPv6: the checksum with IPv6's pseudo-header (RFC 8200 §8.1).
    static result<tcp_view, drop_reason> parse(std::span<const std::uint8_t> segment, const ipv6_addr& src,
                                               const ipv6_addr& dst, bool verify_checksum = true);

    std::uint16_t src_port() const { return load_be16(at(tcp_field::src_port)); }
    std::uint16_t dst_port() const { return load_be16(at(tcp_field::dst_port)); }
    std::uint32_t seq() const { return load_be32(at(tcp_field::seq)); }
    std::uint32_t ack() const { return load_be32(at(tcp_field::ack)); }
    std::uint8_t flags() const { return data_[tcp_field::flags]; }
    std::uint16_t window() const { return load_be16(at(tcp_field::window)); }
    std::uint16_t checksum() const { return load_be16(at(tcp_field::checksum)); }
    std::uint16_t urgent_pointer() const { return load_be16(at(tcp_field::urgent_pointer)); }
    std::size_t header_length() const { return std::size_t(data_[tcp_field::data_offset] >> 4) * 4; }

    // Decoded from the positions that parse found (no second walk over the list).
    tcp_options options() const {
        return detail::decode_tcp_options(data_.data() + tcp_min_header_length, option_offsets_);
    }
    std::span<const std::uint8_t> option_bytes() const {
        return data_.subspan(tcp_min_header_length, header_length() - tcp_min_header_length);
    }
    std::span<const std::uint8_t> header() const { return data_.first(header_length()); }
    std::span<const std::uint8_t> payload() const { return data_.subspan(header_length()); }
    std::span<const std::uint8_t> segment() const { return data_; }

private:
    // `addresses`: the pseudo-header's sum without the length (pseudo_header_sum with 0),
    // of either family; none when the NIC verified the checksum.
    static result<tcp_view, drop_reason> parse_summed(std::span<const std::uint8_t> segment,
                                                      std::optional<std::uint32_t> addresses);
    tcp_view(std::span<const std::uint8_t> segment, detail::tcp_option_offsets offsets)
        : data_(segment), option_offsets_(offsets) {}
    const std::uint8_t* at(std::size_t offset) const { return data_.data() + offset; }

    std::span<const std::uint8_t> data_;
    detail::tcp_option_offsets option_offsets_;
};

enum class checksum_mode {
    software,    // the full checksum, computed here
    offload,     // the NIC computes it: the field holds pseudo_header_partial (with length)
    offload_tso, // TCP segmentation offload: pseudo_header_partial with length 0 (DPDK)
};

struct tcp_repr {
    std::uint16_t src_port = 0;
    std::uint16_t dst_port = 0;
    std::uint32_t seq = 0;
    std::uint32_t ack = 0;
    std::uint8_t flags = 0;
    std::uint16_t window = 0;
    std::uint16_t urgent = 0;
    tcp_options options;

    static tcp_repr from(const tcp_view& v) {
        return {v.src_port(), v.dst_port(), v.seq(), v.ack(), v.flags(), v.window(), v.urgent_pointer(), v.options()};
    }

    // Options are laid out as Linux does (tcp_options_write): MSS; SACK-permitted and
    // timestamps together (or NOP NOP before either alone); NOP and window scale; NOP NOP
    // and SACK blocks. Every option is 4-byte aligned, so no EOL padding is needed. SACK
    // blocks that do not fit in 40 bytes are left out from the end of the list (RFC 2018
    // §4: the first block reports the most recent segment and must be kept).
    std::size_t header_length() const;
    std::size_t sack_blocks_emitted() const;

    // Writes the header at `out` and the payload right after it (unless it is already
    // there), and the checksum as `mode` says.
    void emit(std::uint8_t* out, ipv4_addr src, ipv4_addr dst, std::span<const std::uint8_t> payload,
              checksum_mode mode) const;

    // Writes only the header, for a payload that lives elsewhere (an mbuf chain): give its
    // length and its partial sum (checksum_add, or a checksum_accumulator's sum(); the
    // header length is a multiple of 4, so the payload starts at an even offset). In the
    // offload modes payload_sum is not used.
    void emit_header(std::uint8_t* out, ipv4_addr src, ipv4_addr dst, std::size_t payload_length,
                     std::uint32_t payload_sum, checksum_mode mode) const;
    // The same two over IPv6 (its pseudo-header, RFC 8200 §8.1).
    void emit(std::uint8_t* out, const ipv6_addr& src, const ipv6_addr& dst, std::span<const std::uint8_t> payload,
              checksum_mode mode) const;
    void emit_header(std::uint8_t* out, const ipv6_addr& src, const ipv6_addr& dst, std::size_t payload_length,
                     std::uint32_t payload_sum, checksum_mode mode) const;
    // `addresses`: the pseudo-header's sum without the length, of either family.
    void emit_header_summed(std::uint8_t* out, std::uint32_t addresses, std::size_t payload_length,
                            std::uint32_t payload_sum, checksum_mode mode) const;

    friend bool operator==(const tcp_repr&, const tcp_repr&) = default;
};

// The header of nearly every segment after the handshake: no SYN, RST or urgent data, at
// most the timestamps option (RFC 7323 §3.2), no SACK blocks. The bytes are the ones
// tcp_repr writes for the same fields (NOP NOP, then the timestamps); written in one run,
// without tcp_repr's walk of an option list, for the per-segment path. Same interface.
struct tcp_plain_repr {
    std::uint16_t src_port = 0;
    std::uint16_t dst_port = 0;
    std::uint32_t seq = 0;
    std::uint32_t ack = 0;
    std::uint8_t flags = 0;
    std::uint16_t window = 0;
    bool timestamps = false;
    std::uint32_t ts_val = 0;
    std::uint32_t ts_ecr = 0;

    static constexpr std::size_t timestamps_length = 12; // NOP NOP kind length TSval TSecr

    std::size_t header_length() const { return tcp_min_header_length + (timestamps ? timestamps_length : 0); }
    void emit(std::uint8_t* out, ipv4_addr src, ipv4_addr dst, std::span<const std::uint8_t> payload,
              checksum_mode mode) const;
    void emit_header(std::uint8_t* out, ipv4_addr src, ipv4_addr dst, std::size_t payload_length,
                     std::uint32_t payload_sum, checksum_mode mode) const;
    void emit(std::uint8_t* out, const ipv6_addr& src, const ipv6_addr& dst, std::span<const std::uint8_t> payload,
              checksum_mode mode) const;
    void emit_header(std::uint8_t* out, const ipv6_addr& src, const ipv6_addr& dst, std::size_t payload_length,
                     std::uint32_t payload_sum, checksum_mode mode) const;
    void emit_header_summed(std::uint8_t* out, std::uint32_t addresses, std::size_t payload_length,
                            std::uint32_t payload_sum, checksum_mode mode) const;
    // The same header as a tcp_repr.
    tcp_repr full() const;
};

} // namespace tern::wire
