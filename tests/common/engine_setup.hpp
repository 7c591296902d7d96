// The engine configuration the hand-driven rigs share (tests and benchmarks): one address
// on a /24, a fixed MAC, no gratuitous ARP to sort out of what the engine sends.
#pragma once

#include "tern/addr.hpp"
#include "tern/config.hpp"

namespace tern::test {

inline engine_config config_for(ipv4_addr ip, mac_addr mac, ipv4_range extra = {}, std::uint16_t engines = 1) {
    engine_config c;
    c.address = ipv4_cidr{ip, 24};
    c.extra_addresses = extra;
    c.mac = mac;
    c.gratuitous_arp = false;
    c.engines = engines;
    return c;
}

} // namespace tern::test
