// tern-load --plot FILE.png: a report drawn by gnuplot (pngcairo), as tern-bench draws its
// results. Three panels: the rate per second of measured time, p50 and p99 per second, and
// the latency percentile spectrum of the whole run (x: 90%, 99%, 99.9%, ... evenly apart).
#pragma once

#include <string>

#include "load/report.hpp"

namespace tern::load {

// The gnuplot script that draws `r` into `png`, its data inline.
std::string gnuplot_script(const report& r, const std::string& png);

} // namespace tern::load
