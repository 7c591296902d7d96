#include "core/runtime.hpp"

#include <algorithm>
#include <cstdio>

#include <rte_lcore.h>
#include <rte_launch.h>
#include <rte_mbuf.h>

#include "core/telemetry.hpp"

namespace tern {

result<std::unique_ptr<runtime>, setup_error> runtime::create(const runtime_options& options) {
    auto fail = [](std::string message) { return unexpected{setup_error{std::move(message)}}; };
    const engine_config& cfg = options.engine;
    if (cfg.engines == 0) return fail("at least one engine is needed");
    if (options.faults)
        if (auto ok = options.faults->validate(); !ok) return fail("faults: " + ok.error());
    if (rte_lcore_count() < cfg.engines)
        return unexpected{setup_error{std::to_string(cfg.engines) + " engines need " + std::to_string(cfg.engines) +
                                          " lcores; the EAL has " + std::to_string(rte_lcore_count()) +
                                          " (pass e.g. -l 0-" + std::to_string(cfg.engines - 1) + ")",
                                      setup_error::setting::engines, true}};
    auto port_id = options.port_id ? result<std::uint16_t, std::string>(*options.port_id) : port::first_available();
    if (!port_id) return fail(port_id.error());
    // Before the pools: an MTU the port refuses is named as such, not as the memory it took.
    auto limits = port::limits(*port_id);
    if (!limits) return unexpected{limits.error()};
    const std::uint16_t data_room = mbuf_data_room(cfg.mtu);
    if (auto no = mtu_refusal(*limits, cfg.mtu, data_room - RTE_PKTMBUF_HEADROOM))
        return unexpected{setup_error{*no, setup_error::setting::mtu, true}};

    const std::uint16_t queues = cfg.queues != 0 ? cfg.queues : cfg.engines;
    if (queues < cfg.engines)
        return unexpected{setup_error{std::to_string(queues) + " is fewer than the " + std::to_string(cfg.engines) +
                                          " engines: each engine needs a queue pair of its own",
                                      setup_error::setting::queues, true}};
    if (queues > limits->max_queue_pairs)
        return unexpected{setup_error{std::to_string(queues) + " queue pairs asked; port " + std::to_string(*port_id) +
                                          " (" + limits->driver + ") has at most " +
                                          std::to_string(limits->max_queue_pairs),
                                      cfg.queues != 0 ? setup_error::setting::queues : setup_error::setting::engines,
                                      true}};

    std::unique_ptr<runtime> rt(new runtime());
    port_config pc;
    pc.queues = queues;
    pc.rss_queues = cfg.engines;
    pc.rx_ring_size = cfg.rx_ring;
    pc.tx_ring_size = cfg.tx_ring;
    pc.mtu = cfg.mtu;
    pc.disable_offloads = cfg.disable_offloads;
    for (std::uint16_t i = 0; i < cfg.engines; ++i) {
        // Each mbuf holds a whole frame of the MTU (no scatter RX, one-mbuf TCP segments).
        auto pool = mbuf_pool::create("tern_pool_" + std::to_string(i), cfg.pool_size, data_room);
        // Memory is the machine's (hugepages, or -m without them), but the pool size says how
        // much was asked: the apps name it, and the exit says "machine".
        if (!pool)
            return unexpected{setup_error{pool.error() + "; ask for fewer mbufs, or give the EAL more memory "
                                                           "(hugepages, or -m with --no-huge)",
                                          setup_error::setting::pool_size}};
        pc.pools.push_back(pool->get());
        rt->pools_.push_back(std::move(*pool));
    }
    // A queue beyond the engines' own is read by engine q % engines, into that engine's pool.
    for (std::uint16_t q = cfg.engines; q < queues; ++q) pc.pools.push_back(pc.pools[q % cfg.engines]);
    auto p = port::open(*port_id, pc);
    if (!p) return unexpected{p.error()};
    rt->port_.emplace(std::move(*p));
    rt->link_.emplace(*port_id);

    if (options.pcap_path) {
        auto file = capture_file::open(*options.pcap_path, rt->port_->mtu());
        if (!file) return unexpected{file.error()};
        rt->capture_ = std::move(*file);
    }
    // One clock for all engines: the neighbor cache holds instants that every engine compares.
    rt->clock_ = std::make_unique<tsc_clock>();
    for (std::uint16_t i = 0; i < cfg.engines; ++i) {
        std::vector<std::uint16_t> more_rx;
        for (std::uint32_t q = i + cfg.engines; q < queues; q += cfg.engines) more_rx.push_back(std::uint16_t(q));
        rt->devices_.push_back(std::make_unique<ethdev_queue>(*port_id, i, *rt->link_, std::move(more_rx)));
        if (options.faults) {
            fault_config faults = *options.faults;
            faults.seed += i;
            auto wrapper = std::make_unique<fault_device>(*rt->devices_.back(), *rt->clock_, faults);
            rt->faults_.push_back(wrapper.get());
            rt->devices_.push_back(std::move(wrapper));
        }
        if (rt->capture_)
            rt->devices_.push_back(std::make_unique<capture_device>(*rt->devices_.back(), *rt->capture_, *port_id, i));
        engine_port ep{*port_id, i, rt->port_->mac(), rt->port_->offloads(), rt->port_->mtu()};
        rt->engines_.push_back(std::make_unique<engine>(i, cfg, ep, *rt->devices_.back(), rt->pools_[i].get(),
                                                        rt->neighbors_, *rt->clock_));
    }
    if (cfg.engines > 1) {
        const std::uint32_t entries = rt->port_->redirection_entries();
        auto st = steering::create(cfg.engines, steering::default_ring_size,
                                   entries != 0 ? entries : std::max<std::uint32_t>(steering::table_size, cfg.engines));
        if (!st) return fail(st.error());
        rt->steering_ = std::move(*st);
        for (auto& e : rt->engines_) e->set_steering(rt->steering_.get());
    }
    for (auto& [ip, mac] : cfg.arp.static_entries) rt->neighbors_.update(ip, mac, instant::max(), true);
    for (ipv4_addr ip : options.resolve) rt->engines_[0]->resolve(ip);
    telemetry_attach(rt.get());
    return rt;
}

runtime::~runtime() { telemetry_detach(this); }

int runtime::launch(void* arg) {
    auto* job = static_cast<lcore_job*>(arg);
    job->eng->run(*job->stop);
    return 0;
}

void runtime::run(const std::atomic<bool>& stop) {
    for (auto& e : engines_) e->start();
    jobs_.clear();
    for (std::size_t i = 1; i < engines_.size(); ++i) jobs_.push_back(lcore_job{engines_[i].get(), &stop});
    unsigned lcore;
    std::size_t next = 0;
    RTE_LCORE_FOREACH_WORKER(lcore) {
        if (next == jobs_.size()) break;
        rte_eal_remote_launch(launch, &jobs_[next++], lcore);
    }
    engines_[0]->run(stop);
    rte_eal_mp_wait_lcore();
}

std::vector<std::pair<std::string_view, std::uint64_t>> runtime::totals() const {
    auto sum = engines_[0]->stats().snapshot();
    for (std::size_t i = 1; i < engines_.size(); ++i) {
        auto more = engines_[i]->stats().snapshot();
        for (std::size_t k = 0; k < sum.size(); ++k) sum[k].second += more[k].second;
    }
    return sum;
}

fault_counters runtime::fault_totals(fault_direction dir) const {
    fault_counters sum;
    for (const fault_device* f : faults_) {
        const fault_counters c = f->counters(dir);
        sum.received += c.received;
        sum.passed += c.passed;
        sum.dropped += c.dropped;
        sum.duplicated += c.duplicated;
        sum.corrupted += c.corrupted;
        sum.ce_marked += c.ce_marked;
        sum.delayed += c.delayed;
        sum.reordered += c.reordered;
        sum.copy_failed += c.copy_failed;
        sum.held += c.held;
    }
    return sum;
}

} // namespace tern
