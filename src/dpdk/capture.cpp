#include "dpdk/capture.hpp"

#include <fcntl.h>
#include <time.h>
#include <unistd.h>

#include <cstring>

#include <rte_cycles.h>
#include <rte_errno.h>
#include <rte_mbuf.h>
#include <rte_pcapng.h>

namespace tern {

result<std::unique_ptr<capture_file>, setup_error> capture_file::open(const std::string& path, std::uint16_t mtu) {
    using setting = setup_error::setting;
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0)
        return unexpected{setup_error{"cannot write " + path + ": " + std::strerror(errno), setting::pcap, true}};
    // Headers and trailer of pcapng blocks need room beyond the frame itself.
    std::uint32_t room = rte_pcapng_mbuf_size(mtu + 18u);
    rte_mempool* pool = rte_pktmbuf_pool_create(("capture_" + std::to_string(getpid())).c_str(), 4095, 0, 0,
                                                std::uint16_t(room), SOCKET_ID_ANY);
    if (!pool) {
        ::close(fd);
        return unexpected{setup_error{std::string("capture pool: ") + rte_strerror(rte_errno), setting::pcap}};
    }
    rte_pcapng* file = rte_pcapng_fdopen(fd, nullptr, nullptr, "tern", nullptr);
    if (!file) {
        ::close(fd);
        rte_mempool_free(pool);
        return unexpected{setup_error{"cannot start pcapng in " + path + ": " + rte_strerror(rte_errno), setting::pcap}};
    }
    return std::unique_ptr<capture_file>(new capture_file(file, pool));
}

capture_file::~capture_file() {
    rte_pcapng_close(file_); // closes the fd too
    rte_mempool_free(pool_);
}

std::uint16_t capture_file::copy(std::uint16_t port_id, std::uint16_t queue, rte_mbuf* const* pkts,
                                 std::uint16_t n, direction dir, rte_mbuf** copies) {
    auto pcap_dir = dir == direction::in ? RTE_PCAPNG_DIRECTION_IN : RTE_PCAPNG_DIRECTION_OUT;
    std::uint64_t cycles = rte_get_tsc_cycles();
    timespec ts{};
    clock_gettime(CLOCK_REALTIME, &ts);
    std::uint64_t wall_ns = std::uint64_t(ts.tv_sec) * 1'000'000'000u + std::uint64_t(ts.tv_nsec);
    for (std::uint16_t i = 0; i < n; ++i) {
        copies[i] = rte_pcapng_copy(port_id, queue, pkts[i], pool_, UINT32_MAX, cycles, pcap_dir);
        if (copies[i]) stamp(copies[i], wall_ns);
    }
    return n;
}

// DPDK 22.11's rte_pcapng turns TSC cycles into wall time with a product that overflows
// a few seconds after start (captures said the year 2251), so the timestamp of the
// Enhanced Packet Block that rte_pcapng_copy put at the front of the copy is written
// again here. pcapng EPB: block type 6, total length, interface id, then the timestamp
// as high and low 32-bit halves in the section's (the host's) byte order, in the
// interface's resolution, which rte_pcapng declares as nanoseconds.
void capture_file::stamp(rte_mbuf* copy, std::uint64_t wall_ns) {
    constexpr std::uint32_t enhanced_packet_block = 6;
    if (rte_pktmbuf_data_len(copy) < 20) return;
    auto* block = rte_pktmbuf_mtod(copy, std::uint8_t*);
    std::uint32_t type;
    std::memcpy(&type, block, 4);
    if (type != enhanced_packet_block) return;
    std::uint32_t high = std::uint32_t(wall_ns >> 32), low = std::uint32_t(wall_ns);
    std::memcpy(block + 12, &high, 4);
    std::memcpy(block + 16, &low, 4);
}

// Writes the first `keep` copies (those that exist) and frees the others.
void capture_file::write(rte_mbuf** copies, std::uint16_t n, std::uint16_t keep) {
    rte_mbuf* out[max_batch];
    std::uint16_t made = 0;
    for (std::uint16_t i = 0; i < n; ++i) {
        if (!copies[i]) {
            if (i < keep) ++missed_;
        } else if (i < keep) {
            out[made++] = copies[i];
        } else {
            rte_pktmbuf_free(copies[i]);
        }
    }
    if (made == 0) return;
    // rte_pcapng_write_packets frees the copies whatever happens.
    if (rte_pcapng_write_packets(file_, out, made) >= 0) written_ += made;
    else missed_ += made;
}

void capture_file::record(std::uint16_t port_id, std::uint16_t queue, rte_mbuf* const* pkts, std::uint16_t n,
                          direction dir) {
    std::lock_guard lock(mutex_);
    rte_mbuf* copies[max_batch];
    while (n > 0) {
        std::uint16_t batch = n < max_batch ? n : max_batch;
        copy(port_id, queue, pkts, batch, dir, copies);
        write(copies, batch, batch);
        pkts += batch;
        n -= batch;
    }
}

std::uint16_t capture_file::transmit(device& inner, std::uint16_t port_id, std::uint16_t queue, rte_mbuf** pkts,
                                     std::uint16_t n) {
    // Copy before handing over (the device may free a packet as soon as it has it), and
    // write only the copies of what the device took: a refused packet is recorded when
    // it is retried, not twice.
    std::lock_guard lock(mutex_);
    rte_mbuf* copies[max_batch];
    std::uint16_t sent = 0;
    while (sent < n) {
        std::uint16_t batch = n - sent < max_batch ? std::uint16_t(n - sent) : max_batch;
        copy(port_id, queue, pkts + sent, batch, direction::out, copies);
        std::uint16_t took = inner.tx_burst(pkts + sent, batch);
        write(copies, batch, took);
        sent += took;
        if (took < batch) break;
    }
    return sent;
}

std::uint16_t capture_device::rx_burst(rte_mbuf** pkts, std::uint16_t n) {
    std::uint16_t got = inner_.rx_burst(pkts, n);
    if (got > 0) file_.record(port_id_, queue_, pkts, got, capture_file::direction::in);
    return got;
}

std::uint16_t capture_device::tx_burst(rte_mbuf** pkts, std::uint16_t n) {
    return file_.transmit(inner_, port_id_, queue_, pkts, n);
}

} // namespace tern
