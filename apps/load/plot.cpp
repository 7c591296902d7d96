#include "load/plot.hpp"

#include <cmath>
#include <cstdio>

#include "common/json.hpp"

namespace tern::load {

namespace {

// cps measures connects (its rate is connections/s); the others measure requests.
bool measures_connects(const report& r) { return r.workload == "cps"; }

std::string line(const char* format, double a, double b = 0, double c = 0) {
    char s[96];
    std::snprintf(s, sizeof s, format, a, b, c);
    return s;
}

// Each second's count, as "SECOND COUNT" rows ending with gnuplot's "e".
std::string rate_rows(const std::vector<histogram>& series) {
    std::string rows;
    for (std::size_t s = 0; s < series.size(); ++s) rows += line("%.1f %.0f\n", double(s) + 0.5, double(series[s].count()));
    return rows + "e\n";
}

// "SECOND P50_US P99_US" for every second that has samples.
std::string percentile_rows(const std::vector<histogram>& series) {
    std::string rows;
    for (std::size_t s = 0; s < series.size(); ++s)
        if (series[s].count() > 0)
            rows += line("%.1f %.3f %.3f\n", double(s) + 0.5, double(series[s].percentile(50)) / 1000.0,
                         double(series[s].percentile(99)) / 1000.0);
    return rows + "e\n";
}

// "NINES LATENCY_US" where NINES = -log10(1 - p/100): 1 is p90, 2 p99, 3 p99.9. Tenth steps
// up to where the run has samples to tell them apart (1 / count), then the maximum.
std::string spectrum_rows(const histogram& h) {
    std::string rows;
    if (h.count() == 0) return "e\n";
    const double last = std::log10(double(h.count()));
    for (double nines = 0; nines < last - 0.05; nines += 0.1)
        rows += line("%.2f %.3f\n", nines, double(h.percentile(100.0 * (1.0 - std::pow(10.0, -nines)))) / 1000.0);
    rows += line("%.2f %.3f\n", last, double(h.max()) / 1000.0);
    return rows + "e\n";
}

// A panel with nothing to draw (throughput has no latency samples; a run may have none):
// says so, where gnuplot would stop at an empty plot.
std::string empty_panel(const std::string& title) {
    return "set title " + json::quote(title) +
           "\nunset logscale y\nset yrange [0:1]\nset label 1 'no samples' at graph 0.5,0.5 center\n"
           "plot 2 notitle\nunset label 1\nset yrange [0:*]\n";
}

} // namespace

std::string gnuplot_script(const report& r, const std::string& png) {
    const bool connects = measures_connects(r);
    const auto& series = connects ? r.connect_series : r.latency_series;
    const histogram& run = connects ? r.connect_latency : r.latency;
    const std::string what = connects ? "connect" : r.workload == "ping-pong" ? "round trip" : "request latency";
    std::string g = "set terminal pngcairo size 900,1000 font 'sans,10'\nset output " + json::quote(png) + "\n";
    g += "set multiplot layout 3,1 title " +
         json::quote("tern-load: " + r.workload + " against " + r.target + " (" + std::to_string(r.hosts) + " host(s))") +
         "\nset grid\nset key top left\nset xlabel 'seconds measured'\nset yrange [0:*]\n";
    const std::string rate_title = connects ? "connections per second" : "responses per second";
    const std::string by_second_title = what + ", p50 and p99 of each second";
    const std::string spectrum_title = what + " percentile spectrum, " + std::to_string(run.count()) + " samples";
    if (run.count() == 0)
        return g + "set ylabel '/s'\n" + empty_panel(rate_title) + "set ylabel 'us'\n" + empty_panel(by_second_title) +
               empty_panel(spectrum_title) + "unset multiplot\n";
    g += "set xrange [0:" + std::to_string(series.size()) + "]\n";
    g += "set title " + json::quote(rate_title) + "\nset ylabel '/s'\nplot '-' using 1:2 with histeps lw 2 title 'rate'\n" +
         rate_rows(series);
    g += "set title " + json::quote(by_second_title) + "\nset ylabel 'us'\nset logscale y\nset yrange [*:*]\n"
         "plot '-' using 1:2 with linespoints title 'p50', '-' using 1:3 with linespoints title 'p99'\n" +
         percentile_rows(series) + percentile_rows(series);
    g += "set title " + json::quote(spectrum_title) +
         "\nset xrange [0:*]\nset xlabel 'percentile'\nset xtics ('0' 0, '90' 1, '99' 2, '99.9' 3, '99.99' 4, '99.999' 5, '99.9999' 6)\n"
         "plot '-' using 1:2 with lines lw 2 title 'latency'\n" + spectrum_rows(run);
    return g + "unset multiplot\n";
}

} // namespace tern::load
