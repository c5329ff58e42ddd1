// How the commands print sizes and times: sizes in decimal units as docker
// prints them ("12.3MB"), times as "3 minutes ago".
#pragma once

#include <cstdint>
#include <string>

namespace kiln::cli {

std::string human_size(std::int64_t bytes);
// `when` and `now` in nanoseconds since the epoch.
std::string time_ago(std::int64_t when, std::int64_t now);

}  // namespace kiln::cli
