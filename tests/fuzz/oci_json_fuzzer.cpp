// libFuzzer target for the OCI and Docker documents kiln reads from strangers (pulled
// manifests, indexes and configs; the JSON of loaded archives): the same parse the product
// calls (content::parse_json_as) either refuses the input with kiln::Error or gives a value
// whose canonical JSON reads back to the same canonical JSON (a stable round trip).
// Anything else (another exception, a crash, a sanitizer report) is a finding.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "base/error.h"
#include "content/oci.h"

namespace {

template <typename T>
void round_trip(const std::string& text, const char* what) {
    T value;
    try {
        value = kiln::content::parse_json_as<T>(text, "fuzz input");
    } catch (const kiln::Error&) {
        return;  // refused, as a pull or a load would refuse it
    }
    const std::string once = kiln::content::canonical(nlohmann::json(value));
    const std::string twice = kiln::content::canonical(
        nlohmann::json(kiln::content::parse_json_as<T>(once, "round trip")));
    if (once != twice) {
        std::fprintf(stderr, "oci_json_fuzzer: %s does not round-trip:\n%s\n%s\n", what,
                     once.c_str(), twice.c_str());
        std::abort();
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string text(reinterpret_cast<const char*>(data), size);
    round_trip<kiln::content::Manifest>(text, "manifest");
    round_trip<kiln::content::Index>(text, "index");
    round_trip<kiln::content::ImageConfig>(text, "config");
    round_trip<kiln::content::Descriptor>(text, "descriptor");
    return 0;
}
