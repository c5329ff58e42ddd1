// libFuzzer target for what a registry answers and the client acts on
// (registry/response_text.h, registry/url.h, registry/auth_challenge.h): the
// token server's JSON, a 206's Content-Range, an upload's Range, an error body,
// an upload's Location and the WWW-Authenticate challenge. The first byte picks
// the reader, so one corpus serves all. The properties are the header's
// invariants: nothing throws, numbers are in range, and an error message is one
// short line of printable text. Any exception, a crash or a sanitizer report is
// a finding.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "registry/auth_challenge.h"
#include "registry/response_text.h"
#include "registry/url.h"

namespace {

[[noreturn]] void finding(const std::string& what) {
    std::fprintf(stderr, "registry_answer_fuzzer: %s\n", what.c_str());
    std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    using namespace kiln::registry;
    if (size == 0)
        return 0;
    const std::string text(reinterpret_cast<const char*>(data) + 1, size - 1);
    switch (data[0] % 6) {
        case 0:
            if (auto t = parse_token_answer(text)) {
                if (t->token.empty() || t->expires_in < 10 || t->expires_in > 86400)
                    finding("token answer out of its bounds");
            }
            break;
        case 1:
            if (auto s = content_range_start(text); s && *s < 0)
                finding("negative Content-Range start");
            break;
        case 2:
            if (auto n = upload_range_next(text); n && *n < 0)
                finding("negative upload offset");
            break;
        case 3: {
            std::string m = error_body_message(text);
            if (m.size() > kMaxMessage + 3)
                finding("error message of " + std::to_string(m.size()) + " bytes");
            for (char c : m) {
                auto u = static_cast<unsigned char>(c);
                if (u < 0x20 || u == 0x7f)
                    finding("control character in an error message");
            }
            break;
        }
        case 4: {
            // A Location against the upload URL it answers.
            std::string url = resolve_url("https://registry.test:5000/v2/a/b/blobs/uploads/", text);
            (void)strip_query(url);
            (void)url_authority(url);
            break;
        }
        default:
            for (const auto& c : parse_www_authenticate(text))
                (void)c.param("realm");
            break;
    }
    return 0;
}
