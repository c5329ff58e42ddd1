// Command-line mistakes, said as buildx says them: one line naming the flag or
// command at fault and, when one is close, the one meant ("unknown flag
// --cache-fro for kiln build; did you mean --cache-from?"). The CLI exits 2
// for them (README, "Exit codes").
#pragma once

#include <CLI/CLI.hpp>

#include <string>
#include <vector>

#include "base/error.h"

namespace kiln::cli {

inline constexpr int kUsageExit = 2;

// The one line for CLI11's parse error `e` of `argv` against `app`: an
// unknown command or flag is named with its closest match; any other error
// is CLI11's own message on one line, prefixed with the command.
std::string usage_message(const CLI::App& app, const CLI::ParseError& e, int argc,
                          const char* const* argv);

// The candidate closest to `word` (at most two edits away, or one that
// begins with it), "" when none is close. The first of equally close wins.
std::string closest(const std::string& word, const std::vector<std::string>& candidates);

// Runs `f`; a kiln::Error it throws becomes a UsageError naming `flag`
// ("--filter: invalid duration ...").
template <class F>
auto as_usage(const std::string& flag, F&& f) -> decltype(f()) {
    try {
        return f();
    } catch (const UsageError&) {
        throw;
    } catch (const Error& e) {
        throw UsageError(flag + ": " + e.what());
    }
}

}  // namespace kiln::cli
