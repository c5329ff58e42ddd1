// libFuzzer target for the short texts kiln parses from registries and users: the
// WWW-Authenticate challenge (never throws, by its contract), image references and
// platforms (kiln::Error or a value). The first byte picks the parser, so one corpus
// serves all three. Any other exception, a crash or a sanitizer report is a finding.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "base/error.h"
#include "base/reference.h"
#include "registry/auth_challenge.h"
#include "registry/platform.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size == 0)
        return 0;
    const std::string text(reinterpret_cast<const char*>(data) + 1, size - 1);
    switch (data[0] % 3) {
        case 0:
            for (const auto& c : kiln::registry::parse_www_authenticate(text))
                (void)c.param("realm");
            break;
        case 1: {
            kiln::Reference ref;
            try {
                ref = kiln::parse_reference(text);
            } catch (const kiln::Error&) {
                break;
            }
            // A parsed reference's full form reads back as itself.
            std::string again;
            try {
                again = kiln::parse_reference(ref.str()).str();
            } catch (const kiln::Error& e) {
                again = std::string("error: ") + e.what();
            }
            if (again != ref.str()) {
                std::fprintf(stderr, "registry_text_fuzzer: %s reads back as %s\n",
                             ref.str().c_str(), again.c_str());
                std::abort();
            }
            (void)kiln::familiar_string(ref);
            (void)kiln::store_name(ref);
            break;
        }
        default:
            try {
                (void)kiln::registry::parse_platform(text).str();
            } catch (const kiln::Error&) {
            }
            break;
    }
    return 0;
}
