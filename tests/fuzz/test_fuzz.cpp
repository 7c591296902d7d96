// The engine fuzz harness in the test build (GCC's ASan and UBSan): the scene is what it says
// it is, its checks catch what they are for, and every input the project keeps replays
// cleanly: the seed corpus (corpus/) and each crashing input the fuzzer found
// (regressions/, one file per bug, a test case each). An input that fails aborts this
// executable, which scripts/test counts as a failure.
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "engine_fuzz.hpp"
#include "wire/ethernet.hpp"
#include "wire/ipv4.hpp"
#include "wire/tcp.hpp"

namespace tern::fuzz {
namespace {

std::vector<std::uint8_t> read_file(const std::filesystem::path& p) {
    std::ifstream in(p, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

std::vector<std::filesystem::path> files_in(const std::string& dir) {
    std::vector<std::filesystem::path> out;
    for (const auto& e : std::filesystem::directory_iterator(std::string(TERN_FUZZ_DIR) + "/" + dir))
        if (e.is_regular_file() && e.path().filename().string()[0] != '.') out.push_back(e.path());
    std::sort(out.begin(), out.end());
    return out;
}

// Set-up reaches every state of RFC 9293 §3.3.2 but CLOSED (each tuple's own state the
// scene checks itself, aborting otherwise; this checks that together they cover them all).
TEST(engine_fuzz, scene_has_a_connection_in_every_state) {
    const auto states = states_after_setup();
    ASSERT_EQ(states.size(), tuple_count);
    for (std::size_t s = 1; s < tcp::tcp_state_count; ++s) // 0 is CLOSED
        EXPECT_NE(std::find(states.begin(), states.end(), tcp::tcp_state(s)), states.end())
            << tcp::to_string(tcp::tcp_state(s));
}

// The endpoint's secrets come from a fixed seed, so an input replays exactly; and an input
// changes what the engine sends (the digest sees the output).
TEST(engine_fuzz, an_input_replays_exactly) {
    input_writer w;
    w.segment({.tuple = 4, .flags = wire::tcp_flags::ack, .options = opt_timestamps, .payload_units = 20});
    w.clock(0x81); // 2 s: RTO and delayed ACK
    EXPECT_EQ(run_input(w.bytes()), run_input(w.bytes()));
    EXPECT_NE(run_input(w.bytes()), run_input({}));
}

// The check on sent frames passes a good frame and finds each kind of damage.
TEST(engine_fuzz, sent_frame_check_finds_damage) {
    std::vector<std::uint8_t> frame(wire::ethernet_header_len + wire::ipv4_repr::header_length + 20);
    wire::ethernet_repr{peer_mac, our_mac, wire::ether_type::ipv4}.emit(frame.data());
    wire::ipv4_repr{our_ip, peer_ip, wire::ip_protocol::tcp, 64, 1, 20, true, 0}.emit(frame.data() + 14);
    wire::tcp_repr{80, 50000, 1, 2, wire::tcp_flags::ack, 100, 0, {}}.emit(frame.data() + 34, our_ip, peer_ip, {},
                                                                          wire::checksum_mode::software);
    EXPECT_EQ(sent_frame_problem(frame), std::nullopt);

    auto damaged = [&](std::size_t at, std::uint8_t x) {
        auto f = frame;
        f[at] ^= x;
        return sent_frame_problem(f);
    };
    EXPECT_NE(damaged(34 + 4, 1), std::nullopt);  // TCP sequence number: checksum
    EXPECT_NE(damaged(14 + 8, 1), std::nullopt);  // TTL: IPv4 header checksum
    EXPECT_NE(damaged(6, 1), std::nullopt);       // Ethernet source
    EXPECT_NE(damaged(0, 1), std::nullopt);       // multicast destination MAC

    auto resummed = [&](std::size_t at, std::uint8_t x) {
        auto f = frame;
        f[at] ^= x;
        set_checksums(f);
        return sent_frame_problem(f);
    };
    EXPECT_EQ(resummed(34 + 4, 1), std::nullopt); // a new sequence number, checksums right
    EXPECT_NE(resummed(34 + 13, wire::tcp_flags::ack), std::nullopt); // no ACK
    EXPECT_NE(resummed(34 + 13, wire::tcp_flags::syn | wire::tcp_flags::rst), std::nullopt);
    EXPECT_NE(resummed(14 + 15, 1), std::nullopt); // IPv4 source not ours
}

TEST(engine_fuzz, seed_corpus_replays) {
    const auto files = files_in("corpus");
    EXPECT_GE(files.size(), 20u);
    for (const auto& f : files) {
        SCOPED_TRACE(f.filename().string());
        (void)run_input(read_file(f));
    }
}

// One case per crashing input kept (regressions/NAME): it must run clean.
class fuzz_regression : public ::testing::TestWithParam<std::filesystem::path> {};

TEST_P(fuzz_regression, runs_clean) { (void)run_input(read_file(GetParam())); }

INSTANTIATE_TEST_SUITE_P(regressions, fuzz_regression, ::testing::ValuesIn(files_in("regressions")),
                         [](const ::testing::TestParamInfo<std::filesystem::path>& info) {
                             std::string name = info.param.filename().string();
                             for (char& c : name)
                                 if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
                             return name;
                         });
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(fuzz_regression);

} // namespace
} // namespace tern::fuzz
