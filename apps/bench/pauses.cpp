#include "bench/pauses.hpp"

#include <pthread.h>
#include <sched.h>

#include <algorithm>
#include <cstring>
#include <stdexcept>
#include <string>
#include <thread>

namespace tern::bench {

void pause_meter::reading(time_point t) {
    if (!started_) {
        started_ = true;
        first_ = last_ = t;
        return;
    }
    const double us = std::chrono::duration<double, std::micro>(t - last_).count();
    last_ = t;
    count_.over_10us += us > 10;
    count_.over_20us += us > 20;
    count_.over_100us += us > 100;
    count_.longest_us = std::max(count_.longest_us, us);
}

pause_count pause_meter::result(int core) const {
    pause_count c = count_;
    c.core = core;
    c.seconds = std::chrono::duration<double>(last_ - first_).count();
    return c;
}

namespace {

void pin_to(int core) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(core, &set);
    if (const int rc = ::pthread_setaffinity_np(::pthread_self(), sizeof set, &set); rc != 0)
        throw std::runtime_error("cannot pin a thread to core " + std::to_string(core) + ": " + std::strerror(rc));
}

} // namespace

std::vector<pause_count> measure_pauses(const std::vector<int>& cores, std::chrono::milliseconds span) {
    std::vector<pause_count> counts(cores.size());
    std::vector<std::string> errors(cores.size());
    std::vector<std::thread> threads;
    for (std::size_t i = 0; i < cores.size(); ++i) {
        threads.emplace_back([&, i] {
            try {
                pin_to(cores[i]);
                pause_meter meter;
                // The reading at or past the end is taken too: a pause that crosses the end
                // is counted, and the span measured is never shorter than the one asked.
                const auto start = std::chrono::steady_clock::now(), end = start + span;
                for (auto t = start;; t = std::chrono::steady_clock::now()) {
                    meter.reading(t);
                    if (t >= end) break;
                }
                counts[i] = meter.result(cores[i]);
            } catch (const std::exception& e) {
                errors[i] = e.what();
            }
        });
    }
    for (auto& t : threads) t.join();
    for (auto& e : errors)
        if (!e.empty()) throw std::runtime_error(e);
    return counts;
}

} // namespace tern::bench
