#include "dpdk/eal.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <optional>
#include <string_view>
#include <thread>

#include <rte_alarm.h>
#include <rte_dev.h>
#include <rte_devargs.h>
#include <rte_eal.h>
#include <rte_errno.h>

#include "dpdk/burst_section.hpp"
#include "dpdk/hugepages.hpp"
#include "dpdk/log_capture.hpp"

namespace tern {

namespace {

// What the EAL is given, copied before rte_eal_init, which rewrites argv.
struct eal_args {
    std::vector<std::string> before; // up to "--"
    bool separated = false;          // there is a "--"

    eal_args(int argc, char** argv) {
        for (int i = 1; i < argc; ++i) {
            if (std::string_view(argv[i]) == "--") {
                separated = true;
                break;
            }
            before.emplace_back(argv[i]);
        }
    }

    // The values of one option, given as "--name VALUE" or "--name=VALUE".
    std::vector<std::string> values(std::string_view name) const {
        std::vector<std::string> found;
        for (std::size_t i = 0; i < before.size(); ++i) {
            std::string_view arg = before[i];
            if (arg == name && i + 1 < before.size()) found.push_back(before[++i]);
            else if (arg.starts_with(name) && arg.size() > name.size() && arg[name.size()] == '=')
                found.emplace_back(arg.substr(name.size() + 1));
        }
        return found;
    }
};

// EAL arguments DPDK refused (EINVAL). It says why above the usage text it prints: in its
// log, which is quoted, or through getopt, which is not ("unrecognized option").
setup_error bad_arguments(const std::string& dpdk_says, bool separated) {
    std::string message = "the EAL arguments (before --) are wrong: " +
                          (dpdk_says.empty() ? std::string("DPDK refused them") : dpdk_says) +
                          " (DPDK's first complaint is above its usage text)";
    if (!separated) message += "; tern's own options go after --: app [EAL args] -- --ip ADDR/PREFIX ...";
    return {message, setup_error::setting::none, true};
}

// A --vdev whose device name no DPDK driver takes: the EAL refuses it while parsing (ENODEV).
std::optional<setup_error> unknown_vdev(const eal_args& args) {
    log_capture quiet(log_capture::echo::off); // rte_devargs_parse says it again
    for (const std::string& value : args.values("--vdev")) {
        rte_devargs da{};
        if (rte_devargs_parse(&da, value.c_str()) == 0) {
            rte_devargs_reset(&da);
            continue;
        }
        const std::string device = value.substr(0, value.find(','));
        return setup_error{"--vdev=" + value + ": no DPDK driver takes the name '" + device +
                               "' (a driver's name and a number, as net_tap0, net_memif0)",
                           setup_error::setting::none, true};
    }
    return std::nullopt;
}

// The process that holds the runtime folder's lock: a primary with the same --file-prefix.
std::optional<pid_t> runtime_folder_holder() {
    const std::string dir = rte_eal_get_runtime_dir();
    if (dir.empty()) return std::nullopt;
    int fd = ::open((dir + "/config").c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return std::nullopt;
    struct flock lock {};
    lock.l_type = F_WRLCK;
    lock.l_whence = SEEK_SET;
    const bool held = ::fcntl(fd, F_GETLK, &lock) == 0 && lock.l_type != F_UNLCK;
    ::close(fd);
    if (!held) return std::nullopt;
    return lock.l_pid;
}

setup_error why_start_failed(int err, const std::string& dpdk_says, const eal_args& args) {
    if (err == EINVAL) return bad_arguments(dpdk_says, args.separated);
    if (err == ENODEV)
        if (auto why = unknown_vdev(args)) return *why;
    // A second primary on one runtime folder: DPDK sets no rte_errno for it ("Success").
    if (auto pid = runtime_folder_holder())
        return {"another DPDK process (PID " + std::to_string(*pid) + ") runs with the runtime folder " +
                rte_eal_get_runtime_dir() + "; give this one its own --file-prefix NAME"};
    if ((err == EACCES || err == ENOMEM) && rte_eal_has_hugepages()) {
        auto huge_dir = args.values("--huge-dir");
        std::optional<std::string> dir = huge_dir.empty() ? std::nullopt : std::optional(huge_dir.back());
        if (auto why = hugepage_shortage(read_hugepage_state(), dir, err == ENOMEM, dpdk_says)) return *why;
    }
    std::string message = "the EAL did not start";
    if (err != 0) message += std::string(" (") + rte_strerror(err) + ")";
    if (!dpdk_says.empty()) message += ": " + dpdk_says;
    return {message};
}

bool has_cap_net_admin() {
    std::ifstream status("/proc/self/status");
    for (std::string line; std::getline(status, line);)
        if (line.starts_with("CapEff:")) return (std::stoull(line.substr(7), nullptr, 16) >> 12) & 1; // CAP_NET_ADMIN
    return false;
}

bool vdev_probed(const std::string& name) {
    bool probed = false;
    rte_dev_iterator it;
    rte_device* dev;
    // Iterated to the end: the iterator frees what it holds only there.
    RTE_DEV_FOREACH(dev, "bus=vdev", &it) probed |= name == rte_dev_name(dev) && rte_dev_is_probed(dev);
    return probed;
}

// Whether a driver's line names a cause of the machine's: the system error it quotes (a
// socket or an interface in use, a permission, memory). A line without one is the driver
// refusing its arguments (an invalid ring size or interface name).
bool names_system_error(const std::string& line) {
    for (int e : {EADDRINUSE, EBUSY, EEXIST, EPERM, EACCES, ENOMEM, ENOENT, ENODEV, ENXIO})
        if (line.find(std::strerror(e)) != std::string::npos) return true;
    return false;
}

// A --vdev its driver refused. The EAL starts without the device, which the apps then took
// for "no DPDK port" at all. Its driver's reason is taken to be the first error DPDK logged
// while starting: the vdevs are probed last, in order. A device that came up may have logged
// one before it (net_tap without the multiq qdisc does), so with several --vdev the line
// quoted can be another's; DPDK gives no way to tell whose.
setup_error vdev_refused(const std::string& name, const std::string& args, const std::string& dpdk_says) {
    const std::string given = "--vdev=" + name + (args.empty() ? "" : "," + args);
    const std::string reason = dpdk_says.empty() ? "DPDK logged no reason" : dpdk_says;
    if ((name.starts_with("net_tap") || name.starts_with("net_tun")) && !has_cap_net_admin())
        return {given + ": making a TAP interface needs CAP_NET_ADMIN; run as root or grant it (" + reason + ")"};
    return {given + ": its driver refused it: " + reason, setup_error::setting::none, !names_system_error(reason)};
}

std::optional<setup_error> refused_vdev(const std::string& dpdk_says) {
    for (const rte_devargs* da = rte_devargs_next("vdev", nullptr); da; da = rte_devargs_next("vdev", da))
        if (!vdev_probed(da->name)) return vdev_refused(da->name, da->args ? da->args : "", dpdk_says);
    return std::nullopt;
}

} // namespace

result<eal, setup_error> eal::start(int argc, char** argv) {
    const eal_args args(argc, argv);
    int consumed, err;
    std::string dpdk_says;
    {
        log_capture log(log_capture::echo::on);
        consumed = rte_eal_init(argc, argv);
        err = rte_errno;
        dpdk_says = log.first_error();
    }
    if (consumed < 0) return unexpected{why_start_failed(err, dpdk_says, args)};
    // rte_eal_init consumed `consumed` arguments after argv[0], including the "--".
    std::vector<std::string> rest{argv[0]};
    for (int i = consumed + 1; i < argc; ++i) rest.emplace_back(argv[i]);
    eal started(std::move(rest));
    if (auto why = refused_vdev(dpdk_says)) return unexpected{*why}; // `started` cleans the EAL up
    return started;
}

namespace {

struct interrupt_job {
    void (*work)(void*);
    void* arg;
    std::atomic<bool> done{false};
};

void run_job(void* p) {
    auto* job = static_cast<interrupt_job*>(p);
    job->work(job->arg);
    job->done.store(true, std::memory_order_release);
}

} // namespace

bool run_on_interrupt_thread(void (*work)(void*), void* arg, std::chrono::milliseconds timeout) {
    interrupt_job job{work, arg};
    if (rte_eal_alarm_set(1, run_job, &job) != 0) return false;
    const auto give_up = std::chrono::steady_clock::now() + timeout;
    while (!job.done.load(std::memory_order_acquire) && std::chrono::steady_clock::now() < give_up)
        std::this_thread::sleep_for(std::chrono::microseconds(100));
    if (job.done.load(std::memory_order_acquire)) return true;
    // Not run yet: take it back. rte_eal_alarm_cancel waits for a callback that has just
    // begun, so afterwards the job has either run whole or will never run.
    rte_eal_alarm_cancel(run_job, &job);
    return job.done.load(std::memory_order_acquire);
}

// DPDK 22.11 never stops its interrupt thread, and rte_eal_cleanup unmaps DPDK's memory while
// that thread runs. net_memif frees its listening socket's interrupt handle at close without
// unregistering it, so the thread's list keeps a source whose copy of the handle lives in that
// memory; the cleanup's last unregistration (its alarms') makes the thread walk the list, and
// it read unmapped memory: tern-server on two engines over memif with hugepages died so at
// most exits (SEGV in rte_intr_fd_get on eal-intr-thread, inside rte_eal_cleanup). The
// cleanup runs with unmaps held (burst_section.hpp): everything else it does (files, sockets,
// the runtime folder) is done, and the mappings go with the process a moment later.
eal::~eal() {
    if (!active_) return;
    hold_unmaps_until_exit();
    rte_eal_cleanup();
}

} // namespace tern
