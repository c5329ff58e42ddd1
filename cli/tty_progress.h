// `--progress tty` (and `auto` on a terminal): BuildKit's live display on a
// terminal (stderr), redrawn in place at most ten times a second:
//   [+] Building 3.4s (4/6)
//    => [internal] load build definition from Dockerfile               0.0s
//    => CACHED [1/3] COPY busybox /bin/busybox                         0.0s
//    => [2/3] RUN make                                                 2.1s
//    => => # cc -c main.c
// A running step shows its timer and its last output lines; a finished one
// collapses to one line with its time (CACHED ones marked); a failed one is
// expanded with its last output lines. Lines are cut to the terminal's width
// (so none wraps and the frame can be redrawn over itself) and the live frame
// to its height (earliest finished steps left out); each frame is one write,
// so the terminal never shows half of one. Colour unless NO_COLOR is set.
// When the object goes, the final frame (every step) stays as the summary,
// followed by the warnings. Thread-safe.
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "base/progress.h"

namespace kiln::cli {

class TtyProgress : public Progress {
  public:
    // Writes to `fd` (a terminal), sized by `fd`'s window.
    explicit TtyProgress(int fd);
    ~TtyProgress() override;
    TtyProgress(const TtyProgress&) = delete;
    TtyProgress& operator=(const TtyProgress&) = delete;

    int start(const std::string& name) override;
    void log(int vertex, const std::string& line) override;
    void done(int vertex) override;
    void cached(int vertex) override;
    void error(int vertex, const std::string& message) override;
    void warn(const std::string& message) override;

  private:
    using Clock = std::chrono::steady_clock;
    enum class State { running, done, cached, failed };
    struct Vertex {
        std::string name;
        Clock::time_point started, ended;
        State state = State::running;
        std::deque<std::string> tail;  // the last output lines
        std::string error;
    };
    // The frame's lines for a terminal of `cols` x `rows` (rows 0: no limit).
    std::vector<std::string> frame(int cols, int rows, bool final) const;  // under mu_
    void draw(bool final);                                                 // under mu_
    void end(int vertex, State state, const std::string& message);

    int fd_;
    bool color_;
    Clock::time_point began_;
    mutable std::mutex mu_;
    std::condition_variable changed_;
    bool dirty_ = false, stopping_ = false;
    std::vector<Vertex> vertexes_;  // by number - 1
    std::vector<std::string> warnings_;
    int drawn_ = 0;  // lines of the frame on screen
    std::thread painter_;
};

}  // namespace kiln::cli
