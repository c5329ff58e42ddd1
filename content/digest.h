// SHA-256 digests in OCI's "sha256:<64 hex>" form, computed with OpenSSL's EVP API.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

namespace kiln::content {

// A validated digest string. Invariant: always "sha256:" followed by 64
// lower-case hex characters, so it is safe to use as a file name.
class Digest {
  public:
    Digest() = default;
    // Throws kiln::Error when text is not a well-formed sha256 digest.
    static Digest parse(std::string_view text);
    static Digest of(std::string_view bytes);

    const std::string& str() const { return value_; }
    std::string_view hex() const { return std::string_view(value_).substr(7); }
    bool empty() const { return value_.empty(); }
    friend auto operator<=>(const Digest&, const Digest&) = default;

  private:
    std::string value_;
};

// Incremental SHA-256. Feed bytes with update(), read the digest once with finish().
class Sha256 {
  public:
    Sha256();
    ~Sha256();
    Sha256(Sha256&&) noexcept;
    Sha256& operator=(Sha256&&) noexcept;

    void update(const void* data, std::size_t size);
    void update(std::string_view bytes) { update(bytes.data(), bytes.size()); }
    Digest finish();

  private:
    struct Ctx;
    std::unique_ptr<Ctx> ctx_;
};

}  // namespace kiln::content
