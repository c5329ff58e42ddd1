// Incremental COPY: a COPY from the build context whose previous result (the
// same instruction on the same file system below) is still a committed
// snapshot is made again from a hard-linked clone of that snapshot, writing
// only what changed, instead of copying every file again.
//
// Contract:
//  - A full COPY records through a CopyRecorder what it made: each regular
//    file's destination with the content digest, size, mtime, mode and owner it
//    was copied with (and whether its source had xattrs); every other entry it
//    made; the directories it created; the directories above the destination
//    whose mtime it changed. serialize() gives the text the step's snapshot is
//    committed with (its note, snapshotter.h).
//  - An incremental COPY runs the very same copy (run_copy: same walk, same
//    rules) into the clone with a CopyRebaser: a regular file whose source
//    matches its record (content digest by the stat cache, size, mtime, mode,
//    owner, no xattrs on either side) keeps the clone's file, untouched; every
//    other entry is written as a full copy writes it (a kept file's inode is
//    shared with the old snapshot, so nothing is ever written into one).
//    finish() then removes what the record has and this copy did not make
//    (parents keep their mtime) and dates the directories above the
//    destination as the full copy did. The tree is then what a full copy over
//    the same file system makes, entry for entry, so the layer has the same
//    bytes (directories a copy dates "now" are dated by this copy's now).
//  - Where that cannot be promised (a directory to create on the way to the
//    destination, which means the path went through a link of the image; a
//    user name to look up in /etc/passwd; a recorded directory that is not
//    empty once its entries went; a record that does not parse) the rebaser
//    throws NotIncremental and the caller makes a full copy on a fresh snapshot.
#pragma once

#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <map>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "base/root_dir.h"
#include "solver/file_copy.h"
#include "solver/stat_cache.h"

namespace kiln::solver {

// Not an error: the incremental path gives up and a full copy is made.
class NotIncremental : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};

// What a COPY made, by destination path (absolute in the image, as resolved).
struct CopyRecord {
    struct File {
        std::array<unsigned char, 32> digest{};  // the source content's SHA-256
        long long size = 0;
        long long mtime_s = 0, mtime_ns = 0;
        mode_t mode = 0;
        uid_t uid = 0;
        gid_t gid = 0;
        bool xattrs = false;  // the source had extended attributes
        // The source inode then: the same inode with the same ctime has not
        // changed since (content, mode, owner, xattrs all move ctime).
        unsigned long long ino = 0;
        long long ctime_s = 0, ctime_ns = 0;
        bool kept = false;  // (not recorded) a rebaser kept the previous file
    };
    std::map<std::string, File> files;
    std::set<std::string> others;        // links, fifos, devices
    std::set<std::string> created_dirs;  // directories the copy created
    std::set<std::string> dated_dirs;    // directories above the destination it dated

    std::string serialize() const;
    // Throws NotIncremental on anything it cannot read.
    static CopyRecord parse(const std::string& text);
};

// Records what a full copy makes (the copy's CopyOptions::journal).
class CopyRecorder : public CopyJournal {
  public:
    // `context` is the root the copy reads from; `stats` gives content digests.
    CopyRecorder(std::string context_root, StatCache& stats)
        : context_root_(std::move(context_root)), stats_(stats) {}

    void noted(const Place& src, const struct stat& st, const Place& dst, bool created, mode_t mode,
               uid_t uid, gid_t gid) override;

    // Around the copy: the directories on the way to `dir_path` (the
    // destination directory), before it is resolved and after everything was copied.
    virtual void before_copy(const RootDir& root, const std::string& dir_path);
    virtual void after_copy(const RootDir& root, const std::string& dir_path);
    // The copy gave directory `path` its source's mtime (a directory source's
    // contents copied into it): that mtime, if it is still the directory's
    // after the copy, is not the copy's doing.
    void dated_by_source(const std::string& path, const struct timespec& mtime) {
        by_source_[path] = static_cast<long long>(mtime.tv_sec) * 1000000000LL + mtime.tv_nsec;
    }

    const CopyRecord& record() const { return made_; }
    CopyRecord take_record() { return std::move(made_); }

  protected:
    std::string rel_of(const Place& src) const;
    std::array<unsigned char, 32> digest_of(const Place& src, const struct stat& st);

    std::string context_root_;
    StatCache& stats_;
    CopyRecord made_;
    std::map<std::string, long long> mtimes_before_;  // ns; -1: missing
    std::map<std::string, long long> by_source_;      // ns
};

// Makes a copy again over a clone of its previous result (see above).
class CopyRebaser : public CopyRecorder {
  public:
    CopyRebaser(std::string context_root, StatCache& stats, CopyRecord previous)
        : CopyRecorder(std::move(context_root), stats), previous_(std::move(previous)) {}

    bool keep(const Place& src, const struct stat& st, const Place& dst, mode_t mode, uid_t uid,
              gid_t gid) override;
    bool made_by_copy(const Place& dst) override;
    void noted(const Place& src, const struct stat& st, const Place& dst, bool created, mode_t mode,
               uid_t uid, gid_t gid) override;
    void before_copy(const RootDir& root, const std::string& dir_path) override;
    void after_copy(const RootDir& root, const std::string& dir_path) override;
    // Removes what the previous copy made and this one did not.
    void finish(const RootDir& root);

    std::size_t kept() const { return kept_; }

  private:
    CopyRecord previous_;
    const bool root_ = ::geteuid() == 0;  // asked once, not per file
    std::size_t kept_ = 0;
    const std::string* just_kept_ = nullptr;  // keep()'s last yes: its record carries over
};

}  // namespace kiln::solver
