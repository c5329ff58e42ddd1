// A Progress (base/progress.h) that keeps what it was told, so a test can
// check what a user would see: vertex names, their log lines, which were
// cached, errors and warnings. Thread-safe, as the solver reports from workers.
#pragma once

#include <mutex>
#include <string>
#include <vector>

#include "base/progress.h"

namespace kiln::testing {

class RecordingProgress : public Progress {
  public:
    int start(const std::string& name) override {
        std::lock_guard lock(mu_);
        names.push_back(name);
        return static_cast<int>(names.size());
    }
    // Each line as "<vertex name>: <line>".
    void log(int v, const std::string& line) override {
        std::lock_guard lock(mu_);
        logs.push_back(names.at(static_cast<size_t>(v - 1)) + ": " + line);
    }
    void done(int) override {}
    void cached(int v) override {
        std::lock_guard lock(mu_);
        cached_names.push_back(names.at(static_cast<size_t>(v - 1)));
    }
    void error(int, const std::string& m) override {
        std::lock_guard lock(mu_);
        errors.push_back(m);
    }
    void warn(const std::string& m) override {
        std::lock_guard lock(mu_);
        warnings.push_back(m);
    }
    std::vector<std::string> names, logs, cached_names, errors, warnings;

  private:
    std::mutex mu_;
};

}  // namespace kiln::testing
