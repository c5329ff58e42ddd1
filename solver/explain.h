// --explain-cache: why a step did not hit the cache, said in one line by
// comparing what it read (its summary) with the nearest record made for the
// same instruction. Records keep their summary beside the key; the summary is
// never part of a key, so explaining never changes what hits.
//
// A summary is {"instruction": text, "stage": name, "base": base image digest,
// "files": {path: "MODE UID:GID CONTENT"}, "env": {name: value},
// "stages": {stage name: its key} (stages the step reads)}; each part
// may be missing. CONTENT is a short content digest, "-> target" for a link,
// "dir" for a directory.
#pragma once

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

// Whether two summaries are of the same instruction in the same stage.
bool same_instruction(const nlohmann::json& a, const nlohmann::json& b);

}  // namespace kiln::solver
