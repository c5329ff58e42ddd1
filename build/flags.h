// buildx's flag values turned into a BuildRequest's fields. Each throws
// kiln::Error naming the flag and the value at fault.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "build/request.h"

namespace kiln::build {

// --build-arg K=V; a bare NAME takes NAME's value from the environment (Docker).
std::map<std::string, std::string> parse_build_args(const std::vector<std::string>& items);
// --label K=V.
std::map<std::string, std::string> parse_labels(const std::vector<std::string>& items);
// --secret id=ID,src=PATH | id=ID,env=VAR: values are read only when a RUN
// mounts them, and never enter a layer, the config or a cache key.
std::map<std::string, Secret> parse_secrets(const std::vector<std::string>& specs);
// --allow network.host,security.insecure (repeatable or comma-separated).
Entitlements parse_allow(const std::vector<std::string>& values);
// --ssh default[=SOCKET]: the agent socket; "" for an empty flag.
std::string parse_ssh(const std::string& value);

}  // namespace kiln::build
