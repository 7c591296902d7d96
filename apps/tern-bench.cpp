// tern-bench: the benchmark harness. Runs the standard scenarios twice - between two tern
// processes joined by net_memif (tern-server and tern-load), and between two Linux network
// namespaces joined by a veth pair (nginx, wrk, iperf3, sockperf) - and prints one markdown
// table (scenario, tern, kernel, ratio, how measured), with results.json and results.png.
// Before the scenarios it measures the machine's own pauses on both cores (bench/pauses.hpp),
// the floor under every tail percentile in the table, and prints them under it; before the
// pingpong, throughput and jumbo scenarios, the bare memif link (link_floor: DPDK alone on
// the same pair, cores and ring), the floor under those rows, printed under it too.
// tern's cps figure is the highest offered rate that still runs clean (--find-max); the
// overload scenario (tern only) offers twice that and stalls the server for 100 ms; the
// memory scenario (tern only) reads each side's resident memory per idle connection.
//
//   tern-bench [--scenarios cps,cps6,rps,rps6,throughput,jumbo,pingpong,overload,memory] [--duration S] [--out DIR] [--quick]
//
// Server peers run on core 1, client peers on core 0 (taskset). Every child is started with
// fork+exec (no shell), bounded in time, and killed by PID on exit, on SIGINT/SIGTERM and on
// errors; the namespaces are removed the same way. Addresses come from 198.18.0.0/15 only.
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <fcntl.h>
#include <unistd.h>

#include <boost/program_options.hpp>

#include "bench/capacity.hpp"
#include "bench/floor.hpp"
#include "bench/pauses.hpp"
#include "common/json.hpp"
#include "common/tool.hpp"
#include "core/flow_table.hpp" // header-only: the table's size, for the memory scenario
#include "dpdk/hugepages.hpp"  // DPDK-free: the free hugepages, read as tern's start-up reads them

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <optional>
#include <regex>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace po = boost::program_options;
namespace fs = std::filesystem;
using tern::json::quote;
using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;

namespace {

// The cores: the load generator on 0, the server on 1, as the performance issue measures
// them (on this VM kind core 1 is the quieter: tern-load missed five times as many opens
// there at 100000 conn/s).
constexpr int server_core = 1;
constexpr int client_core = 0;

// ---- signals -------------------------------------------------------------------------------

volatile sig_atomic_t g_stop = 0;
void on_signal(int) { g_stop = 1; }
// Set while cleaning up: waits then run to their end instead of stopping on a signal.
bool g_cleaning = false;

struct interrupted : std::runtime_error {
    interrupted() : std::runtime_error("interrupted") {}
};
void check_stop() {
    if (g_stop && !g_cleaning) throw interrupted();
}

// ---- processes -------------------------------------------------------------------------------

using argv_t = std::vector<std::string>;

std::string join(const argv_t& argv) {
    std::string s;
    for (auto& a : argv) {
        if (!s.empty()) s += ' ';
        bool plain = !a.empty() && a.find_first_of(" \t\"'$\\;&|<>()*?") == std::string::npos;
        s += plain ? a : "'" + a + "'";
    }
    return s;
}

// Every child we started and have not yet reaped: killed by PID on the way out.
std::vector<pid_t> g_children;

// A child with stdout and stderr in one log file. It dies with us (PR_SET_PDEATHSIG survives
// the execs of `ip netns exec` and `taskset`), so not even a SIGKILL of tern-bench leaves a
// peer running.
pid_t spawn(const argv_t& argv, const fs::path& log) {
    int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) throw std::runtime_error("cannot write " + log.string() + ": " + std::strerror(errno));
    std::vector<char*> args;
    for (auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    pid_t parent = ::getpid();
    pid_t pid = ::fork();
    if (pid < 0) {
        ::close(fd);
        throw std::runtime_error(std::string("fork: ") + std::strerror(errno));
    }
    if (pid == 0) {
        ::prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (::getppid() != parent) ::_exit(127);
        ::dup2(fd, 1);
        ::dup2(fd, 2);
        int null = ::open("/dev/null", O_RDONLY);
        if (null >= 0) ::dup2(null, 0);
        ::execvp(args[0], args.data());
        std::fprintf(stderr, "exec %s: %s\n", args[0], std::strerror(errno));
        ::_exit(127);
    }
    ::close(fd);
    g_children.push_back(pid);
    return pid;
}

void forget(pid_t pid) { std::erase(g_children, pid); }

// The child's exit code (128+N for signal N), or nullopt if it still runs at the deadline.
std::optional<int> wait_until(pid_t pid, clock_type::time_point deadline) {
    for (;;) {
        int status = 0;
        pid_t r = ::waitpid(pid, &status, WNOHANG);
        if (r == pid) {
            forget(pid);
            return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        }
        if (r < 0) {
            forget(pid);
            return 255;
        }
        check_stop();
        if (clock_type::now() >= deadline) return std::nullopt;
        std::this_thread::sleep_for(20ms);
    }
}

// SIGTERM, then SIGKILL after a grace period; reaps the child. SIGCONT too, in case we
// stopped it (the overload scenario's stall): a stopped process acts on SIGTERM only then.
void stop(pid_t pid) {
    if (std::find(g_children.begin(), g_children.end(), pid) == g_children.end()) return;
    ::kill(pid, SIGTERM);
    ::kill(pid, SIGCONT);
    auto deadline = clock_type::now() + 3s;
    for (;;) {
        int status = 0;
        if (::waitpid(pid, &status, WNOHANG) != 0) break;
        if (clock_type::now() >= deadline) {
            ::kill(pid, SIGKILL);
            ::waitpid(pid, &status, 0);
            break;
        }
        std::this_thread::sleep_for(20ms);
    }
    forget(pid);
}

void stop_all() {
    auto pids = g_children;
    for (auto it = pids.rbegin(); it != pids.rend(); ++it) stop(*it);
}

std::string slurp(const fs::path& p) {
    std::ifstream in(p);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

std::string tail(const std::string& text, std::size_t lines = 5) {
    std::size_t pos = text.size();
    while (lines-- > 0 && pos > 0) {
        pos = text.rfind('\n', pos - 1);
        if (pos == std::string::npos) return text;
    }
    return text.substr(pos + 1);
}

// Runs argv to completion within `limit`; its output, or an error naming the command.
std::string run(const argv_t& argv, const fs::path& log, std::chrono::seconds limit) {
    pid_t pid = spawn(argv, log);
    auto rc = wait_until(pid, clock_type::now() + limit);
    if (!rc) {
        stop(pid);
        throw std::runtime_error(argv[0] + " did not finish within " + std::to_string(limit.count()) + " s: " +
                                 join(argv));
    }
    std::string out = slurp(log);
    if (*rc != 0)
        throw std::runtime_error(join(argv) + " exited " + std::to_string(*rc) + ": " + tail(out));
    return out;
}

// A missing tool is an error naming the Debian package.
void require(const std::string& tool, const std::string& package) {
    if (!tern::tool::on_path(tool))
        throw std::runtime_error(tool + " not found: install the Debian package " + package +
                                 " (scripts/common.sh install_deps does)");
}

// ---- the namespaces --------------------------------------------------------------------------

// Two namespaces joined by a veth pair: server 198.18.1.1/24, client 198.18.1.2/24. Names carry
// our PID; the destructor removes both (which also removes the veth pair).
struct veth_pair {
    std::string server_ns, client_ns;
    std::string server_dev, client_dev;
    fs::path logs;
    bool made_server = false, made_client = false;

    static constexpr const char* server_ip = "198.18.1.1";
    static constexpr const char* client_ip = "198.18.1.2";
    static constexpr const char* server_ip6 = "2001:2:1::1"; // RFC 5180's prefix, for rps6
    static constexpr const char* client_ip6 = "2001:2:1::2";

    explicit veth_pair(const fs::path& log_dir) : logs(log_dir) {}
    // Separate from the constructor so that the destructor also undoes a half-made pair.
    void setup() {
        auto id = std::to_string(::getpid());
        server_ns = "tern-bench-s-" + id;
        client_ns = "tern-bench-c-" + id;
        server_dev = "tbs" + id, client_dev = "tbc" + id; // interface names: at most 15 bytes
        auto ip = [&](argv_t args) {
            args.insert(args.begin(), "ip");
            run(args, logs / "ip.log", 10s);
        };
        ip({"netns", "add", server_ns});
        made_server = true;
        ip({"netns", "add", client_ns});
        made_client = true;
        ip({"link", "add", server_dev, "netns", server_ns, "type", "veth", "peer", "name", client_dev, "netns", client_ns});
        for (auto& [ns, dev, addr, addr6] :
             {std::tuple{server_ns, server_dev, std::string(server_ip) + "/24", std::string(server_ip6) + "/64"},
              std::tuple{client_ns, client_dev, std::string(client_ip) + "/24", std::string(client_ip6) + "/64"}}) {
            ip({"-n", ns, "link", "set", "lo", "up"});
            ip({"-n", ns, "addr", "add", addr, "dev", dev});
            ip({"-n", ns, "-6", "addr", "add", addr6, "dev", dev, "nodad"});
            ip({"-n", ns, "link", "set", dev, "up"});
            // Connection-per-request runs open tens of thousands of connections: a wide
            // port range and TIME_WAIT reuse keep either side from running out of ports.
            run({"ip", "netns", "exec", ns, "sysctl", "-q", "-w", "net.ipv4.ip_local_port_range=1024 65000"},
                logs / "sysctl.log", 10s);
            run({"ip", "netns", "exec", ns, "sysctl", "-q", "-w", "net.ipv4.tcp_tw_reuse=1"}, logs / "sysctl.log",
                10s);
        }
    }
    ~veth_pair() {
        // The peers go first, then their namespaces.
        g_cleaning = true;
        stop_all();
        for (auto [made, ns] : {std::pair{made_client, client_ns}, std::pair{made_server, server_ns}})
            if (made) {
                try {
                    run({"ip", "netns", "del", ns}, logs / "ip-del.log", 10s);
                } catch (const std::exception& e) {
                    std::cerr << "tern-bench: could not remove namespace " << ns << ": " << e.what() << "\n";
                }
            }
    }
    veth_pair(const veth_pair&) = delete;
    veth_pair& operator=(const veth_pair&) = delete;

    // argv run in namespace `ns`, pinned to `core`.
    static argv_t in(const std::string& ns, int core, const argv_t& argv) {
        argv_t a{"ip", "netns", "exec", ns, "taskset", "-c", std::to_string(core)};
        a.insert(a.end(), argv.begin(), argv.end());
        return a;
    }
    // Both ends of the pair carry IP packets of `mtu` bytes (from now on, if not already).
    void set_mtu(unsigned mtu) {
        if (mtu == mtu_) return;
        for (auto& [ns, dev] : {std::pair{server_ns, server_dev}, std::pair{client_ns, client_dev}})
            run({"ip", "-n", ns, "link", "set", dev, "mtu", std::to_string(mtu)}, logs / "ip.log", 10s);
        mtu_ = mtu;
    }
    unsigned mtu_ = 1500;

    argv_t on_server(const argv_t& argv) const { return in(server_ns, server_core, argv); }
    argv_t on_client(const argv_t& argv) const { return in(client_ns, client_core, argv); }

    // Waits (bounded) until a TCP socket listens on `port` in the server namespace: a child
    // joins the namespace and reads its /proc/self/net/tcp, so no probe connection disturbs
    // the server under test.
    void wait_listening(unsigned port, pid_t server, const std::string& what) const {
        auto deadline = clock_type::now() + 10s;
        char needle[40];
        std::snprintf(needle, sizeof needle, ":%04X 00000000:0000 0A", port);
        for (;;) {
            check_stop();
            int status = 0;
            if (::waitpid(server, &status, WNOHANG) == server) {
                forget(server);
                throw std::runtime_error(what + " exited before it listened on port " + std::to_string(port));
            }
            pid_t pid = ::fork();
            if (pid == 0) {
                int fd = ::open(("/run/netns/" + server_ns).c_str(), O_RDONLY);
                if (fd < 0 || ::setns(fd, CLONE_NEWNET) != 0) ::_exit(2);
                std::ifstream in("/proc/self/net/tcp");
                for (std::string line; std::getline(in, line);)
                    if (line.find(needle) != std::string::npos) ::_exit(0);
                ::_exit(1);
            }
            if (pid > 0 && ::waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0)
                return;
            if (clock_type::now() >= deadline)
                throw std::runtime_error(what + " did not listen on port " + std::to_string(port) + " within 10 s");
            std::this_thread::sleep_for(50ms);
        }
    }
};

// ---- parsing --------------------------------------------------------------------------------

// The first capture of `pattern` in `text` as a number, or an error naming what was sought.
double number_after(const std::string& text, const std::string& pattern, const std::string& tool) {
    std::smatch m;
    if (!std::regex_search(text, m, std::regex(pattern)))
        throw std::runtime_error("could not find /" + pattern + "/ in the output of " + tool + ": " + tail(text));
    return std::stod(m[1].str());
}

// wrk: "Requests/sec:  12345.67"; socket errors make the figure suspect, so they go into the note.
struct wrk_result {
    double per_second;
    std::string errors;
};
wrk_result parse_wrk(const std::string& out) {
    wrk_result r{number_after(out, R"(Requests/sec:\s+([0-9.]+))", "wrk"), ""};
    std::smatch m;
    if (std::regex_search(out, m, std::regex(R"(Socket errors:([^\n]*))"))) r.errors = "socket errors:" + m[1].str();
    std::regex non2xx(R"((\d+)\s+Non-2xx)");
    if (std::regex_search(out, m, non2xx)) r.errors += (r.errors.empty() ? "" : "; ") + m[1].str() + " non-2xx";
    return r;
}

// ---- scenarios ------------------------------------------------------------------------------

// One figure of one scenario: value with its unit, the command that produced it.
struct figure {
    std::optional<double> value;
    std::string text;  // what the table shows when there is no value
    std::string how;   // the command(s) it came from, as the table shows them
    std::string note;  // e.g. wrk's socket errors
    std::string command; // the full command lines (namespace, pinning, arguments) for the JSON
};

struct settings {
    double duration = 10;
    // tern-load's --warmup on each tern run but overload's: seconds it runs before it
    // measures. A pair's first second over memif is spent faulting in the link's shared
    // memory (a third of the server's time in page faults in its first 250 ms, measured on
    // this VM), and SYNs it dropped meanwhile come back a second later, retransmitted.
    double warmup = 2;
    fs::path out;
    fs::path tern_dir;  // where tern-server and tern-load live
    bool quick = false;
    unsigned connections = 32;
    bool find_max = true;        // cps: search for the highest clean rate
    double cps_rate = 150000;    // cps: the offered rate when not searching
    tern::bench::search_plan plan;
    std::optional<double> overload_rate; // overload offers twice this (default: the capacity)
    unsigned memory_connections = 1000000; // memory: idle connections held
    // log2 of the memif rings' slots. 14 is the ring the performance issue's figures were
    // measured on; a smaller ring's buffers stay in the caches (README: "What the link allows").
    unsigned memif_rsize = 14;
    // Whether tern's processes (and link_floor's) run on hugepages: decided once, before the
    // first scenario, so that every row of a run uses the same memory (tern_memory).
    bool hugepages = false;
};

// What tern's two processes need of hugepages: 1024 MiB each (their -m), and room for the
// EAL's own small allocations beside them.
constexpr long hugepages_wanted_kb = 2 * 1024 * 1024 + 64 * 1024;

// The hugepages free on a mounted hugetlbfs, in KiB (0 without a mount): what tern's own
// start-up reads to say why the EAL found none (dpdk/hugepages.hpp).
long hugepages_free_kb() {
    const tern::hugepage_state state = tern::read_hugepage_state();
    if (state.mounts.empty()) return 0;
    long kb = 0;
    for (const tern::hugepage_pool& p : state.pools) kb += long(p.free * p.page_kib);
    return kb;
}

// The line that says on what memory tern's side runs, and, when not on hugepages, why and
// what to do: the performance figures are measured on hugepages, and --no-huge is slower.
std::string memory_kind(bool hugepages, long free_kb) {
    if (hugepages) return "tern's processes on hugepages (" + std::to_string(free_kb / 1024) + " MiB free)";
    return "tern's processes on --no-huge (slower): " + std::to_string(free_kb / 1024) + " MiB of hugepages free, " +
           std::to_string(hugepages_wanted_kb / 1024) +
           " MiB wanted (`echo 1100 > /proc/sys/vm/nr_hugepages` and a hugetlbfs mount reserve them)";
}

// A kernel run returns one figure per metric of its scenario (pingpong: p50, p99, p99.9).
struct kernel_context {
    const veth_pair& net;
    const settings& cfg;
    fs::path dir;
};

std::string fmt_duration(double d) {
    char b[32];
    std::snprintf(b, sizeof b, "%g", d);
    return b;
}
std::string fmt_rate(double r) {
    char b[32];
    std::snprintf(b, sizeof b, "%.0f", r);
    return b;
}

// The tern side over net_memif: each process its own --file-prefix, the server on lcore 1 in
// the server's namespace, the client on lcore 0 in the client's (the memif socket is a file
// both can reach; no interface of the machine's own is involved).
struct tern_context {
    const settings& cfg;
    const veth_pair& net;
    fs::path socket;
    std::string id;
    unsigned mtu = 1500; // the scenario's; above 1500 memif's buffers are made to hold a frame

    argv_t eal(const std::string& binary, const std::string& role, int lcore) const {
        argv_t a{(cfg.tern_dir / binary).string()};
        // The EAL keeps a hugepage file (named after --file-prefix) for every page it mapped,
        // also after it exits, and holds the page while the file exists; each run's prefixes
        // are new, so every run left 2 GiB of hugepages taken. --huge-unlink removes each file
        // once it is mapped: the pages go back when the process ends, however it ends. memif
        // (not zero-copy) shares its rings and buffers through a memfd of its own, not these files.
        a.push_back(cfg.hugepages ? "--huge-unlink" : "--no-huge");
        a.insert(a.end(), {"-m", "1024", "--no-pci", "-l", std::to_string(lcore), "--file-prefix",
                           "tern_bench_" + role + "_" + id,
                           // A socket file rather than memif's default abstract address, so that we
                           // can see when the server has made it; the two sides need distinct MACs
                           // (memif's default is one fixed address). The rings' size: --memif-rsize.
                           "--vdev=net_memif0,role=" + role + ",socket=" + socket.string() +
                               ",socket-abstract=no,rsize=" + std::to_string(cfg.memif_rsize) +
                               ",mac=02:00:c6:12:02:0" + (role == "server" ? "1" : "2") +
                               memif_buffer()});
        return a;
    }
    // memif's 2048-byte buffers hold a frame of MTU 2034 at most; a jumbo frame gets one
    // buffer rather than a chain (the Ethernet header added, rounded up to a cache line).
    std::string memif_buffer() const {
        if (mtu <= 1500) return "";
        return ",bsize=" + std::to_string((mtu + 14 + 63) / 64 * 64);
    }
    argv_t server(const argv_t& app_args, double duration) const {
        argv_t a = eal("tern-server", "server", server_core);
        a.push_back("--");
        a.insert(a.end(), {"--ip", "198.18.2.1/24", "--duration", std::to_string(int(duration) + 20)});
        a.insert(a.end(), app_args.begin(), app_args.end());
        return net.on_server(a);
    }
    argv_t load(const argv_t& app_args, double duration) const {
        argv_t a = eal("tern-load", "client", client_core);
        a.push_back("--");
        a.insert(a.end(), {"--ip", "198.18.2.2/24", "--duration", fmt_duration(duration)});
        a.insert(a.end(), app_args.begin(), app_args.end());
        return net.on_client(a);
    }

    // cps's capacity search, once per tern-bench run and family (IPv4, IPv6): the overload
    // scenario doubles IPv4's.
    std::array<std::optional<tern::bench::search_result>, 2> capacity;
    // Sections of results.json beyond the table ("find_max", "overload"): name, JSON value.
    std::vector<std::pair<std::string, std::string>> extras;
};

struct metric {
    std::string name;  // row name, e.g. "pingpong RTT p50"
    std::string unit;
    bool lower_is_better;
};

struct scenario;
using tern_runner = std::function<std::vector<figure>(const scenario&, tern_context&)>;

// The scenario table: what each scenario measures, how the kernel peers run it, and the
// command lines for tern. When tern-load exists, its result parser goes next to `tern` here.
struct scenario {
    std::string key;
    std::string description;
    std::vector<metric> metrics;
    std::function<std::vector<figure>(const kernel_context&)> kernel;
    // tern-server's and tern-load's arguments after "--" (beyond --ip and --duration).
    argv_t tern_server_args;
    std::function<argv_t(const settings&)> tern_load_args;
    // Per metric: the pattern that finds it in tern-load's --json report, and the factor to
    // the metric's unit.
    std::vector<std::pair<std::string, double>> tern_json;
    // The tern side when it is more than one run of the command lines above (cps's search,
    // overload's stall); empty: run_tern.
    tern_runner tern = {};
    // The IP MTU of both links (veth and memif) while the scenario runs.
    unsigned mtu = 1500;
};

const char* nginx_conf = R"(daemon off;
master_process off;
worker_processes 1;
pid @DIR@/nginx.pid;
error_log @DIR@/nginx-error.log;
events { worker_connections 4096; }
http {
    access_log off;
    keepalive_requests 100000000;
    keepalive_timeout 60s;
    client_body_temp_path @DIR@/tmp;
    proxy_temp_path @DIR@/tmp;
    fastcgi_temp_path @DIR@/tmp;
    uwsgi_temp_path @DIR@/tmp;
    scgi_temp_path @DIR@/tmp;
    server {
        listen 198.18.1.1:8080 reuseport backlog=4096;
        listen [2001:2:1::1]:8080 reuseport backlog=4096;
        location / { default_type text/plain; return 200 "hello, world\n"; }
    }
}
)";

// nginx in the server namespace on core 1 (13-byte body, as tern-server --mode http), wrk in
// the client namespace on core 0; Requests/sec is the figure.
std::vector<figure> kernel_wrk(const kernel_context& k, bool close_each,
                               const std::string& url = "http://198.18.1.1:8080/") {
    std::string conf = nginx_conf;
    for (std::size_t p; (p = conf.find("@DIR@")) != std::string::npos;) conf.replace(p, 5, k.dir.string());
    fs::create_directories(k.dir / "tmp");
    std::ofstream(k.dir / "nginx.conf") << conf;
    argv_t server = k.net.on_server({"nginx", "-c", (k.dir / "nginx.conf").string()});
    pid_t nginx = spawn(server, k.dir / "nginx.log");
    k.net.wait_listening(8080, nginx, "nginx");
    argv_t wrk_args{"wrk", "-t", "1", "-c", std::to_string(k.cfg.connections), "-d", fmt_duration(k.cfg.duration) + "s"};
    if (close_each) wrk_args.insert(wrk_args.end(), {"-H", "Connection: close"});
    wrk_args.push_back(url);
    argv_t client = k.net.on_client(wrk_args);
    auto limit = std::chrono::seconds(int(k.cfg.duration) + 30);
    std::string out = run(client, k.dir / "wrk.log", limit);
    stop(nginx);
    auto r = parse_wrk(out);
    return {figure{r.per_second, "", join(wrk_args) + "  vs  nginx (13-byte body, access_log off)", r.errors,
                   "server: " + join(server) + "; client: " + join(client)}};
}

// iperf3: one stream, client sends; the receiver's bit rate is the figure. With
// `zero_copy` the client sends with -Z (sendfile: no copy from the program into the socket).
std::vector<figure> kernel_iperf3_sending(const kernel_context& k, bool zero_copy) {
    argv_t server_argv = k.net.on_server({"iperf3", "-s", "-B", veth_pair::server_ip, "-p", "5201"});
    pid_t server = spawn(server_argv, k.dir / "iperf3-server.log");
    k.net.wait_listening(5201, server, "iperf3 -s");
    argv_t args{"iperf3", "-c", veth_pair::server_ip, "-p", "5201", "-P", "1", "-t", fmt_duration(k.cfg.duration), "-J"};
    if (zero_copy) args.push_back("-Z");
    std::string out = run(k.net.on_client(args), k.dir / "iperf3.json", std::chrono::seconds(int(k.cfg.duration) + 30));
    stop(server);
    auto pos = out.find("\"sum_received\"");
    if (pos == std::string::npos) throw std::runtime_error("iperf3 -J output has no sum_received: " + tail(out));
    double bps = number_after(out.substr(pos), R"("bits_per_second":\s*([0-9.eE+]+))", "iperf3");
    return {figure{bps / 1e9, "", join(args) + " (receiver's rate)  vs  iperf3 -s", "",
                   "server: " + join(server_argv) + "; client: " + join(k.net.on_client(args))}};
}

std::vector<figure> kernel_iperf3(const kernel_context& k) { return kernel_iperf3_sending(k, false); }

// sockperf ping-pong over TCP, 64-byte messages; its percentiles are in microseconds.
// By default sockperf reports half the round trip ("avg-latency"); --full-rtt makes it the
// whole round trip ("avg-rtt", "Round trip is"), the quantity tern-load measures (a
// message's send to its echo's arrival).
std::vector<figure> kernel_sockperf(const kernel_context& k) {
    argv_t server_argv = k.net.on_server({"sockperf", "server", "--tcp", "-i", veth_pair::server_ip, "-p", "11111"});
    pid_t server = spawn(server_argv, k.dir / "sockperf-server.log");
    k.net.wait_listening(11111, server, "sockperf server");
    argv_t args{"sockperf", "ping-pong", "--tcp", "-i", veth_pair::server_ip, "-p", "11111", "-m", "64", "--full-rtt",
                "-t", std::to_string(std::max(1, int(std::lround(k.cfg.duration))))};
    std::string out = run(k.net.on_client(args), k.dir / "sockperf.log", std::chrono::seconds(int(k.cfg.duration) + 30));
    stop(server);
    // A sockperf that ignored --full-rtt would hand us half the figure without a word.
    if (out.find("Round trip is") == std::string::npos)
        throw std::runtime_error("sockperf did not report the full round trip (--full-rtt): " + tail(out));
    std::string how = join(args) + "  vs  sockperf server --tcp";
    std::string command = "server: " + join(server_argv) + "; client: " + join(k.net.on_client(args));
    double p50 = number_after(out, R"(percentile 50\.000 =\s+([0-9.]+))", "sockperf");
    double p99 = number_after(out, R"(percentile 99\.000 =\s+([0-9.]+))", "sockperf");
    double p99_9 = number_after(out, R"(percentile 99\.900 =\s+([0-9.]+))", "sockperf");
    return {figure{p50, "", how + " (full round trip, 50th percentile)", "", command},
            figure{p99, "", how + " (full round trip, 99th percentile)", "", command},
            figure{p99_9, "", how + " (full round trip, 99.9th percentile)", "", command}};
}

// tern's pair over memif on IPv6 (RFC 5180's prefix), for cps6 and rps6: the server's
// address, the client's, and the target the client connects to.
constexpr const char* memif_server_ip6 = "2001:2::1/64";
constexpr const char* memif_client_ip6 = "2001:2::2/64";
constexpr const char* memif_target6 = "[2001:2::1]:8080";

// `args` with the warm-up of the settings (none with --quick or --warmup 0).
argv_t with_warmup(argv_t args, const settings& cfg) {
    if (cfg.warmup > 0) args.insert(args.end(), {"--warmup", fmt_duration(cfg.warmup)});
    return args;
}

// cps's two sides over memif. The server closes first, so TIME_WAIT is the server's: a
// short MSL keeps its table small, and the table holds 2 s of TIME_WAIT at 250000 conn/s.
// cps6 (v6) runs the same over IPv6.
argv_t cps_server_args(bool v6 = false) {
    argv_t a{"--mode", "http", "--port", "8080", "--no-delay", "--msl", "1", "--max-connections", "524288"};
    if (v6) a.insert(a.end(), {"--ip", memif_server_ip6});
    return a;
}
// Eight source addresses give 8 x 28232 ports, so a server that falls behind for a moment
// shows as fewer conn/s rather than as ports running out. Far beyond the server's pace,
// tern-load still runs out of them and reports connect failures as errors (rightly: it
// could not do what was asked): the capacity search reads that as unclean.
argv_t cps_load_args(double rate, bool v6 = false) {
    argv_t a{"--workload", "cps", "--target", v6 ? memif_target6 : "198.18.2.1:8080", "--rate", fmt_rate(rate),
             "--requests", "1", "--close", "server", "--source-ip",
             v6 ? "2001:2::10-2001:2::17" : "198.18.2.10-198.18.2.17"};
    if (v6) a.insert(a.end(), {"--ip", memif_client_ip6});
    return a;
}

std::vector<figure> tern_cps(const scenario& s, tern_context& t, bool v6);
std::vector<figure> tern_overload(const scenario& s, tern_context& t);
std::vector<figure> tern_memory(const scenario& s, tern_context& t);

// The overload scenario has no kernel side: wrk runs closed loop (a fixed number of
// connections, each opening the next when one ends), so it cannot offer twice a rate.
std::vector<figure> kernel_none(const kernel_context&) {
    const figure na{std::nullopt, "n/a (tern only: wrk runs closed loop and cannot offer a set rate)", "", "", ""};
    return {na, na, na};
}

std::vector<scenario> scenarios() {
    return {
        {"cps", "connections per second, one HTTP request each",
         {{"cps", "conn/s", false}},
         [](const kernel_context& k) { return kernel_wrk(k, true); },
         cps_server_args(),
         [](const settings& c) { return cps_load_args(c.cps_rate); },
         {{R"("conn_per_s": ([0-9.eE+]+))", 1}},
         [](const scenario& s, tern_context& t) { return tern_cps(s, t, false); }},
        // The same over IPv6, with a capacity search of its own.
        {"cps6", "cps over IPv6: connections per second, one HTTP request each",
         {{"cps IPv6", "conn/s", false}},
         [](const kernel_context& k) { return kernel_wrk(k, true, "http://[2001:2:1::1]:8080/"); },
         cps_server_args(true),
         [](const settings& c) { return cps_load_args(c.cps_rate, true); },
         {{R"("conn_per_s": ([0-9.eE+]+))", 1}},
         [](const scenario& s, tern_context& t) { return tern_cps(s, t, true); }},
        {"rps", "HTTP requests per second on persistent connections (--connections, 32 by default)",
         {{"rps", "req/s", false}},
         [](const kernel_context& k) { return kernel_wrk(k, false); },
         {"--mode", "http", "--port", "8080", "--no-delay"},
         [](const settings& c) {
             return argv_t{"--workload", "rps", "--closed-loop", "--target", "198.18.2.1:8080", "--connections",
                           std::to_string(c.connections)};
         },
         {{R"("req_per_s": ([0-9.eE+]+))", 1}}},
        // The same over IPv6: tern's pair on 2001:2::/64 over memif, the kernel's on the veth pair.
        {"rps6", "rps over IPv6: HTTP requests per second on persistent connections",
         {{"rps IPv6", "req/s", false}},
         [](const kernel_context& k) { return kernel_wrk(k, false, "http://[2001:2:1::1]:8080/"); },
         {"--mode", "http", "--port", "8080", "--no-delay", "--ip", memif_server_ip6},
         [](const settings& c) {
             return argv_t{"--workload", "rps", "--closed-loop", "--ip", memif_client_ip6, "--target", memif_target6,
                           "--connections", std::to_string(c.connections)};
         },
         {{R"("req_per_s": ([0-9.eE+]+))", 1}}},
        {"throughput", "single-connection bulk throughput",
         {{"throughput", "Gbit/s", false}},
         kernel_iperf3,
         {"--mode", "sink", "--port", "5201"},
         [](const settings&) {
             return argv_t{"--workload", "throughput", "--direction", "upload", "--target", "198.18.2.1:5201",
                           "--connections", "1"};
         },
         {{R"("mbit_out_per_s": ([0-9.eE+]+))", 1e-3}}},
        // Jumbo frames, and buffers of 256 KiB: 64 KiB is 7 frames of 9000 bytes, and the
        // window, not the CPU, then sets the pace (both engines poll idle a third of the time).
        // Zero-copy senders on both sides (iperf3 -Z, tern-load --zero-copy): at 9000 bytes a
        // frame the copies are what the sender spends beside the link's own (memif copies each
        // frame into its ring), and tern's copy into the send buffer and then into the frame
        // took 18% of the sender's time.
        {"jumbo", "single-connection bulk throughput at MTU 9000, 256 KiB buffers, zero-copy senders",
         {{"throughput MTU 9000", "Gbit/s", false}},
         [](const kernel_context& k) {
             auto f = kernel_iperf3_sending(k, true);
             f[0].how += ", veth MTU 9000";
             return f;
         },
         {"--mode", "sink", "--port", "5201", "--mtu", "9000", "--receive-buffer", "262144", "--send-buffer", "262144"},
         [](const settings&) {
             return argv_t{"--workload", "throughput", "--direction", "upload", "--target", "198.18.2.1:5201",
                           "--connections", "1", "--mtu", "9000", "--send-buffer", "262144", "--receive-buffer", "262144",
                           "--zero-copy"};
         },
         {{R"("mbit_out_per_s": ([0-9.eE+]+))", 1e-3}},
         {},
         9000},
        {"pingpong", "ping-pong latency (full round trip both sides), 64-byte messages on one connection",
         {{"pingpong RTT p50", "us", true}, {"pingpong RTT p99", "us", true}, {"pingpong RTT p99.9", "us", true}},
         kernel_sockperf,
         {"--mode", "echo", "--port", "11111", "--no-delay"},
         [](const settings&) {
             return argv_t{"--workload", "ping-pong", "--target", "198.18.2.1:11111", "--connections", "1", "--size", "64"};
         },
         {{R"("latency": \{[^}]*"p50_us": ([0-9.eE+]+))", 1},
          {R"("latency": \{[^}]*"p99_us": ([0-9.eE+]+))", 1},
          {R"("latency": \{[^}]*"p99_9_us": ([0-9.eE+]+))", 1}}},
        {"overload", "cps at twice the capacity, the server stalled 100 ms (SIGSTOP) at 40% of the run",
         {{"overload peak", "conn/s", false}, {"overload goodput", "% of peak", false},
          {"overload recovery", "ms", true}},
         kernel_none,
         cps_server_args(),
         {}, // tern_overload makes tern-load's command line: its rate may come from the search
         {},
         tern_overload},
        {"memory", "resident memory of each side per idle keep-alive connection (--memory-connections)",
         {{"memory tern-server", "bytes/conn", true}, {"memory tern-load", "bytes/conn", true}},
         [](const kernel_context&) {
             const figure na{std::nullopt, "n/a (tern only)", "", "", ""};
             return std::vector<figure>{na, na};
         },
         {}, // tern_memory makes both command lines: their sizes come from --memory-connections
         {},
         {},
         tern_memory},
    };
}

// The EAL leaves its runtime folders behind (named after --file-prefix), also when a run
// fails: both sides' go when a pair's run ends.
struct eal_run_dirs {
    std::string id;
    ~eal_run_dirs() {
        std::error_code ec;
        for (auto role : {"server", "client"}) fs::remove_all("/var/run/dpdk/tern_bench_" + std::string(role) + "_" + id, ec);
    }
};

// memif's server side makes the socket; the client may connect once it exists. Throws when
// the server side (`who`, its log at `log`) exits first or makes none within 15 s.
void wait_for_memif_socket(const tern_context& t, pid_t server, const std::string& who, const fs::path& log) {
    const auto deadline = clock_type::now() + 15s;
    while (!fs::exists(t.socket)) {
        if (auto rc = wait_until(server, clock_type::now() + 50ms))
            throw std::runtime_error(who + " exited " + std::to_string(*rc) + ": " + tail(slurp(log)));
        if (clock_type::now() >= deadline) throw std::runtime_error(who + " made no memif socket within 15 s");
    }
}

// One tern-server and tern-load pair over memif, in `dir`: tern-load's exit code (0, or 3
// when it did not do all that was asked), its --json report and its log, and the server's
// PID. `watch` runs every 20 ms while tern-load does, with the server's PID and tern-load's
// log.
struct pair_run {
    int rc = 0;
    std::string json;
    fs::path load_log;
    pid_t server = 0;
};
using pair_watch = std::function<void(pid_t server, pid_t client, const fs::path& load_log)>;

pair_run run_pair_once(const tern_context& t, const fs::path& dir, const argv_t& server_args, argv_t load_args,
                       double duration, const pair_watch& watch) {
    fs::create_directories(dir);
    const fs::path report = dir / "tern-load.json", log = dir / "tern-load.log";
    fs::remove(report);
    load_args.insert(load_args.end(), {"--json", report.string()});
    fs::remove(t.socket);
    const eal_run_dirs cleanup{t.id};
    pid_t server = spawn(t.server(server_args, duration), dir / "tern-server.log");
    wait_for_memif_socket(t, server, "tern-server", dir / "tern-server.log");
    const argv_t load = t.load(load_args, duration);
    pid_t client = spawn(load, log);
    const auto deadline = clock_type::now() + std::chrono::seconds(int(duration) + 30);
    std::optional<int> rc;
    while (!(rc = wait_until(client, std::min(deadline, clock_type::now() + 20ms)))) {
        if (clock_type::now() >= deadline) {
            stop(client);
            throw std::runtime_error("tern-load did not finish within " + std::to_string(int(duration) + 30) + " s: " + join(load));
        }
        if (watch) watch(server, client, log);
    }
    stop(server);
    if (*rc != 0 && *rc != 3) throw std::runtime_error(join(load) + " exited " + std::to_string(*rc) + ": " + tail(slurp(log)));
    if (!fs::exists(report)) throw std::runtime_error("tern-load wrote no --json report: " + tail(slurp(log)));
    return {*rc, slurp(report), log, server};
}

pair_run run_pair(const tern_context& t, const fs::path& dir, const argv_t& server_args, const argv_t& load_args,
                  double duration, const pair_watch& watch = {}) {
    // Rarely (one pair in about 35 on a loaded machine, 2026-12-01) the two DPDK processes
    // connect to the socket but their link never comes up. That is no measurement of TCP.
    auto r = run_pair_once(t, dir, server_args, load_args, duration, watch);
    if (!tern::bench::link_carried_nothing(r.json)) return r;
    std::cerr << "tern-bench:   the memif link carried nothing (tern-load: no byte in, every connect unreachable; "
              << "its log kept as tern-load.log.link-down); running the pair once more\n";
    fs::rename(r.load_log, dir / "tern-load.log.link-down");
    return run_pair_once(t, dir, server_args, load_args, duration, watch);
}

std::string tern_how(const argv_t& load_args, const argv_t& server_args) {
    return "tern-load -l " + std::to_string(client_core) + " " + join(load_args) + "  vs  tern-server -l " +
           std::to_string(server_core) + " " + join(server_args) + ", over net_memif";
}
std::string tern_command(const tern_context& t, const argv_t& load_args, const argv_t& server_args, double duration) {
    return "server: " + join(t.server(server_args, duration)) + "; client: " + join(t.load(load_args, duration));
}

// tern-server and tern-load over memif once; the figures come from tern-load's --json report.
std::vector<figure> run_tern(const scenario& s, const tern_context& t) {
    const argv_t load_args = with_warmup(s.tern_load_args(t.cfg), t.cfg);
    std::string how = tern_how(load_args, s.tern_server_args);
    std::string command = tern_command(t, load_args, s.tern_server_args, t.cfg.duration);
    if (!fs::exists(t.cfg.tern_dir / "tern-load"))
        return std::vector<figure>(s.metrics.size(), figure{std::nullopt, "n/a (tern-load not built)", how, "", command});
    auto r = run_pair(t, t.cfg.out / "logs" / ("tern-" + s.key), s.tern_server_args, load_args, t.cfg.duration);
    if (r.rc != 0) throw std::runtime_error("tern-load failed (exit 3): " + tail(slurp(r.load_log)));
    std::vector<figure> figs;
    for (auto& [pattern, factor] : s.tern_json)
        figs.push_back(figure{number_after(r.json, pattern, "tern-load --json") * factor, "", how, "", command});
    return figs;
}

// ---- cps: the highest clean rate ---------------------------------------------------------------

const tern::bench::clean_rule clean_run_rule{};

// One cps run at `rate` for the search, in logs/tern-cps/run-N-RATE (tern-cps6 for IPv6).
// An unclean run whose tern-load stood still for the machine (capacity.hpp, stalls_in) is
// run once more, its logs kept as *.stalled: the issue's rule excuses the seconds around a
// stall the log shows, and one 100 ms stall alone misses more than 0.5% of a 10 s run's opens.
// (The rule already leaves stalled seconds out; this is for a run that had no other seconds
// clean, or whose stall broke more than the seconds it fell in.)
tern::bench::cps_run measure_cps(const tern_context& t, double rate, std::size_t n, bool v6) {
    const fs::path dir = t.cfg.out / "logs" / (v6 ? "tern-cps6" : "tern-cps") / ("run-" + std::to_string(n) + "-" + fmt_rate(rate));
    auto once = [&] {
        auto r = run_pair(t, dir, cps_server_args(v6), with_warmup(cps_load_args(rate, v6), t.cfg), t.cfg.duration);
        auto p = tern::bench::parse_cps_report(r.json, rate);
        if (!p.run) throw std::runtime_error("tern-load's --json has no " + p.missing + ": " + (dir / "tern-load.json").string());
        p.run->stalls = tern::bench::stalls_in(tern::bench::parse_progress(slurp(r.load_log)));
        return *p.run;
    };
    tern::bench::cps_run run = once();
    std::string why = tern::bench::unclean_reasons(run, clean_run_rule);
    if (!why.empty() && run.stalls.lines > 0) {
        std::cerr << "tern-bench:   offered " << fmt_rate(rate) << " conn/s: " << fmt_rate(run.achieved)
                  << " conn/s, unclean (" << why << "); running it once more (logs kept as *.stalled)\n";
        for (const char* file : {"tern-load.log", "tern-load.json"})
            if (fs::exists(dir / file)) fs::rename(dir / file, dir / (std::string(file) + ".stalled"));
        run = once();
        run.measured_again = true;
        why = tern::bench::unclean_reasons(run, clean_run_rule);
    }
    std::cerr << "tern-bench:   offered " << fmt_rate(rate) << " conn/s: " << fmt_rate(run.achieved) << " conn/s, "
              << (!why.empty()              ? "unclean (" + why + ")"
                  : run.stalls.lines > 0 ? "clean over the seconds without a stall (tern-load " + run.stalls.text() + ")"
                                         : "clean")
              << (run.measured_again ? ", measured again" : "")
              << "\n";
    return run;
}

std::string json_number(std::optional<double> v);

// Every run of the search, for results.json.
std::string search_json(const tern::bench::search_result& r, const settings& cfg) {
    std::string j = "{\"rule\": " + quote(clean_run_rule.text()) + ", \"plan\": " + quote(cfg.plan.text()) +
                    ", \"run_s\": " + json_number(cfg.duration) + ", \"bounded\": " + (r.bounded ? "true" : "false") +
                    ", \"best_offered\": " +
                    json_number(r.best ? std::optional<double>(r.steps[*r.best].run.offered) : std::nullopt) +
                    ",\n    \"runs\": [";
    for (std::size_t i = 0; i < r.steps.size(); ++i) {
        auto& s = r.steps[i];
        j += std::string(i ? ",\n      " : "\n      ") + "{\"offered\": " + json_number(s.run.offered) +
             ", \"achieved\": " + json_number(s.run.achieved) + ", \"errors\": " + std::to_string(s.run.errors) +
             ", \"connects\": " + std::to_string(s.run.connects) + ", \"opens_missed\": " + std::to_string(s.run.opens_missed) +
             ", \"retransmits\": " + std::to_string(s.run.retransmits) +
             ", \"stalled_ms\": " + json_number(s.run.stalls.total_ms) +
             ", \"measured_again\": " + (s.run.measured_again ? "true" : "false") + ", \"clean\": " + (s.clean() ? "true" : "false") +
             ", \"unclean\": " + quote(s.unclean) + "}";
    }
    return j + "]}";
}

// The search runs once a family: cps's figure and overload's base rate both come from
// IPv4's. results.json has each as "find_max" (IPv4) and "find_max6" (IPv6).
const tern::bench::search_result& find_capacity(tern_context& t, bool v6 = false) {
    auto& found = t.capacity[v6];
    if (found) return *found;
    std::cerr << "tern-bench: " << (v6 ? "cps6" : "cps") << " capacity search: " << t.cfg.plan.text() << "; "
              << clean_run_rule.text() << "\n";
    std::size_t n = 0;
    found = tern::bench::find_max(t.cfg.plan, clean_run_rule, [&](double rate) { return measure_cps(t, rate, ++n, v6); });
    t.extras.emplace_back(v6 ? "find_max6" : "find_max", search_json(*found, t.cfg));
    return *found;
}

std::vector<figure> tern_cps(const scenario& s, tern_context& t, bool v6) {
    if (!t.cfg.find_max || !fs::exists(t.cfg.tern_dir / "tern-load")) {
        auto figs = run_tern(s, t);
        for (auto& f : figs)
            f.note = "fixed offered rate " + fmt_rate(t.cfg.cps_rate) + " conn/s, no capacity search" +
                     (t.cfg.quick ? " (--quick)" : "");
        return figs;
    }
    const auto& r = find_capacity(t, v6);
    std::string rule = clean_run_rule.text() + "; " + t.cfg.plan.text();
    if (!r.best) { // max_runs >= 1: there was a run
        const argv_t load_args = with_warmup(cps_load_args(r.steps.back().run.offered, v6), t.cfg);
        return {figure{std::nullopt, "no clean rate (lowest tried " + fmt_rate(r.steps.back().run.offered) + " conn/s)",
                       tern_how(load_args, s.tern_server_args), rule,
                       tern_command(t, load_args, s.tern_server_args, t.cfg.duration)}};
    }
    const auto& best = r.steps[*r.best].run;
    const argv_t load_args = with_warmup(cps_load_args(best.offered, v6), t.cfg);
    std::string note = "highest clean offered rate " + fmt_rate(best.offered) + " conn/s of " +
                       std::to_string(r.steps.size()) + " runs of " + fmt_duration(t.cfg.duration) + " s";
    note += r.bounded ? "" : ", none unclean: a lower bound";
    return {figure{best.achieved, "", tern_how(load_args, s.tern_server_args), note + "; " + rule,
                   tern_command(t, load_args, s.tern_server_args, t.cfg.duration)}};
}

// ---- memory ------------------------------------------------------------------------------------

// One side's kB of a /proc/PID/status field ("VmRSS:"); nullopt once the process is gone.
std::optional<long> status_kb(pid_t pid, const std::string& key) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/status");
    for (std::string k; in >> k;) {
        long v = 0;
        if (k == key && in >> v) return v;
        in.ignore(256, '\n');
    }
    return std::nullopt;
}

// Each side's resident memory, in kB, holding `n` idle keep-alive connections: tern-load
// opens them over `ramp` seconds, then sends 100 requests a second across them all, and
// both are read most of the way from the ramp's end to the run's (tern-load's connections
// closing at its end would make TIME-WAIT records that are no idle connection's).
struct memory_reading {
    double server_kb = 0, load_kb = 0;
};
memory_reading hold_idle(const tern_context& t, const fs::path& dir, unsigned n, double ramp, double run_s,
                         const argv_t& server_args, const argv_t& load_args) {
    const auto read_at = clock_type::now() + std::chrono::duration<double>(ramp + 0.6 * (run_s - ramp) + 1);
    std::optional<memory_reading> read;
    auto watch = [&](pid_t server, pid_t client, const fs::path&) {
        if (read || clock_type::now() < read_at) return;
        auto s = status_kb(server, "VmRSS:"), l = status_kb(client, "VmRSS:");
        if (s && l) read = memory_reading{double(*s), double(*l)};
    };
    auto r = run_pair(t, dir, server_args, load_args, run_s, watch);
    if (!read) throw std::runtime_error("tern-load ended before its connections were read");
    auto opened = number_after(r.json, R"("connections_open_at_end": ([0-9.eE+]+))", "tern-load --json");
    if (opened < n) throw std::runtime_error("tern-load held " + fmt_rate(opened) + " of " + std::to_string(n) + " connections");
    return *read;
}

// Idle connections (the issue's 200 bytes a connection): two runs, of n/4 and of n
// connections, with tables of the same size; each side's figure is the resident memory the
// extra connections took, per connection, plus its flow table per connection (filled at
// start, so in both runs), so that what is left out is what does not grow with connections:
// code, DPDK, the mbuf pool.
std::vector<figure> tern_memory(const scenario& s, tern_context& t) {
    const unsigned n = t.cfg.memory_connections, small = n / 4, table = n + n / 16;
    const unsigned addresses = (n + 27999) / 28000 + 1; // 28,232 ephemeral ports each
    const std::string sources = "198.18.2.10-198.18.2." + std::to_string(9 + addresses);
    // Both runs open 100,000 connections a second: the streams a ramp holds at once (new, or
    // idle less than the second tern-server waits before parking them) are then as many in
    // both, and what is left is what an idle connection costs.
    auto ramp = [](unsigned conns) { return std::max(1.0, conns / 100000.0); };
    const double hold = t.cfg.quick ? 3 : 8;
    const argv_t server_args{"--mode", "http", "--port", "8080", "--no-delay", "--max-connections", std::to_string(table)};
    auto load_args = [&](unsigned conns) {
        return argv_t{"--workload", "rps", "--rate", "100", "--connections", std::to_string(conns), "--ramp",
                      fmt_duration(ramp(conns)), "--target", "198.18.2.1:8080", "--source-ip", sources, "--max-flows",
                      std::to_string(table)};
    };
    const fs::path dir = t.cfg.out / "logs" / "tern-memory";
    std::string how = tern_how(load_args(n), server_args) + "; again with --connections " + std::to_string(small);
    std::string command = tern_command(t, load_args(n), server_args, ramp(n) + hold);
    if (!fs::exists(t.cfg.tern_dir / "tern-load"))
        return std::vector<figure>(s.metrics.size(), figure{std::nullopt, "n/a (tern-load not built)", how, "", command});
    const memory_reading a = hold_idle(t, dir / "small", small, ramp(small), ramp(small) + hold, server_args, load_args(small));
    const memory_reading b = hold_idle(t, dir / "full", n, ramp(n), ramp(n) + hold, server_args, load_args(n));
    // Each side's IPv4 flow table, sized for `table` flows and filled at start: resident
    // in both runs, so outside their difference.
    const double extra = double(n - small), table_per = double(tern::flow_table<char>::memory_for(table)) / n;
    const double server = (b.server_kb - a.server_kb) * 1024 / extra + table_per;
    const double load = (b.load_kb - a.load_kb) * 1024 / extra + table_per;
    char note[256];
    std::snprintf(note, sizeof note,
                  "resident %.0f -> %.0f kB (server), %.0f -> %.0f kB (load) from %u to %u connections, plus %.1f "
                  "bytes of flow table a connection",
                  a.server_kb, b.server_kb, a.load_kb, b.load_kb, small, n, table_per);
    t.extras.emplace_back("memory", "{\"connections\": " + std::to_string(n) + ", \"fewer\": " + std::to_string(small) +
                                        ", \"server_kb\": [" + json_number(a.server_kb) + ", " + json_number(b.server_kb) +
                                        "], \"load_kb\": [" + json_number(a.load_kb) + ", " + json_number(b.load_kb) +
                                        "], \"flow_table_bytes_per_conn\": " + json_number(table_per) + "}");
    return {figure{server, "", how, note, command}, figure{load, "", how, note, command}};
}

// ---- overload ----------------------------------------------------------------------------------

// When tern-bench stopped and resumed the server.
struct stall_times {
    clock_type::time_point stopped, resumed;
};

// Stops `pid` - tern-server, every thread of it - for `pause`. `ip netns exec` and taskset
// exec into it, so the PID we spawned is the server's own; checked, so as never to stop
// anything else.
stall_times stall(pid_t pid, std::chrono::milliseconds pause) {
    const std::string comm = slurp("/proc/" + std::to_string(pid) + "/comm");
    if (comm != "tern-server\n") throw std::runtime_error("PID " + std::to_string(pid) + " is '" + comm + "', not tern-server");
    if (::kill(pid, SIGSTOP) != 0) throw std::runtime_error(std::string("SIGSTOP: ") + std::strerror(errno));
    const auto stopped = clock_type::now();
    struct resume {
        pid_t pid;
        ~resume() { ::kill(pid, SIGCONT); } // also when the sleep ends in an exception
    } guard{pid};
    std::this_thread::sleep_until(stopped + pause);
    ::kill(pid, SIGCONT);
    return {stopped, clock_type::now()};
}

constexpr auto stall_length = 100ms;

// The overload run: --duration, but at least 4 s, so that whole seconds come before the
// stall (at 40% of the run, at least 2 s in) and after it.
double overload_seconds(const settings& cfg) { return std::max(cfg.duration, 4.0); }

// cps at twice the base rate (the capacity found, --overload-rate, or cps's fixed rate);
// once tern-load's progress line for 40% of the run is out, the server stands still for
// 100 ms. tern-load prints a line every 0.1 s (--interval), so that the recovery from a
// 100 ms stall is measured in tenths rather than whole seconds.
std::vector<figure> tern_overload(const scenario& s, tern_context& t) {
    const settings& cfg = t.cfg;
    const double run_s = overload_seconds(cfg);
    const double stall_after = std::max(0.4 * run_s, 2.0);
    double base = cfg.cps_rate;
    std::string base_from = "cps's fixed rate";
    if (cfg.overload_rate) {
        base = *cfg.overload_rate;
        base_from = "--overload-rate";
    } else if (cfg.find_max && fs::exists(cfg.tern_dir / "tern-load")) {
        const auto& r = find_capacity(t);
        if (!r.best) throw std::runtime_error("the cps capacity search found no clean rate to double");
        base = r.steps[*r.best].run.offered;
        base_from = "the cps capacity found";
    }
    argv_t load_args = cps_load_args(2 * base);
    load_args.insert(load_args.end(), {"--interval", "0.1"});
    std::string how = tern_how(load_args, s.tern_server_args) + ", " + fmt_duration(run_s) +
                      " s; tern-server SIGSTOPped for 100 ms after tern-load's second " + fmt_duration(stall_after);
    std::string command = tern_command(t, load_args, s.tern_server_args, run_s);
    if (!fs::exists(cfg.tern_dir / "tern-load"))
        return std::vector<figure>(s.metrics.size(), figure{std::nullopt, "n/a (tern-load not built)", how, "", command});

    // Where in tern-load's clock the stall fell: its progress line at `line_end` seconds was
    // seen at `seen`. Seen up to a 20 ms poll late, the stall's times come out up to that
    // much early, and the recovery up to that much long.
    std::optional<stall_times> stalled;
    pid_t stalled_server = 0; // a pair run again (link_carried_nothing) has a new server
    double line_end = 0;
    clock_type::time_point seen;
    auto watch = [&](pid_t server, pid_t, const fs::path& log) {
        if (stalled && stalled_server == server) return;
        stalled.reset();
        auto secs = tern::bench::parse_progress(slurp(log));
        if (secs.empty() || secs.back().end_s < stall_after) return;
        seen = clock_type::now();
        line_end = secs.back().end_s;
        stalled = stall(server, stall_length);
        stalled_server = server;
    };
    auto r = run_pair(t, cfg.out / "logs" / "tern-overload", s.tern_server_args, load_args, run_s, watch);
    if (!stalled || stalled_server != r.server) throw std::runtime_error("tern-load ended before its second " + fmt_duration(stall_after) + " (no stall)");
    auto load_clock = [&](clock_type::time_point p) { return line_end + std::chrono::duration<double>(p - seen).count(); };
    const double stall_s = load_clock(stalled->stopped), resume_s = load_clock(stalled->resumed);
    const auto lines = tern::bench::parse_progress(slurp(r.load_log));
    const auto f = tern::bench::overload_from(lines, stall_s, resume_s);
    if (!f) throw std::runtime_error("no progress line of tern-load before the stall");
    auto p = tern::bench::parse_cps_report(r.json, 2 * base);

    auto series = [](const std::vector<tern::bench::second>& v) {
        std::string j;
        for (auto& x : v) {
            // (Appended piece by piece: GCC 12 warned of a memcpy past any object size in
            // the one expression that began with the ?: of two string literals.)
            if (!j.empty()) j += ", ";
            j += "[" + json_number(x.end_s) + ", " + json_number(x.conn_per_s) + "]";
        }
        return "[" + j + "]";
    };
    t.extras.emplace_back(
        "overload",
        "{\"base_rate\": " + json_number(base) + ", \"base_from\": " + quote(base_from) +
            ", \"offered\": " + json_number(2 * base) + ", \"run_s\": " + json_number(run_s) +
            ", \"stall_at_s\": " + json_number(stall_s) + ", \"resume_at_s\": " + json_number(resume_s) +
            ", \"pre_stall_conn_per_s\": " + json_number(f->pre_stall) +
            ", \"machine_stalled_seconds\": " + std::to_string(f->stalled_seconds) +
            ", \"goodput_unstalled_share\": " + json_number(f->goodput_share_unstalled) + ", \"errors\": " +
            (p.run ? std::to_string(p.run->errors) : "null") + ", \"opens_missed\": " +
            (p.run ? std::to_string(p.run->opens_missed) : "null") +
            ",\n    \"per_second\": " + series(tern::bench::whole_seconds(lines)) +
            ",\n    \"per_tenth\": " + series(lines) + ",\n    \"figures\": " +
            quote("[end_s, conn/s] pairs; peak: the best second; goodput: the mean of every second but the first "
                  "(from idle), as % of the peak; recovery: from SIGCONT to the end of the first 0.1 s line ending "
                  "after it at >= 90% of the last second before the stall") +
            "}");
    std::string note = "offered " + fmt_rate(2 * base) + " conn/s = 2 x " + fmt_rate(base) + " (" + base_from + ")";
    if (p.run)
        note += "; tern-load counted " + std::to_string(p.run->errors) + " errors, " +
                std::to_string(p.run->opens_missed) + " opens missed";
    // The VM's own stalls (capacity.hpp, machine_stall_ms) cost goodput that is not the pair's.
    std::string goodput_note = note;
    if (f->stalled_seconds > 0) {
        goodput_note += "; tern-load stood still " + fmt_rate(tern::bench::machine_stall_ms) +
                        " ms or more (the machine) in " + std::to_string(f->stalled_seconds) + " of the seconds counted";
        goodput_note += f->goodput_share_unstalled ? ": without them " + fmt_rate(*f->goodput_share_unstalled * 100) + "%"
                                                   : ", in all of them";
    }
    std::optional<double> recovery_ms;
    if (f->recovery_s) recovery_ms = *f->recovery_s * 1000;
    return {figure{f->peak, "", how + " (the best second)", note, command},
            figure{f->goodput_share * 100, "", how + " (mean conn/s of every second but the first, over the peak)",
                   goodput_note, command},
            figure{recovery_ms, recovery_ms ? "" : "not within the run",
                   how + " (SIGCONT to the end of the first 0.1 s at >= 90% of the second before the stall, " +
                       fmt_rate(f->pre_stall) + " conn/s)",
                   note, command}};
}

// ---- output ---------------------------------------------------------------------------------

struct row {
    std::string scenario;
    metric m;
    figure tern, kernel;
};

std::string fmt_value(double v) {
    char b[64];
    if (v >= 1000) std::snprintf(b, sizeof b, "%.0f", v);
    else if (v >= 10) std::snprintf(b, sizeof b, "%.1f", v);
    else std::snprintf(b, sizeof b, "%.3g", v);
    return b;
}
std::string shown(const figure& f, const metric& m) {
    return f.value ? fmt_value(*f.value) + " " + m.unit : f.text;
}
// tern relative to the kernel, >1 where tern does better (for latency: kernel/tern).
std::optional<double> ratio(const row& r) {
    if (!r.tern.value || !r.kernel.value || *r.tern.value <= 0 || *r.kernel.value <= 0) return std::nullopt;
    return r.m.lower_is_better ? *r.kernel.value / *r.tern.value : *r.tern.value / *r.kernel.value;
}
std::string shown_ratio(const row& r) {
    if (auto q = ratio(r)) {
        char b[32];
        std::snprintf(b, sizeof b, "%.3gx", *q);
        return b;
    }
    if (!r.tern.value && !r.tern.text.empty()) return r.tern.text;
    return "n/a";
}

std::string markdown(const std::vector<row>& rows) {
    auto cell = [](std::string s) {
        for (std::size_t p = 0; (p = s.find('|', p)) != std::string::npos; p += 2) s.replace(p, 1, "\\|");
        return s;
    };
    std::string t = "| scenario | tern | kernel | ratio (>1: tern better) | how measured |\n";
    t += "|---|---|---|---|---|\n";
    auto side = [](const std::string& name, const figure& f) {
        if (f.how.empty()) return std::string();
        return name + ": `" + f.how + "`" + (f.note.empty() ? "" : " (" + f.note + ")");
    };
    for (auto& r : rows) {
        std::string how = side("kernel", r.kernel), tern = side("tern", r.tern);
        how += (how.empty() || tern.empty() ? "" : "; ") + tern;
        t += "| " + cell(r.m.name) + " | " + cell(shown(r.tern, r.m)) + " | " + cell(shown(r.kernel, r.m)) + " | " +
             cell(shown_ratio(r)) + " | " + cell(how) + " |\n";
    }
    return t;
}

std::string json_number(std::optional<double> v) {
    if (!v) return "null";
    char b[64];
    std::snprintf(b, sizeof b, "%.17g", *v);
    return b;
}
std::string json_figure(const figure& f, const metric& m) {
    return "{\"value\": " + json_number(f.value) + ", \"unit\": " + quote(m.unit) +
           ", \"text\": " + quote(f.value ? fmt_value(*f.value) + " " + m.unit : f.text) +
           ", \"measured_by\": " + quote(f.how) + ", \"command\": " + quote(f.command) +
           ", \"note\": " + quote(f.note) + "}";
}

std::string json(const std::vector<row>& rows, const settings& cfg,
                 const std::vector<std::pair<std::string, std::string>>& extras) {
    std::string j = "{\n  \"tool\": \"tern-bench\",\n  \"duration_s\": " + json_number(cfg.duration) +
                    ",\n  \"pinning\": \"server on core 1, client on core 0\",\n"
                    "  \"kernel_link\": \"veth pair between two network namespaces, 198.18.1.1/24 - 198.18.1.2/24\",\n"
                    "  \"tern_link\": \"net_memif (rsize=" + std::to_string(cfg.memif_rsize) +
                    ") between two tern processes, 198.18.2.1/24 - 198.18.2.2/24\",\n"
                    "  \"ratio\": \"tern relative to kernel, above 1 where tern does better (latency: kernel/tern)\",\n"
                    "  \"results\": [\n";
    for (std::size_t i = 0; i < rows.size(); ++i) {
        auto& r = rows[i];
        j += "    {\"scenario\": " + quote(r.scenario) + ", \"metric\": " + quote(r.m.name) +
             ", \"unit\": " + quote(r.m.unit) + ", \"lower_is_better\": " + (r.m.lower_is_better ? "true" : "false") +
             ",\n     \"tern\": " + json_figure(r.tern, r.m) + ",\n     \"kernel\": " + json_figure(r.kernel, r.m) +
             ",\n     \"ratio\": " + json_number(ratio(r)) + "}" + (i + 1 < rows.size() ? "," : "") + "\n";
    }
    j += "  ]";
    // find_max: every run of the capacity search and the rule; overload: its seconds.
    for (auto& [name, value] : extras) j += ",\n  " + quote(name) + ": " + value;
    return j + "\n}\n";
}

// One panel per metric (each has its own unit): a bar for tern and one for the kernel; a
// missing figure is an empty slot labelled n/a.
void chart(const std::vector<row>& rows, const fs::path& dir) {
    std::string g = "set terminal pngcairo size " + std::to_string(360 * std::max<std::size_t>(rows.size(), 1)) +
                    ",420 font 'sans,10'\nset output " + quote((dir / "results.png").string()) +
                    "\nset style fill solid 0.8 border -1\nset boxwidth 0.6\nset yrange [0:*]\nset xrange [-0.6:1.6]\n"
                    "set grid ytics\nunset key\n"
                    "set multiplot layout 1," + std::to_string(rows.size()) + " title 'tern-bench: tern (memif) vs kernel (veth)'\n";
    for (auto& r : rows) {
        g += "set title " + quote(r.m.name + (r.m.lower_is_better ? " (lower is better)" : "")) + "\n";
        g += "set ylabel " + quote(r.m.unit) + "\n";
        std::string tern_label = r.tern.value ? "tern" : "tern: n/a";
        g += "set xtics (" + quote(tern_label) + " 0, \"kernel\" 1)\n";
        g += "plot '-' using 1:2 with boxes lc rgb '#3070b0'\n";
        g += "0 " + (r.tern.value ? json_number(r.tern.value) : std::string("NaN")) + "\n";
        g += "1 " + (r.kernel.value ? json_number(r.kernel.value) : std::string("NaN")) + "\ne\n";
    }
    g += "unset multiplot\n";
    std::ofstream(dir / "results.gnuplot") << g;
    run({"gnuplot", (dir / "results.gnuplot").string()}, dir / "logs" / "gnuplot.log", 30s);
}

// The bare link (link_floor, built beside tern-bench): what the memif pair, cores and ring
// tern's rows use carry with nothing on them but DPDK. Each figure is measured just before
// the scenario whose rows it bounds: a ping-pong of 118-byte frames (a 64-byte message with
// its TCP/IP headers) before pingpong, 1514-byte frames one way before throughput, 9014-byte
// ones before jumbo. Just before, not once for the whole run: on the VM of 2026-12-05 a
// floor measured before the scenarios read p50 1.48 us and 26.1 Gbit/s, and tern carried
// its ping-pong at 0.995 us and 75 Gbit/s at MTU 9000 ten minutes later.
struct link_floor_result {
    std::optional<tern::bench::floor_round_trip> round_trip;
    std::optional<tern::bench::floor_rounds> rounds; // before rps (or rps6): as many in flight as connections
    std::optional<double> gbit_1514, gbit_9014;
    std::vector<std::string> missing;        // a figure that could not be measured, and why
    std::vector<std::string> measured_again; // a first try that gave no figure, and what it printed
};

// One link_floor pair: the server side's mode and the client side's; the client's output.
std::string link_floor_pair(const tern_context& t, const fs::path& dir, const std::string& name,
                            const argv_t& server_mode, const argv_t& client_mode, double seconds) {
    const eal_run_dirs cleanup{t.id};
    fs::remove(t.socket);
    argv_t server = t.eal("link_floor", "server", server_core);
    server.push_back("--");
    server.insert(server.end(), server_mode.begin(), server_mode.end());
    const pid_t pid = spawn(t.net.on_server(server), dir / (name + ".server.log"));
    wait_for_memif_socket(t, pid, "link_floor's server side", dir / (name + ".server.log"));
    argv_t client = t.eal("link_floor", "client", client_core);
    client.push_back("--");
    client.insert(client.end(), client_mode.begin(), client_mode.end());
    std::string out;
    try {
        out = run(t.net.on_client(client), dir / (name + ".client.log"), std::chrono::seconds(int(seconds) + 45));
    } catch (...) {
        stop(pid);
        throw;
    }
    wait_until(pid, clock_type::now() + 5s); // it ends a second after the last frame
    stop(pid);
    return out + slurp(dir / (name + ".server.log"));
}

// One link_floor pair for scenario `key`; false when it gave no figure.
bool measure_floor_once(const std::string& key, const tern_context& t, const fs::path& dir, const std::string& name,
                        bool quick, link_floor_result& r) {
    if (key == "pingpong") {
        // The reflecting side stops by itself, well after the ping's last round trip.
        const std::string count = quick ? "100000" : "500000";
        r.round_trip = tern::bench::parse_floor_round_trip(
            link_floor_pair(t, dir, name, {"reflect", "30"}, {"ping", count}, 30));
        return r.round_trip.has_value();
    }
    const double seconds = quick ? 1 : 3;
    if (key == "rps" || key == "rps6") {
        // As many frames in flight as the row keeps requests (one a connection, closed loop).
        r.rounds = tern::bench::parse_floor_rounds(link_floor_pair(
            t, dir, name, {"reflect", "30"}, {"rounds", std::to_string(t.cfg.connections), fmt_duration(seconds)},
            seconds + 1));
        return r.rounds.has_value();
    }
    const std::string bytes = key == "jumbo" ? "9014" : "1514";
    const auto rate = tern::bench::parse_floor_gbit(
        link_floor_pair(t, dir, name, {"sink", std::to_string(int(seconds) + 30)}, {"blast", bytes, fmt_duration(seconds)},
                        seconds),
        "sink");
    (key == "jumbo" ? r.gbit_9014 : r.gbit_1514) = rate;
    return rate.has_value();
}

// The floor for scenario `key` (pingpong, throughput, jumbo, and the first of rps and rps6;
// nothing for the others) into `r`, with t.mtu already the scenario's.
void measure_link_floor(const std::string& key, const tern_context& t, bool quick, link_floor_result& r) {
    const bool rounds = (key == "rps" || key == "rps6") && !r.rounds;
    if (key != "pingpong" && key != "throughput" && key != "jumbo" && !rounds) return;
    if (!fs::exists(t.cfg.tern_dir / "link_floor")) {
        r.missing.push_back(key + ": no link_floor beside tern-bench in " + t.cfg.tern_dir.string());
        return;
    }
    if (rounds && t.cfg.connections > (1u << t.cfg.memif_rsize)) {
        // More frames in flight than a ring has slots: the reflecting side's sends are refused
        // and the frames lost, which rounds does not replace (the figure would be of fewer).
        r.missing.push_back(key + ": " + std::to_string(t.cfg.connections) + " frames in flight do not fit a ring of " +
                            std::to_string(1u << t.cfg.memif_rsize) + " slots");
        return;
    }
    const fs::path dir = t.cfg.out / "logs" / "link-floor";
    fs::create_directories(dir);
    std::cerr << "tern-bench:   the bare link first (link_floor on the memif pair)\n";
    // A pair that gives no figure is run once more (a suite run once saw a sink report
    // nothing, and its logs were gone); the first try's logs stay beside, as NAME.first.*,
    // and what both sides printed last goes into results.json.
    const std::string name = key == "pingpong" ? "ping-pong"
                             : rounds          ? "rounds-" + std::to_string(t.cfg.connections)
                             : key == "jumbo"  ? "one-way-9014"
                                               : "one-way-1514";
    const std::string what = key == "pingpong" ? "link_floor's ping reported no round trips"
                             : rounds          ? "link_floor's rounds reported no rate"
                                               : "link_floor's sink reported no rate";
    try {
        for (int attempt = 1;; ++attempt) {
            if (measure_floor_once(key, t, dir, name, quick, r)) return;
            std::string printed = "client: " + tail(slurp(dir / (name + ".client.log")), 2) +
                                  " server: " + tail(slurp(dir / (name + ".server.log")), 2);
            std::replace(printed.begin(), printed.end(), '\n', ' ');
            if (attempt == 2) {
                r.missing.push_back(key + ": " + what + " twice (logs/link-floor; last lines: " + printed + ")");
                return;
            }
            r.measured_again.push_back(key + ": " + what + " (last lines: " + printed + ")");
            for (const char* side : {".client.log", ".server.log"})
                fs::rename(dir / (name + side), dir / (name + ".first" + side));
        }
    } catch (const std::exception& e) {
        r.missing.push_back(key + ": " + e.what());
    }
}

// The line under the table; empty when none of pingpong, rps, rps6, throughput and jumbo ran.
std::string link_floor_text(const link_floor_result& f, unsigned rsize) {
    std::string t = "The bare link (link_floor: DPDK alone on the same memif pair, cores and ring, rsize=" +
                    std::to_string(rsize) + "), just before the rows it bounds:";
    char b[200];
    if (f.rounds) {
        std::snprintf(b, sizeof b, " rps, %u 118-byte frames in flight, each sent back as it comes, %.0f round trips/s;",
                      f.rounds->in_flight, f.rounds->per_second);
        t += b;
    }
    if (f.round_trip) {
        std::snprintf(b, sizeof b, " pingpong, a round trip of 118-byte frames p50 %.2f us, p99 %.2f, p99.9 %.2f;",
                      f.round_trip->p50_us, f.round_trip->p99_us, f.round_trip->p99_9_us);
        t += b;
    }
    if (f.gbit_1514) {
        std::snprintf(b, sizeof b, " throughput, 1514-byte frames one way %.1f Gbit/s;", *f.gbit_1514);
        t += b;
    }
    if (f.gbit_9014) {
        std::snprintf(b, sizeof b, " jumbo, 9014-byte frames one way %.1f Gbit/s;", *f.gbit_9014);
        t += b;
    }
    for (const std::string& m : f.missing) t += " not measured: " + m + ";";
    for (const std::string& m : f.measured_again) t += " measured again, the first try giving nothing: " + m + ";";
    if (t.back() != ';') return ""; // none of those scenarios ran
    t.back() = '.';
    return t + " What the link itself carried then, beside what tern carries over it.";
}

std::string link_floor_json(const link_floor_result& f) {
    std::string j = "{";
    if (f.round_trip)
        j += "\"round_trip_us\": {\"samples\": " + std::to_string(f.round_trip->samples) +
             ", \"p50\": " + json_number(f.round_trip->p50_us) + ", \"p99\": " + json_number(f.round_trip->p99_us) +
             ", \"p99_9\": " + json_number(f.round_trip->p99_9_us) + "}, ";
    if (f.rounds)
        j += "\"rounds\": {\"in_flight\": " + std::to_string(f.rounds->in_flight) +
             ", \"round_trips_per_s\": " + json_number(f.rounds->per_second) + "}, ";
    if (f.gbit_1514) j += "\"one_way_1514_gbit_per_s\": " + json_number(*f.gbit_1514) + ", ";
    if (f.gbit_9014) j += "\"one_way_9014_gbit_per_s\": " + json_number(*f.gbit_9014) + ", ";
    auto list = [](const std::vector<std::string>& items) {
        std::string l = "[";
        for (std::size_t i = 0; i < items.size(); ++i) {
            if (i > 0) l += ", ";
            l += quote(items[i]);
        }
        return l + "]";
    };
    return j + "\"missing\": " + list(f.missing) + ", \"measured_again\": " + list(f.measured_again) + "}";
}

// The machine's own pauses (bench/pauses.hpp), measured before the scenarios: the floor
// under the tail rows.
std::string pauses_text(const std::vector<tern::bench::pause_count>& counts) {
    std::string t = "Machine pauses (a thread spinning alone on each core";
    char b[160];
    std::snprintf(b, sizeof b, ", %.1f s, before the scenarios):", counts.empty() ? 0.0 : counts.front().seconds);
    t += b;
    for (std::size_t i = 0; i < counts.size(); ++i) {
        const auto& c = counts[i];
        std::snprintf(b, sizeof b, "%s core %d over 10 us %.0f/s, over 20 us %.0f/s, over 100 us %.0f/s, longest %.0f us",
                      i ? ";" : "", c.core, c.per_second(c.over_10us), c.per_second(c.over_20us),
                      c.per_second(c.over_100us), c.longest_us);
        t += b;
    }
    return t + ". No tail percentile of a run on these cores can be shorter than the pauses its requests meet.";
}
std::string pauses_json(const std::vector<tern::bench::pause_count>& counts) {
    std::string j = "[";
    for (std::size_t i = 0; i < counts.size(); ++i) {
        const auto& c = counts[i];
        j += std::string(i ? ", " : "") + "{\"core\": " + std::to_string(c.core) +
             ", \"seconds\": " + json_number(c.seconds) +
             ", \"over_10us_per_s\": " + json_number(c.per_second(c.over_10us)) +
             ", \"over_20us_per_s\": " + json_number(c.per_second(c.over_20us)) +
             ", \"over_100us_per_s\": " + json_number(c.per_second(c.over_100us)) +
             ", \"longest_us\": " + json_number(c.longest_us) + "}";
    }
    return j + "]";
}

std::vector<std::string> split(const std::string& s, char sep) {
    std::vector<std::string> v;
    std::stringstream ss(s);
    for (std::string x; std::getline(ss, x, sep);)
        if (!x.empty()) v.push_back(x);
    return v;
}

fs::path own_dir() {
    std::error_code ec;
    auto p = fs::read_symlink("/proc/self/exe", ec);
    return ec ? fs::current_path() : p.parent_path();
}

} // namespace

int main(int argc, char** argv) {
    po::options_description desc("tern-bench options");
    desc.add_options()("help,h", "this text")
        ("scenarios", po::value<std::string>()->default_value("cps,cps6,rps,rps6,throughput,jumbo,pingpong,overload,memory"),
         "comma-separated: cps, cps6, rps, rps6, throughput, jumbo, pingpong, overload, memory")
        ("duration", po::value<double>(), "seconds per scenario and side (default 10; 2 with --quick)")
        ("out", po::value<std::string>()->default_value("tern-bench-out"), "folder for results.md/.json/.png and logs")
        ("connections", po::value<unsigned>()->default_value(32), "wrk connections for cps and rps (1-10000)")
        ("tern-dir", po::value<std::string>(), "folder with tern-server and tern-load (default: ours, ../apps)")
        ("quick", po::bool_switch(), "a short run: 2 s per scenario, cps at a fixed 3000 conn/s, no search "
                                     "(the test suite's smoke run)")
        ("find-max", po::bool_switch(), "cps: offer rising rates and report the highest clean one (the default "
                                        "without --quick or --cps-rate)")
        ("cps-rate", po::value<double>(), "cps: offer this fixed rate (conn/s) instead of searching")
        ("start-rate", po::value<double>()->default_value(100000), "cps search: the first rate offered")
        ("max-runs", po::value<unsigned>()->default_value(10), "cps search: at most this many runs of --duration")
        ("bisections", po::value<unsigned>()->default_value(3),
         "cps search: midpoints tried between the highest clean and the lowest unclean rate (0-10)")
        ("overload-rate", po::value<double>(), "overload: offer twice this rate (default: the capacity cps found)")
        ("memory-connections", po::value<unsigned>(),
         "memory: idle connections held (10000-6000000; default 1000000, 20000 with --quick)")
        ("warmup", po::value<double>(), "seconds tern-load runs before it measures, on every tern run but "
                                        "overload's (default 2; 0 with --quick)")
        ("memif-rsize", po::value<unsigned>()->default_value(14),
         "log2 of the slots of each memif ring between the tern processes (8-14; 14: 16384 slots)");
    po::variables_map vm;
    settings cfg;
    std::vector<scenario> chosen;
    try {
        const po::parsed_options given = po::parse_command_line(argc, argv, desc);
        // Boost drops a word that is no option's value (we declare no positional ones): a
        // typo would start a full run of many minutes.
        for (const po::option& o : given.options)
            if (o.string_key.empty() && !o.original_tokens.empty())
                throw std::invalid_argument("'" + o.original_tokens.front() +
                                            "' is no option's value (options start with --)");
        po::store(given, vm);
        po::notify(vm);
        if (vm.count("help")) {
            std::cout << "usage: tern-bench [options]   (as root: it makes network namespaces)\n" << desc;
            return 0;
        }
        cfg.quick = vm["quick"].as<bool>();
        if (vm["find-max"].as<bool>() && vm.count("cps-rate"))
            throw std::invalid_argument("--find-max: conflicts with --cps-rate (a fixed rate)");
        cfg.find_max = vm["find-max"].as<bool>() || (!cfg.quick && !vm.count("cps-rate"));
        cfg.cps_rate = vm.count("cps-rate") ? vm["cps-rate"].as<double>() : cfg.quick ? 3000 : 150000;
        cfg.plan.start = vm["start-rate"].as<double>();
        cfg.plan.max_runs = vm["max-runs"].as<unsigned>();
        if (vm["bisections"].as<unsigned>() > 10) throw std::invalid_argument("--bisections: must be within 0-10");
        cfg.plan.bisections = int(vm["bisections"].as<unsigned>());
        if (vm.count("overload-rate")) cfg.overload_rate = vm["overload-rate"].as<double>();
        for (auto [name, rate] : {std::pair{"--cps-rate", std::optional(cfg.cps_rate)}, {"--start-rate", std::optional(cfg.plan.start)},
                                  {"--overload-rate", cfg.overload_rate}})
            if (rate && !(*rate >= 100 && *rate <= 1e8))
                throw std::invalid_argument(std::string(name) + ": must be within 100-1e8 conn/s");
        if (cfg.plan.max_runs < 1 || cfg.plan.max_runs > 50) throw std::invalid_argument("--max-runs: must be within 1-50");
        cfg.duration = vm.count("duration") ? vm["duration"].as<double>() : cfg.quick ? 2 : 10;
        if (!(cfg.duration >= 1 && cfg.duration <= 3600)) throw std::invalid_argument("--duration: must be within 1-3600");
        cfg.warmup = vm.count("warmup") ? vm["warmup"].as<double>() : cfg.quick ? 0 : 2;
        if (!(cfg.warmup >= 0 && cfg.warmup <= 10)) throw std::invalid_argument("--warmup: must be within 0-10");
        cfg.memory_connections = vm.count("memory-connections") ? vm["memory-connections"].as<unsigned>()
                                 : cfg.quick                      ? 20000
                                                                  : 1000000;
        if (cfg.memory_connections < 10000 || cfg.memory_connections > 6000000)
            throw std::invalid_argument("--memory-connections: must be within 10000-6000000");
        cfg.memif_rsize = vm["memif-rsize"].as<unsigned>();
        if (cfg.memif_rsize < 8 || cfg.memif_rsize > 14) throw std::invalid_argument("--memif-rsize: must be within 8-14");
        cfg.connections = vm["connections"].as<unsigned>();
        if (cfg.connections < 1 || cfg.connections > 10000)
            throw std::invalid_argument("--connections: must be within 1-10000");
        // Both found out now, not after the kernel's side of the first scenario has run.
        cfg.tern_dir = vm.count("tern-dir") ? fs::path(vm["tern-dir"].as<std::string>()) : own_dir();
        for (const char* app : {"tern-server", "tern-load"})
            if (::access((cfg.tern_dir / app).c_str(), X_OK) != 0)
                throw std::invalid_argument("--tern-dir: " + cfg.tern_dir.string() + " has no " + app + " to run");
        cfg.out = fs::absolute(vm["out"].as<std::string>());
        std::error_code ec;
        fs::create_directories(cfg.out / "logs", ec);
        if (ec) throw std::invalid_argument("--out: cannot make " + (cfg.out / "logs").string() + ": " + ec.message());
        auto all = scenarios();
        for (auto& name : split(vm["scenarios"].as<std::string>(), ',')) {
            auto it = std::find_if(all.begin(), all.end(), [&](auto& s) { return s.key == name; });
            if (it == all.end())
                throw std::invalid_argument("--scenarios: '" + name +
                                            "' is not cps, cps6, rps, rps6, throughput, jumbo, pingpong, overload or memory");
            chosen.push_back(*it);
        }
        if (chosen.empty()) throw std::invalid_argument("--scenarios: none given");
    } catch (const std::exception& e) {
        std::cerr << "tern-bench: " << e.what() << "\n";
        return 2;
    }
    if (::geteuid() != 0) {
        std::cerr << "tern-bench: run as root: it makes network namespaces\n";
        return 2;
    }

    struct sigaction sa {};
    sa.sa_handler = on_signal;
    ::sigaction(SIGINT, &sa, nullptr);
    ::sigaction(SIGTERM, &sa, nullptr);
    ::sigaction(SIGHUP, &sa, nullptr);

    const long huge_free_kb = hugepages_free_kb();
    cfg.hugepages = huge_free_kb >= hugepages_wanted_kb;
    const std::string memory_line = memory_kind(cfg.hugepages, huge_free_kb);
    std::cerr << "tern-bench: " << memory_line << "\n";

    std::vector<row> rows;
    std::vector<std::pair<std::string, std::string>> extras;
    std::vector<tern::bench::pause_count> pauses;
    link_floor_result floor;
    int exit_code = 0;
    try {
        for (auto& [tool, package] : {std::pair{"ip", "iproute2"}, {"taskset", "util-linux"}, {"nginx", "nginx-light"},
                                      {"wrk", "wrk"}, {"iperf3", "iperf3"}, {"sockperf", "sockperf"},
                                      {"gnuplot", "gnuplot-nox"}})
            require(tool, package);
        if (std::thread::hardware_concurrency() < 2)
            throw std::runtime_error("needs two cores (server on core 1, client on core 0)");
        fs::create_directories(cfg.out / "logs");
        std::cerr << "tern-bench: the machine's own pauses, a thread spinning on each core\n";
        pauses = tern::bench::measure_pauses({client_core, server_core}, cfg.quick ? 1000ms : 3000ms);
        veth_pair net(cfg.out / "logs");
        net.setup();
        tern_context tern{cfg, net, cfg.out / "memif.sock", std::to_string(::getpid())};
        for (auto& s : chosen) {
            std::cerr << "tern-bench: " << s.key << " (" << s.description << "), "
                      << (s.key == "overload" ? overload_seconds(cfg) : cfg.duration) << " s\n";
            kernel_context k{net, cfg, cfg.out / "logs" / ("kernel-" + s.key)};
            fs::create_directories(k.dir);
            std::vector<figure> kernel, ternf;
            net.set_mtu(s.mtu);
            tern.mtu = s.mtu;
            const std::size_t missing_before = floor.missing.size();
            measure_link_floor(s.key, tern, cfg.quick, floor);
            if (floor.missing.size() > missing_before)
                std::cerr << "tern-bench:   the bare link: " << floor.missing.back() << "\n";
            // One failing scenario does not stop the others; its figure reads "error" and
            // tern-bench exits 1.
            try {
                kernel = s.kernel(k);
            } catch (const interrupted&) {
                throw;
            } catch (const std::exception& e) {
                std::cerr << "tern-bench: " << s.key << " kernel: " << e.what() << "\n";
                kernel.assign(s.metrics.size(), figure{std::nullopt, "error (see logs/kernel-" + s.key + ")", "", ""});
                exit_code = 1;
                stop_all();
            }
            try {
                ternf = s.tern ? s.tern(s, tern) : run_tern(s, tern);
            } catch (const interrupted&) {
                throw;
            } catch (const std::exception& e) {
                std::cerr << "tern-bench: " << s.key << " tern: " << e.what() << "\n";
                ternf.assign(s.metrics.size(), figure{std::nullopt, "error (see logs/tern-" + s.key + ")", "", ""});
                exit_code = 1;
                stop_all();
            }
            for (std::size_t i = 0; i < s.metrics.size(); ++i)
                rows.push_back(row{s.key, s.metrics[i], ternf[i], kernel[i]});
        }
        extras = tern.extras;
        extras.emplace_back("machine_pauses", pauses_json(pauses));
        extras.emplace_back("link_floor", link_floor_json(floor));
        extras.emplace_back("tern_memory", quote(memory_line));
        stop_all();
    } catch (const interrupted&) {
        stop_all();
        std::cerr << "tern-bench: interrupted; peers stopped and namespaces removed\n";
        return 130;
    } catch (const std::exception& e) {
        stop_all();
        std::cerr << "tern-bench: " << e.what() << "\n";
        return 1;
    }

    std::string table = markdown(rows);
    const std::string floor_line = link_floor_text(floor, cfg.memif_rsize);
    const std::string machine = pauses_text(pauses) + (floor_line.empty() ? "" : "\n" + floor_line);
    std::ofstream(cfg.out / "results.md") << table << "\n" << memory_line << ".\n" << machine << "\n";
    std::ofstream(cfg.out / "results.json") << json(rows, cfg, extras);
    try {
        chart(rows, cfg.out);
    } catch (const std::exception& e) {
        std::cerr << "tern-bench: chart: " << e.what() << "\n";
        exit_code = 1;
    }
    std::cout << table << "\n"
              << "Kernel: veth between two namespaces; tern: net_memif (rsize=" << cfg.memif_rsize
              << ") between two processes; server on core 1, "
                 "client on core 0, "
              << cfg.duration << " s per scenario"
              << (cfg.warmup > 0 ? " (tern-load measures after a " + fmt_duration(cfg.warmup) + " s warm-up, overload aside)" : "")
              << ".\n"
              << memory_line << ".\n"
              << machine << "\n"
              << "Written: " << (cfg.out / "results.md").string() << ", results.json, results.png\n";
    return exit_code;
}
