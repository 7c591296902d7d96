// The clock an engine reads once per loop iteration, as an interface, and the virtual
// clock tests drive by hand. The TCP core and the timer wheel never read a clock: they
// are handed an instant. The TSC clock of production lives in src/core (it needs DPDK).
#pragma once

#include <cassert>

#include "tern/time.hpp"

namespace tern {

class clock {
public:
    virtual ~clock() = default;
    virtual instant now() = 0;
};

// Tests: time moves only when the test says so.
class virtual_clock final : public clock {
public:
    explicit virtual_clock(instant start = instant{}) : now_(start) {}

    instant now() override { return now_; }

    void advance(duration d) {
        assert(d >= duration::zero() && "virtual_clock is monotonic");
        now_ += d;
    }

    void set(instant t) {
        assert(t >= now_ && "virtual_clock is monotonic");
        now_ = t;
    }

private:
    instant now_;
};

} // namespace tern
