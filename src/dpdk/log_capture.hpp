// DPDK's log, caught while an object of this class lives: the first message of error level
// or worse is kept, so that the line saying why a start-up failed can quote DPDK's own reason
// (a driver refusing its device arguments says why only in its log).
#pragma once

#include <cstdio>
#include <mutex>
#include <string>

namespace tern {

class log_capture {
public:
    // echo::on passes every message on to where DPDK's log went before (stderr until the EAL
    // is up); echo::off keeps them from the terminal.
    enum class echo : bool { off, on };
    explicit log_capture(echo e);
    // Gives DPDK's log back to its default stream (tern sets no stream of its own elsewhere).
    ~log_capture();
    log_capture(const log_capture&) = delete;
    log_capture& operator=(const log_capture&) = delete;

    // The first line of the first message of level ERR or worse, without its trailing
    // newline; empty when there was none.
    std::string first_error() const;

private:
    static ssize_t write(void* self, const char* data, std::size_t size);

    FILE* passed_on_ = nullptr; // where messages are echoed, or null
    FILE* stream_ = nullptr;    // ours, handed to rte_openlog_stream
    mutable std::mutex mutex_;  // EAL threads log too
    std::string first_error_;
};

} // namespace tern
