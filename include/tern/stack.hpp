// Starting tern in a program of your own: DPDK's EAL, the port, and one engine per lcore,
// each with a tcp_endpoint (tern/tcp.hpp) that the program makes on it; then run() until a
// stop flag is set. The engines work inside run(), each on its lcore, and call the
// program's app_events there. Nothing here is thread-safe: set everything up on the main
// thread before run(), and read the endpoints again once run() has returned.
//
//   int main(int argc, char** argv) {
//       auto s = tern::stack::start(argc, argv);  // DPDK's arguments, up to "--"
//       if (!s) { std::fprintf(stderr, "%s\n", s.error().message.c_str()); return 1; }
//       // (*s)->app_args(): argv[0] and what came after "--"
//       tern::engine_config config;
//       config.address = *tern::ipv4_cidr::parse("198.18.0.2/24");
//       if (auto up = (*s)->create(config); !up) { ... up.error().message ... }
//       tern::tcp::tcp_endpoint ep((*s)->engine_at(0), tern::tcp::tcp_config{});
//       my_app app;                               // a tern::tcp::app_events
//       ep.listen(7, {}, app);
//       (*s)->run(stop);                          // a std::atomic<bool> a signal handler sets
//   }
#pragma once

#include <atomic>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "tern/config.hpp"
#include "tern/result.hpp"
#include "tern/time.hpp"

namespace tern {

class engine;

class stack {
public:
    // Why tern could not start, in one line. `bad_value`: an argument or setting is wrong
    // as given (a usage error); otherwise the machine cannot do it (hugepages, a device in
    // use, a permission).
    struct error {
        std::string message;
        bool bad_value = false;
    };

    // Starts DPDK's EAL with argv up to "--" (its own arguments: -l, --vdev, --file-prefix,
    // ...). One EAL a process: a second start fails.
    static result<std::unique_ptr<stack>, error> start(int argc, char** argv);
    ~stack();
    stack(const stack&) = delete;
    stack& operator=(const stack&) = delete;

    // argv[0], then the arguments after "--", for the program to read.
    const std::vector<std::string>& app_args() const;

    // Sets up the first port DPDK found (its queues, mbuf pools, offloads) and
    // config.engines engines, one per lcore of the EAL's (-l). Once.
    status<error> create(const engine_config& config);

    // 0 before create(). What follows needs create() to have succeeded (asserted).
    std::size_t engine_count() const;
    // For tern::tcp::tcp_endpoint: one per engine, made before run() and destroyed after it.
    engine& engine_at(std::size_t i);
    // `f(now)` once every round of engine i, on its lcore (a program's own timers or opens).
    void add_poller(std::size_t i, std::function<void(instant)> f);
    // The engines' clock.
    instant now() const;
    // Runs engine 0 on the calling lcore and the others on theirs until `stop` is set.
    void run(const std::atomic<bool>& stop);
    // Counters summed over the engines (packets, drops by reason, ...), by name.
    std::vector<std::pair<std::string, std::uint64_t>> counters() const;

private:
    struct parts;
    explicit stack(std::unique_ptr<parts> p);
    std::unique_ptr<parts> parts_;
};

} // namespace tern
