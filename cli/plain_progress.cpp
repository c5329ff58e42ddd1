#include "cli/plain_progress.h"

#include <cstdio>

namespace kiln::cli {

// One write per report: stderr is unbuffered, and each `<<` on it is a
// write(2) of its own (a RUN's output line was five).
void PlainProgress::put(const std::string& text) {
    out_ << text << std::flush;
}

int PlainProgress::start(const std::string& name) {
    std::lock_guard lock(mu_);
    int id = ++next_;
    started_[id] = std::chrono::steady_clock::now();
    put("#" + std::to_string(id) + " " + name + "\n");
    return id;
}

void PlainProgress::log(int vertex, const std::string& line) {
    std::lock_guard lock(mu_);
    put("#" + std::to_string(vertex) + " " + line + "\n");
}

std::string PlainProgress::elapsed(int vertex) {
    auto d = std::chrono::steady_clock::now() - started_[vertex];
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.1fs", std::chrono::duration<double>(d).count());
    return buf;
}

void PlainProgress::done(int vertex) {
    std::lock_guard lock(mu_);
    put("#" + std::to_string(vertex) + " DONE " + elapsed(vertex) + "\n\n");
}

void PlainProgress::cached(int vertex) {
    std::lock_guard lock(mu_);
    put("#" + std::to_string(vertex) + " CACHED\n\n");
}

void PlainProgress::error(int vertex, const std::string& message) {
    std::lock_guard lock(mu_);
    put("#" + std::to_string(vertex) + " ERROR: " + message + "\n\n");
}

void PlainProgress::warn(const std::string& message) {
    std::lock_guard lock(mu_);
    put("WARNING: " + message + "\n");
}

}  // namespace kiln::cli
