#include "cli/plain_progress.h"

#include <cstdio>

namespace kiln::cli {

// One write per report: stderr is unbuffered, and each `<<` on it is a
// write(2) of its own (a RUN's output line was five).
void PlainProgress::put(const std::string& text) {
    out_ << text << std::flush;
}

namespace {

// "#N " (built by appending: GCC 12 at -O3 warns falsely, -Wrestrict, on
// `"#" + std::string&&`).
std::string tag(int vertex) {
    std::string s = "#";
    s += std::to_string(vertex);
    s += ' ';
    return s;
}

}  // namespace

int PlainProgress::start(const std::string& name) {
    std::lock_guard lock(mu_);
    int id = ++next_;
    started_[id] = std::chrono::steady_clock::now();
    put(tag(id) + name + "\n");
    return id;
}

void PlainProgress::log(int vertex, const std::string& line) {
    std::lock_guard lock(mu_);
    put(tag(vertex) + line + "\n");
}

std::string PlainProgress::elapsed(int vertex) {
    auto d = std::chrono::steady_clock::now() - started_[vertex];
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.1fs", std::chrono::duration<double>(d).count());
    return buf;
}

void PlainProgress::done(int vertex) {
    std::lock_guard lock(mu_);
    put(tag(vertex) + "DONE " + elapsed(vertex) + "\n\n");
}

void PlainProgress::cached(int vertex) {
    std::lock_guard lock(mu_);
    put(tag(vertex) + "CACHED\n\n");
}

void PlainProgress::error(int vertex, const std::string& message) {
    std::lock_guard lock(mu_);
    put(tag(vertex) + "ERROR: " + message + "\n\n");
}

void PlainProgress::warn(const std::string& message) {
    std::lock_guard lock(mu_);
    put("WARNING: " + message + "\n");
}

}  // namespace kiln::cli
