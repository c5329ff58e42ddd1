#include "content/digest.h"

#include <openssl/evp.h>

#include "base/error.h"

namespace kiln::content {

namespace {
bool is_lower_hex(std::string_view s) {
    for (char c : s) {
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
            return false;
    }
    return true;
}
}  // namespace

Digest Digest::parse(std::string_view text) {
    constexpr std::string_view prefix = "sha256:";
    if (text.size() != prefix.size() + 64 || text.substr(0, prefix.size()) != prefix ||
        !is_lower_hex(text.substr(prefix.size()))) {
        throw Error("invalid digest \"" + std::string(text) + "\" (want sha256:<64 hex>)");
    }
    Digest d;
    d.value_ = std::string(text);
    return d;
}

Digest Digest::of(std::string_view bytes) {
    Sha256 h;
    h.update(bytes);
    return h.finish();
}

struct Sha256::Ctx {
    EVP_MD_CTX* md = nullptr;
    ~Ctx() { EVP_MD_CTX_free(md); }
};

Sha256::Sha256() : ctx_(std::make_unique<Ctx>()) {
    ctx_->md = EVP_MD_CTX_new();
    if (ctx_->md == nullptr || EVP_DigestInit_ex(ctx_->md, EVP_sha256(), nullptr) != 1) {
        throw Error("cannot initialise SHA-256 (OpenSSL)");
    }
}
Sha256::~Sha256() = default;
Sha256::Sha256(Sha256&&) noexcept = default;
Sha256& Sha256::operator=(Sha256&&) noexcept = default;

void Sha256::update(const void* data, std::size_t size) {
    if (size != 0 && EVP_DigestUpdate(ctx_->md, data, size) != 1) {
        throw Error("SHA-256 update failed (OpenSSL)");
    }
}

Digest Sha256::finish() {
    unsigned char out[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    if (EVP_DigestFinal_ex(ctx_->md, out, &len) != 1 || len != 32) {
        throw Error("SHA-256 final failed (OpenSSL)");
    }
    static constexpr char hexdigits[] = "0123456789abcdef";
    std::string s = "sha256:";
    for (unsigned i = 0; i < len; ++i) {
        s.push_back(hexdigits[out[i] >> 4]);
        s.push_back(hexdigits[out[i] & 0xf]);
    }
    return Digest::parse(s);
}

}  // namespace kiln::content
