#include "common/tool.hpp"

#include <cstdlib>
#include <filesystem>
#include <sstream>

#include <unistd.h>

namespace tern::tool {

bool on_path(const std::string& name) {
    const char* path = std::getenv("PATH");
    std::stringstream dirs(path ? path : "/usr/sbin:/usr/bin:/sbin:/bin");
    for (std::string dir; std::getline(dirs, dir, ':');)
        if (::access((std::filesystem::path(dir) / name).c_str(), X_OK) == 0) return true;
    return false;
}

} // namespace tern::tool
