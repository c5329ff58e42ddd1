// Small URL helpers for the registry client: the distribution API hands out
// upload URLs (Location) that may be relative, absolute, or carry a query.
#pragma once

#include <string>
#include <string_view>

namespace kiln::registry {

// Percent-encodes everything but RFC 3986 unreserved characters.
std::string percent_encode(std::string_view s);

// Appends "key=value" (already encoded) with '?' or '&' as the URL needs.
std::string append_query(const std::string& url, const std::string& param);

// Resolves a Location header value against the absolute URL it came from
// (RFC 3986 §5.2, enough for what registries send: absolute, "//host/...",
// "/path?query", or a relative path).
std::string resolve_url(const std::string& base, const std::string& ref);

// "host:port" of an absolute URL as written (userinfo dropped), "" for a path.
std::string url_authority(const std::string& url);

// The URL without its query: upload states and signatures stay out of messages.
std::string strip_query(const std::string& url);

}  // namespace kiln::registry
