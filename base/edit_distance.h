// Levenshtein edit distance, for "did you mean ...?" suggestions (BuildKit's suggest package
// and its instruction-name check use the same measure).
#pragma once

#include <cstddef>
#include <string_view>

namespace kiln {

// The least number of single-byte insertions, deletions and substitutions that turn a into b.
// Bytes, not characters: multi-byte UTF-8 sequences count per byte, as Go's suggest does on
// the names it compares (ASCII in practice). Symmetric; 0 only for equal strings.
std::size_t edit_distance(std::string_view a, std::string_view b);

}  // namespace kiln
