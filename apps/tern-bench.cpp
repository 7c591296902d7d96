// tern-bench: the benchmark harness. Runs the standard scenarios twice - between two tern
// processes joined by net_memif (tern-server and tern-load), and between two Linux network
// namespaces joined by a veth pair (nginx, wrk, iperf3, sockperf) - and prints one markdown
// table (scenario, tern, kernel, ratio, how measured), with results.json and results.png.
//
//   tern-bench [--scenarios cps,rps,throughput,pingpong] [--duration S] [--out DIR] [--quick]
//
// Server peers run on core 0, client peers on core 1 (taskset). Every child is started with
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
using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;

namespace {

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

// SIGTERM, then SIGKILL after a grace period; reaps the child.
void stop(pid_t pid) {
    if (std::find(g_children.begin(), g_children.end(), pid) == g_children.end()) return;
    ::kill(pid, SIGTERM);
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

// Is `tool` on PATH? A missing tool is an error naming the Debian package.
bool on_path(const std::string& tool) {
    const char* path = std::getenv("PATH");
    std::stringstream ss(path ? path : "/usr/sbin:/usr/bin:/sbin:/bin");
    for (std::string dir; std::getline(ss, dir, ':');)
        if (::access((fs::path(dir) / tool).c_str(), X_OK) == 0) return true;
    return false;
}
void require(const std::string& tool, const std::string& package) {
    if (!on_path(tool))
        throw std::runtime_error(tool + " not found: install the Debian package " + package +
                                 " (scripts/common.sh install_deps does)");
}

// ---- the namespaces --------------------------------------------------------------------------

// Two namespaces joined by a veth pair: server 198.18.1.1/24, client 198.18.1.2/24. Names carry
// our PID; the destructor removes both (which also removes the veth pair).
struct veth_pair {
    std::string server_ns, client_ns;
    fs::path logs;
    bool made_server = false, made_client = false;

    static constexpr const char* server_ip = "198.18.1.1";
    static constexpr const char* client_ip = "198.18.1.2";

    explicit veth_pair(const fs::path& log_dir) : logs(log_dir) {}
    // Separate from the constructor so that the destructor also undoes a half-made pair.
    void setup() {
        auto id = std::to_string(::getpid());
        server_ns = "tern-bench-s-" + id;
        client_ns = "tern-bench-c-" + id;
        std::string vs = "tbs" + id, vc = "tbc" + id; // interface names: at most 15 bytes
        auto ip = [&](argv_t args) {
            args.insert(args.begin(), "ip");
            run(args, logs / "ip.log", 10s);
        };
        ip({"netns", "add", server_ns});
        made_server = true;
        ip({"netns", "add", client_ns});
        made_client = true;
        ip({"link", "add", vs, "netns", server_ns, "type", "veth", "peer", "name", vc, "netns", client_ns});
        for (auto& [ns, dev, addr] : {std::tuple{server_ns, vs, std::string(server_ip) + "/24"},
                                      std::tuple{client_ns, vc, std::string(client_ip) + "/24"}}) {
            ip({"-n", ns, "link", "set", "lo", "up"});
            ip({"-n", ns, "addr", "add", addr, "dev", dev});
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
    argv_t on_server(const argv_t& argv) const { return in(server_ns, 0, argv); }
    argv_t on_client(const argv_t& argv) const { return in(client_ns, 1, argv); }

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
    fs::path out;
    fs::path tern_dir;  // where tern-server and tern-load live
    bool quick = false;
    unsigned connections = 32;
};

// A kernel run returns one figure per metric of its scenario (pingpong: p50 and p99).
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

// The tern side over net_memif: each process its own --file-prefix, the server on lcore 0 in
// the server's namespace, the client on lcore 1 in the client's (the memif socket is a file
// both can reach; no interface of the machine's own is involved).
struct tern_context {
    const settings& cfg;
    const veth_pair& net;
    fs::path socket;
    std::string id;

    argv_t eal(const std::string& binary, const std::string& role, int lcore) const {
        return {(cfg.tern_dir / binary).string(), "--no-huge", "-m", "1024", "--no-pci", "-l", std::to_string(lcore),
                "--file-prefix", "tern_bench_" + role + "_" + id,
                // A socket file rather than memif's default abstract address, so that we can see
                // when the server has made it; the two sides need distinct MACs (memif's default
                // is one fixed address).
                "--vdev=net_memif0,role=" + role + ",socket=" + socket.string() +
                    ",socket-abstract=no,mac=02:00:c6:12:02:0" + (role == "server" ? "1" : "2")};
    }
    argv_t server(const argv_t& app_args) const {
        argv_t a = eal("tern-server", "server", 0);
        a.push_back("--");
        a.insert(a.end(), {"--ip", "198.18.2.1/24", "--duration", std::to_string(int(cfg.duration) + 20)});
        a.insert(a.end(), app_args.begin(), app_args.end());
        return net.on_server(a);
    }
    argv_t load(const argv_t& app_args) const {
        argv_t a = eal("tern-load", "client", 1);
        a.push_back("--");
        a.insert(a.end(), {"--ip", "198.18.2.2/24", "--duration", fmt_duration(cfg.duration)});
        a.insert(a.end(), app_args.begin(), app_args.end());
        return net.on_client(a);
    }
};

struct metric {
    std::string name;  // row name, e.g. "pingpong p50"
    std::string unit;
    bool lower_is_better;
};

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
        location / { default_type text/plain; return 200 "hello, world\n"; }
    }
}
)";

// nginx in the server namespace on core 0 (13-byte body, as tern-server --mode http), wrk in
// the client namespace on core 1; Requests/sec is the figure.
std::vector<figure> kernel_wrk(const kernel_context& k, bool close_each) {
    std::string conf = nginx_conf;
    for (std::size_t p; (p = conf.find("@DIR@")) != std::string::npos;) conf.replace(p, 5, k.dir.string());
    fs::create_directories(k.dir / "tmp");
    std::ofstream(k.dir / "nginx.conf") << conf;
    argv_t server = k.net.on_server({"nginx", "-c", (k.dir / "nginx.conf").string()});
    pid_t nginx = spawn(server, k.dir / "nginx.log");
    k.net.wait_listening(8080, nginx, "nginx");
    argv_t wrk_args{"wrk", "-t", "1", "-c", std::to_string(k.cfg.connections), "-d", fmt_duration(k.cfg.duration) + "s"};
    if (close_each) wrk_args.insert(wrk_args.end(), {"-H", "Connection: close"});
    wrk_args.push_back("http://198.18.1.1:8080/");
    argv_t client = k.net.on_client(wrk_args);
    auto limit = std::chrono::seconds(int(k.cfg.duration) + 30);
    std::string out = run(client, k.dir / "wrk.log", limit);
    stop(nginx);
    auto r = parse_wrk(out);
    return {figure{r.per_second, "", join(wrk_args) + "  vs  nginx (13-byte body, access_log off)", r.errors,
                   "server: " + join(server) + "; client: " + join(client)}};
}

// iperf3: one stream, client sends; the receiver's bit rate is the figure.
std::vector<figure> kernel_iperf3(const kernel_context& k) {
    argv_t server_argv = k.net.on_server({"iperf3", "-s", "-B", veth_pair::server_ip, "-p", "5201"});
    pid_t server = spawn(server_argv, k.dir / "iperf3-server.log");
    k.net.wait_listening(5201, server, "iperf3 -s");
    argv_t args{"iperf3", "-c", veth_pair::server_ip, "-p", "5201", "-P", "1", "-t", fmt_duration(k.cfg.duration), "-J"};
    std::string out = run(k.net.on_client(args), k.dir / "iperf3.json", std::chrono::seconds(int(k.cfg.duration) + 30));
    stop(server);
    auto pos = out.find("\"sum_received\"");
    if (pos == std::string::npos) throw std::runtime_error("iperf3 -J output has no sum_received: " + tail(out));
    double bps = number_after(out.substr(pos), R"("bits_per_second":\s*([0-9.eE+]+))", "iperf3");
    return {figure{bps / 1e9, "", join(args) + " (receiver's rate)  vs  iperf3 -s", "",
                   "server: " + join(server_argv) + "; client: " + join(k.net.on_client(args))}};
}

// sockperf ping-pong over TCP, 64-byte messages; its percentiles are in microseconds.
std::vector<figure> kernel_sockperf(const kernel_context& k) {
    argv_t server_argv = k.net.on_server({"sockperf", "server", "--tcp", "-i", veth_pair::server_ip, "-p", "11111"});
    pid_t server = spawn(server_argv, k.dir / "sockperf-server.log");
    k.net.wait_listening(11111, server, "sockperf server");
    argv_t args{"sockperf", "ping-pong", "--tcp", "-i", veth_pair::server_ip, "-p", "11111", "-m", "64",
                "-t", std::to_string(std::max(1, int(std::lround(k.cfg.duration))))};
    std::string out = run(k.net.on_client(args), k.dir / "sockperf.log", std::chrono::seconds(int(k.cfg.duration) + 30));
    stop(server);
    std::string how = join(args) + "  vs  sockperf server --tcp";
    std::string command = "server: " + join(server_argv) + "; client: " + join(k.net.on_client(args));
    double p50 = number_after(out, R"(percentile 50\.000 =\s+([0-9.]+))", "sockperf");
    double p99 = number_after(out, R"(percentile 99\.000 =\s+([0-9.]+))", "sockperf");
    return {figure{p50, "", how + " (50th percentile)", "", command},
            figure{p99, "", how + " (99th percentile)", "", command}};
}

std::vector<scenario> scenarios() {
    return {
        {"cps", "connections per second, one HTTP request each",
         {{"cps", "conn/s", false}},
         [](const kernel_context& k) { return kernel_wrk(k, true); },
         // The server closes first, so TIME_WAIT is the server's: a short MSL keeps its table
         // small, and the table holds 2 s of TIME_WAIT at 150000 conn/s with room to spare.
         {"--mode", "http", "--port", "8080", "--no-delay", "--msl", "1", "--max-connections", "524288"},
         // --quick (the test suite, sanitizer builds included) asks a rate a slow pair still
         // meets: far beyond the server's pace, tern-load runs out of source ports and
         // reports connect failures as errors (rightly: it could not do what was asked).
         // Eight source addresses give 8 x 28232 ports, so a server that falls behind for
         // a moment shows as fewer conn/s rather than as ports running out.
         [](const settings& c) {
             return argv_t{"--workload", "cps", "--target", "198.18.2.1:8080", "--rate", c.quick ? "3000" : "150000",
                           "--requests", "1", "--close", "server", "--source-ip", "198.18.2.10-198.18.2.17"};
         },
         {{R"("conn_per_s": ([0-9.eE+]+))", 1}}},
        {"rps", "HTTP requests per second on persistent connections (--connections, 32 by default)",
         {{"rps", "req/s", false}},
         [](const kernel_context& k) { return kernel_wrk(k, false); },
         {"--mode", "http", "--port", "8080", "--no-delay"},
         [](const settings& c) {
             return argv_t{"--workload", "rps", "--closed-loop", "--target", "198.18.2.1:8080", "--connections",
                           std::to_string(c.connections)};
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
        {"pingpong", "ping-pong latency, 64-byte messages on one connection",
         {{"pingpong p50", "us", true}, {"pingpong p99", "us", true}},
         kernel_sockperf,
         {"--mode", "echo", "--port", "11111", "--no-delay"},
         [](const settings&) {
             return argv_t{"--workload", "ping-pong", "--target", "198.18.2.1:11111", "--connections", "1", "--size", "64"};
         },
         {{R"("latency": \{[^}]*"p50_us": ([0-9.eE+]+))", 1}, {R"("latency": \{[^}]*"p99_us": ([0-9.eE+]+))", 1}}},
    };
}

// tern-server and tern-load over memif; the figures come from tern-load's --json report.
std::vector<figure> run_tern(const scenario& s, const tern_context& t) {
    argv_t load_args = s.tern_load_args(t.cfg);
    const fs::path report = t.cfg.out / "logs" / ("tern-" + s.key) / "tern-load.json";
    load_args.insert(load_args.end(), {"--json", report.string()});
    std::string how = "tern-load -l 1 " + join(load_args) + "  vs  tern-server -l 0 " + join(s.tern_server_args) +
                      ", over net_memif";
    std::string command = "server: " + join(t.server(s.tern_server_args)) + "; client: " + join(t.load(load_args));
    if (!fs::exists(t.cfg.tern_dir / "tern-load"))
        return std::vector<figure>(s.metrics.size(), figure{std::nullopt, "n/a (tern-load not built)", how, "", command});
    fs::path dir = t.cfg.out / "logs" / ("tern-" + s.key);
    fs::create_directories(dir);
    fs::remove(t.socket);
    // The EAL leaves its runtime folder behind, also when a run fails.
    struct run_dirs {
        std::string id;
        ~run_dirs() {
            std::error_code ec;
            for (auto role : {"server", "client"}) fs::remove_all("/var/run/dpdk/tern_bench_" + std::string(role) + "_" + id, ec);
        }
    } cleanup{t.id};
    pid_t server = spawn(t.server(s.tern_server_args), dir / "tern-server.log");
    // memif's server side makes the socket; the client may connect once it exists.
    auto deadline = clock_type::now() + 15s;
    while (!fs::exists(t.socket)) {
        if (auto rc = wait_until(server, clock_type::now() + 50ms))
            throw std::runtime_error("tern-server exited " + std::to_string(*rc) + ": " + tail(slurp(dir / "tern-server.log")));
        if (clock_type::now() >= deadline) throw std::runtime_error("tern-server made no memif socket within 15 s");
    }
    run(t.load(load_args), dir / "tern-load.log", std::chrono::seconds(int(t.cfg.duration) + 30));
    stop(server);
    const std::string json = slurp(report);
    std::vector<figure> figs;
    for (auto& [pattern, factor] : s.tern_json)
        figs.push_back(figure{number_after(json, pattern, "tern-load --json") * factor, "", how, "", command});
    return figs;
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
    for (auto& r : rows) {
        std::string how = "kernel: `" + r.kernel.how + "`";
        if (!r.kernel.note.empty()) how += " (" + r.kernel.note + ")";
        how += "; tern: `" + r.tern.how + "`";
        t += "| " + cell(r.m.name) + " | " + cell(shown(r.tern, r.m)) + " | " + cell(shown(r.kernel, r.m)) + " | " +
             cell(shown_ratio(r)) + " | " + cell(how) + " |\n";
    }
    return t;
}

std::string json_string(const std::string& s) {
    std::string o = "\"";
    for (unsigned char c : s) {
        if (c == '"' || c == '\\') o += '\\', o += char(c);
        else if (c == '\n') o += "\\n";
        else if (c < 0x20) {
            char b[8];
            std::snprintf(b, sizeof b, "\\u%04x", c);
            o += b;
        } else o += char(c);
    }
    return o + "\"";
}
std::string json_number(std::optional<double> v) {
    if (!v) return "null";
    char b[64];
    std::snprintf(b, sizeof b, "%.17g", *v);
    return b;
}
std::string json_figure(const figure& f, const metric& m) {
    return "{\"value\": " + json_number(f.value) + ", \"unit\": " + json_string(m.unit) +
           ", \"text\": " + json_string(f.value ? fmt_value(*f.value) + " " + m.unit : f.text) +
           ", \"measured_by\": " + json_string(f.how) + ", \"command\": " + json_string(f.command) +
           ", \"note\": " + json_string(f.note) + "}";
}

std::string json(const std::vector<row>& rows, const settings& cfg) {
    std::string j = "{\n  \"tool\": \"tern-bench\",\n  \"duration_s\": " + json_number(cfg.duration) +
                    ",\n  \"pinning\": \"server on core 0, client on core 1\",\n"
                    "  \"kernel_link\": \"veth pair between two network namespaces, 198.18.1.1/24 - 198.18.1.2/24\",\n"
                    "  \"tern_link\": \"net_memif between two tern processes, 198.18.2.1/24 - 198.18.2.2/24\",\n"
                    "  \"ratio\": \"tern relative to kernel, above 1 where tern does better (latency: kernel/tern)\",\n"
                    "  \"results\": [\n";
    for (std::size_t i = 0; i < rows.size(); ++i) {
        auto& r = rows[i];
        j += "    {\"scenario\": " + json_string(r.scenario) + ", \"metric\": " + json_string(r.m.name) +
             ", \"unit\": " + json_string(r.m.unit) + ", \"lower_is_better\": " + (r.m.lower_is_better ? "true" : "false") +
             ",\n     \"tern\": " + json_figure(r.tern, r.m) + ",\n     \"kernel\": " + json_figure(r.kernel, r.m) +
             ",\n     \"ratio\": " + json_number(ratio(r)) + "}" + (i + 1 < rows.size() ? "," : "") + "\n";
    }
    return j + "  ]\n}\n";
}

// One panel per metric (each has its own unit): a bar for tern and one for the kernel; a
// missing figure is an empty slot labelled n/a.
void chart(const std::vector<row>& rows, const fs::path& dir) {
    std::string g = "set terminal pngcairo size " + std::to_string(360 * std::max<std::size_t>(rows.size(), 1)) +
                    ",420 font 'sans,10'\nset output " + json_string((dir / "results.png").string()) +
                    "\nset style fill solid 0.8 border -1\nset boxwidth 0.6\nset yrange [0:*]\nset xrange [-0.6:1.6]\n"
                    "set grid ytics\nunset key\n"
                    "set multiplot layout 1," + std::to_string(rows.size()) + " title 'tern-bench: tern (memif) vs kernel (veth)'\n";
    for (auto& r : rows) {
        g += "set title " + json_string(r.m.name + (r.m.lower_is_better ? " (lower is better)" : "")) + "\n";
        g += "set ylabel " + json_string(r.m.unit) + "\n";
        std::string tern_label = r.tern.value ? "tern" : "tern: n/a";
        g += "set xtics (" + json_string(tern_label) + " 0, \"kernel\" 1)\n";
        g += "plot '-' using 1:2 with boxes lc rgb '#3070b0'\n";
        g += "0 " + (r.tern.value ? json_number(r.tern.value) : std::string("NaN")) + "\n";
        g += "1 " + (r.kernel.value ? json_number(r.kernel.value) : std::string("NaN")) + "\ne\n";
    }
    g += "unset multiplot\n";
    std::ofstream(dir / "results.gnuplot") << g;
    run({"gnuplot", (dir / "results.gnuplot").string()}, dir / "logs" / "gnuplot.log", 30s);
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
        ("scenarios", po::value<std::string>()->default_value("cps,rps,throughput,pingpong"),
         "comma-separated: cps, rps, throughput, pingpong")
        ("duration", po::value<double>(), "seconds per scenario and side (default 10; 2 with --quick)")
        ("out", po::value<std::string>()->default_value("tern-bench-out"), "folder for results.md/.json/.png and logs")
        ("connections", po::value<unsigned>()->default_value(32), "wrk connections for cps and rps (1-10000)")
        ("tern-dir", po::value<std::string>(), "folder with tern-server and tern-load (default: ours, ../apps)")
        ("quick", po::bool_switch(), "a short run: 2 s per scenario (the test suite's smoke run)");
    po::variables_map vm;
    settings cfg;
    std::vector<scenario> chosen;
    try {
        po::store(po::parse_command_line(argc, argv, desc), vm);
        po::notify(vm);
        if (vm.count("help")) {
            std::cout << "usage: tern-bench [options]   (as root: it makes network namespaces)\n" << desc;
            return 0;
        }
        cfg.quick = vm["quick"].as<bool>();
        cfg.duration = vm.count("duration") ? vm["duration"].as<double>() : cfg.quick ? 2 : 10;
        if (!(cfg.duration >= 1 && cfg.duration <= 3600)) throw std::invalid_argument("--duration: must be within 1-3600");
        cfg.connections = vm["connections"].as<unsigned>();
        if (cfg.connections < 1 || cfg.connections > 10000)
            throw std::invalid_argument("--connections: must be within 1-10000");
        cfg.out = fs::absolute(vm["out"].as<std::string>());
        cfg.tern_dir = vm.count("tern-dir") ? fs::path(vm["tern-dir"].as<std::string>()) : own_dir();
        auto all = scenarios();
        for (auto& name : split(vm["scenarios"].as<std::string>(), ',')) {
            auto it = std::find_if(all.begin(), all.end(), [&](auto& s) { return s.key == name; });
            if (it == all.end())
                throw std::invalid_argument("--scenarios: '" + name + "' is not cps, rps, throughput or pingpong");
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

    std::vector<row> rows;
    int exit_code = 0;
    try {
        for (auto& [tool, package] : {std::pair{"ip", "iproute2"}, {"taskset", "util-linux"}, {"nginx", "nginx-light"},
                                      {"wrk", "wrk"}, {"iperf3", "iperf3"}, {"sockperf", "sockperf"},
                                      {"gnuplot", "gnuplot-nox"}})
            require(tool, package);
        if (std::thread::hardware_concurrency() < 2)
            throw std::runtime_error("needs two cores (server on core 0, client on core 1)");
        fs::create_directories(cfg.out / "logs");
        veth_pair net(cfg.out / "logs");
        net.setup();
        tern_context tern{cfg, net, cfg.out / "memif.sock", std::to_string(::getpid())};
        for (auto& s : chosen) {
            std::cerr << "tern-bench: " << s.key << " (" << s.description << "), " << cfg.duration << " s\n";
            kernel_context k{net, cfg, cfg.out / "logs" / ("kernel-" + s.key)};
            fs::create_directories(k.dir);
            std::vector<figure> kernel, ternf;
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
                ternf = run_tern(s, tern);
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
    std::ofstream(cfg.out / "results.md") << table;
    std::ofstream(cfg.out / "results.json") << json(rows, cfg);
    try {
        chart(rows, cfg.out);
    } catch (const std::exception& e) {
        std::cerr << "tern-bench: chart: " << e.what() << "\n";
        exit_code = 1;
    }
    std::cout << table << "\n"
              << "Kernel: veth between two namespaces; tern: net_memif between two processes; server on core 0, "
                 "client on core 1, "
              << cfg.duration << " s per scenario.\n"
              << "Written: " << (cfg.out / "results.md").string() << ", results.json, results.png\n";
    return exit_code;
}
