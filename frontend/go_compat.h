// Helpers that reproduce what a Go library does, so lowering reads and writes text exactly as
// BuildKit (a Go program) does: strconv.ParseBool, time.ParseDuration, path.Clean,
// encoding/csv, distribution's reference grammar and BuildKit's suggest.Search. Go's %q lives
// in base/go_quote.h.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace kiln::frontend {

// strconv.ParseBool: 1 t T TRUE true True / 0 f F FALSE false False; nullopt otherwise.
std::optional<bool> parse_go_bool(std::string_view s);

// time.ParseDuration for the units Dockerfiles use ("30s", "1m30s", "500ms", "1.5h", "0"):
// nanoseconds, or -1 when s is malformed.
long long parse_go_duration(const std::string& s);

// path.Clean of an absolute path ("/a/./b/../c" -> "/a/c"; never empty, "/" at least).
std::string clean_abs_path(const std::string& p);

// p made absolute against dir (dir "" = "/") and cleaned; an absolute p ignores dir.
std::string join_abs_path(const std::string& dir, const std::string& p);

// encoding/csv's reading of one record (as BuildKit reads --mount values): fields split on
// ',', a field that starts with '"' is quoted ("" inside is one '"'); nullopt for a bare
// '"' inside an unquoted field, an unterminated quote or text after a closing quote.
std::optional<std::vector<std::string>> parse_csv_record(const std::string& s);

// Whether s parses as an image reference (distribution's ParseNormalizedNamed): optional
// registry host, lower-case path components, optional :tag and @algo:hex digest.
bool valid_image_ref(std::string s);

// BuildKit's suggest.Search: the option closest to name by edit distance (name itself
// excluded), "" when none is within 2 edits (1 for names shorter than 4 bytes).
std::string suggest(const std::string& name, const std::vector<std::string>& options);

}  // namespace kiln::frontend
