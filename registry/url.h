// Small URL helpers for the registry client: the distribution API hands out
// upload URLs (Location) that may be relative, absolute, or carry a query.
#pragma once

#include <string>
#include <string_view>

#include "base/http_client.h"

namespace kiln::registry {

// Percent-encodes everything but RFC 3986 unreserved characters.
std::string percent_encode(std::string_view s);

// Appends "key=value" (already encoded) with '?' or '&' as the URL needs.
std::string append_query(const std::string& url, const std::string& param);

// Resolves a Location header value against the absolute URL it came from
// (RFC 3986 §5.2, enough for what registries send: absolute, "//host/...",
// "/path?query", or a relative path).
std::string resolve_url(const std::string& base, const std::string& ref);

// url_authority() and strip_query() live with the HTTP client.
using http::strip_query;
using http::url_authority;

}  // namespace kiln::registry
