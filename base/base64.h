// Base64 in RFC 4648's standard alphabet, as Docker's config.json "auth"
// fields, HTTP Basic authentication and BuildKit's rawjson progress (its
// log data) spell it.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace kiln {

// Encodes with '=' padding.
std::string base64_encode(std::string_view bytes);

// Decodes standard-alphabet base64; the trailing '=' padding may be present or
// omitted (some tools write it either way). Returns nullopt for any other
// character, misplaced padding or a length no encoder produces.
std::optional<std::string> base64_decode(std::string_view text);

}  // namespace kiln
