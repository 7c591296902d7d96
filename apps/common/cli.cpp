#include "common/cli.hpp"

#include <algorithm>
#include <charconv>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <thread>
#include <typeinfo>

namespace po = boost::program_options;

namespace tern::cli {

stop_signal stop;

namespace {

void on_signal(int) { stop.request(); }

template <class T>
T required_parse(const std::optional<T>& parsed, const std::string& option, const std::string& text,
                 const char* expected) {
    if (!parsed) throw std::invalid_argument("--" + option + ": '" + text + "' is not " + expected);
    return *parsed;
}

// An IPv6 --ip: a unicast address that is not link-local (that one comes from the MAC),
// with a prefix (128 when none is given).
ipv6_cidr parse_ipv6_address(const std::string& text) {
    const ipv6_cidr c = required_parse(ipv6_cidr::parse(text), "ip", text, "an IPv6 address with prefix, like 2001:2::2/64");
    if (c.addr.is_unspecified() || c.addr.is_multicast() || c.addr.is_loopback() || c.addr.is_v4_mapped())
        throw std::invalid_argument("--ip: '" + text + "' cannot be a host's address");
    if (c.addr.is_link_local())
        throw std::invalid_argument("--ip: '" + text + "' is link-local: tern makes its link-local address from the MAC");
    return c;
}

std::pair<ipv4_addr, mac_addr> parse_static_arp(const std::string& text) {
    auto eq = text.find('=');
    if (eq == std::string::npos) throw std::invalid_argument("--static-arp: '" + text + "' is not IP=MAC");
    auto ip = required_parse(ipv4_addr::parse(text.substr(0, eq)), "static-arp", text, "IP=MAC");
    auto mac = required_parse(mac_addr::parse(text.substr(eq + 1)), "static-arp", text, "IP=MAC");
    return {ip, mac};
}

// The --fault-* options, applied alike to what the engines receive and send.
std::optional<fault_config> faults_from(const po::variables_map& vm) {
    bool any = false;
    fault_profile p;
    auto probability = [&](const char* name, double& field) {
        if (!vm.count(name)) return;
        field = vm[name].as<double>();
        if (!(field >= 0 && field <= 1)) throw std::invalid_argument(std::string("--") + name + ": must be within 0-1");
        any = true;
    };
    probability("fault-loss", p.loss);
    probability("fault-duplicate", p.duplicate);
    probability("fault-corrupt", p.corrupt);
    probability("fault-ce", p.mark_ce);
    probability("fault-reorder", p.reorder);
    if (p.reorder > 0) {
        p.reorder_packets = 3;
        p.reorder_time = std::chrono::milliseconds(1); // so a held packet leaves when traffic stops
    }
    if (vm.count("fault-delay-us")) p.delay = std::chrono::microseconds(vm["fault-delay-us"].as<unsigned>()), any = true;
    if (vm.count("fault-jitter-us")) p.jitter = std::chrono::microseconds(vm["fault-jitter-us"].as<unsigned>()), any = true;
    if (!any) return std::nullopt;
    fault_config c;
    c.rx = c.tx = p;
    if (vm.count("fault-seed")) c.seed = vm["fault-seed"].as<std::uint64_t>();
    if (auto ok = c.validate(); !ok) throw std::invalid_argument("--fault-*: " + ok.error());
    return c;
}

// Boost's parser keeps a word that is no option's value apart (a positional argument) and
// drops it when none are declared, as ours are not: "--port 80 8080" would listen on 80 alone.
void refuse_words(const po::parsed_options& given) {
    for (const po::option& o : given.options)
        if (o.string_key.empty() && !o.original_tokens.empty())
            throw po::error("'" + o.original_tokens.front() +
                            "' is no option's value: options start with --, and a list is comma-separated");
}

// Boost reads "-1" for an unsigned option as 4294967295 (lexical_cast wraps around): refused
// by the text given, naming the option.
void refuse_negative(const po::parsed_options& given, const po::variables_map& vm) {
    for (const po::option& o : given.options) {
        if (o.string_key.empty() || !vm.count(o.string_key)) continue;
        const std::type_info& type = vm[o.string_key].value().type();
        if (type != typeid(unsigned) && type != typeid(std::uint64_t)) continue;
        for (const std::string& v : o.value)
            if (v.find('-') != std::string::npos) throw po::error("--" + o.string_key + ": '" + v + "' is negative");
    }
}

// Stores the INI file's options after the command line's (po::store keeps values already
// there, so the command line wins). Returns why not.
std::optional<std::string> read_config(const std::string& path, const po::options_description& desc,
                                       po::variables_map& vm) {
    // A folder opens as a stream that reads nothing: it would pass for an empty file.
    std::error_code ec;
    if (std::filesystem::is_directory(path, ec)) return "--config: '" + path + "' is a folder, not a file";
    std::ifstream file(path);
    if (!file) return "--config: cannot open '" + path + "': " + std::strerror(errno);
    try {
        const po::parsed_options given = po::parse_config_file(file, desc);
        po::store(given, vm);
        refuse_negative(given, vm);
    } catch (const po::error& e) {
        return "--config " + path + ": " + e.what();
    }
    return std::nullopt;
}

// The option a setup error lies in, as the start of its line.
const char* option_name(setup_error::setting about) {
    switch (about) {
    case setup_error::setting::none: return "";
    case setup_error::setting::port_id: return "--port-id: ";
    case setup_error::setting::engines: return "--engines: ";
    case setup_error::setting::queues: return "--queues: ";
    case setup_error::setting::mtu: return "--mtu: ";
    case setup_error::setting::pool_size: return "--pool-size: ";
    case setup_error::setting::pcap: return "--pcap: ";
    }
    return "";
}

} // namespace

void install_signal_handlers() {
    std::signal(SIGINT, on_signal);
    std::signal(SIGTERM, on_signal);
}

void add_engine_options(po::options_description& desc) {
    desc.add_options()
        ("ip", po::value<std::vector<std::string>>()->required()->composing(),
         "our address and on-link prefix, e.g. 198.18.0.2/24: one IPv4, and any IPv6 ones (2001:2::2/64; repeat --ip)")
        ("no-dad", po::bool_switch(), "use IPv6 addresses at once, without duplicate address detection (RFC 4862 §5.4)")
        ("gateway", po::value<std::vector<std::string>>(), "next hop for destinations off the prefix; once per family (an IPv6 one: link-local or on an IPv6 --ip prefix)")
        ("mac", po::value<std::string>(), "use this MAC instead of the port's")
        ("port-id", po::value<unsigned>(), "DPDK port id (default: the first port)")
        ("engines", po::value<unsigned>()->default_value(1), "engines, one per lcore and queue pair")
        ("queues", po::value<unsigned>()->default_value(0),
         "queue pairs on the port (0: one per engine); as many as a net_memif peer's engines when it has more "
         "than --engines: memif connects as many queues as the side with fewer has")
        ("burst", po::value<unsigned>()->default_value(32), "packets per RX/TX burst (1-512)")
        ("flush-every", po::value<unsigned>()->default_value(16),
         "after an idle round, send the output of every N packets received before reading on (0: once a round; 0-512)")
        ("pool-size", po::value<unsigned>()->default_value(8191), "mbufs per engine")
        ("mtu", po::value<unsigned>()->default_value(1500),
         "IP MTU (576-9000); refused (exit 2) when the port cannot carry it (net_memif above 2034: raise its bsize)")
        ("static-arp", po::value<std::vector<std::string>>()->composing(), "IP=MAC entry that never expires (repeatable)")
        ("resolve", po::value<std::vector<std::string>>()->composing(), "resolve this address with ARP at start (repeatable)")
        ("no-offload", po::bool_switch(), "compute checksums in software even where the NIC offers them")
        ("no-gratuitous-arp", po::bool_switch(), "do not announce our address at start")
        ("pcap", po::value<std::string>(), "write every packet in and out to this pcapng file")
        ("duration", po::value<double>()->default_value(0), "stop after this many seconds (0: on SIGINT/SIGTERM)")
        ("fault-loss", po::value<double>(), "testing: drop this fraction of packets, each way (0-1)")
        ("fault-duplicate", po::value<double>(), "testing: duplicate this fraction of packets, each way")
        ("fault-corrupt", po::value<double>(), "testing: flip one bit in this fraction of packets, each way")
        ("fault-ce", po::value<double>(), "testing: mark this fraction of ECN-capable packets CE, each way, as a router's AQM would")
        ("fault-reorder", po::value<double>(), "testing: hold this fraction of packets back behind 3 later ones")
        ("fault-delay-us", po::value<unsigned>(), "testing: delay every packet this many microseconds, each way")
        ("fault-jitter-us", po::value<unsigned>(), "testing: add a uniform random delay up to this, each way")
        ("fault-seed", po::value<std::uint64_t>(), "testing: seed of the fault generator (replays a run)");
}

namespace {

// One --gateway: IPv4 on --ip's prefix; IPv6 link-local (RFC 4861 §4.2: a router's own
// address on the link) or on an IPv6 --ip prefix. One of each family at most.
void set_gateway(engine_config& e, const std::string& gw, const std::string& ip) {
    if (gw.find(':') == std::string::npos) {
        if (e.gateway) throw std::invalid_argument("--gateway: " + gw + " is a second IPv4 gateway; tern takes one");
        e.gateway = required_parse(ipv4_addr::parse(gw), "gateway", gw, "an IPv4 or IPv6 address");
        if (!e.address.contains(*e.gateway)) throw std::invalid_argument("--gateway: " + gw + " is not on " + ip);
        return;
    }
    if (e.ipv6_gateway) throw std::invalid_argument("--gateway: " + gw + " is a second IPv6 gateway; tern takes one");
    const ipv6_addr a = required_parse(ipv6_addr::parse(gw), "gateway", gw, "an IPv4 or IPv6 address");
    if (e.ipv6.empty()) throw std::invalid_argument("--gateway: " + gw + " is IPv6 and no --ip is");
    const bool on_prefix = std::any_of(e.ipv6.begin(), e.ipv6.end(), [&](const ipv6_cidr& c) { return c.contains(a); });
    if (!a.is_link_local() && !on_prefix)
        throw std::invalid_argument("--gateway: " + gw + " is neither link-local nor on an IPv6 --ip prefix");
    if (a.is_multicast() || a.is_unspecified()) throw std::invalid_argument("--gateway: " + gw + " cannot be a router's address");
    e.ipv6_gateway = a;
}

} // namespace

runtime_options engine_options_from(const po::variables_map& vm) {
    runtime_options o;
    engine_config& e = o.engine;
    std::string ip;
    for (const std::string& text : vm["ip"].as<std::vector<std::string>>()) {
        if (text.find(':') != std::string::npos) {
            e.ipv6.push_back(parse_ipv6_address(text));
            continue;
        }
        if (!ip.empty()) throw std::invalid_argument("--ip: '" + text + "' is a second IPv4 address; tern takes one");
        ip = text;
    }
    if (ip.empty()) throw std::invalid_argument("--ip: no IPv4 address; tern needs one, like 198.18.0.2/24");
    e.address = required_parse(ipv4_cidr::parse(ip), "ip", ip, "an IPv4 address with prefix, like 198.18.0.2/24");
    if (e.address.addr.is_unspecified() || e.address.addr.is_multicast() || e.address.addr.is_broadcast())
        throw std::invalid_argument("--ip: '" + ip + "' cannot be a host's address");
    e.ipv6_duplicate_detection = !vm["no-dad"].as<bool>();
    if (vm.count("gateway"))
        for (const std::string& gw : vm["gateway"].as<std::vector<std::string>>()) set_gateway(e, gw, ip);
    if (vm.count("mac")) {
        std::string mac = vm["mac"].as<std::string>();
        e.mac = required_parse(mac_addr::parse(mac), "mac", mac, "a MAC address like 02:00:00:00:00:01");
        if (e.mac->is_multicast() || e.mac->is_zero()) throw std::invalid_argument("--mac: " + mac + " is not a unicast MAC");
    }
    if (vm.count("port-id")) {
        const unsigned id = vm["port-id"].as<unsigned>();
        if (id > 65535) throw std::invalid_argument("--port-id: " + std::to_string(id) + " is outside 0-65535");
        o.port_id = std::uint16_t(id);
    }
    auto in_range = [&](const char* name, unsigned lo, unsigned hi) {
        unsigned v = vm[name].as<unsigned>();
        if (v < lo || v > hi)
            throw std::invalid_argument(std::string("--") + name + ": " + std::to_string(v) + " is outside " +
                                        std::to_string(lo) + "-" + std::to_string(hi));
        return v;
    };
    e.engines = std::uint16_t(in_range("engines", 1, 128));
    e.queues = std::uint16_t(in_range("queues", 0, 128));
    e.burst = std::uint16_t(in_range("burst", 1, 512));
    e.flush_every = std::uint16_t(in_range("flush-every", 0, 512));
    e.pool_size = in_range("pool-size", 1023, 1u << 24);
    e.mtu = std::uint16_t(in_range("mtu", 576, 9000));
    if (vm.count("static-arp"))
        for (auto& s : vm["static-arp"].as<std::vector<std::string>>()) e.arp.static_entries.push_back(parse_static_arp(s));
    if (vm.count("resolve"))
        for (auto& s : vm["resolve"].as<std::vector<std::string>>())
            o.resolve.push_back(required_parse(ipv4_addr::parse(s), "resolve", s, "an IPv4 address"));
    e.disable_offloads = vm["no-offload"].as<bool>();
    e.gratuitous_arp = !vm["no-gratuitous-arp"].as<bool>();
    if (vm.count("pcap")) o.pcap_path = vm["pcap"].as<std::string>();
    if (!(vm["duration"].as<double>() >= 0)) throw std::invalid_argument("--duration: must be 0 or more seconds");
    o.faults = faults_from(vm);
    return o;
}

void add_tcp_options(po::options_description& desc, nagle_default nagle) {
    const tcp::tcp_config c;
    const tcp::connection_options o;
    const tcp::keepalive_options k;
    auto ms = [](duration d) { return unsigned(std::chrono::duration_cast<std::chrono::milliseconds>(d).count()); };
    if (nagle == nagle_default::on) desc.add_options()("no-delay", po::bool_switch(), "turn Nagle's algorithm off on every connection");
    else desc.add_options()("nagle", po::bool_switch(), "turn Nagle's algorithm on (default: off)");
    desc.add_options()
        ("send-buffer", po::value<unsigned>()->default_value(o.send_buffer), "bytes of each connection's send buffer (1024-1073741824)")
        ("receive-buffer", po::value<unsigned>()->default_value(o.receive_buffer),
         "bytes of each connection's receive window, a power of two (1024-1073741824)")
        ("receive-buffer-max", po::value<unsigned>()->default_value(0),
         "auto-tuning: the receive buffer grows towards this (a power of two above --receive-buffer, up to "
         "1073741824) while a sender fills it; 0: off")
        ("keepalive", po::bool_switch(), "send keep-alive probes on idle connections (RFC 1122 4.2.3.6)")
        ("keepalive-idle", po::value<double>()->default_value(std::chrono::duration<double>(k.idle).count()),
         "keep-alive: seconds idle before the first probe")
        ("keepalive-interval", po::value<double>()->default_value(std::chrono::duration<double>(k.interval).count()),
         "keep-alive: seconds between unanswered probes")
        ("keepalive-count", po::value<unsigned>()->default_value(k.count), "keep-alive: unanswered probes before the connection times out (1-255)")
        ("msl", po::value<double>()->default_value(std::chrono::duration<double>(c.msl).count()),
         "maximum segment lifetime in seconds; TIME_WAIT lasts twice this (0-600)")
        ("fin-timeout", po::value<double>()->default_value(std::chrono::duration<double>(c.fin_timeout).count()),
         "seconds a closed connection waits in FIN-WAIT-2 for the peer's FIN (1-3600)")
        ("syn-retries", po::value<unsigned>()->default_value(c.syn_retries), "SYN retransmissions before a connect times out (0-255)")
        ("synack-retries", po::value<unsigned>()->default_value(c.synack_retries), "SYN-ACK retransmissions before giving up (0-255)")
        ("max-retransmits", po::value<unsigned>()->default_value(c.max_retransmits), "data retransmissions before a connection times out (1-255)")
        ("initial-rto-ms", po::value<unsigned>()->default_value(ms(c.initial_rto)), "initial retransmission timeout (1-60000 ms)")
        ("min-rto-ms", po::value<unsigned>()->default_value(ms(c.min_rto)), "lower bound of the retransmission timeout (1-60000 ms)")
        ("max-rto-ms", po::value<unsigned>()->default_value(ms(c.max_rto)), "upper bound of the retransmission timeout (1000-600000 ms)")
        ("delayed-ack-ms", po::value<unsigned>()->default_value(ms(c.delayed_ack)), "delayed-ACK time (0-499 ms: RFC 9293 §3.8.6.3, under 0.5 s)")
        ("challenge-acks", po::value<unsigned>()->default_value(c.challenge_acks_total_per_second),
         "challenge ACKs (RFC 5961) a second for the whole endpoint, as Linux's tcp_challenge_ack_limit: each "
         "second's budget lies between this and twice this (1-2147483647; 0 is refused, as it means no "
         "challenge ACK on Linux: give 2147483647 for no endpoint-wide limit)")
        ("initial-window", po::value<unsigned>()->default_value(c.initial_window),
         "congestion window a connection starts with, in segments (RFC 6928: 10; at most 14600 bytes above 2 "
         "segments; 0: RFC 5681's 2 to 4 by MSS; 0-64)")
        ("congestion", po::value<std::string>()->default_value("cubic"),
         "congestion control: cubic (RFC 9438, as Linux) or reno (RFC 5681)")
        ("ecn", po::value<std::string>()->default_value("passive"),
         "ECN (RFC 3168): off; passive, agree when the peer's SYN asks (as Linux); on, ask too")
        ("no-hystart", po::bool_switch(), "plain slow start until the first loss, without HyStart++ (RFC 9406)")
        ("no-prr", po::bool_switch(), "in SACK loss recovery, cut the window to ssthresh at once (RFC 6675) rather than "
                                       "in step with what is delivered (Proportional Rate Reduction, RFC 6937)")
        ("no-rack", po::bool_switch(), "find losses by RFC 6675's three duplicate ACKs alone, without RACK-TLP's "
                                        "time-based detection and tail loss probes (RFC 8985)")
        ("black-hole-timeouts", po::value<unsigned>()->default_value(c.black_hole_timeouts),
         "consecutive timeouts of full-sized segments after which they shrink for a path that drops large "
         "packets silently (RFC 4821 7.7; 0: off; 0-255)")
        ("mtu-probe-interval", po::value<double>()->default_value(std::chrono::duration<double>(c.mtu_probe_interval).count()),
         "seconds after such a fall until full-sized segments are tried again (1-86400)")
        ("no-park", "keep idle connections as whole streams (by default one in ESTABLISHED with nothing in flight "
                    "and no timer for --park-after is kept as a compact record until it is used again)")
        ("park-after", po::value<double>()->default_value(std::chrono::duration<double>(tcp::listen_options{}.park_after).count()),
         "seconds a connection stays idle before it is parked (0.01-3600): shorter holds fewer whole streams "
         "while many connections open, longer parks fewer that are soon used again")
        ("no-sack", po::bool_switch(), "do not offer SACK (RFC 2018)")
        ("no-timestamps", po::bool_switch(), "do not offer timestamps (RFC 7323)")
        ("no-window-scaling", po::bool_switch(), "do not offer window scaling (RFC 7323)");
}

tcp_settings tcp_options_from(const po::variables_map& vm) {
    tcp_settings t;
    auto in_range = [&](const char* name, unsigned lo, unsigned hi) {
        unsigned v = vm[name].as<unsigned>();
        if (v < lo || v > hi)
            throw std::invalid_argument(std::string("--") + name + ": " + std::to_string(v) + " is outside " +
                                        std::to_string(lo) + "-" + std::to_string(hi));
        return v;
    };
    auto seconds = [&](const char* name, double lo, double hi) {
        double v = vm[name].as<double>();
        if (!(v >= lo && v <= hi)) {
            std::ostringstream m;
            m << "--" << name << ": " << v << " is outside " << lo << "-" << hi << " seconds";
            throw std::invalid_argument(m.str());
        }
        return std::chrono::duration_cast<duration>(std::chrono::duration<double>(v));
    };
    tcp::connection_options& c = t.connection;
    c.no_delay = vm.count("nagle") ? !vm["nagle"].as<bool>() : vm["no-delay"].as<bool>();
    c.send_buffer = in_range("send-buffer", 1024, 1u << 30);
    c.receive_buffer = in_range("receive-buffer", 1024, 1u << 30);
    // The reassembly queue is a ring of a power-of-two size (src/tcp/reassembly.hpp).
    if ((c.receive_buffer & (c.receive_buffer - 1)) != 0)
        throw std::invalid_argument("--receive-buffer: " + std::to_string(c.receive_buffer) + " is not a power of two");
    c.receive_buffer_max = vm["receive-buffer-max"].as<unsigned>();
    if (c.receive_buffer_max != 0) {
        const std::string v = std::to_string(c.receive_buffer_max);
        if ((c.receive_buffer_max & (c.receive_buffer_max - 1)) != 0 || c.receive_buffer_max > (1u << 30))
            throw std::invalid_argument("--receive-buffer-max: " + v + " is not a power of two up to 1073741824");
        if (c.receive_buffer_max <= c.receive_buffer)
            throw std::invalid_argument("--receive-buffer-max: " + v + " is not above --receive-buffer (" +
                                        std::to_string(c.receive_buffer) + "); 0 turns auto-tuning off");
    }
    if (vm["keepalive"].as<bool>()) {
        tcp::keepalive_options k;
        k.idle = seconds("keepalive-idle", 1, 86400 * 7);
        k.interval = seconds("keepalive-interval", 1, 86400);
        k.count = std::uint8_t(in_range("keepalive-count", 1, 255));
        c.keepalive = k;
    } else {
        for (const char* name : {"keepalive-idle", "keepalive-interval", "keepalive-count"})
            if (!vm[name].defaulted()) throw std::invalid_argument(std::string("--") + name + ": needs --keepalive");
    }
    t.park_idle = !vm.count("no-park");
    t.park_after = seconds("park-after", 0.01, 3600);
    if (!t.park_idle && !vm["park-after"].defaulted()) throw std::invalid_argument("--park-after: not with --no-park");
    tcp::tcp_config& g = t.config;
    g.msl = seconds("msl", 0, 600);
    g.fin_timeout = seconds("fin-timeout", 1, 3600);
    g.syn_retries = std::uint8_t(in_range("syn-retries", 0, 255));
    g.synack_retries = std::uint8_t(in_range("synack-retries", 0, 255));
    g.max_retransmits = std::uint8_t(in_range("max-retransmits", 1, 255));
    g.initial_rto = std::chrono::milliseconds(in_range("initial-rto-ms", 1, 60000));
    g.min_rto = std::chrono::milliseconds(in_range("min-rto-ms", 1, 60000));
    g.max_rto = std::chrono::milliseconds(in_range("max-rto-ms", 1000, 600000));
    if (g.min_rto > g.max_rto) throw std::invalid_argument("--min-rto-ms: is above --max-rto-ms");
    if (g.initial_rto < g.min_rto || g.initial_rto > g.max_rto)
        throw std::invalid_argument("--initial-rto-ms: is outside --min-rto-ms to --max-rto-ms");
    // RFC 9293 §3.8.6.3: the delay MUST be less than 0.5 s.
    g.delayed_ack = std::chrono::milliseconds(in_range("delayed-ack-ms", 0, 499));
    g.initial_window = std::uint8_t(in_range("initial-window", 0, 64));
    const std::string& congestion = vm["congestion"].as<std::string>();
    if (congestion == "cubic") g.congestion = tcp::congestion_algorithm::cubic;
    else if (congestion == "reno") g.congestion = tcp::congestion_algorithm::reno;
    else throw std::invalid_argument("--congestion: '" + congestion + "' is neither cubic nor reno");
    // tcp_config takes 0 for "no endpoint-wide limit", where Linux's tcp_challenge_ack_limit
    // of 0 sends none: refused rather than read either way. At most 2^31 - 1, which is
    // already no limit in practice.
    g.challenge_acks_total_per_second = in_range("challenge-acks", 1, 2147483647u);
    const std::string& ecn = vm["ecn"].as<std::string>();
    if (ecn == "off") g.ecn = tcp::ecn_mode::off;
    else if (ecn == "passive") g.ecn = tcp::ecn_mode::passive;
    else if (ecn == "on") g.ecn = tcp::ecn_mode::on;
    else throw std::invalid_argument("--ecn: '" + ecn + "' is not off, passive or on");
    g.hystart = !vm["no-hystart"].as<bool>();
    g.prr = !vm["no-prr"].as<bool>();
    g.rack = !vm["no-rack"].as<bool>();
    g.black_hole_timeouts = std::uint8_t(in_range("black-hole-timeouts", 0, 255));
    g.mtu_probe_interval = seconds("mtu-probe-interval", 1, 86400);
    g.sack = !vm["no-sack"].as<bool>();
    g.timestamps = !vm["no-timestamps"].as<bool>();
    g.window_scaling = !vm["no-window-scaling"].as<bool>();
    if (!g.window_scaling && c.receive_buffer > 65535)
        throw std::invalid_argument("--receive-buffer: " + std::to_string(c.receive_buffer) +
                                    " needs window scaling (at most 32768 with --no-window-scaling)");
    if (!g.window_scaling && c.receive_buffer_max > 65535)
        throw std::invalid_argument("--receive-buffer-max: " + std::to_string(c.receive_buffer_max) +
                                    " needs window scaling (at most 32768 with --no-window-scaling)");
    return t;
}

std::vector<std::uint16_t> ports_from(const std::vector<std::string>& values, const char* option) {
    std::vector<std::uint16_t> ports;
    for (const std::string& value : values) {
        std::string_view rest = value;
        while (true) {
            auto comma = rest.find(',');
            std::string_view one = rest.substr(0, comma);
            unsigned long p = 0;
            auto [end, ec] = std::from_chars(one.data(), one.data() + one.size(), p);
            if (one.empty() || ec != std::errc{} || end != one.data() + one.size())
                throw std::invalid_argument(std::string("--") + option + ": '" + std::string(one) + "' is not a port number");
            if (p == 0 || p > 65535)
                throw std::invalid_argument(std::string("--") + option + ": " + std::string(one) + " is outside 1-65535");
            if (std::find(ports.begin(), ports.end(), p) != ports.end())
                throw std::invalid_argument(std::string("--") + option + ": " + std::string(one) + " is given twice");
            ports.push_back(std::uint16_t(p));
            if (comma == std::string_view::npos) break;
            rest.remove_prefix(comma + 1);
        }
    }
    return ports;
}

std::vector<std::string> app_args(int argc, char** argv) {
    std::vector<std::string> args{argv[0]};
    int i = 1;
    while (i < argc && std::string_view(argv[i]) != "--") ++i;
    for (++i; i < argc; ++i) args.emplace_back(argv[i]);
    return args;
}

bool parse(const std::vector<std::string>& args, const po::options_description& desc, po::variables_map& vm,
           int& exit_code, const char* usage) {
    const std::string app = std::filesystem::path(args[0]).filename();
    std::vector<std::string> rest(args.begin() + 1, args.end());
    exit_code = 2;
    try {
        const po::parsed_options given = po::command_line_parser(rest).options(desc).run();
        refuse_words(given);
        po::store(given, vm);
        refuse_negative(given, vm);
        if (vm.count("help")) {
            std::cout << usage << "\n" << desc << "\n";
            exit_code = 0;
            return false;
        }
        if (desc.find_nothrow("config", false) && vm.count("config")) {
            const std::string path = vm["config"].as<std::string>();
            if (auto why = read_config(path, desc, vm)) {
                std::cerr << app << ": " << *why << "\n";
                return false;
            }
        }
        po::notify(vm);
    } catch (const po::error& e) {
        // One line, the cause last: with no "--" the options went to the EAL, not to us.
        const char* hint = rest.empty() ? " (tern's options go after --: app [EAL args] -- --ip ...)" : " (see --help)";
        std::cerr << app << ": " << e.what() << hint << "\n";
        return false;
    }
    return true;
}

int setup_failed(const char* app, const setup_error& error) {
    std::cerr << app << ": " << option_name(error.about) << error.message << "\n";
    return error.bad_value ? 2 : 1;
}

void stop_after(double seconds) {
    if (seconds <= 0) return;
    const auto until = std::chrono::steady_clock::now() +
                       std::chrono::duration_cast<std::chrono::steady_clock::duration>(std::chrono::duration<double>(seconds));
    std::thread([until] {
        if (!stop.wait_until(until)) stop.request();
    }).detach();
}

std::string tcp_summary(const std::vector<std::unique_ptr<tcp::tcp_endpoint>>& endpoints) {
    std::vector<std::pair<std::string_view, std::uint64_t>> tcp;
    for (auto& ep : endpoints) {
        auto c = ep->counters();
        if (tcp.empty()) tcp = c;
        else
            for (std::size_t k = 0; k < tcp.size(); ++k) tcp[k].second += c[k].second;
    }
    std::ostringstream out;
    for (auto& [name, value] : tcp)
        if (value != 0) out << "  tcp_" << name << " " << value << "\n";
    return out.str();
}

std::string summary(const runtime& rt) {
    std::ostringstream out;
    for (auto& [name, value] : rt.totals())
        if (value != 0 && name != "loops") out << "  " << name << " " << value << "\n";
    out << "  mbufs_in_use " << rt.mbufs_in_use() << "\n";
    for (auto dir : {fault_direction::rx, fault_direction::tx}) {
        const fault_counters c = rt.fault_totals(dir);
        const char* d = dir == fault_direction::rx ? "rx" : "tx";
        const std::pair<const char*, std::uint64_t> rows[] = {
            {"dropped", c.dropped},     {"duplicated", c.duplicated}, {"corrupted", c.corrupted},
            {"ce_marked", c.ce_marked},
            {"delayed", c.delayed},     {"reordered", c.reordered},   {"copy_failed", c.copy_failed}};
        for (auto [name, value] : rows)
            if (value != 0) out << "  fault_" << d << "_" << name << " " << value << "\n";
    }
    if (auto* cap = rt.capture()) out << "  capture_written " << cap->written() << "\n  capture_missed " << cap->missed() << "\n";
    return out.str();
}

} // namespace tern::cli
