// Fuzzing the engine (issue 11): arbitrary input becomes frames, clock steps and
// application calls against ONE engine whose TCP endpoint has two listeners and a
// connection in every state of RFC 9293 §3.3.2, each on a known 4-tuple. Shared by the
// libFuzzer target (fuzz_engine.cpp), the GoogleTest replay of the corpus and of every
// crashing input (test_fuzz.cpp), and the corpus writer (make_corpus.cpp).
//
// The engine runs on a scripted device (tests/common/script_device.hpp) with a virtual
// clock, as in tests/engine and tests/tcp_engine: no NIC, no interface, no sleeping.
//
// The scene is built anew for every input (set-up: about 40 polls and 30 frames), not reset
// every N inputs: an input then means the same thing whenever it runs, so a crashing input
// replays alone, as a regression test must; and every input starts from every state. It
// costs about 1.5 ms of CPU an input under ASan and UBSan, set-up most of it; libFuzzer's
// entropic schedule, weighing the thousands of features each input touches, costs more than
// that again (136 inputs a second over a 30-minute run). For the same reason the endpoint's
// secrets (ISNs, cookies, hash seeds) come from a fixed seed (endpoint_core's replay
// constructor) and the clock starts at the same instant.
//
// ## Input format
//
// A sequence of records, each starting with an op byte whose low two bits say its kind.
// Whatever is missing at the end of the input reads as zero bytes; at most max_records
// records are read.
//
//   kind 0, frame:    op, length (2 bytes, big-endian), that many bytes: one Ethernet frame
//                     (cut to what is left of the input and to what an mbuf holds).
//                     op & 0x04: poll after queueing it (else it waits, in the same RX
//                     burst as the frames after it); op & 0x08: set the IPv4 header
//                     checksum and the TCP or ICMP checksum right before delivery.
//   kind 1, clock:    op, t: the clock moves by ((t & 31) + 1) * unit[t >> 5] (units 10 us,
//                     1 ms, 10 ms, 100 ms, 1 s, 10 s, 100 s, 1000 s), then the engine polls.
//   kind 2, app call: op, a: action a >> 4 on the stream of tuple a & 15 (see app_action),
//                     between two polls.
//   kind 3, segment:  op, tuple, flags, seq delta (2 bytes, signed), ack delta (2 bytes,
//                     signed), window (2 bytes), options, payload length / 8: a TCP segment
//                     from the peer of tuple `tuple & 15`, built as that peer would from
//                     what it has seen: SEG.SEQ = the peer's SND.NXT + seq delta (a delta
//                     of 0 sends in order and moves SND.NXT on), SEG.ACK = one past the
//                     highest sequence number the engine sent on the tuple + ack delta
//                     (op & 0x08: the peer's last SEG.ACK + ack delta, for duplicate ACKs).
//                     Options: 0x01 MSS 1460 (0x40: the MSS value follows, 2 bytes),
//                     0x02 window scale 7, 0x04 SACK-permitted, 0x08 timestamps (TSval the
//                     peer's clock, TSecr the last TSval it saw; 0x80: both follow, 4 + 4
//                     bytes, after any SACK blocks), bits 4-5: 0 to 3 SACK blocks, each
//                     2 bytes signed left edge relative to SEG.ACK and 2 bytes length.
//                     op & 0x04: poll after queueing it.
//
// Segments (kind 3) reach the connections' windows without the fuzzer guessing sequence
// numbers; frames (kind 0) reach everything else, the parsers first. The seed corpus
// (tests/fuzz/corpus, written by make_corpus) holds both.
//
// ## What makes an input fail (abort, with a message on stderr)
//
// - A sanitizer report (ASan, UBSan) or an assertion in tern.
// - A frame the engine sent that is not valid Ethernet + ARP, or Ethernet + IPv4 + TCP or
//   ICMP echo reply with correct checksums, from our MAC and address, within the MTU.
// - A connection whose control block breaks RFC 9293's invariants
//   (SND.UNA <= SND.NXT <= SND.MAX, no more in flight than the send buffer holds).
// - A received frame neither dropped with a reason nor consumed (engine counters).
// - mbufs not all back in the pool once the scene is torn down (a leak).
// - The scene not reaching its states at set-up (the fuzzer would lose them silently).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "tern/addr.hpp"
#include "tern/tcp.hpp"
#include "tern/time.hpp"

struct rte_mempool;

namespace tern::fuzz {

inline constexpr mac_addr our_mac{{0x02, 0, 0, 0, 0, 0x02}};
inline constexpr mac_addr peer_mac{{0x02, 0, 0, 0, 0, 0x01}};
inline constexpr ipv4_addr our_ip = ipv4_addr::from_octets(198, 18, 0, 2);
inline constexpr ipv4_addr peer_ip = ipv4_addr::from_octets(198, 18, 0, 1);
inline constexpr ipv4_addr silent_ip = ipv4_addr::from_octets(198, 18, 0, 3); // never answers ARP
inline constexpr ipv4_addr gateway_ip = ipv4_addr::from_octets(198, 18, 0, 254);
inline constexpr std::uint16_t mtu = 1500;

// One 4-tuple of the scene and the state set-up leaves it in (closed: no connection).
struct tuple_spec {
    std::string_view name;
    std::uint16_t local_port;
    ipv4_addr remote;
    std::uint16_t remote_port;
    tcp::tcp_state state;
    bool timestamps; // the peer sends timestamps (and the other options) on this tuple
};

inline constexpr std::size_t tuple_count = 16;
extern const std::array<tuple_spec, tuple_count> tuples;

// Application calls (kind 2 records), by the action number a >> 4.
enum class app_action : std::uint8_t {
    send_1,        // stream::send of 1 byte
    send_1000,
    send_20000,
    send_70000,    // more than any send buffer holds
    shutdown,
    close,
    abort,
    send_block,    // zero-copy: allocate 1000 bytes and send the block
    drop_kept,     // release the received data the application kept
    connect,       // connect() on the tuple (from its local port), when nothing holds it
    toggle_listen, // unlisten, or listen again, on the tuple's local port (80 or 81)
    report,        // telemetry's report and tcp_info of every connection
    refuse_tx,     // the device refuses output until the next refuse_tx
};

// Builds inputs in the format above: the corpus writer and the tests use it.
class input_writer {
public:
    input_writer& frame(std::span<const std::uint8_t> bytes, bool poll = true, bool fix_checksums = false);
    input_writer& clock(std::uint8_t t);
    input_writer& app(std::size_t tuple, app_action action);
    struct segment_spec {
        std::size_t tuple = 0;
        std::uint8_t flags = 0;
        std::int16_t seq_delta = 0;
        std::int16_t ack_delta = 0;
        std::uint16_t window = 65535;
        std::uint8_t options = 0;
        std::uint8_t payload_units = 0; // payload length / 8
        std::uint16_t mss = 0;          // with options & 0x40
        std::vector<std::pair<std::int16_t, std::uint16_t>> sacks; // up to 3
        std::uint32_t tsval = 0, tsecr = 0; // with options & 0x80
        bool poll = true;
        bool ack_from_last_ack = false;
    };
    input_writer& segment(const segment_spec& s);
    const std::vector<std::uint8_t>& bytes() const { return out_; }

private:
    std::vector<std::uint8_t> out_;
};

inline constexpr std::uint8_t opt_mss = 0x01, opt_wscale = 0x02, opt_sack_permitted = 0x04, opt_timestamps = 0x08,
                              opt_mss_value = 0x40, opt_ts_values = 0x80;
inline constexpr std::uint8_t opt_sack_blocks(std::size_t n) { return std::uint8_t((n & 3) << 4); }
inline constexpr std::size_t max_records = 512;

// The pool every scene takes its mbufs from, made on first use (after rte_eal_init).
rte_mempool* pool();

// Builds the scene, runs `input` against it, tears it down and checks that every mbuf came
// back. Aborts on any failed check (see above). Returns a digest of every frame the engine
// sent: the same input gives the same digest (the endpoint's secrets come from a fixed seed).
std::uint64_t run_input(std::span<const std::uint8_t> input);

// The check every sent frame passes: what is wrong with `frame`, or nothing.
std::optional<std::string> sent_frame_problem(std::span<const std::uint8_t> frame);
// What op & 0x08 does to a frame record: the IPv4 header checksum and the TCP or ICMP one.
void set_checksums(std::span<std::uint8_t> frame);

// What set-up leaves on each tuple, for the corpus writer: the peer's next sequence number,
// one past the highest sequence number the engine sent, and the last TSval it sent.
struct tuple_view {
    std::uint32_t peer_snd_nxt = 0;
    std::uint32_t engine_snd_max = 0;
    std::uint32_t engine_tsval = 0;
    bool engine_sent = false;
};
std::array<tuple_view, tuple_count> scene_after_setup();

// Every set-up state the scene reaches (for the test that the scene is what it says).
std::vector<tcp::tcp_state> states_after_setup();

} // namespace tern::fuzz
