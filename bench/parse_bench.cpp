// Parsing speed: generates a realistic 10,000-line Dockerfile in memory and times
// parse_dockerfile alone, and parse_dockerfile followed by the word expansion BuildKit applies
// (FROM/COPY/ADD/ENV/LABEL/ARG/WORKDIR/USER/EXPOSE/VOLUME/STOPSIGNAL arguments and every
// flag, with ENV/ARG values fed back into the environment the way stages see them).
// Not a test: prints min and median, asserts nothing.
//
//   kiln_parse_bench [ITERATIONS=50] [LINES=10000]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "frontend/parser.h"
#include "frontend/shell_lex.h"

namespace {

using kiln::frontend::Environment;
using kiln::frontend::Node;
using kiln::frontend::ParseResult;
using kiln::frontend::ShellLex;

// One stage of a typical multi-stage build; `i` varies names and values so nothing repeats.
void append_stage(std::string& out, int i) {
    const std::string n = std::to_string(i);
    out += "# ---- stage " + n + ": build the component ----\n";
    out += "FROM --platform=$BUILDPLATFORM golang:${GO_VERSION} AS build" + n + "\n";
    out += "ARG TARGETOS TARGETARCH\n";
    out += "ARG COMPONENT=comp" + n + "\n";
    out += "ENV CGO_ENABLED=0 GOOS=${TARGETOS} GOARCH=$TARGETARCH \\\n";
    out += "    GOFLAGS=\"-mod=readonly -trimpath\" COMPONENT_DIR=/src/${COMPONENT}\n";
    out += "WORKDIR $COMPONENT_DIR\n";
    out += "LABEL org.opencontainers.image.title=\"${COMPONENT}\" \\\n";
    out += "      org.opencontainers.image.version=\"${VERSION:-dev}\" \\\n";
    out += "      org.opencontainers.image.source=https://example.com/repo/" + n + "\n";
    out += "COPY --link go.mod go.sum ./\n";
    out += "RUN --mount=type=cache,target=/go/pkg/mod \\\n";
    out += "    --mount=type=cache,target=/root/.cache/go-build \\\n";
    out += "    go mod download && \\\n";
    out += "    # comments inside a continuation are skipped\n";
    out += "    go mod verify\n";
    out += "COPY --chown=1000:1000 --chmod=0644 ./cmd/${COMPONENT} ./cmd/${COMPONENT}\n";
    out += "RUN <<EOF\n";
    out += "set -eux\n";
    out += "go build -ldflags \"-s -w -X main.version=${VERSION}\" -o /out/${COMPONENT} \\\n";
    out += "    ./cmd/${COMPONENT}\n";
    out += "test -x /out/${COMPONENT}\n";
    out += "EOF\n";
    out += "\n";
    out += "FROM debian:bookworm-slim AS runtime" + n + "\n";
    out += "ENV DEBIAN_FRONTEND=noninteractive\n";
    out += "RUN apt-get update \\\n";
    out += "    && apt-get install -y --no-install-recommends \\\n";
    out += "       ca-certificates curl tzdata \\\n";
    out += "    && rm -rf /var/lib/apt/lists/*\n";
    out += "COPY --from=build" + n + " /out/comp" + n + " /usr/local/bin/comp" + n + "\n";
    out += "COPY <<-EOT /etc/comp" + n + ".conf\n";
    out += "\tlisten = \":80" + std::to_string(i % 10) + "\"\n";
    out += "\tlog_level = \"info\"\n";
    out += "EOT\n";
    out += "ADD --checksum=sha256:" + std::string(64, 'a') + " https://example.com/f" + n +
           ".tgz /tmp/\n";
    out += "USER 1000:1000\n";
    out += "EXPOSE 80" + std::to_string(i % 10) + "/tcp\n";
    out += "VOLUME [\"/data/comp" + n + "\"]\n";
    out += "HEALTHCHECK --interval=30s --timeout=3s CMD curl -f http://localhost/ || exit 1\n";
    out += "ENTRYPOINT [\"/usr/local/bin/comp" + n + "\"]\n";
    out += "CMD [\"--config\", \"/etc/comp" + n + ".conf\"]\n";
    out += "\n";
}

std::string generate_dockerfile(int lines) {
    std::string out = "# syntax=docker/dockerfile:1\n";
    out += "ARG GO_VERSION=1.22\nARG VERSION=1.0.0\n\n";
    for (int i = 0; std::count(out.begin(), out.end(), '\n') < lines; ++i) {
        append_stage(out, i);
    }
    // Trim to exactly `lines` lines, at a point where an instruction ends.
    size_t pos = 0;
    for (int l = 0; l < lines && pos != std::string::npos; ++l) {
        pos = out.find('\n', pos) + 1;
    }
    out.resize(pos);
    while (!out.empty()) {
        try {
            (void)kiln::frontend::parse_dockerfile(out);
            break;
        } catch (const kiln::frontend::DockerfileError&) {
            // Cut inside a continuation or heredoc: drop the last line and retry.
            out.pop_back();
            out.resize(out.rfind('\n') + 1);
        }
    }
    // Pad with comment lines back to exactly `lines` lines.
    for (auto n = std::count(out.begin(), out.end(), '\n'); n < lines; ++n) {
        out += "# end of generated Dockerfile\n";
    }
    return out;
}

// Expands what the instruction layer expands; returns the number of expanded words so the
// work cannot be optimised away.
size_t expand_all(const ParseResult& parsed) {
    const ShellLex lex(parsed.escape);
    Environment env{{"BUILDPLATFORM", "linux/amd64"},
                    {"TARGETPLATFORM", "linux/amd64"},
                    {"TARGETOS", "linux"},
                    {"TARGETARCH", "amd64"}};
    size_t words = 0;
    for (const Node& node : parsed.children) {
        for (const std::string& flag : node.flags) {
            words += lex.process_words(flag, env).size();
        }
        const std::string& kw = node.keyword;
        if (kw == "env" || kw == "label") {
            for (size_t i = 0; i + 1 < node.args.size(); i += 3) {  // (key, value, sep)
                std::string value = lex.process_word(node.args[i + 1], env);
                ++words;
                if (kw == "env") {
                    env.set(lex.process_word(node.args[i], env), std::move(value));
                }
            }
        } else if (kw == "arg") {
            for (const std::string& a : node.args) {
                const size_t eq = a.find('=');
                if (eq == std::string::npos) {
                    if (!env.get(a)) {
                        env.set(a, "");
                    }
                } else {
                    env.set(a.substr(0, eq), lex.process_word(a.substr(eq + 1), env));
                }
                ++words;
            }
        } else if (kw == "from" || kw == "copy" || kw == "add" || kw == "workdir" || kw == "user" ||
                   kw == "expose" || kw == "volume" || kw == "stopsignal") {
            for (const std::string& a : node.args) {
                words += lex.process_words(a, env).size();
            }
        }
    }
    return words;
}

struct Stats {
    double min_ms;
    double median_ms;
};

template <typename F>
Stats measure(int iterations, F&& body) {
    std::vector<double> ms;
    ms.reserve(iterations);
    for (int i = 0; i < iterations; ++i) {
        const auto t0 = std::chrono::steady_clock::now();
        body();
        const auto t1 = std::chrono::steady_clock::now();
        ms.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
    }
    std::sort(ms.begin(), ms.end());
    const size_t n = ms.size();
    const double median = n % 2 ? ms[n / 2] : (ms[n / 2 - 1] + ms[n / 2]) / 2;
    return {ms.front(), median};
}

}  // namespace

int main(int argc, char** argv) {
    const int iterations = argc > 1 ? std::max(1, std::atoi(argv[1])) : 50;
    const int lines = argc > 2 ? std::max(10, std::atoi(argv[2])) : 10000;

    const std::string text = generate_dockerfile(lines);
    const ParseResult sample = kiln::frontend::parse_dockerfile(text);
    const size_t sample_words = expand_all(sample);
    std::printf("Dockerfile: %zu lines, %zu bytes, %zu instructions, %zu expanded words\n",
                static_cast<size_t>(std::count(text.begin(), text.end(), '\n')), text.size(),
                sample.children.size(), sample_words);

    size_t sink = 0;
    const Stats parse = measure(
        iterations, [&] { sink += kiln::frontend::parse_dockerfile(text).children.size(); });
    const Stats both = measure(iterations, [&] {
        const ParseResult parsed = kiln::frontend::parse_dockerfile(text);
        sink += expand_all(parsed);
    });
    std::printf("iterations: %d\n", iterations);
    std::printf("parse:            min %8.3f ms   median %8.3f ms\n", parse.min_ms,
                parse.median_ms);
    std::printf("parse+expansion:  min %8.3f ms   median %8.3f ms\n", both.min_ms, both.median_ms);
    return sink == 0 ? 1 : 0;
}
