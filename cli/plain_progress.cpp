#include "cli/plain_progress.h"

#include <cstdio>

namespace kiln::cli {

int PlainProgress::start(const std::string& name) {
    std::lock_guard lock(mu_);
    int id = ++next_;
    started_[id] = std::chrono::steady_clock::now();
    out_ << "#" << id << " " << name << "\n" << std::flush;
    return id;
}

void PlainProgress::log(int vertex, const std::string& line) {
    std::lock_guard lock(mu_);
    out_ << "#" << vertex << " " << line << "\n" << std::flush;
}

std::string PlainProgress::elapsed(int vertex) {
    auto d = std::chrono::steady_clock::now() - started_[vertex];
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.1fs", std::chrono::duration<double>(d).count());
    return buf;
}

void PlainProgress::done(int vertex) {
    std::lock_guard lock(mu_);
    out_ << "#" << vertex << " DONE " << elapsed(vertex) << "\n\n" << std::flush;
}

void PlainProgress::cached(int vertex) {
    std::lock_guard lock(mu_);
    out_ << "#" << vertex << " CACHED\n\n" << std::flush;
}

void PlainProgress::error(int vertex, const std::string& message) {
    std::lock_guard lock(mu_);
    out_ << "#" << vertex << " ERROR: " << message << "\n\n" << std::flush;
}

void PlainProgress::warn(const std::string& message) {
    std::lock_guard lock(mu_);
    out_ << "WARNING: " << message << "\n" << std::flush;
}

}  // namespace kiln::cli
