// Copying file-system entries with their metadata, the primitive under COPY
// and under the native (copying) snapshots.
//
// Contract: copy_entry() copies one entry (regular file, directory — without
// its children —, symlink) from `src` to `dst`, replacing a non-directory at
// `dst`; an existing directory at `dst` is kept with its own metadata unless
// `update_dir` is set. Symlinks are never followed. Owners are set to
// `owner` when given, else kept; modes (or `mode` applied to them: not to symlinks),
// mtimes and extended attributes (every namespace the process may write; an attribute
// the destination refuses is skipped) are kept. Regular file
// contents are streamed (copy_file_range), never held in memory.
#pragma once

#include <sys/stat.h>
#include <sys/types.h>

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace kiln::solver {

struct Owner {
    uid_t uid = 0;
    gid_t gid = 0;
};

// A COPY --chmod value, applied to each copied entry's own mode.
//
// Octal ("755", "04755"): replaces all permission bits, setuid/setgid/sticky included,
// of files and directories alike. Symbolic (chmod(1) clauses, comma separated:
// "u+x", "go-w", "a=r", "u=rwx,go=rx", "+x", "g=u", "u=rwX,go=rX"): each clause is
// [ugoa]* followed by one or more actions, an action being an operator (+ - =) and either
// permission letters from "rwxXst" or one of "ugo" (copy that class's bits). No "who"
// means "a" (BuildKit applies no umask). "X" is execute when the entry is a directory or
// when any execute bit was set before the clause, for every operator (Linux and
// POSIX 2024 behaviour). "s" touches setuid with u and setgid with g; "t" touches the
// sticky bit with o or a.
class ChmodSpec {
  public:
    // Throws kiln::Error naming `text` when it is neither form.
    static ChmodSpec parse(const std::string& text);
    static ChmodSpec octal(mode_t bits);

    // The permission bits (07777) for an entry whose mode is `mode` (the type bits in
    // `mode` are ignored; is_dir says whether the entry is a directory).
    mode_t apply(mode_t mode, bool is_dir) const;

    // The octal value, when the spec is octal.
    std::optional<mode_t> octal_bits() const { return octal_; }
    const std::string& text() const { return text_; }

  private:
    struct Action {
        char op = '+';        // '+', '-' or '='
        mode_t perm = 0;      // r w x s t bits
        bool cond_x = false;  // 'X'
        char copy_from = 0;   // 'u', 'g', 'o' or 0
    };
    struct Clause {
        mode_t who = 0;  // affected bits (class masks incl. special bits)
        std::vector<Action> actions;
    };
    std::string text_;
    std::optional<mode_t> octal_;
    std::vector<Clause> clauses_;
};

struct CopyOptions {
    std::optional<Owner> owner;
    std::optional<ChmodSpec> mode;  // COPY --chmod
    bool update_dir = false;
    // Hard-link regular files instead of copying them where both trees are
    // on one filesystem (they then share the inode, so neither may be
    // modified in place afterwards); copy elsewhere.
    bool link_files = false;
};

// Copying that keeps every piece of metadata, updating existing directories
// too: used to merge one tree into another.
inline CopyOptions merge_options(bool link_files) {
    CopyOptions o;
    o.update_dir = true;
    o.link_files = link_files;
    return o;
}

// Remembers inodes already copied so that files linked to each other in the
// source stay linked in the destination.
using LinkMap = std::map<std::pair<dev_t, ino_t>, std::filesystem::path>;

void copy_entry(const std::filesystem::path& src, const struct stat& st,
                const std::filesystem::path& dst, const CopyOptions& options, LinkMap* links);

// Copies `src` and everything below it to `dst` (cp -a semantics, merging
// into existing directories).
void copy_tree(const std::filesystem::path& src, const std::filesystem::path& dst,
               const CopyOptions& options);

}  // namespace kiln::solver
