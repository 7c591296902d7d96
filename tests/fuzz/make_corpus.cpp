// Writes the seed corpus of the engine fuzz harness: one input file per situation, for
// each connection of the scene (engine_fuzz.hpp) and for the engine's other input (ARP,
// ICMP, damaged and foreign frames), with clock steps and application calls. Frames are
// built with the wire layer's reprs; the raw ones carry the sequence numbers the scene's
// set-up leaves (it is deterministic). Run it again when the scene changes:
//
//   build-test/tests/fuzz/make_corpus tests/fuzz/corpus
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include <rte_eal.h>
#include <unistd.h>

#include "engine_fuzz.hpp"
#include "wire/arp.hpp"
#include "wire/bytes.hpp"
#include "wire/ethernet.hpp"
#include "wire/icmp.hpp"
#include "wire/ipv4.hpp"
#include "wire/tcp.hpp"

namespace tern::fuzz {
namespace {

namespace flag = wire::tcp_flags;
using segment = input_writer::segment_spec;

// Tuples by name (engine_fuzz.cpp's table).
enum : std::size_t {
    listen_80 = 0, syn_sent = 1, syn_sent_no_arp = 2, syn_received = 3, established = 4, active = 5,
    fin_wait_1 = 6, fin_wait_2 = 7, close_wait = 8, closing = 9, last_ack = 10, time_wait = 11,
    time_wait_active = 12, zero_window = 13, closed_port = 14, listen_81 = 15,
};

constexpr std::uint8_t ts = opt_timestamps;
constexpr std::uint8_t syn_options = opt_mss | opt_wscale | opt_sack_permitted | opt_timestamps;

std::vector<std::uint8_t> arp_frame(wire::arp_op op, mac_addr sha, ipv4_addr spa, mac_addr tha, ipv4_addr tpa,
                                    mac_addr dst) {
    std::vector<std::uint8_t> f(wire::ethernet_repr::length + wire::arp_repr::length);
    wire::ethernet_repr{dst, sha, wire::ether_type::arp}.emit(f.data());
    wire::arp_repr{op, sha, spa, tha, tpa}.emit(f.data() + wire::ethernet_repr::length);
    return f;
}

// An IPv4 packet from `src` to us, in an Ethernet frame from the peer's MAC.
std::vector<std::uint8_t> ipv4_frame(ipv4_addr src, std::uint8_t protocol, std::span<const std::uint8_t> payload,
                                     std::uint16_t flags_fragment = wire::ipv4_flag_df) {
    std::vector<std::uint8_t> f(wire::ethernet_repr::length + wire::ipv4_repr::header_length + payload.size());
    wire::ethernet_repr{our_mac, peer_mac, wire::ether_type::ipv4}.emit(f.data());
    std::uint8_t* ip = f.data() + wire::ethernet_repr::length;
    wire::ipv4_repr{src, our_ip, protocol, 64, 7, std::uint16_t(payload.size()), true, 0}.emit(ip);
    std::copy(payload.begin(), payload.end(), ip + wire::ipv4_repr::header_length);
    wire::store_be16(ip + wire::ipv4_field::flags_fragment, flags_fragment);
    return f; // checksums: written with the frame record's fix flag where they matter
}

std::vector<std::uint8_t> echo_request(std::size_t payload) {
    std::vector<std::uint8_t> data(payload, 0x5a);
    wire::icmp_echo_repr echo{wire::icmp_type::echo_request, 0x1234, 1, data};
    std::vector<std::uint8_t> msg(echo.length());
    echo.emit(msg.data());
    return msg;
}

// A TCP segment from the peer on tuple k with absolute numbers, as raw bytes (its checksum
// is set by the frame record's fix flag).
std::vector<std::uint8_t> raw_segment(std::size_t k, std::uint32_t seq, std::uint32_t ack, std::uint8_t flags,
                                      std::span<const std::uint8_t> options, std::size_t payload) {
    std::vector<std::uint8_t> seg(20 + options.size() + payload, 0x61);
    wire::store_be16(seg.data() + wire::tcp_field::src_port, tuples[k].remote_port);
    wire::store_be16(seg.data() + wire::tcp_field::dst_port, tuples[k].local_port);
    wire::store_be32(seg.data() + wire::tcp_field::seq, seq);
    wire::store_be32(seg.data() + wire::tcp_field::ack, ack);
    seg[wire::tcp_field::data_offset] = std::uint8_t(((20 + options.size()) / 4) << 4);
    seg[wire::tcp_field::flags] = flags;
    wire::store_be16(seg.data() + wire::tcp_field::window, 65535);
    wire::store_be16(seg.data() + wire::tcp_field::urgent_pointer, 0);
    std::copy(options.begin(), options.end(), seg.begin() + 20);
    return ipv4_frame(tuples[k].remote, wire::ip_protocol::tcp, seg);
}

void write(const std::filesystem::path& dir, const std::string& name, const input_writer& w) {
    std::ofstream out(dir / name, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(w.bytes().data()), std::streamsize(w.bytes().size()));
}

void write_corpus(const std::filesystem::path& dir) {
    const auto view = scene_after_setup();
    auto one = [&](const std::string& name, const segment& s) { write(dir, name, input_writer{}.segment(s)); };

    // ---- each connection, through segments built from what its peer saw ----
    one("established-data", {.tuple = established, .flags = flag::ack | flag::psh, .options = ts, .payload_units = 40});
    one("established-ack-everything", {.tuple = established, .flags = flag::ack, .options = ts});
    one("established-fill-hole", {.tuple = established, .flags = flag::ack, .options = ts, .payload_units = 125});
    one("established-fin", {.tuple = established, .flags = flag::fin | flag::ack, .options = ts});
    one("established-rst", {.tuple = established, .flags = flag::rst, .seq_delta = 10});
    one("established-syn", {.tuple = established, .flags = flag::syn, .options = syn_options});
    one("established-old-timestamp",
        {.tuple = established, .flags = flag::ack, .options = opt_ts_values, .payload_units = 10, .tsval = 1, .tsecr = 0});
    one("established-out-of-window", {.tuple = established, .flags = flag::ack, .seq_delta = -30000, .options = ts});
    {
        // Fast retransmit and SACK recovery (RFC 6675): the peer acknowledges everything,
        // the application sends 20,000 bytes, the first segment is lost: duplicate ACKs
        // SACK the segments after it, then a partial ACK, then all of it.
        input_writer w;
        w.segment({.tuple = established, .flags = flag::ack, .options = ts});
        w.app(established, app_action::send_20000);
        for (int i = 1; i <= 4; ++i)
            w.segment({.tuple = established, .flags = flag::ack, .options = ts,
                       .sacks = {{std::int16_t(1448), std::uint16_t(1448 * i)}}, .ack_from_last_ack = true});
        w.segment({.tuple = established, .flags = flag::ack, .ack_delta = 2896, .options = ts,
                   .ack_from_last_ack = true});
        w.segment({.tuple = established, .flags = flag::ack, .options = ts});
        write(dir, "established-fast-retransmit-sack", w);
        input_writer n; // the same without SACK blocks (RFC 6582 NewReno) on the connection without options
        n.segment({.tuple = active, .flags = flag::ack});
        n.app(active, app_action::send_20000);
        for (int i = 0; i < 4; ++i) n.segment({.tuple = active, .flags = flag::ack, .ack_from_last_ack = true});
        n.segment({.tuple = active, .flags = flag::ack, .ack_delta = 1072, .ack_from_last_ack = true});
        write(dir, "active-fast-retransmit-newreno", n);
    }
    {
        input_writer w; // a burst: four data segments in one RX burst, one answer
        for (int i = 0; i < 4; ++i)
            w.segment({.tuple = established, .flags = flag::ack | flag::psh, .options = ts, .payload_units = 12,
                       .poll = i == 3});
        write(dir, "established-burst", w);
    }
    one("active-no-options-data", {.tuple = active, .flags = flag::ack | flag::psh, .payload_units = 50});
    one("active-no-options-fin", {.tuple = active, .flags = flag::fin | flag::ack});
    one("syn-sent-syn-ack", {.tuple = syn_sent, .flags = flag::syn | flag::ack, .options = syn_options});
    one("syn-sent-rst-ack", {.tuple = syn_sent, .flags = flag::rst | flag::ack});
    one("syn-sent-simultaneous-open", {.tuple = syn_sent, .flags = flag::syn, .options = syn_options});
    one("syn-received-ack", {.tuple = syn_received, .flags = flag::ack, .options = ts});
    one("syn-received-rst", {.tuple = syn_received, .flags = flag::rst});
    one("syn-received-data-fin",
        {.tuple = syn_received, .flags = flag::ack | flag::psh | flag::fin, .options = ts, .payload_units = 5});
    one("fin-wait-1-ack", {.tuple = fin_wait_1, .flags = flag::ack, .options = ts});
    one("fin-wait-1-fin", {.tuple = fin_wait_1, .flags = flag::fin | flag::ack, .ack_delta = -1, .options = ts});
    one("fin-wait-2-fin", {.tuple = fin_wait_2, .flags = flag::fin | flag::ack, .options = ts});
    one("fin-wait-2-data-after-close", {.tuple = fin_wait_2, .flags = flag::ack, .options = ts, .payload_units = 3});
    write(dir, "close-wait-send-close-ack",
          input_writer{}.app(close_wait, app_action::send_1000).app(close_wait, app_action::close).segment(
              {.tuple = close_wait, .flags = flag::ack, .options = ts}));
    one("closing-ack", {.tuple = closing, .flags = flag::ack, .options = ts});
    one("last-ack-ack", {.tuple = last_ack, .flags = flag::ack, .options = ts});
    one("time-wait-fin-again", {.tuple = time_wait, .flags = flag::fin | flag::ack, .seq_delta = -1, .options = ts});
    one("time-wait-syn-reuse", {.tuple = time_wait, .flags = flag::syn, .seq_delta = 1000, .options = syn_options});
    one("time-wait-rst", {.tuple = time_wait, .flags = flag::rst});
    one("time-wait-active-syn", {.tuple = time_wait_active, .flags = flag::syn, .seq_delta = 5000});
    write(dir, "zero-window-opens",
          input_writer{}.clock(0x83).segment({.tuple = zero_window, .flags = flag::ack, .window = 4096, .options = ts}));
    write(dir, "zero-window-probes", input_writer{}.clock(0x80).clock(0x81).clock(0x83).clock(0x87).clock(0x8f));
    one("listen-syn", {.tuple = listen_81, .flags = flag::syn, .options = syn_options});
    one("listen-ack-is-reset", {.tuple = listen_80, .flags = flag::ack});
    one("listen-81-syn-tiny-mss",
        {.tuple = listen_81, .flags = flag::syn, .options = opt_mss_value | opt_sack_permitted, .mss = 1});
    write(dir, "listen-cookie-handshake",
          input_writer{}
              .segment({.tuple = listen_80, .flags = flag::syn, .options = syn_options})
              .segment({.tuple = listen_80, .flags = flag::ack | flag::psh, .options = ts, .payload_units = 4}));
    one("closed-port-syn", {.tuple = closed_port, .flags = flag::syn, .options = syn_options});

    // ---- the same through raw frames with the numbers set-up leaves ----
    {
        const tuple_view& v = view[established];
        // NOP NOP TS (10) and NOP NOP SACK one block (10): 24 bytes
        std::vector<std::uint8_t> opts{1, 1, 8, 10, 0, 0, 0, 9, 0, 0, 0, 0, 1, 1, 5, 10, 0, 0, 0, 0, 0, 0, 0, 0};
        wire::store_be32(opts.data() + 8, v.engine_tsval);
        wire::store_be32(opts.data() + 16, v.engine_snd_max - 500);
        wire::store_be32(opts.data() + 20, v.engine_snd_max - 100);
        write(dir, "raw-established-ack-sack",
              input_writer{}.frame(raw_segment(established, v.peer_snd_nxt, v.engine_snd_max - 1000, flag::ack, opts, 0),
                                   true, true));
        // Unknown kinds, an option running past the header, a zero length
        std::vector<std::uint8_t> odd{30, 3, 0, 254, 6, 1, 2, 3, 4, 5, 8, 40};
        write(dir, "raw-established-odd-options",
              input_writer{}.frame(raw_segment(established, v.peer_snd_nxt, v.engine_snd_max, flag::ack, odd, 8), true,
                                   true));
        write(dir, "raw-established-bad-checksum",
              input_writer{}.frame(raw_segment(established, v.peer_snd_nxt, v.engine_snd_max, flag::ack, {}, 16)));
    }
    write(dir, "raw-syn-sent-no-arp-arp-reply",
          input_writer{}.frame(arp_frame(wire::arp_op::reply, mac_addr{{0x02, 0, 0, 0, 0, 0x03}}, silent_ip, our_mac,
                                         our_ip, our_mac)));
    write(dir, "raw-arp-request",
          input_writer{}.frame(arp_frame(wire::arp_op::request, peer_mac, peer_ip, mac_addr{}, our_ip,
                                         mac_addr::broadcast())));
    write(dir, "raw-arp-peer-moves",
          input_writer{}
              .frame(arp_frame(wire::arp_op::request, mac_addr{{0x02, 0, 0, 0, 0, 0x11}}, peer_ip, mac_addr{}, our_ip,
                               mac_addr::broadcast()))
              .app(established, app_action::send_1000));
    write(dir, "raw-icmp-echo", input_writer{}.frame(ipv4_frame(peer_ip, wire::ip_protocol::icmp, echo_request(56)), true, true));
    {
        auto f = ipv4_frame(peer_ip, wire::ip_protocol::icmp, echo_request(32));
        // IHL 6: four bytes of options (NOP NOP NOP EOL) before the message
        std::vector<std::uint8_t> with_options(f.begin(), f.begin() + 34);
        with_options.insert(with_options.end(), {1, 1, 1, 0});
        with_options.insert(with_options.end(), f.begin() + 34, f.end());
        with_options[14] = 0x46;
        wire::store_be16(with_options.data() + 16, std::uint16_t(with_options.size() - 14));
        write(dir, "raw-icmp-echo-ip-options", input_writer{}.frame(with_options, true, true));
    }
    write(dir, "raw-ipv4-fragment",
          input_writer{}.frame(ipv4_frame(peer_ip, wire::ip_protocol::icmp, echo_request(24), wire::ipv4_flag_mf), true,
                               true));
    {
        auto f = arp_frame(wire::arp_op::request, peer_mac, peer_ip, mac_addr{}, our_ip, mac_addr::broadcast());
        std::vector<std::uint8_t> tagged(f.begin(), f.begin() + 12);
        tagged.insert(tagged.end(), {0x81, 0x00, 0x00, 0x07});
        tagged.insert(tagged.end(), f.begin() + 12, f.end());
        write(dir, "raw-vlan-tagged", input_writer{}.frame(tagged));
    }
    write(dir, "raw-off-link-syn",
          input_writer{}.frame(raw_segment(listen_80, 5000, 0, flag::syn, {}, 0), false, false)
              .frame(ipv4_frame(ipv4_addr::from_octets(198, 19, 0, 1), wire::ip_protocol::tcp,
                                std::vector<std::uint8_t>{0xc3, 0x50, 0, 80, 0, 0, 0x13, 0x88, 0, 0, 0, 0, 0x50, 0x02,
                                                          0xff, 0xff, 0, 0, 0, 0}),
                     true, true));
    write(dir, "raw-truncated", input_writer{}.frame(std::vector<std::uint8_t>{0x02, 0, 0, 0, 0, 0x02, 0x02, 0}));

    // ---- time and the application ----
    write(dir, "clock-retransmissions", input_writer{}.clock(0x80).clock(0x81).clock(0x83).clock(0x87));
    write(dir, "clock-everything-expires", input_writer{}.clock(0xbf).clock(0xff).clock(0xff).clock(0xff));
    write(dir, "clock-keepalive", input_writer{}.clock(0xa1).clock(0x84).clock(0x84).clock(0x84).clock(0x84));
    {
        input_writer w;
        for (std::size_t k = 0; k < tuple_count; ++k) w.app(k, app_action::send_1000).app(k, app_action::close);
        w.clock(0x81);
        write(dir, "app-send-and-close-everything", w);
    }
    {
        input_writer w;
        for (std::size_t k = 0; k < tuple_count; ++k) w.app(k, app_action::abort);
        write(dir, "app-abort-everything", w);
    }
    write(dir, "app-zero-copy-send",
          input_writer{}.app(established, app_action::send_block).app(active, app_action::send_block).clock(0x81));
    write(dir, "app-send-more-than-fits",
          input_writer{}.app(zero_window, app_action::send_70000).app(established, app_action::send_70000)
              .segment({.tuple = established, .flags = flag::ack, .options = ts}));
    write(dir, "app-connect-on-closed-port", input_writer{}.app(closed_port, app_action::connect).clock(0x81));
    write(dir, "app-unlisten-then-syn",
          input_writer{}.app(listen_80, app_action::toggle_listen)
              .segment({.tuple = listen_80, .flags = flag::syn, .options = syn_options})
              .app(listen_80, app_action::toggle_listen));
    write(dir, "app-device-refuses",
          input_writer{}.app(0, app_action::refuse_tx).app(established, app_action::send_20000).clock(0x84)
              .clock(0x84).app(0, app_action::refuse_tx).clock(0x81));
    write(dir, "app-shutdown-keeps-receiving",
          input_writer{}.app(established, app_action::shutdown)
              .segment({.tuple = established, .flags = flag::ack | flag::psh, .options = ts, .payload_units = 8})
              .app(established, app_action::drop_kept));
    write(dir, "app-report", input_writer{}.app(0, app_action::report));
}

} // namespace
} // namespace tern::fuzz

int main(int argc, char** argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: %s DIR\n", argv[0]);
        return 2;
    }
    const std::string prefix = "tern_corpus_" + std::to_string(getpid());
    const char* eal_args[] = {argv[0], "--no-huge", "-m", "128", "--no-pci", "--no-telemetry",
                              "--log-level", "*:error", "--file-prefix", prefix.c_str()};
    if (rte_eal_init(int(std::size(eal_args)), const_cast<char**>(eal_args)) < 0) {
        std::fprintf(stderr, "EAL start-up failed\n");
        return 1;
    }
    std::filesystem::create_directories(argv[1]);
    tern::fuzz::write_corpus(argv[1]);
    const std::string runtime_dir = rte_eal_get_runtime_dir();
    rte_eal_cleanup();
    std::error_code ignored;
    std::filesystem::remove_all(runtime_dir, ignored);
    return 0;
}
