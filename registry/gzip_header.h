// The header of one gzip member (RFC 1952), read in pieces of any size.
//
// LayerDecoder reads headers itself and hands only the deflate data and the
// trailer to ISA-L: ISA-L 2.30 (Debian 12) rejects a valid header with FHCRC
// when the header arrives split across calls, which a download may do.
//
// Contract:
//  - feed() takes what it needs of the bytes given and returns how many it
//    took; done() is true once the header ended (the next byte is deflate
//    data). FEXTRA, FNAME and FCOMMENT are skipped whatever their length
//    (nothing is buffered); FHCRC is checked.
//  - A header that is not gzip's (magic, method 8, reserved flags clear), or
//    whose FHCRC does not match, makes feed() throw kiln::Error with a short
//    reason ("incorrect gzip header", "header crc mismatch") that the caller
//    puts after its own context.
//  - started() tells a stream that ended between members (false) from one
//    that ended inside a header.
#pragma once

#include <cstddef>
#include <cstdint>

namespace kiln::registry {

class GzipHeader {
  public:
    std::size_t feed(const unsigned char* p, std::size_t n);
    bool done() const { return step_ == Step::done; }
    bool started() const { return step_ != Step::fixed || have_ > 0; }
    void reset() { *this = GzipHeader(); }

  private:
    enum class Step { fixed, extra_len, extra, name, comment, hcrc, done };
    void next_after(Step s);
    void take(const unsigned char* p, std::size_t n);

    Step step_ = Step::fixed;
    unsigned char buf_[10] = {};  // the fixed part, XLEN or the header CRC
    std::size_t have_ = 0;        // bytes of buf_ filled in this step
    std::uint32_t skip_ = 0;      // FEXTRA bytes left
    unsigned char flags_ = 0;
    std::uint32_t crc_ = 0;  // CRC-32 of the header bytes so far
};

}  // namespace kiln::registry
