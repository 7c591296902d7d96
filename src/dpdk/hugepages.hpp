// What the kernel offers in hugepages, to say why the EAL found no memory to start with.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "dpdk/setup_error.hpp"

namespace tern {

struct hugepage_pool {
    std::uint64_t page_kib = 0;
    std::uint64_t reserved = 0; // nr_hugepages
    std::uint64_t free = 0;     // free_hugepages: reserved and not yet taken by any process
};

struct hugepage_state {
    std::vector<hugepage_pool> pools;   // one per page size (/sys/kernel/mm/hugepages)
    std::vector<std::string> mounts;    // where hugetlbfs is mounted (/proc/mounts)
};

hugepage_state read_hugepage_state();

// Why the EAL had no hugepage memory, as one line with what to do, or nothing when `state`
// shows hugepages it could have used. `huge_dir` is the EAL's --huge-dir if one was given;
// `out_of_memory` says the EAL found some but not enough (ENOMEM), and then `dpdk_says`, its
// own line, is quoted for the amounts.
std::optional<setup_error> hugepage_shortage(const hugepage_state& state, const std::optional<std::string>& huge_dir,
                                             bool out_of_memory, const std::string& dpdk_says);

} // namespace tern
