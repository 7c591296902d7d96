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
        auto totals = target->totals();
        totals.emplace_back("mbufs_in_use", target->mbufs_in_use()); // all pools: what a leak shows in
        add_counters(d, totals);
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

// The protocol handler's report of every engine (or of the one named by params), each
// built on its engine's core. Engines that are not polling do not answer: -EAGAIN.
int collect_reports(const char* params, std::vector<std::pair<unsigned, handler_report>>& out) {
    std::size_t first = 0, last = target->engine_count();
    if (params && *params) {
        unsigned id = 0;
        auto [end, ec] = std::from_chars(params, params + std::strlen(params), id);
        if (ec != std::errc{} || *end != '\0' || id >= target->engine_count()) return -EINVAL;
        first = id;
        last = id + 1;
    }
    for (std::size_t i = first; i < last; ++i) {
        auto r = target->engine_at(i).request_report(std::chrono::milliseconds(500));
        if (!r) return -EAGAIN;
        out.emplace_back(unsigned(i), std::move(*r));
    }
    return 0;
}

void add_summed(rte_tel_data* d, const std::vector<std::pair<unsigned, handler_report>>& reports,
                std::vector<std::pair<std::string, std::uint64_t>> handler_report::*field) {
    std::vector<std::pair<std::string, std::uint64_t>> sum;
    for (auto& [id, r] : reports) {
        const auto& values = r.*field;
        if (sum.empty()) sum = values;
        else
            for (std::size_t k = 0; k < sum.size() && k < values.size(); ++k) sum[k].second += values[k].second;
    }
    rte_tel_data_start_dict(d);
    for (auto& [name, value] : sum) rte_tel_data_add_dict_u64(d, name.c_str(), value);
}

int on_tcp_stats(const char*, const char* params, rte_tel_data* d) {
    std::lock_guard lock(target_mutex);
    if (!target) return -ENODEV;
    std::vector<std::pair<unsigned, handler_report>> reports;
    if (int rc = collect_reports(params, reports); rc != 0) return rc;
    add_summed(d, reports, &handler_report::counters);
    return 0;
}

int on_tcp_states(const char*, const char* params, rte_tel_data* d) {
    std::lock_guard lock(target_mutex);
    if (!target) return -ENODEV;
    std::vector<std::pair<unsigned, handler_report>> reports;
    if (int rc = collect_reports(params, reports); rc != 0) return rc;
    add_summed(d, reports, &handler_report::states);
    return 0;
}

// Engine 0's IPv6 addresses with their state and its IPv6 neighbors (handler_report::ipv6).
int on_ipv6(const char*, const char*, rte_tel_data* d) {
    std::lock_guard lock(target_mutex);
    if (!target) return -ENODEV;
    std::vector<std::pair<unsigned, handler_report>> reports;
    if (int rc = collect_reports("0", reports); rc != 0) return rc;
    rte_tel_data_start_array(d, RTE_TEL_STRING_VAL);
    for (const std::string& line : reports.front().second.ipv6) rte_tel_data_add_array_string(d, line.c_str());
    return 0;
}

// {"total": N, "listed": M, "connections": ["<engine> <local> <remote> <STATE> rtt_us=.. ..", ...]}
int on_tcp_connections(const char*, const char* params, rte_tel_data* d) {
    std::lock_guard lock(target_mutex);
    if (!target) return -ENODEV;
    std::vector<std::pair<unsigned, handler_report>> reports;
    if (int rc = collect_reports(params, reports); rc != 0) return rc;
    rte_tel_data* lines = rte_tel_data_alloc();
    if (!lines) return -ENOMEM;
    rte_tel_data_start_array(lines, RTE_TEL_STRING_VAL);
    std::uint64_t total = 0, listed = 0;
    for (auto& [id, r] : reports) {
        total += r.connections_total;
        for (const std::string& c : r.connections) {
            if (listed == handler_report::max_listed) break; // the whole answer must fit 16 KiB
            rte_tel_data_add_array_string(lines, (std::to_string(id) + " " + c).c_str());
            ++listed;
        }
    }
    rte_tel_data_start_dict(d);
    rte_tel_data_add_dict_u64(d, "total", total);
    rte_tel_data_add_dict_u64(d, "listed", listed);
    rte_tel_data_add_dict_container(d, "connections", lines, 0); // d owns lines now
    return 0;
}

void register_once() {
    static std::once_flag once;
    std::call_once(once, [] {
        rte_telemetry_register_cmd("/tern/stats", on_stats,
                                   "Counters and drop reasons, summed over engines. Parameters: int engine id (optional)");
        rte_telemetry_register_cmd("/tern/arp", on_arp, "The neighbor (ARP) cache. Takes no parameters");
        rte_telemetry_register_cmd("/tern/ipv6", on_ipv6,
                                   "IPv6 addresses with their state, and IPv6 neighbors. Takes no parameters");
        rte_telemetry_register_cmd("/tern/port", on_port, "The port and its offloads. Takes no parameters");
        rte_telemetry_register_cmd("/tern/tcp/stats", on_tcp_stats,
                                   "TCP endpoint counters and drop reasons, summed. Parameters: int engine id (optional)");
        rte_telemetry_register_cmd("/tern/tcp/states", on_tcp_states,
                                   "TCP connections per state, summed. Parameters: int engine id (optional)");
        rte_telemetry_register_cmd("/tern/tcp/connections", on_tcp_connections,
                                   "TCP connections, at most 100: engine local remote state rtt_us cwnd unacked rtx. "
                                   "Parameters: int engine id (optional)");
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
