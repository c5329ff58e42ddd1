// What a registry's answers say, read from their bytes: the header values and
// bodies the client acts on. Internal to registry/; kept apart from the client
// so that each reader can be fuzzed alone (tests/fuzz/registry_answer_fuzzer).
//
// Invariants, whatever the bytes:
//  - nothing here throws, and every number returned is in range (no overflow);
//  - a message meant for an error line is one line of printable text, at most
//    kMaxMessage bytes plus an ellipsis, so a registry cannot put terminal
//    escapes, line breaks or a megabyte into kiln's output.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace kiln::registry {

// The first byte of a 206's "Content-Range: bytes START-END/TOTAL" (TOTAL may
// be "*"); nullopt unless the value has that form with START <= END.
std::optional<std::int64_t> content_range_start(std::string_view value);

// The next byte an upload session wants, from its "Range: 0-END" (or
// "bytes=0-END"): END + 1, or 0 for "0-0", which distribution sends for an
// empty upload as well. nullopt when the value has no such form.
std::optional<std::int64_t> upload_range_next(std::string_view value);

// A token server's answer: "token", else "access_token"; "expires_in" in
// seconds (the distribution spec's default 60 when absent, at least 10, at most
// a day). nullopt when the body is not JSON or holds no token.
struct TokenAnswer {
    std::string token;
    std::int64_t expires_in = 60;
};
std::optional<TokenAnswer> parse_token_answer(std::string_view body);

// The message of an error body: the first of distribution's "errors" (its
// "message", else its "code"), or Docker Hub's "details"; "" when the body says
// nothing readable. Cleaned as the invariants above say.
constexpr std::size_t kMaxMessage = 300;
std::string error_body_message(std::string_view body);

}  // namespace kiln::registry
