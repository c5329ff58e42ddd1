// `--progress rawjson`: BuildKit's SolveStatus stream as buildx prints it,
// one JSON object a line on a stream (stderr), with BuildKit's field names:
//   {"vertexes":[{"digest":"sha256:…","name":"[2/4] COPY app /app","started":"…"}]}
//   {"logs":[{"vertex":"sha256:…","stream":1,"data":"<base64>","timestamp":"…"}]}
//   {"vertexes":[{"digest":…,"name":…,"started":…,"completed":…,"cached":true}]}
//   {"warnings":[{"level":1,"short":"<base64>"}]}
// A vertex's digest is kiln's own (of its number and name: kiln has no LLB
// op to take one from), the same for each of its updates. Times are RFC 3339
// in UTC with nanoseconds, as Go writes time.Time. Thread-safe.
#pragma once

#include <chrono>
#include <map>
#include <mutex>
#include <ostream>
#include <string>

#include "base/progress.h"

namespace kiln::cli {

class RawJsonProgress : public Progress {
  public:
    explicit RawJsonProgress(std::ostream& out) : out_(out) {}
    int start(const std::string& name) override;
    void log(int vertex, const std::string& line) override;
    void done(int vertex) override;
    void cached(int vertex) override;
    void error(int vertex, const std::string& message) override;
    void warn(const std::string& message) override;

  private:
    struct Vertex {
        std::string digest, name, started;
    };
    void end(int vertex, bool cached, const std::string& error);  // under mu_
    std::ostream& out_;
    std::mutex mu_;
    int next_ = 0;
    std::map<int, Vertex> vertexes_;
};

}  // namespace kiln::cli
