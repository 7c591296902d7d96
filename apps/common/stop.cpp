#include "common/stop.hpp"

#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <ctime>
#include <system_error>

namespace tern::cli {

stop_signal::stop_signal() : fd_(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {
    if (fd_ < 0) throw std::system_error(errno, std::generic_category(), "eventfd for the stop signal");
}

stop_signal::~stop_signal() { ::close(fd_); }

void stop_signal::request() noexcept {
    const int saved = errno; // a signal handler must leave errno as it found it
    flag_.store(true, std::memory_order_release);
    const std::uint64_t one = 1;
    [[maybe_unused]] const ssize_t n = ::write(fd_, &one, sizeof one);
    errno = saved;
}

bool stop_signal::wait_until(std::chrono::steady_clock::time_point until) const {
    using namespace std::chrono;
    for (;;) {
        if (requested()) return true;
        const auto left = until - steady_clock::now();
        if (left <= steady_clock::duration::zero()) return false;
        const auto s = duration_cast<seconds>(left);
        const timespec timeout{time_t(s.count()), long(duration_cast<nanoseconds>(left - s).count())};
        pollfd p{fd_, POLLIN, 0};
        ::ppoll(&p, 1, &timeout, nullptr); // EINTR or a timeout: the loop looks again
    }
}

} // namespace tern::cli
