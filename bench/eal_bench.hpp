// The EAL for the benchmarks that need mbufs, brought up by the first one that asks, as
// the tests do it (no hugepages, no PCI, a file prefix of our own), and main(), which
// takes it down afterwards and removes the runtime folder it leaves.
#pragma once

#include <filesystem>
#include <iterator>
#include <string>
#include <system_error>

#include <benchmark/benchmark.h>
#include <rte_eal.h>
#include <unistd.h>

namespace tern::bench {

inline bool eal_started = false;

inline bool start_eal() {
    static const bool ok = [] {
        static std::string prefix = "tern_bench_" + std::to_string(getpid());
        const char* args[] = {"tern_bench", "--no-huge", "-m", "512", "--no-pci", "--no-telemetry",
                              "--log-level", "*:error", "--file-prefix", prefix.c_str()};
        if (rte_eal_init(int(std::size(args)), const_cast<char**>(args)) < 0) return false;
        eal_started = true;
        return true;
    }();
    return ok;
}

inline void stop_eal() {
    if (!eal_started) return;
    const std::string runtime_dir = rte_eal_get_runtime_dir();
    rte_eal_cleanup();
    std::error_code ignored;
    std::filesystem::remove_all(runtime_dir, ignored);
}

inline int run_benchmarks(int argc, char** argv) {
    benchmark::Initialize(&argc, argv);
    if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    stop_eal();
    return 0;
}

} // namespace tern::bench
