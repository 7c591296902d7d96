// DPDK telemetry commands (read with dpdk-telemetry.py -f <file-prefix>):
//   /tern/stats [engine]  counters, summed over engines or for one engine
//   /tern/arp             the neighbor cache
//   /tern/port            the port and what it offloads
#pragma once

namespace tern {

class runtime;

// Telemetry callbacks take no user pointer in DPDK 22.11, so the runtime they read is
// held in one process-wide pointer; attach and detach bracket its life.
void telemetry_attach(runtime* rt);
void telemetry_detach(runtime* rt);

} // namespace tern
