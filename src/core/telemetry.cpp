#include "core/telemetry.hpp"

#include <atomic>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <string>

#include <rte_telemetry.h>

#include "core/runtime.hpp"

namespace tern {

namespace {

std::mutex target_mutex; // held by callbacks while they read, so detach waits for them
runtime* target = nullptr;

void add_counters(rte_tel_data* d, const std::vector<std::pair<std::string_view, std::uint64_t>>& counters) {
    rte_tel_data_start_dict(d);
    for (auto& [name, value] : counters) rte_tel_data_add_dict_u64(d, std::string(name).c_str(), value);
}

int on_stats(const char*, const char* params, rte_tel_data* d) {
    std::lock_guard lock(target_mutex);
    if (!target) return -ENODEV;
    if (!params || !*params) {
        add_counters(d, target->totals());
        return 0;
    }
    unsigned id = 0;
    auto [end, ec] = std::from_chars(params, params + std::strlen(params), id);
    if (ec != std::errc{} || *end != '\0' || id >= target->engine_count()) return -EINVAL;
    add_counters(d, target->engine_at(id).stats().snapshot());
    return 0;
}

int on_arp(const char*, const char*, rte_tel_data* d) {
    std::lock_guard lock(target_mutex);
    if (!target) return -ENODEV;
    rte_tel_data_start_array(d, RTE_TEL_STRING_VAL);
    instant now = target->now();
    for (const neighbor& n : target->neighbors().entries()) {
        std::string line = n.ip.to_string() + " " + n.mac.to_string();
        if (n.is_static) line += " static";
        else if (n.expires <= now) line += " expired";
        else line += " learned";
        rte_tel_data_add_array_string(d, line.c_str());
    }
    return 0;
}

int on_port(const char*, const char*, rte_tel_data* d) {
    std::lock_guard lock(target_mutex);
    if (!target) return -ENODEV;
    rte_tel_data_string(d, target->eth_port().describe().c_str());
    return 0;
}

void register_once() {
    static std::once_flag once;
    std::call_once(once, [] {
        rte_telemetry_register_cmd("/tern/stats", on_stats,
                                   "Counters and drop reasons, summed over engines. Parameters: int engine id (optional)");
        rte_telemetry_register_cmd("/tern/arp", on_arp, "The neighbor (ARP) cache. Takes no parameters");
        rte_telemetry_register_cmd("/tern/port", on_port, "The port and its offloads. Takes no parameters");
    });
}

} // namespace

void telemetry_attach(runtime* rt) {
    register_once();
    std::lock_guard lock(target_mutex);
    target = rt;
}

void telemetry_detach(runtime* rt) {
    std::lock_guard lock(target_mutex);
    if (target == rt) target = nullptr;
}

} // namespace tern
