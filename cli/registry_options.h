// Registry client settings from the command line, shared by build, pull,
// push and login, and the printer their progress lines go to.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "registry/client.h"

namespace kiln::cli {

registry::ClientOptions client_options(const std::vector<std::string>& insecure_registries);
// Prints one progress line to stderr (whole lines, safe from several threads).
std::function<void(const std::string&)> stderr_logger(const std::string& prefix);

}  // namespace kiln::cli
