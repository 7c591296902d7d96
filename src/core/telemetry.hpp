// DPDK telemetry commands (read with dpdk-telemetry.py -f <file-prefix>):
//   /tern/stats [engine]  counters, summed over engines or for one engine
//   /tern/arp             the neighbor cache
//   /tern/port            the port and what it offloads
//   /tern/tcp/stats [engine]        TCP endpoint counters and per-reason drop totals
//   /tern/tcp/states [engine]       connections per state: {"ESTABLISHED": 3, "TIME_WAIT": 1, ...}
//   /tern/tcp/connections [engine]  {"total": N, "listed": M, "connections": ["0 198.18.0.2:80
//                                   198.18.0.1:40000 ESTABLISHED rtt_us=120 cwnd=14480 unacked=0 rtx=0 in=512"]}
// The TCP commands are answered by each engine on its own core (engine::request_report),
// so they need the engines running; otherwise they fail with -EAGAIN.
#pragma once

namespace tern {

class runtime;

// Telemetry callbacks take no user pointer in DPDK 22.11, so the runtime they read is
// held in one process-wide pointer; attach and detach bracket its life.
void telemetry_attach(runtime* rt);
void telemetry_detach(runtime* rt);

} // namespace tern
