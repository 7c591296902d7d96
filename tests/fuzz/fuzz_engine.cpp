// The libFuzzer target (meson -Dfuzz=true, clang): every input runs against a scene built
// anew (engine_fuzz.hpp). The EAL comes up once per process, as in tests/common/eal_main.cpp:
// no hugepages, no PCI, no telemetry, a file prefix of its own.
//
//   build-fuzz/tests/fuzz/fuzz_engine -max_len=4096 CORPUS_COPY tests/fuzz/corpus
//   build-fuzz/tests/fuzz/fuzz_engine CRASH_FILE          (replays one input)
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iterator>
#include <string>

#include <rte_eal.h>
#include <unistd.h>

#include "engine_fuzz.hpp"

namespace {

std::string runtime_dir;

// The EAL leaves its runtime folder behind; one per run would pile up.
void clean_up() {
    rte_eal_cleanup();
    std::error_code ignored;
    std::filesystem::remove_all(runtime_dir, ignored);
}

} // namespace

extern "C" int LLVMFuzzerInitialize(int* /*argc*/, char*** argv) {
    static const std::string prefix = "tern_fuzz_" + std::to_string(getpid());
    const char* eal_args[] = {(*argv)[0], "--no-huge", "-m", "128", "--no-pci", "--no-telemetry",
                              "--log-level", "*:error", "--file-prefix", prefix.c_str()};
    if (rte_eal_init(int(std::size(eal_args)), const_cast<char**>(eal_args)) < 0) {
        std::fprintf(stderr, "EAL start-up failed\n");
        std::exit(1);
    }
    runtime_dir = rte_eal_get_runtime_dir();
    std::atexit(clean_up);
    (void)tern::fuzz::pool();
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    (void)tern::fuzz::run_input({data, size});
    return 0;
}
