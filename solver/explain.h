// --explain-cache: why a step did not hit the cache, said in one line by
// comparing what it read (its summary) with the nearest record made for the
// same instruction. Records keep their summary beside the key; the summary is
// never part of a key, so explaining never changes what hits.
//
// A summary is {"instruction": text, "stage": name, "base": base image digest,
// "files": {path: "MODE CONTENT"}, "env": {name: value},
// "stages": {stage name: its key} (stages the step reads)}; each part
// may be missing. MODE is st_mode in octal; CONTENT a short content digest,
// "->target" for a link, "dir" for a directory. No owner: it is not part of a
// key (build_context.h), so it never explains a miss.
#pragma once

#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "solver/cache_store.h"

namespace kiln::solver {

struct MissFacts {
    nlohmann::json summary;      // this step's
    std::string parent;          // this step's parent key
    bool parent_missed = false;  // the step before it in its stage ran
};

// `candidates`: records for the same instruction of the same stage (any
// parent), newest first preferred when several fit equally.
std::string explain_miss(const MissFacts& step, const std::vector<CacheRecord>& candidates);

// A summary kept small (records travel with --cache-to): past `limit` files, the files are
// rolled up into their directories at the shallowest depth that fits
// ("src/lib/": "tree <12 hex>", a digest of everything below), and
// "files_depth" records that depth, so a 20,000-file context costs a record
// a few hundred entries. explain_miss() rolls the step's own files up the
// same way before comparing with such a record.
nlohmann::json compact_summary(const nlohmann::json& summary, std::size_t limit);
// The same, straight from a step's files (path → "MODE CONTENT") into
// summary["files"] (and "files_depth"), without a JSON copy of every file.
void set_compact_files(nlohmann::json& summary, const std::map<std::string, std::string>& files,
                       std::size_t limit);

// How many files a record's summary lists before they are rolled up. Records
// are compacted once, when made, so every copy of a record is the same.
inline constexpr std::size_t kSummaryFiles = 1000;

// Whether two summaries are of the same instruction in the same stage.
bool same_instruction(const nlohmann::json& a, const nlohmann::json& b);

}  // namespace kiln::solver
