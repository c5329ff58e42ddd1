#include "cli/tty_progress.h"

#include <sys/ioctl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>

#include "base/utf8.h"

namespace kiln::cli {

namespace {

constexpr std::size_t kTailShown = 6;  // output lines under a running step
constexpr std::size_t kTailKept = 10;  // and under a failed one
constexpr auto kRedraw = std::chrono::milliseconds(100);

std::string seconds(std::chrono::steady_clock::duration d) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.1fs", std::chrono::duration<double>(d).count());
    return buf;
}

// What a step printed, made safe to show: no control characters (a stray
// escape or carriage return would move the cursor under the frame).
std::string printable(const std::string& line) {
    std::string out;
    out.reserve(line.size());
    for (unsigned char c : line) {
        if (c == '\t')
            out += ' ';
        else if (c >= 0x20 && c != 0x7f)
            out += static_cast<char>(c);
    }
    return out;
}

// At most `width` bytes, not ending inside a UTF-8 character.
std::string fit(const std::string& text, std::size_t width) {
    return text.substr(0, utf8::prefix_length(text, width));
}

// `text` on the left and `right` at the right edge of `width` columns.
std::string row(const std::string& text, const std::string& right, std::size_t width) {
    if (width <= right.size() + 1)
        return fit(text, width);
    std::string left = fit(text, width - right.size() - 1);
    return left + std::string(width - right.size() - left.size(), ' ') + right;
}

void write_all(int fd, const std::string& data) {
    std::size_t off = 0;
    while (off < data.size()) {
        ssize_t n = ::write(fd, data.data() + off, data.size() - off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return;  // a terminal that went away: nothing to show it on
        off += static_cast<std::size_t>(n);
    }
}

}  // namespace

TtyProgress::TtyProgress(int fd)
    : fd_(fd), color_(std::getenv("NO_COLOR") == nullptr), began_(Clock::now()) {
    write_all(fd_, "\x1b[?25l");  // no cursor blinking over the frame
    painter_ = std::thread([this] {
        std::unique_lock lock(mu_);
        while (!stopping_) {
            changed_.wait_for(lock, kRedraw, [this] { return stopping_; });
            if (!stopping_ && !vertexes_.empty())
                draw(false);
        }
    });
}

TtyProgress::~TtyProgress() {
    {
        std::lock_guard lock(mu_);
        stopping_ = true;
    }
    changed_.notify_all();
    painter_.join();
    std::lock_guard lock(mu_);
    if (!vertexes_.empty())  // a build refused before its first step shows no frame
        draw(true);
    std::string tail;
    for (const auto& w : warnings_)
        tail += "WARNING: " + w + "\n";
    write_all(fd_, tail + "\x1b[?25h");
}

int TtyProgress::start(const std::string& name) {
    std::lock_guard lock(mu_);
    Vertex v;
    v.name = printable(name);
    v.started = Clock::now();
    vertexes_.push_back(std::move(v));
    dirty_ = true;
    return static_cast<int>(vertexes_.size());
}

void TtyProgress::log(int vertex, const std::string& line) {
    std::lock_guard lock(mu_);
    if (vertex < 1 || static_cast<std::size_t>(vertex) > vertexes_.size())
        return;
    auto& tail = vertexes_[static_cast<std::size_t>(vertex - 1)].tail;
    tail.push_back(printable(line));
    if (tail.size() > kTailKept)
        tail.pop_front();
    dirty_ = true;
}

void TtyProgress::end(int vertex, State state, const std::string& message) {
    std::lock_guard lock(mu_);
    if (vertex < 1 || static_cast<std::size_t>(vertex) > vertexes_.size())
        return;
    Vertex& v = vertexes_[static_cast<std::size_t>(vertex - 1)];
    v.state = state;
    v.ended = Clock::now();
    v.error = printable(message);
    dirty_ = true;
}

void TtyProgress::done(int vertex) {
    end(vertex, State::done, "");
}

void TtyProgress::cached(int vertex) {
    end(vertex, State::cached, "");
}

void TtyProgress::error(int vertex, const std::string& message) {
    end(vertex, State::failed, message);
}

void TtyProgress::warn(const std::string& message) {
    std::lock_guard lock(mu_);
    warnings_.push_back(printable(message));
}

std::vector<std::string> TtyProgress::frame(int cols, int rows, bool final) const {
    const std::size_t width = static_cast<std::size_t>(std::max(cols - 1, 20));
    const auto now = Clock::now();
    std::size_t finished = 0;
    for (const auto& v : vertexes_)
        finished += v.state != State::running;
    const std::string blue = color_ ? "\x1b[34m" : "", red = color_ ? "\x1b[31m" : "",
                      reset = color_ ? "\x1b[0m" : "";
    // One block a step: its line, then what is shown beneath it.
    struct Block {
        std::vector<std::string> lines;
        bool droppable = false;  // a finished step: left out first when the frame is too tall
    };
    std::vector<Block> blocks;
    for (const auto& v : vertexes_) {
        Block b;
        const bool running = v.state == State::running;
        const std::string time = seconds((running ? now : v.ended) - v.started);
        std::string label = " => ";
        if (v.state == State::cached)
            label += "CACHED ";
        else if (v.state == State::failed)
            label += "ERROR ";
        label += v.name;
        const std::string line = row(label, time, width);
        if (running) {
            b.lines.push_back(line);
            const std::size_t from = v.tail.size() > kTailShown ? v.tail.size() - kTailShown : 0;
            for (std::size_t i = from; i < v.tail.size(); ++i)
                b.lines.push_back(fit(" => => # " + v.tail[i], width));
        } else if (v.state == State::failed) {
            b.lines.push_back(red + line + reset);
            b.lines.push_back(red + std::string("------") + reset);
            b.lines.push_back(red + fit(" > " + v.name + ":", width) + reset);
            for (const auto& t : v.tail)
                b.lines.push_back(red + fit("   " + t, width) + reset);
            b.lines.push_back(red + std::string("------") + reset);
        } else {
            b.lines.push_back(blue + line + reset);
            b.droppable = true;
        }
        blocks.push_back(std::move(b));
    }
    std::string header = "[+] Building " + seconds(now - began_) + " (" + std::to_string(finished) +
                         "/" + std::to_string(vertexes_.size()) + ")";
    if (final)
        header += " FINISHED";
    std::vector<std::string> out = {(final ? blue : std::string()) + fit(header, width) +
                                    (final ? reset : std::string())};
    std::size_t total = 1;
    for (const auto& b : blocks)
        total += b.lines.size();
    const std::size_t limit = rows > 1 ? static_cast<std::size_t>(rows - 1) : 0;
    if (!final && limit) {
        // Too tall for the screen: the earliest finished steps go first.
        for (auto& b : blocks) {
            if (total <= limit)
                break;
            if (b.droppable) {
                total -= b.lines.size();
                b.lines.clear();
            }
        }
    }
    for (const auto& b : blocks)
        out.insert(out.end(), b.lines.begin(), b.lines.end());
    if (!final && limit && out.size() > limit)  // still too tall: the newest lines
        out.erase(out.begin() + 1,
                  out.begin() + static_cast<std::ptrdiff_t>(out.size() - limit + 1));
    return out;
}

void TtyProgress::draw(bool final) {
    struct winsize ws {};
    int cols = 80, rows = 24;
    if (::ioctl(fd_, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) {
        cols = ws.ws_col;
        rows = ws.ws_row;
    }
    const auto lines = frame(cols, rows, final);
    std::string out;
    if (drawn_ > 0)
        out += "\x1b[" + std::to_string(drawn_) + "A\r";  // back to the frame's first line
    for (const auto& l : lines)
        out += "\x1b[2K" + l + "\n";
    out += "\x1b[J";  // what the last frame had below this one
    write_all(fd_, out);
    drawn_ = static_cast<int>(lines.size());
    dirty_ = false;
}

}  // namespace kiln::cli
