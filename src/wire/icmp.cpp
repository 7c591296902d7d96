#include "wire/icmp.hpp"

#include <cstring>

#include "wire/checksum.hpp"

namespace tern::wire {

result<icmp_view, drop_reason> icmp_view::parse(std::span<const std::uint8_t> message, bool verify_checksum) {
    if (message.size() < icmp_header_length) return unexpected{drop_reason::icmp_truncated};
    if (verify_checksum && !checksum_ok(message)) return unexpected{drop_reason::icmp_bad_checksum};
    return icmp_view{message};
}

void icmp_echo_repr::emit(std::uint8_t* out) const {
    std::uint8_t* body = out + icmp_header_length;
    // Move the payload first: it may overlap the header bytes about to be written.
    if (!payload.empty() && payload.data() != body) std::memmove(body, payload.data(), payload.size());
    out[icmp_field::type] = type;
    out[icmp_field::code] = 0;
    store_be16(out + icmp_field::checksum, 0);
    store_be16(out + icmp_field::identifier, identifier);
    store_be16(out + icmp_field::sequence, sequence);
    store_be16(out + icmp_field::checksum, checksum_fold(checksum_add({out, length()})));
}

} // namespace tern::wire
