#include "wire/ipv4.hpp"

#include <cassert>

#include "wire/checksum.hpp"
#include "wire/summing_writer.hpp"

namespace tern::wire {

result<ipv4_view, drop_reason> ipv4_view::parse(std::span<const std::uint8_t> packet, bool verify_checksum) {
    if (packet.size() < ipv4_min_header_length) return unexpected{drop_reason::ipv4_truncated};
    ipv4_view v{packet};
    if (v.version() != 4) return unexpected{drop_reason::ipv4_bad_version};
    std::size_t ihl = v.header_length();
    if (ihl < ipv4_min_header_length || ihl > packet.size()) return unexpected{drop_reason::ipv4_bad_ihl};
    std::size_t total = v.total_length();
    if (total < ihl || total > packet.size()) return unexpected{drop_reason::ipv4_bad_total_length};
    if (verify_checksum && !(ihl == ipv4_min_header_length ? checksum_ok_20(packet.data()) : checksum_ok(packet.first(ihl))))
        return unexpected{drop_reason::ipv4_bad_checksum};
    return v;
}

void ipv4_repr::emit(std::uint8_t* out, bool compute_checksum) const {
    assert(payload_length <= 0xffff - header_length);
    summing_writer w(out);
    w.put8x2(std::uint8_t(0x40 | header_length / 4), tos); // version 4, IHL
    w.put16(std::uint16_t(header_length + payload_length));
    w.put16(id);
    w.put16(dont_fragment ? ipv4_flag_df : 0); // fragment offset 0
    w.put8x2(ttl, protocol);
    w.put16(0); // checksum, written last
    w.put32(src.value);
    w.put32(dst.value);
    static_assert(header_length == 20);
    if (compute_checksum) store_be16(out + ipv4_field::checksum, checksum_fold(w.sum()));
}

} // namespace tern::wire
