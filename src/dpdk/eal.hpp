// EAL start-up: DPDK's own arguments pass through untouched (`app [EAL args] -- [app args]`).
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "dpdk/setup_error.hpp"
#include "tern/result.hpp"

namespace tern {

class eal {
public:
    // Initialises the EAL with argv up to "--" and checks that every --vdev it was given came
    // up (the EAL starts without a device its driver refused). On success, `app_args()` holds
    // argv[0] followed by what came after "--". A failure is one line saying why: what tern can
    // tell itself (hugepages, the runtime folder in use, a TAP permission, a driver name DPDK
    // does not know) or else DPDK's own first error line, quoted.
    static result<eal, setup_error> start(int argc, char** argv);

    eal(eal&& other) noexcept : active_(other.active_), app_args_(std::move(other.app_args_)) { other.active_ = false; }
    eal& operator=(eal&&) = delete;
    eal(const eal&) = delete;
    ~eal();

    const std::vector<std::string>& app_args() const { return app_args_; }

private:
    explicit eal(std::vector<std::string> app_args) : active_(true), app_args_(std::move(app_args)) {}

    bool active_;
    std::vector<std::string> app_args_;
};

// Runs work(arg) on the EAL's interrupt thread and waits for it; false when that thread did
// not take it up within `timeout` (then work has not run, and will not). Drivers handle their
// control events there (memif a peer's connect and disconnect, TAP its link changes), most
// of them with no lock against the application's control calls: a call made from this
// thread cannot overlap them. EAL alarms run on that thread, which is how the work gets there.
bool run_on_interrupt_thread(void (*work)(void*), void* arg, std::chrono::milliseconds timeout);

} // namespace tern
