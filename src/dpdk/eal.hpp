// EAL start-up: DPDK's own arguments pass through untouched (`app [EAL args] -- [app args]`).
#pragma once

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

} // namespace tern
