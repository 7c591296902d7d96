#include "wire/tcp.hpp"

#include <algorithm>
#include <cassert>
#include <cstring>

#include "wire/checksum.hpp"
#include "wire/ipv4.hpp"
#include "wire/summing_writer.hpp"

namespace tern::wire {

namespace {

constexpr std::uint8_t mss_length = 4;
constexpr std::uint8_t window_scale_length = 3;
constexpr std::uint8_t sack_permitted_length = 2;
constexpr std::uint8_t timestamp_length = 10;
constexpr std::size_t sack_block_length = 8;

// Sizes of the 4-byte aligned groups that emit writes (see tcp_repr::header_length).
constexpr std::size_t mss_group = 4;        // MSS
constexpr std::size_t timestamp_group = 12; // SACK-permitted or NOP NOP, timestamps
constexpr std::size_t sack_perm_group = 4;  // NOP NOP SACK-permitted
constexpr std::size_t wscale_group = 4;     // NOP window scale
constexpr std::size_t sack_head = 4;        // NOP NOP kind length, then 8 bytes a block

std::size_t options_length_without_sack(const tcp_options& o) {
    std::size_t n = 0;
    if (o.mss) n += mss_group;
    if (o.timestamp)
        n += timestamp_group;
    else if (o.sack_permitted)
        n += sack_perm_group;
    if (o.window_scale) n += wscale_group;
    return n;
}

static_assert(mss_group + timestamp_group + wscale_group + sack_head + sack_block_length <= tcp_max_options_length,
              "a SYN with every option still has room for one SACK block");

// The field to store as checksum: the header's own sum (summing_writer) with the pseudo
// header's and the payload's, or what the NIC's offload expects there. `addresses` is the
// pseudo-header's sum without the length (either family's: with a length below 2^16, the
// length adds alike to both).
std::uint16_t checksum_field(std::uint32_t addresses, std::size_t l4_length, std::uint32_t header_sum,
                             std::uint32_t payload_sum, checksum_mode mode) {
    const std::uint32_t pseudo = addresses + std::uint32_t(l4_length);
    switch (mode) {
    case checksum_mode::software: return checksum_fold(checksum_add_sums(checksum_add_sums(pseudo, header_sum), payload_sum));
    case checksum_mode::offload: return checksum_reduce(pseudo);
    case checksum_mode::offload_tso: return checksum_reduce(addresses);
    }
    return 0;
}

std::uint32_t addresses_sum(ipv4_addr src, ipv4_addr dst) { return pseudo_header_sum(src, dst, ip_protocol::tcp, 0); }
std::uint32_t addresses_sum(const ipv6_addr& src, const ipv6_addr& dst) {
    return pseudo_header_sum(src, dst, ip_protocol::tcp, 0);
}

using detail::tcp_option_offsets;

// Walks the option list once and validates it (see parse_tcp_options). Inlined into both
// callers, so that the offsets stay in registers.
[[gnu::always_inline]] inline result<tcp_option_offsets, drop_reason> scan_options(std::span<const std::uint8_t> bytes) {
    tcp_option_offsets at;
    const std::size_t n = bytes.size();
    // The options of nearly every segment after the handshake with timestamps on: NOP, NOP,
    // then the timestamps (RFC 7323 Appendix A's layout, which Linux, tern and most stacks
    // send), read without the walk.
    static constexpr std::uint8_t aligned_timestamps[4] = {tcp_option_kind::nop, tcp_option_kind::nop,
                                                           tcp_option_kind::timestamp, timestamp_length};
    if (n == 12 && std::memcmp(bytes.data(), aligned_timestamps, 4) == 0) {
        at.timestamp = 4;
        return at;
    }
    std::size_t i = 0;
    while (i < n) {
        const std::uint8_t kind = bytes[i];
        if (kind == tcp_option_kind::eol) break;
        if (kind == tcp_option_kind::nop) {
            ++i;
            continue;
        }
        // RFC 9293 §3.2: every other option has a length octet that counts kind and length.
        if (n - i < 2) return unexpected{drop_reason::tcp_bad_option};
        const std::uint8_t len = bytes[i + 1];
        if (len < 2 || len > n - i) return unexpected{drop_reason::tcp_bad_option};
        const auto value = std::uint8_t(i + 2); // n is at most 40
        switch (kind) {
        case tcp_option_kind::mss:
            if (len != mss_length) return unexpected{drop_reason::tcp_bad_option};
            at.mss = value;
            break;
        case tcp_option_kind::window_scale:
            if (len != window_scale_length) return unexpected{drop_reason::tcp_bad_option};
            at.window_scale = value;
            break;
        case tcp_option_kind::sack_permitted:
            if (len != sack_permitted_length) return unexpected{drop_reason::tcp_bad_option};
            at.sack_permitted = true;
            break;
        case tcp_option_kind::timestamp:
            if (len != timestamp_length) return unexpected{drop_reason::tcp_bad_option};
            at.timestamp = value;
            break;
        case tcp_option_kind::sack: {
            const std::size_t blocks = (len - 2) / sack_block_length;
            if ((len - 2) % sack_block_length != 0 || blocks < 1 || blocks > tcp_max_sack_blocks)
                return unexpected{drop_reason::tcp_bad_option};
            at.sack = value;
            at.sack_block_count = std::uint8_t(blocks);
            break;
        }
        default:
            break; // RFC 9293 §3.2: an option we do not implement is ignored
        }
        i += len;
    }
    return at;
}

} // namespace

result<tcp_options, drop_reason> parse_tcp_options(std::span<const std::uint8_t> bytes) {
    if (bytes.size() > tcp_max_options_length) return unexpected{drop_reason::tcp_bad_option};
    auto at = scan_options(bytes);
    if (!at) return unexpected{at.error()};
    return detail::decode_tcp_options(bytes.data(), *at);
}

result<tcp_view, drop_reason> tcp_view::parse(std::span<const std::uint8_t> segment, ipv4_addr src, ipv4_addr dst,
                                              bool verify_checksum) {
    return parse_summed(segment, verify_checksum ? std::optional(addresses_sum(src, dst)) : std::nullopt);
}

result<tcp_view, drop_reason> tcp_view::parse(std::span<const std::uint8_t> segment, const ipv6_addr& src,
                                              const ipv6_addr& dst, bool verify_checksum) {
    return parse_summed(segment, verify_checksum ? std::optional(addresses_sum(src, dst)) : std::nullopt);
}

result<tcp_view, drop_reason> tcp_view::parse_summed(std::span<const std::uint8_t> segment,
                                                     std::optional<std::uint32_t> addresses) {
    if (segment.size() < tcp_min_header_length) return unexpected{drop_reason::tcp_truncated};
    const std::size_t header_length = std::size_t(segment[tcp_field::data_offset] >> 4) * 4;
    if (header_length < tcp_min_header_length || header_length > segment.size())
        return unexpected{drop_reason::tcp_bad_data_offset};
    if (addresses) {
        // An IP packet can not carry more (IPv6 jumbograms are not taken); a larger span
        // (LRO) has its checksum verified by the NIC, and the caller must say so.
        if (segment.size() > 0xffff) return unexpected{drop_reason::tcp_bad_checksum};
        if (!checksum_ok(segment, *addresses + std::uint32_t(segment.size()))) return unexpected{drop_reason::tcp_bad_checksum};
    }
    auto options = scan_options(segment.subspan(tcp_min_header_length, header_length - tcp_min_header_length));
    if (!options) return unexpected{options.error()};
    return tcp_view{segment, *options};
}

std::size_t tcp_repr::sack_blocks_emitted() const {
    const std::size_t wanted = std::min<std::size_t>(options.sack_block_count, tcp_max_sack_blocks);
    if (wanted == 0) return 0;
    const std::size_t room = tcp_max_options_length - options_length_without_sack(options) - sack_head;
    return std::min(wanted, room / sack_block_length);
}

std::size_t tcp_repr::header_length() const {
    std::size_t n = tcp_min_header_length + options_length_without_sack(options);
    if (std::size_t blocks = sack_blocks_emitted(); blocks > 0) n += sack_head + blocks * sack_block_length;
    return n;
}

void tcp_repr::emit_header(std::uint8_t* out, ipv4_addr src, ipv4_addr dst, std::size_t payload_length,
                           std::uint32_t payload_sum, checksum_mode mode) const {
    emit_header_summed(out, addresses_sum(src, dst), payload_length, payload_sum, mode);
}

void tcp_repr::emit_header(std::uint8_t* out, const ipv6_addr& src, const ipv6_addr& dst, std::size_t payload_length,
                           std::uint32_t payload_sum, checksum_mode mode) const {
    emit_header_summed(out, addresses_sum(src, dst), payload_length, payload_sum, mode);
}

void tcp_repr::emit_header_summed(std::uint8_t* out, std::uint32_t addresses, std::size_t payload_length,
                                  std::uint32_t payload_sum, checksum_mode mode) const {
    const std::size_t blocks = sack_blocks_emitted();
    const std::size_t hlen = tcp_min_header_length + options_length_without_sack(options) +
                             (blocks > 0 ? sack_head + blocks * sack_block_length : 0);
    assert(hlen == header_length() && hlen <= tcp_max_header_length && hlen % 4 == 0);
    assert(payload_length <= 0xffff - hlen);

    summing_writer w(out);
    w.put16(src_port);
    w.put16(dst_port);
    w.put32(seq);
    w.put32(ack);
    w.put8x2(std::uint8_t((hlen / 4) << 4), flags); // data offset, reserved bits 0, flags
    w.put16(window);
    w.put16(0); // checksum, written last
    w.put16(urgent);

    // Options, as Linux's tcp_options_write lays them out.
    if (options.mss) {
        w.put8x2(tcp_option_kind::mss, mss_length);
        w.put16(*options.mss);
    }
    if (options.timestamp) {
        if (options.sack_permitted)
            w.put8x2(tcp_option_kind::sack_permitted, sack_permitted_length);
        else
            w.put8x2(tcp_option_kind::nop, tcp_option_kind::nop);
        w.put8x2(tcp_option_kind::timestamp, timestamp_length);
        w.put32(options.timestamp->first);
        w.put32(options.timestamp->second);
    } else if (options.sack_permitted) {
        w.put8x2(tcp_option_kind::nop, tcp_option_kind::nop);
        w.put8x2(tcp_option_kind::sack_permitted, sack_permitted_length);
    }
    if (options.window_scale) {
        w.put8x2(tcp_option_kind::nop, tcp_option_kind::window_scale);
        w.put8x2(window_scale_length, *options.window_scale);
    }
    if (blocks > 0) {
        w.put8x2(tcp_option_kind::nop, tcp_option_kind::nop);
        w.put8x2(tcp_option_kind::sack, std::uint8_t(2 + blocks * sack_block_length));
        for (std::size_t b = 0; b < blocks; ++b) {
            w.put32(options.sack_blocks[b].left);
            w.put32(options.sack_blocks[b].right);
        }
    }
    assert(w.position() == out + hlen);

    store_be16(out + tcp_field::checksum, checksum_field(addresses, hlen + payload_length, w.sum(), payload_sum, mode));
}

namespace {

// Writes the payload after a header of `header_length` bytes at `out` (unless it is there
// already), then the header, through emit_header.
template <class Header>
void emit_segment(const Header& h, std::uint8_t* out, std::uint32_t addresses, std::span<const std::uint8_t> payload,
                  checksum_mode mode) {
    std::uint8_t* body = out + h.header_length();
    // Move the payload first: it may overlap the header bytes about to be written.
    if (!payload.empty() && payload.data() != body) std::memmove(body, payload.data(), payload.size());
    const std::uint32_t payload_sum = mode == checksum_mode::software ? checksum_add({body, payload.size()}) : 0;
    h.emit_header_summed(out, addresses, payload.size(), payload_sum, mode);
}

} // namespace

void tcp_repr::emit(std::uint8_t* out, ipv4_addr src, ipv4_addr dst, std::span<const std::uint8_t> payload,
                    checksum_mode mode) const {
    emit_segment(*this, out, addresses_sum(src, dst), payload, mode);
}

void tcp_repr::emit(std::uint8_t* out, const ipv6_addr& src, const ipv6_addr& dst, std::span<const std::uint8_t> payload,
                    checksum_mode mode) const {
    emit_segment(*this, out, addresses_sum(src, dst), payload, mode);
}

void tcp_plain_repr::emit(std::uint8_t* out, ipv4_addr src, ipv4_addr dst, std::span<const std::uint8_t> payload,
                          checksum_mode mode) const {
    emit_segment(*this, out, addresses_sum(src, dst), payload, mode);
}

void tcp_plain_repr::emit(std::uint8_t* out, const ipv6_addr& src, const ipv6_addr& dst,
                          std::span<const std::uint8_t> payload, checksum_mode mode) const {
    emit_segment(*this, out, addresses_sum(src, dst), payload, mode);
}

void tcp_plain_repr::emit_header(std::uint8_t* out, ipv4_addr src, ipv4_addr dst, std::size_t payload_length,
                                 std::uint32_t payload_sum, checksum_mode mode) const {
    emit_header_summed(out, addresses_sum(src, dst), payload_length, payload_sum, mode);
}

void tcp_plain_repr::emit_header(std::uint8_t* out, const ipv6_addr& src, const ipv6_addr& dst,
                                 std::size_t payload_length, std::uint32_t payload_sum, checksum_mode mode) const {
    emit_header_summed(out, addresses_sum(src, dst), payload_length, payload_sum, mode);
}

void tcp_plain_repr::emit_header_summed(std::uint8_t* out, std::uint32_t addresses, std::size_t payload_length,
                                        std::uint32_t payload_sum, checksum_mode mode) const {
    const std::size_t hlen = header_length();
    assert(payload_length <= 0xffff - hlen);
    summing_writer w(out);
    w.put16(src_port);
    w.put16(dst_port);
    w.put32(seq);
    w.put32(ack);
    w.put8x2(std::uint8_t((hlen / 4) << 4), flags);
    w.put16(window);
    w.put16(0); // checksum, written last
    w.put16(0); // urgent pointer
    if (timestamps) {
        w.put8x2(tcp_option_kind::nop, tcp_option_kind::nop);
        w.put8x2(tcp_option_kind::timestamp, timestamp_length);
        w.put32(ts_val);
        w.put32(ts_ecr);
    }
    store_be16(out + tcp_field::checksum, checksum_field(addresses, hlen + payload_length, w.sum(), payload_sum, mode));
}

tcp_repr tcp_plain_repr::full() const {
    tcp_repr r{src_port, dst_port, seq, ack, flags, window, 0, {}};
    if (timestamps) r.options.timestamp = std::pair{ts_val, ts_ecr};
    return r;
}

} // namespace tern::wire
