#include "cli/rawjson_progress.h"

#include <ctime>

#include <nlohmann/json.hpp>

#include "base/base64.h"
#include "content/digest.h"

namespace kiln::cli {

namespace {

// As Go's time.Time marshals: RFC 3339 with nanoseconds, in UTC.
std::string now_rfc3339() {
    const auto now = std::chrono::system_clock::now();
    const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(now.time_since_epoch());
    const std::time_t secs = static_cast<std::time_t>(ns.count() / 1000000000);
    std::tm tm{};
    ::gmtime_r(&secs, &tm);
    char buf[64];
    const std::size_t n = std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
    char frac[16];
    std::snprintf(frac, sizeof frac, ".%09lldZ", static_cast<long long>(ns.count() % 1000000000));
    return std::string(buf, n) + frac;
}

}  // namespace

int RawJsonProgress::start(const std::string& name) {
    std::lock_guard lock(mu_);
    const int id = ++next_;
    Vertex v{content::Digest::of("kiln vertex " + std::to_string(id) + "\n" + name).str(), name,
             now_rfc3339()};
    nlohmann::json status = {
        {"vertexes", {{{"digest", v.digest}, {"name", v.name}, {"started", v.started}}}}};
    out_ << status.dump() << "\n" << std::flush;
    vertexes_[id] = std::move(v);
    return id;
}

void RawJsonProgress::log(int vertex, const std::string& line) {
    std::lock_guard lock(mu_);
    const auto it = vertexes_.find(vertex);
    if (it == vertexes_.end())
        return;
    nlohmann::json status = {{"logs",
                              {{{"vertex", it->second.digest},
                                {"stream", 1},
                                {"data", base64_encode(line + "\n")},
                                {"timestamp", now_rfc3339()}}}}};
    out_ << status.dump() << "\n" << std::flush;
}

void RawJsonProgress::end(int vertex, bool cached, const std::string& error) {
    const auto it = vertexes_.find(vertex);
    if (it == vertexes_.end())
        return;
    const Vertex& v = it->second;
    nlohmann::json one = {{"digest", v.digest},
                          {"name", v.name},
                          {"started", v.started},
                          {"completed", now_rfc3339()}};
    if (cached)
        one["cached"] = true;
    if (!error.empty())
        one["error"] = error;
    out_ << nlohmann::json{{"vertexes", {one}}}.dump() << "\n" << std::flush;
    vertexes_.erase(it);
}

void RawJsonProgress::done(int vertex) {
    std::lock_guard lock(mu_);
    end(vertex, false, "");
}

void RawJsonProgress::cached(int vertex) {
    std::lock_guard lock(mu_);
    end(vertex, true, "");
}

void RawJsonProgress::error(int vertex, const std::string& message) {
    std::lock_guard lock(mu_);
    end(vertex, false, message.empty() ? "failed" : message);
}

void RawJsonProgress::warn(const std::string& message) {
    std::lock_guard lock(mu_);
    nlohmann::json status = {{"warnings", {{{"level", 1}, {"short", base64_encode(message)}}}}};
    out_ << status.dump() << "\n" << std::flush;
}

}  // namespace kiln::cli
