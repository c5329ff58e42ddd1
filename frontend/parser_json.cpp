// The JSON arrays of exec-form instructions, decoded the way Go's json.Decoder does.
#include "base/utf8.h"
#include "frontend/parser_internal.h"

namespace kiln::frontend::parser_detail {
namespace {

using utf8::decode;
using utf8::Rune;

// Just enough JSON to decode the first value of the text the way Go's json.Decoder does:
// trailing text after the array is ignored, strings are decoded (invalid UTF-8 and lone
// surrogates become U+FFFD), other value types are validated but only reported as
// "not a string".
class JsonArrayReader {
  public:
    explicit JsonArrayReader(std::string_view s) : s_(s) {}

    enum class Result { kStrings, kNotStrings, kSyntaxError };

    Result read(std::vector<std::string>& out) {
        skip_ws();
        if (!eat('[')) {
            return Result::kSyntaxError;
        }
        bool all_strings = true;
        skip_ws();
        if (eat(']')) {
            return Result::kStrings;
        }
        while (true) {
            skip_ws();
            if (peek() == '"') {
                std::string str;
                if (!read_string(&str)) {
                    return Result::kSyntaxError;
                }
                out.push_back(std::move(str));
            } else {
                all_strings = false;
                if (!skip_value(0)) {
                    return Result::kSyntaxError;
                }
            }
            skip_ws();
            if (eat(',')) {
                continue;
            }
            if (eat(']')) {
                break;
            }
            return Result::kSyntaxError;
        }
        return all_strings ? Result::kStrings : Result::kNotStrings;
    }

  private:
    char peek() const { return pos_ < s_.size() ? s_[pos_] : '\0'; }
    bool at_end() const { return pos_ >= s_.size(); }
    bool eat(char c) {
        if (!at_end() && s_[pos_] == c) {
            ++pos_;
            return true;
        }
        return false;
    }
    void skip_ws() {
        while (!at_end() &&
               (s_[pos_] == ' ' || s_[pos_] == '\t' || s_[pos_] == '\n' || s_[pos_] == '\r')) {
            ++pos_;
        }
    }

    bool read_hex4(char32_t& v) {
        if (pos_ + 4 > s_.size()) {
            return false;
        }
        v = 0;
        for (int k = 0; k < 4; ++k) {
            char c = s_[pos_++];
            v <<= 4;
            if (c >= '0' && c <= '9') {
                v |= static_cast<char32_t>(c - '0');
            } else if (c >= 'a' && c <= 'f') {
                v |= static_cast<char32_t>(c - 'a' + 10);
            } else if (c >= 'A' && c <= 'F') {
                v |= static_cast<char32_t>(c - 'A' + 10);
            } else {
                return false;
            }
        }
        return true;
    }

    // out may be null when the string is only validated.
    bool read_string(std::string* out) {
        if (!eat('"')) {
            return false;
        }
        const auto put = [out](char c) {
            if (out) {
                *out += c;
            }
        };
        while (true) {
            if (at_end()) {
                return false;
            }
            const unsigned char c = static_cast<unsigned char>(s_[pos_]);
            if (c == '"') {
                ++pos_;
                return true;
            }
            if (c < 0x20) {
                return false;
            }
            if (c == '\\') {
                ++pos_;
                if (at_end()) {
                    return false;
                }
                const char e = s_[pos_++];
                static constexpr std::string_view kEscaped = "\"\\/bfnrt";
                static constexpr std::string_view kMeaning = "\"\\/\b\f\n\r\t";
                if (size_t k = kEscaped.find(e); k != std::string_view::npos) {
                    put(kMeaning[k]);
                    continue;
                }
                if (e != 'u') {
                    return false;
                }
                char32_t v;
                if (!read_hex4(v)) {
                    return false;
                }
                if (v >= 0xD800 && v < 0xDC00) {
                    // A high surrogate pairs only with an immediately following low one.
                    char32_t low = 0;
                    size_t save = pos_;
                    if (pos_ + 6 <= s_.size() && s_[pos_] == '\\' && s_[pos_ + 1] == 'u') {
                        pos_ += 2;
                        if (read_hex4(low) && low >= 0xDC00 && low < 0xE000) {
                            v = 0x10000 + ((v - 0xD800) << 10) + (low - 0xDC00);
                        } else {
                            pos_ = save;
                            v = 0xFFFD;
                        }
                    } else {
                        v = 0xFFFD;
                    }
                } else if (v >= 0xDC00 && v < 0xE000) {
                    v = 0xFFFD;
                }
                if (out) {
                    utf8::append(*out, v);
                }
                continue;
            }
            Rune r = decode(s_, pos_);
            if (out && r.ok) {
                out->append(s_.substr(pos_, r.width));
            } else if (out) {
                utf8::append(*out, 0xFFFD);
            }
            pos_ += r.width;
        }
    }

    bool skip_literal(std::string_view lit) {
        if (s_.substr(pos_, lit.size()) != lit) {
            return false;
        }
        pos_ += lit.size();
        return true;
    }

    bool skip_number() {
        eat('-');
        if (eat('0')) {
        } else if (!at_end() && s_[pos_] >= '1' && s_[pos_] <= '9') {
            while (!at_end() && is_digit(s_[pos_])) {
                ++pos_;
            }
        } else {
            return false;
        }
        if (eat('.')) {
            if (at_end() || !is_digit(s_[pos_])) {
                return false;
            }
            while (!at_end() && is_digit(s_[pos_])) {
                ++pos_;
            }
        }
        if (eat('e') || eat('E')) {
            if (!eat('+')) {
                eat('-');
            }
            if (at_end() || !is_digit(s_[pos_])) {
                return false;
            }
            while (!at_end() && is_digit(s_[pos_])) {
                ++pos_;
            }
        }
        return true;
    }

    bool skip_value(int depth) {
        if (depth > 10000) {
            return false;  // Go's decoder refuses nesting this deep too
        }
        skip_ws();
        switch (peek()) {
            case '"':
                return read_string(nullptr);
            case 't':
                return skip_literal("true");
            case 'f':
                return skip_literal("false");
            case 'n':
                return skip_literal("null");
            case '[': {
                ++pos_;
                skip_ws();
                if (eat(']')) {
                    return true;
                }
                while (true) {
                    if (!skip_value(depth + 1)) {
                        return false;
                    }
                    skip_ws();
                    if (eat(',')) {
                        continue;
                    }
                    return eat(']');
                }
            }
            case '{': {
                ++pos_;
                skip_ws();
                if (eat('}')) {
                    return true;
                }
                while (true) {
                    skip_ws();
                    if (!read_string(nullptr)) {
                        return false;
                    }
                    skip_ws();
                    if (!eat(':') || !skip_value(depth + 1)) {
                        return false;
                    }
                    skip_ws();
                    if (eat(',')) {
                        continue;
                    }
                    return eat('}');
                }
            }
            default:
                return skip_number();
        }
    }

    std::string_view s_;
    size_t pos_ = 0;
};

const char* const kNotStringArray =
    "when using JSON array syntax, arrays must be comprised of strings only";

}  // namespace

// nullopt: not JSON (use shell form). Throws for JSON arrays with non-string elements.
std::optional<std::vector<std::string>> parse_json_array(std::string_view rest) {
    rest = trim_left_space(rest);
    if (rest.empty() || rest.front() != '[') {
        return std::nullopt;
    }
    std::vector<std::string> out;
    switch (JsonArrayReader(rest).read(out)) {
        case JsonArrayReader::Result::kStrings:
            return out;
        case JsonArrayReader::Result::kNotStrings:
            throw Failure{kNotStringArray};
        case JsonArrayReader::Result::kSyntaxError:
            break;
    }
    return std::nullopt;
}

}  // namespace kiln::frontend::parser_detail
