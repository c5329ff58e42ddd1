// BuildKit's plain progress format on a stream (stderr):
//   #3 [2/4] COPY app /app
//   #3 DONE 0.1s
// Thread-safe: vertices may report from several workers at once.
#pragma once

#include <chrono>
#include <map>
#include <mutex>
#include <ostream>
#include <string>

#include "base/progress.h"

namespace kiln::cli {

class PlainProgress : public Progress {
  public:
    explicit PlainProgress(std::ostream& out) : out_(out) {}
    int start(const std::string& name) override;
    void log(int vertex, const std::string& line) override;
    void done(int vertex) override;
    void cached(int vertex) override;
    void error(int vertex, const std::string& message) override;
    void warn(const std::string& message) override;

  private:
    std::string elapsed(int vertex);
    void put(const std::string& text);  // under mu_
    std::ostream& out_;
    std::mutex mu_;
    int next_ = 0;
    std::map<int, std::chrono::steady_clock::time_point> started_;
};

// Discards progress (--progress=quiet).
using QuietProgress = NullProgress;

}  // namespace kiln::cli
