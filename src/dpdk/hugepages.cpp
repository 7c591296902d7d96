#include "dpdk/hugepages.hpp"

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace tern {

namespace {

namespace fs = std::filesystem;

std::uint64_t read_number(const fs::path& file) {
    std::uint64_t n = 0;
    std::ifstream(file) >> n;
    return n;
}

std::string page_size(std::uint64_t kib) {
    return kib >= (1u << 20) ? std::to_string(kib >> 20) + " GiB" : std::to_string(kib >> 10) + " MiB";
}

// "2048 free of 2048 pages of 2 MiB", each page size in turn.
std::string describe(const std::vector<hugepage_pool>& pools) {
    std::string text;
    for (const hugepage_pool& p : pools) {
        if (p.reserved == 0) continue;
        // Appended piece by piece: a string literal chosen by ?: and then added to made GCC
        // 12 warn (link time) of a memcpy past any object size.
        if (!text.empty()) text += ", ";
        text += std::to_string(p.free) + " free of " + std::to_string(p.reserved) + " pages of " + page_size(p.page_kib);
    }
    return text;
}

std::string join(const std::vector<std::string>& items) {
    std::string text;
    for (const std::string& s : items) text += (text.empty() ? "" : ", ") + s;
    return text;
}

// DPDK takes a --huge-dir that is a hugetlbfs mount point or a folder inside one.
bool on_hugetlbfs(const std::string& dir, const std::vector<std::string>& mounts) {
    std::error_code ec;
    fs::path real = fs::weakly_canonical(dir, ec);
    const std::string path = ec ? dir : real.string();
    return std::any_of(mounts.begin(), mounts.end(), [&](const std::string& m) {
        return path == m || path.starts_with(m.ends_with('/') ? m : m + "/");
    });
}

constexpr const char* reserve = "echo N > /proc/sys/vm/nr_hugepages";

} // namespace

hugepage_state read_hugepage_state() {
    hugepage_state state;
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator("/sys/kernel/mm/hugepages", ec)) {
        // Folders are named hugepages-2048kB.
        hugepage_pool p;
        if (std::sscanf(entry.path().filename().c_str(), "hugepages-%" SCNu64 "kB", &p.page_kib) != 1) continue;
        p.reserved = read_number(entry.path() / "nr_hugepages");
        p.free = read_number(entry.path() / "free_hugepages");
        state.pools.push_back(p);
    }
    std::ifstream mounts("/proc/mounts");
    for (std::string line; std::getline(mounts, line);) {
        std::istringstream fields(line);
        std::string device, point, type;
        if (fields >> device >> point >> type && type == "hugetlbfs") state.mounts.push_back(point);
    }
    return state;
}

std::optional<setup_error> hugepage_shortage(const hugepage_state& state, const std::optional<std::string>& huge_dir,
                                             bool out_of_memory, const std::string& dpdk_says) {
    const std::string mounted = state.mounts.empty() ? "no hugetlbfs is mounted" : "hugetlbfs is at " + join(state.mounts);
    if (huge_dir && !on_hugetlbfs(*huge_dir, state.mounts))
        return setup_error{"--huge-dir: " + *huge_dir + " is not on a hugetlbfs mount (" + mounted +
                               "); give one, or pass --no-huge",
                           setup_error::setting::none, true};
    if (state.mounts.empty())
        return setup_error{"no hugepages: no hugetlbfs is mounted; mount one (mount -t hugetlbfs nodev /dev/hugepages) "
                           "or pass --no-huge"};
    std::uint64_t reserved = 0, free = 0;
    for (const hugepage_pool& p : state.pools) reserved += p.reserved, free += p.free;
    if (reserved == 0)
        return setup_error{std::string("no hugepages: none are reserved; reserve some (") + reserve + ") or pass --no-huge"};
    if (free == 0)
        return setup_error{"no hugepages free: " + describe(state.pools) + " (other processes have them); reserve more (" +
                           reserve + ") or pass --no-huge"};
    if (out_of_memory)
        return setup_error{"not enough hugepages: " + (dpdk_says.empty() ? "" : dpdk_says + "; ") + describe(state.pools) +
                           "; ask for less memory (-m) or reserve more (" + reserve + ")"};
    return std::nullopt;
}

} // namespace tern
