// Micro benchmarks of the wire layer: the checksum, and the parse of a whole
// Ethernet + IPv4 + TCP frame as the engine sees it on receive.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <cstring>
#include <random>
#include <span>
#include <vector>

#include "wire/checksum.hpp"
#include "wire/ethernet.hpp"
#include "wire/frame.hpp"
#include "wire/ipv4.hpp"
#include "wire/tcp.hpp"

namespace {

using namespace tern;
using namespace tern::wire;

std::vector<std::uint8_t> random_bytes(std::size_t n) {
    std::mt19937 rng(42);
    std::vector<std::uint8_t> v(n);
    for (auto& b : v) b = std::uint8_t(rng());
    return v;
}

// RFC 1071 written plainly, 16 bits at a time: the baseline.
std::uint16_t naive_checksum(std::span<const std::uint8_t> data) {
    std::uint32_t sum = 0;
    std::size_t i = 0;
    for (; i + 1 < data.size(); i += 2) sum += std::uint32_t(data[i]) << 8 | data[i + 1];
    if (i < data.size()) sum += std::uint32_t(data[i]) << 8;
    while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
    return std::uint16_t(~sum);
}

void bm_checksum(benchmark::State& state) {
    auto data = random_bytes(std::size_t(state.range(0)));
    for (auto _ : state) {
        benchmark::DoNotOptimize(data.data());
        benchmark::DoNotOptimize(checksum_fold(checksum_add(data)));
    }
    state.SetBytesProcessed(std::int64_t(state.iterations()) * state.range(0));
}
BENCHMARK(bm_checksum)->Arg(64)->Arg(128)->Arg(256)->Arg(512)->Arg(1500)->Arg(9000);

// A sender's payload into its frame: copied, then summed over the copy (the old way), or
// summed as it is copied (checksum_copy). Args: payload bytes.
void bm_copy_then_checksum(benchmark::State& state) {
    auto data = random_bytes(std::size_t(state.range(0)));
    std::vector<std::uint8_t> out(data.size());
    for (auto _ : state) {
        benchmark::DoNotOptimize(data.data());
        std::memcpy(out.data(), data.data(), data.size());
        benchmark::DoNotOptimize(checksum_add(out));
        benchmark::ClobberMemory();
    }
    state.SetBytesProcessed(std::int64_t(state.iterations()) * state.range(0));
}
BENCHMARK(bm_copy_then_checksum)->Arg(64)->Arg(1448)->Arg(8948);

void bm_checksum_copy(benchmark::State& state) {
    auto data = random_bytes(std::size_t(state.range(0)));
    std::vector<std::uint8_t> out(data.size());
    for (auto _ : state) {
        benchmark::DoNotOptimize(data.data());
        benchmark::DoNotOptimize(checksum_copy(out.data(), data));
        benchmark::ClobberMemory();
    }
    state.SetBytesProcessed(std::int64_t(state.iterations()) * state.range(0));
}
BENCHMARK(bm_checksum_copy)->Arg(64)->Arg(1448)->Arg(8948);

void bm_checksum_naive(benchmark::State& state) {
    auto data = random_bytes(std::size_t(state.range(0)));
    for (auto _ : state) {
        benchmark::DoNotOptimize(data.data());
        benchmark::DoNotOptimize(naive_checksum(data));
    }
    state.SetBytesProcessed(std::int64_t(state.iterations()) * state.range(0));
}
BENCHMARK(bm_checksum_naive)->Arg(64)->Arg(1500);

// A data segment as Linux sends it in an established connection with timestamps:
// NOP NOP TS options, 1448 bytes of payload (a 1514-byte frame), or none (a pure ACK).
std::vector<std::uint8_t> make_frame(std::size_t payload_length) {
    const auto src = ipv4_addr::from_octets(198, 18, 0, 1);
    const auto dst = ipv4_addr::from_octets(198, 18, 0, 2);
    tcp_repr tcp;
    tcp.src_port = 59052;
    tcp.dst_port = 5001;
    tcp.seq = 1587299861;
    tcp.ack = 4160860138;
    tcp.flags = tcp_flags::ack | tcp_flags::psh;
    tcp.window = 502;
    tcp.options.timestamp = std::pair{1049213276u, 2996050961u};
    auto payload = random_bytes(payload_length);
    const std::size_t l4 = tcp.header_length() + payload_length;
    std::vector<std::uint8_t> frame(ethernet_repr::length + ipv4_repr::header_length + l4);
    ethernet_repr{mac_addr{{2, 0, 0, 0, 0, 2}}, mac_addr{{2, 0, 0, 0, 0, 1}}, ether_type::ipv4}.emit(frame.data());
    ipv4_repr{src, dst, ip_protocol::tcp, 64, 0xfeed, std::uint16_t(l4)}.emit(frame.data() + 14);
    tcp.emit(frame.data() + 34, src, dst, payload, checksum_mode::software);
    return frame;
}

void bm_parse_tcp_frame(benchmark::State& state) {
    const auto frame = make_frame(std::size_t(state.range(0)));
    const bool verify = state.range(1) != 0;
    if (!parse_tcp_ipv4_frame(frame)) state.SkipWithError("fixture does not parse");
    for (auto _ : state) {
        benchmark::DoNotOptimize(frame.data());
        auto f = parse_tcp_ipv4_frame(frame, verify, verify);
        benchmark::DoNotOptimize(f);
    }
    state.SetItemsProcessed(std::int64_t(state.iterations()));
    state.SetBytesProcessed(std::int64_t(state.iterations()) * std::int64_t(frame.size()));
}
// Args: payload bytes, verify checksums in software (1) or trust the NIC (0).
BENCHMARK(bm_parse_tcp_frame)->ArgNames({"payload", "verify"})->Args({0, 1})->Args({1448, 1})->Args({1448, 0});

void bm_emit_tcp_header(benchmark::State& state) {
    const auto src = ipv4_addr::from_octets(198, 18, 0, 1);
    const auto dst = ipv4_addr::from_octets(198, 18, 0, 2);
    tcp_repr tcp;
    tcp.src_port = 5001;
    tcp.dst_port = 59052;
    tcp.flags = tcp_flags::ack;
    tcp.window = 502;
    tcp.options.timestamp = std::pair{1u, 2u};
    std::uint8_t out[60];
    for (auto _ : state) {
        ++tcp.seq;
        tcp.emit_header(out, src, dst, 0, 0, checksum_mode::software);
        benchmark::DoNotOptimize(out);
    }
    state.SetItemsProcessed(std::int64_t(state.iterations()));
}
BENCHMARK(bm_emit_tcp_header);

} // namespace

BENCHMARK_MAIN();
