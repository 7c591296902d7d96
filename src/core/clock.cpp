#include "core/clock.hpp"

#include <rte_cycles.h>

namespace tern {

tsc_clock::tsc_clock() : hz_(rte_get_tsc_hz()), start_cycles_(rte_rdtsc()) {
    assert(hz_ != 0 && "tsc_clock before rte_eal_init");
}

instant tsc_clock::now() {
    return instant(tsc_cycles_to_duration(rte_rdtsc() - start_cycles_, hz_));
}

} // namespace tern
