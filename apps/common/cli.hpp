// What every tern app shares on its command line: `app [EAL args] -- [app args]`, the
// engine options, the stop flag and the final report.
#pragma once

#include <atomic>
#include <string>
#include <vector>

#include <boost/program_options.hpp>

#include "common/stop.hpp"
#include "core/runtime.hpp"
#include "tern/tcp.hpp"

namespace tern::cli {

// The process's one global: requested by SIGINT/SIGTERM (or a --duration, or the end of a
// run), polled by every engine, slept on by the helper threads.
extern stop_signal stop;
void install_signal_handlers();

// Engine options (--ip, --gateway, --engines, --pcap, ...) added to `desc`.
void add_engine_options(boost::program_options::options_description& desc);
// Reads them back; throws std::invalid_argument with a message naming the option.
runtime_options engine_options_from(const boost::program_options::variables_map& vm);

// TCP options (--no-delay, --send-buffer, --receive-buffer, --keepalive*, --msl, retries,
// RTOs, --delayed-ack-ms, --no-sack, --challenge-acks, ...) added to `desc`, and read back
// into the engine-wide config and the per-connection options; throws std::invalid_argument
// naming the option.
// A load generator wants Nagle off unless asked (its requests go out whole): then the
// switch is --nagle instead of --no-delay.
enum class nagle_default : bool { on, off };
void add_tcp_options(boost::program_options::options_description& desc, nagle_default nagle = nagle_default::on);
struct tcp_settings {
    tcp::tcp_config config;
    tcp::connection_options connection;
    // Parking (listen_options / connect_options::park_idle): --no-park, --park-after.
    bool park_idle = true;
    duration park_after = std::chrono::seconds(1);
};
tcp_settings tcp_options_from(const boost::program_options::variables_map& vm);

// --port values, each one port or a comma-separated list: "80", "80,8080". Throws
// std::invalid_argument naming `option` for anything outside 1-65535 or repeated.
std::vector<std::uint16_t> ports_from(const std::vector<std::string>& values, const char* option = "port");

// argv[0] and what follows the first "--" (EAL arguments come before it). The apps read their
// options before the EAL starts: a bad one is said without the EAL's lines around it, and
// --help needs no hugepages.
std::vector<std::string> app_args(int argc, char** argv);

// Parses argv (argv[0] + app args) with `desc`; prints help or the error and returns
// false when the app should exit (exit_code says how). When `desc` has a "config" option
// and it is given, that INI file (key = value, option names without "--") is read after
// the command line, so the command line wins.
bool parse(const std::vector<std::string>& args, const boost::program_options::options_description& desc,
           boost::program_options::variables_map& vm, int& exit_code, const char* usage);

// Says why the EAL or runtime::create failed, in one line on stderr naming the option the
// cause lies in (--mtu, --engines, ...), and returns the exit code: 2 when the cause is a value
// the user gave, 1 when it is the machine's (hugepages, a device in use, a permission).
int setup_failed(const char* app, const setup_error& error);

// Stops the engines after `seconds` (0: only on a signal). Runs in its own thread.
void stop_after(double seconds);

// Counters that are not zero, one per line, for the final summary.
std::string summary(const runtime& rt);
// The TCP endpoints' counters summed over engines, those not zero, one per line as
// "  tcp_NAME VALUE". Only once the engines have stopped.
std::string tcp_summary(const std::vector<std::unique_ptr<tcp::tcp_endpoint>>& endpoints);

} // namespace tern::cli
