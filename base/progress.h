// How a build reports what it does. Nothing below cli/ prints: the solver and
// build/ call a Progress, and cli/ decides how that looks (plain, tty, rawjson).
//
// Contract: every started vertex ends with exactly one of done(), cached() or
// error(); log() lines come between start and end. Calls may come from
// several worker threads at once, so implementations must be thread-safe.
#pragma once

#include <string>

namespace kiln {

class Progress {
  public:
    virtual ~Progress() = default;
    // Returns the vertex's number (BuildKit's "#N").
    virtual int start(const std::string& name) = 0;
    virtual void log(int vertex, const std::string& line) = 0;
    virtual void done(int vertex) = 0;
    virtual void cached(int vertex) = 0;
    virtual void error(int vertex, const std::string& message) = 0;
    // A warning not tied to one vertex ("Dockerfile:3: ...").
    virtual void warn(const std::string& message) = 0;
};

// A Progress that discards everything (library callers, tests).
class NullProgress : public Progress {
  public:
    int start(const std::string&) override { return ++n_; }
    void log(int, const std::string&) override {}
    void done(int) override {}
    void cached(int) override {}
    void error(int, const std::string&) override {}
    void warn(const std::string&) override {}

  private:
    int n_ = 0;
};

// Ties a vertex's end to scope: error() with the exception's text when the
// scope is left by one, done() when finish() was called.
class VertexScope {
  public:
    VertexScope(Progress& p, const std::string& name) : p_(p), id_(p.start(name)) {}
    ~VertexScope() {
        if (!ended_)
            p_.error(id_, "cancelled");
    }
    VertexScope(const VertexScope&) = delete;
    VertexScope& operator=(const VertexScope&) = delete;
    int id() const { return id_; }
    void log(const std::string& line) { p_.log(id_, line); }
    void done() {
        end([&] { p_.done(id_); });
    }
    void cached() {
        end([&] { p_.cached(id_); });
    }
    void error(const std::string& m) {
        end([&] { p_.error(id_, m); });
    }

  private:
    template <typename F>
    void end(F f) {
        if (!ended_)
            f();
        ended_ = true;
    }
    Progress& p_;
    int id_;
    bool ended_ = false;
};

}  // namespace kiln
