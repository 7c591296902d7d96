// Other programs the tern apps start (gnuplot for pictures; tern-bench's peers).
#pragma once

#include <string>

namespace tern::tool {

// Is `name` an executable in a folder of $PATH?
bool on_path(const std::string& name);

} // namespace tern::tool
