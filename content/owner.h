// Which process owns a temporary in the state root, and whether it still runs.
//
// A kiln process killed at any instant (kill -9, OOM) leaves its temporaries
// behind: partial blobs, snapshot work directories with overlay mounts, build
// directories. The next command reclaims those of dead processes only
// (build/recovery.h); this is how it tells them from a live build's.
//
// Contract:
//  - Each process has one token, "<pid>.<8 hex digits>", made on first use.
//  - register_owner(root) makes <root>/locks/owners/<token> and holds an
//    exclusive flock on it while the process uses the root (the kernel drops
//    it at death, whatever the death). The file appears under its name already
//    locked (made as .new-<token>, locked, renamed), so "no such file" and
//    "file not locked" both mean "dead": no live owner is ever seen without
//    its lock. A normal end removes the file; a killed process's stays until
//    a recovery reclaims what it left.
//  - temp_prefix(p) is p + token + "-" once the process registered in some
//    root (StateRoot does it), and p before: every temporary the process
//    makes (AtomicFile, TempDir, snapshot work directories) is named
//    <prefix><token>-XXXXXX. Names without a token are never reclaimed.
//  - token_of(name) reads the token back out of such a name ("" if none).
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

#include "base/unique_fd.h"

namespace kiln::content {

const std::string& process_token();

// The process's owner file in `root`, held (locked) while the returned handle
// or another for the same root lives; the last one removes it. StateRoot
// holds one. Throws kiln::Error when locks/owners cannot be written.
std::shared_ptr<const void> register_owner(const std::filesystem::path& root);

std::string temp_prefix(std::string_view prefix);

std::string token_of(std::string_view name);

// A dead owner's lock, held while its temporaries are removed.
struct DeadOwner {
    std::string token;
    UniqueFd lock;  // invalid when the owner file was missing
};

// Whether `token` belongs to a dead process: its owner file is missing or can
// be locked now. On true, `out` holds the lock (so no one else reclaims it
// at the same time, and the file can be removed afterwards).
bool owner_is_dead(const std::filesystem::path& root, const std::string& token, DeadOwner& out);

// Removes the owner file of a dead owner whose temporaries are gone.
void forget_owner(const std::filesystem::path& root, const DeadOwner& dead);

}  // namespace kiln::content
