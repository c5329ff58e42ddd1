#include "registry/gzip_header.h"

#include <isa-l/crc.h>

#include <algorithm>
#include <cstring>

#include "base/error.h"

namespace kiln::registry {

namespace {
constexpr unsigned char kHcrc = 2, kExtra = 4, kName = 8, kComment = 16;
constexpr unsigned char kReserved = 0xe0;
}  // namespace

void GzipHeader::take(const unsigned char* p, std::size_t n) {
    crc_ = crc32_gzip_refl(crc_, p, n);
}

void GzipHeader::next_after(Step s) {
    have_ = 0;
    switch (s) {
        case Step::fixed:
            if (flags_ & kExtra) {
                step_ = Step::extra_len;
                return;
            }
            [[fallthrough]];
        case Step::extra_len:
        case Step::extra:
            if (flags_ & kName) {
                step_ = Step::name;
                return;
            }
            [[fallthrough]];
        case Step::name:
            if (flags_ & kComment) {
                step_ = Step::comment;
                return;
            }
            [[fallthrough]];
        case Step::comment:
            if (flags_ & kHcrc) {
                step_ = Step::hcrc;
                return;
            }
            [[fallthrough]];
        default:
            step_ = Step::done;
    }
}

std::size_t GzipHeader::feed(const unsigned char* p, std::size_t n) {
    std::size_t used = 0;
    auto fill = [&](std::size_t want) {
        std::size_t k = std::min(want - have_, n - used);
        std::memcpy(buf_ + have_, p + used, k);
        have_ += k;
        used += k;
        return have_ == want;
    };
    while (used < n && step_ != Step::done) {
        switch (step_) {
            case Step::fixed:
                if (!fill(10))
                    break;
                if (buf_[0] != 0x1f || buf_[1] != 0x8b || buf_[2] != 8 || (buf_[3] & kReserved))
                    throw Error("incorrect gzip header");
                flags_ = buf_[3];
                take(buf_, 10);
                next_after(Step::fixed);
                break;
            case Step::extra_len:
                if (!fill(2))
                    break;
                take(buf_, 2);
                skip_ = static_cast<std::uint32_t>(buf_[0] | (buf_[1] << 8));
                step_ = Step::extra;
                have_ = 0;
                if (skip_ == 0)
                    next_after(Step::extra);
                break;
            case Step::extra: {
                std::size_t k = std::min<std::size_t>(skip_, n - used);
                take(p + used, k);
                used += k;
                skip_ -= static_cast<std::uint32_t>(k);
                if (skip_ == 0)
                    next_after(Step::extra);
                break;
            }
            case Step::name:
            case Step::comment: {
                const void* nul = std::memchr(p + used, 0, n - used);
                std::size_t k =
                    nul ? static_cast<const unsigned char*>(nul) - (p + used) + 1 : n - used;
                take(p + used, k);
                used += k;
                if (nul)
                    next_after(step_);
                break;
            }
            case Step::hcrc:
                if (!fill(2))
                    break;
                if ((crc_ & 0xffff) != static_cast<std::uint32_t>(buf_[0] | (buf_[1] << 8)))
                    throw Error("header crc mismatch");
                next_after(Step::hcrc);
                break;
            case Step::done:
                break;
        }
    }
    return used;
}

}  // namespace kiln::registry
