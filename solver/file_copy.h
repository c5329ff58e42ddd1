// Copying file-system entries with their metadata, the primitive under COPY
// and ADD and under RUN's private mount copies.
//
// Contract: copy_entry() copies one entry (regular file, directory — without
// its children —, symlink, fifo, device) from `src` to `dst`, both given as a
// directory fd and a name, so a destination inside an image root is reached
// only through fds the in-root resolver (base/root_dir.h) opened; an existing
// directory at `dst` is kept with its own metadata unless `update_dir` is set.
// Symlinks are never followed, on either side. Owners are set to
// `owner` when given, else kept; modes (or `mode` applied to them: not to symlinks),
// mtimes and extended attributes (every namespace the process may write; an attribute
// the destination refuses is skipped; none on symlinks and device nodes, which no
// fd-based call reaches) are kept. Regular file
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

struct Place;

// What an incremental COPY (solver/copy_journal.h) needs of a copy: every entry
// it makes is told, and a destination that already holds the previous result
// may be kept as it is. The default journal changes nothing.
class CopyJournal {
  public:
    virtual ~CopyJournal() = default;
    // A regular file at `dst` that is exactly what copying `src` would make
    // (content, mode, owner, times, no xattrs): true keeps it, nothing is written.
    virtual bool keep(const Place& src, const struct stat& st, const Place& dst, mode_t mode,
                      uid_t uid, gid_t gid) {
        (void)src, (void)st, (void)dst, (void)mode, (void)uid, (void)gid;
        return false;
    }
    // An existing directory at `dst` that a previous copy made, not the image:
    // it takes the source's metadata as a new one would.
    virtual bool made_by_copy(const Place& dst) {
        (void)dst;
        return false;
    }
    // Every entry made or kept, with the mode and owner it has; `created`: it
    // was not there before.
    virtual void noted(const Place& src, const struct stat& st, const Place& dst, bool created,
                       mode_t mode, uid_t uid, gid_t gid) {
        (void)src, (void)st, (void)dst, (void)created, (void)mode, (void)uid, (void)gid;
    }
};

struct CopyOptions {
    std::optional<Owner> owner;
    std::optional<ChmodSpec> mode;  // COPY --chmod
    bool update_dir = false;
    CopyJournal* journal = nullptr;  // optional
};

// Copying that keeps every piece of metadata, updating existing directories
// too: used to copy one tree into a fresh place.
inline CopyOptions merge_options() {
    CopyOptions o;
    o.update_dir = true;
    return o;
}

// One side of a copy: the entry `name` in the directory open as `dir`.
// `path` names it in messages and, on the destination side, is its path from
// the destination's root (links never followed below it: hard links are
// made again through it).
struct Place {
    int dir = -1;
    std::string name;
    std::string path;
};

// Remembers inodes already copied so that files linked to each other in the
// source stay linked in the destination. `root` is the fd the destination
// paths start from.
struct LinkMap {
    int root = -1;
    std::map<std::pair<dev_t, ino_t>, std::string> first;
};

// Copies one entry, fd-relative on both sides; neither name is followed.
// A directory is made (or, with update_dir, updated) without its children.
// A directory meeting a non-directory, or anything else meeting a directory,
// is an Error naming dst.path ("cannot copy to non-directory: /lib", as
// BuildKit); any other entry at dst is replaced.
void copy_entry(const Place& src, const struct stat& st, const Place& dst,
                const CopyOptions& options, LinkMap* links);

// copy_entry() of a regular file linked nowhere else (st_nlink < 2), in two
// halves, so that the second may run on another thread. journal_keeps() tells
// the journal (when there is one) of the entry and returns true when the
// journal keeps dst as it is; otherwise write_file() makes dst. write_file()
// touches nothing but src and dst (no LinkMap, no journal): different files
// may be written on different threads at once.
bool journal_keeps(const Place& src, const struct stat& st, const Place& dst,
                   const CopyOptions& options);
void write_file(const Place& src, const struct stat& st, const Place& dst,
                const CopyOptions& options);

// Copies `src` and everything below it to `dst` (cp -a semantics, merging
// into existing directories), fd-relative on both sides.
void copy_tree(const Place& src, const Place& dst, const CopyOptions& options, LinkMap& links);

// The same between two host paths kiln chose (scratch copies for RUN's
// mounts): each path's parent is opened, nothing below is followed.
void copy_tree(const std::filesystem::path& src, const std::filesystem::path& dst,
               const CopyOptions& options);

}  // namespace kiln::solver
