// main() for test executables that need mbufs: the EAL comes up once, without hugepages,
// PCI devices or telemetry, under a file prefix of its own so that runs never meet.
#include <cstdio>
#include <filesystem>
#include <iterator>
#include <string>

#include <gtest/gtest.h>
#include <rte_eal.h>
#include <unistd.h>

int main(int argc, char** argv) {
    ::testing::InitGoogleTest(&argc, argv);
    std::string prefix = "tern_test_" + std::to_string(getpid());
    const char* eal_args[] = {argv[0], "--no-huge", "-m", "512", "--no-pci", "--no-telemetry",
                              "--log-level", "*:error", "--file-prefix", prefix.c_str()};
    if (rte_eal_init(int(std::size(eal_args)), const_cast<char**>(eal_args)) < 0) {
        std::fprintf(stderr, "EAL start-up failed\n");
        return 1;
    }
    int rc = RUN_ALL_TESTS();
    // The EAL leaves its runtime folder behind; one per test run would pile up.
    std::string runtime_dir = rte_eal_get_runtime_dir();
    rte_eal_cleanup();
    std::error_code ignored;
    std::filesystem::remove_all(runtime_dir, ignored);
    return rc;
}
