#include "dpdk/log_capture.hpp"

#include <string_view>

#include <rte_log.h>

namespace tern {

log_capture::log_capture(echo e) {
    if (e == echo::on) passed_on_ = rte_log_get_stream();
    cookie_io_functions_t io{};
    io.write = &log_capture::write;
    stream_ = fopencookie(this, "w", io);
    // rte_vlog flushes after every message: one write, one message, with its level known.
    if (stream_) rte_openlog_stream(stream_);
}

log_capture::~log_capture() {
    if (!stream_) return;
    rte_openlog_stream(nullptr);
    std::fclose(stream_);
}

std::string log_capture::first_error() const {
    std::lock_guard lock(mutex_);
    return first_error_;
}

ssize_t log_capture::write(void* self, const char* data, std::size_t size) {
    auto* c = static_cast<log_capture*>(self);
    if (c->passed_on_) {
        std::fwrite(data, 1, size, c->passed_on_);
        std::fflush(c->passed_on_);
    }
    // Levels count down from debug (8) to emergency (1): ERR and below are failures.
    const int level = rte_log_cur_msg_loglevel();
    if (level >= int(RTE_LOG_EMERG) && level <= int(RTE_LOG_ERR)) {
        std::lock_guard lock(c->mutex_);
        if (c->first_error_.empty()) {
            std::string_view line(data, size);
            c->first_error_ = line.substr(0, line.find('\n'));
        }
    }
    return ssize_t(size);
}

} // namespace tern
