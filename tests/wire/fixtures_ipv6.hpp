// IPv6 packets (from the IPv6 header on) captured from the Linux kernel, for the IPv6
// wire tests. Captured once on Linux 6.18: a veth pair between two network namespaces made
// for it, 2001:2::1 (MAC 02:00:00:00:00:01) and 2001:2::2 (MAC 02:00:00:00:00:02), from
// RFC 5180's benchmarking prefix, transmit checksum offload off (`ethtool -K ... tx off`)
// so that every checksum is final, captured with tcpdump on the 2001:2::2 side. tcpdump
// -v reported every checksum "ok"/"correct". Traffic: the addresses' duplicate address
// detection, `ping -6 -c1 -s 16 2001:2::2`, and a Python client that connected to
// [2001:2::2]:5001, sent "ping" and got "pong".
#pragma once

#include <cstdint>
#include <vector>

#include "fixtures.hpp"

namespace tern::wire::test {

// The kernel checking that 2001:2::2 is free (RFC 4862 §5.4.2): from ::, with a Nonce
// option (RFC 7527); 72 bytes.
inline const std::vector<std::uint8_t> v6_dad_solicitation = from_hex(
    "6000 0000 0020 3aff 0000 0000 0000 0000"
    "0000 0000 0000 0000 ff02 0000 0000 0000"
    "0000 0001 ff00 0002 8700 2040 0000 0000"
    "2001 0002 0000 0000 0000 0000 0000 0002"
    "0e01 17f8 a455 700a");

// An MLDv2 report behind a Hop-by-Hop header (Router Alert, PadN); 76 bytes.
inline const std::vector<std::uint8_t> v6_mld_report = from_hex(
    "6000 0000 0024 0001 fe80 0000 0000 0000"
    "0000 00ff fe00 0002 ff02 0000 0000 0000"
    "0000 0000 0000 0016 3a00 0502 0000 0100"
    "8f00 7205 0000 0001 0400 0000 ff02 0000"
    "0000 0000 0000 0001 ff00 0002");

// 2001:2::1 asks for 2001:2::2, with its Source Link-Layer Address; 72 bytes.
inline const std::vector<std::uint8_t> v6_neighbor_solicitation = from_hex(
    "6000 0000 0020 3aff 2001 0002 0000 0000"
    "0000 0000 0000 0001 ff02 0000 0000 0000"
    "0000 0001 ff00 0002 8700 3793 0000 0000"
    "2001 0002 0000 0000 0000 0000 0000 0002"
    "0101 0200 0000 0001");

// The answer: solicited, override, with the Target Link-Layer Address; 72 bytes.
inline const std::vector<std::uint8_t> v6_neighbor_advertisement = from_hex(
    "6000 0000 0020 3aff 2001 0002 0000 0000"
    "0000 0000 0000 0002 2001 0002 0000 0000"
    "0000 0000 0000 0001 8800 b393 6000 0000"
    "2001 0002 0000 0000 0000 0000 0000 0002"
    "0201 0200 0000 0002");

// The echo request of `ping -6 -c1 -s 16`: 16 bytes of data; 64 bytes.
inline const std::vector<std::uint8_t> v6_echo_request = from_hex(
    "6003 f9a9 0018 3a40 2001 0002 0000 0000"
    "0000 0000 0000 0001 2001 0002 0000 0000"
    "0000 0000 0000 0002 8000 38e7 3022 0001"
    "a84a 116b 0000 0000 11e4 0b00 0000 0000");

// Its reply; 64 bytes.
inline const std::vector<std::uint8_t> v6_echo_reply = from_hex(
    "6000 0cc4 0018 3a40 2001 0002 0000 0000"
    "0000 0000 0000 0002 2001 0002 0000 0000"
    "0000 0000 0000 0001 8100 37e7 3022 0001"
    "a84a 116b 0000 0000 11e4 0b00 0000 0000");

// The SYN to port 5001: MSS 1440, SACK permitted, timestamps, window scale 10; 80 bytes.
inline const std::vector<std::uint8_t> v6_syn = from_hex(
    "6000 f444 0028 0640 2001 0002 0000 0000"
    "0000 0000 0000 0001 2001 0002 0000 0000"
    "0000 0000 0000 0002 8330 1389 34f1 80bf"
    "0000 0000 a002 fd20 d4f3 0000 0204 05a0"
    "0402 080a e189 0800 0000 0000 0103 030a");

// "ping" from the client; 76 bytes.
inline const std::vector<std::uint8_t> v6_data_ping = from_hex(
    "6000 f444 0024 0640 2001 0002 0000 0000"
    "0000 0000 0000 0001 2001 0002 0000 0000"
    "0000 0000 0000 0002 8330 1389 34f1 80c0"
    "9f85 659a 8018 0040 78a0 0000 0101 080a"
    "e189 0800 17bd 8c25 7069 6e67");

} // namespace tern::wire::test
