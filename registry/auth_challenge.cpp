#include "registry/auth_challenge.h"

#include <cctype>

#include "base/ascii.h"

namespace kiln::registry {

namespace {

// RFC 7230 tchar.
bool is_tchar(char c) {
    if (std::isalnum(static_cast<unsigned char>(c))) {
        return true;
    }
    return std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

// RFC 7235 token68 characters (without the trailing '=' padding).
bool is_token68_char(char c) {
    return std::isalnum(static_cast<unsigned char>(c)) ||
           std::string_view("-._~+/").find(c) != std::string_view::npos;
}

class Parser {
  public:
    explicit Parser(std::string_view s) : s_(s) {}

    std::vector<AuthChallenge> parse() {
        std::vector<AuthChallenge> out;
        while (true) {
            skip_separators();
            if (at_end()) {
                break;
            }
            std::string scheme = token();
            if (scheme.empty()) {
                ++pos_;  // not a token: skip the stray character
                continue;
            }
            AuthChallenge ch;
            ch.scheme = ascii_lower(scheme);
            parse_params(ch);
            out.push_back(std::move(ch));
        }
        return out;
    }

  private:
    bool at_end() const { return pos_ >= s_.size(); }
    char peek(std::size_t ahead = 0) const {
        return pos_ + ahead < s_.size() ? s_[pos_ + ahead] : '\0';
    }
    void skip_ws() {
        while (!at_end() && (peek() == ' ' || peek() == '\t')) {
            ++pos_;
        }
    }
    void skip_separators() {
        while (!at_end() && (peek() == ' ' || peek() == '\t' || peek() == ',')) {
            ++pos_;
        }
    }
    std::string token() {
        std::size_t start = pos_;
        while (!at_end() && is_tchar(peek())) {
            ++pos_;
        }
        return std::string(s_.substr(start, pos_ - start));
    }
    std::string quoted() {
        std::string v;
        ++pos_;  // opening quote
        while (!at_end() && peek() != '"') {
            if (peek() == '\\' && pos_ + 1 < s_.size()) {
                ++pos_;
            }
            v += peek();
            ++pos_;
        }
        if (!at_end()) {
            ++pos_;  // closing quote
        }
        return v;
    }

    // Is there `name =` at the cursor (an auth-param rather than a new scheme)?
    bool param_ahead() const {
        std::size_t p = pos_;
        while (p < s_.size() && is_tchar(s_[p])) {
            ++p;
        }
        if (p == pos_) {
            return false;
        }
        while (p < s_.size() && (s_[p] == ' ' || s_[p] == '\t')) {
            ++p;
        }
        if (p >= s_.size() || s_[p] != '=') {
            return false;
        }
        // `abc==` or `abc=` followed by a separator is token68 padding, not a param.
        ++p;
        while (p < s_.size() && (s_[p] == ' ' || s_[p] == '\t')) {
            ++p;
        }
        return p < s_.size() && (s_[p] == '"' || is_tchar(s_[p])) && s_[p] != '=';
    }

    void parse_params(AuthChallenge& ch) {
        skip_ws();
        if (at_end() || peek() == ',') {
            return;  // a scheme without parameters
        }
        if (!param_ahead()) {
            // token68, or the next challenge's scheme.
            std::size_t save = pos_;
            std::size_t start = pos_;
            while (!at_end() && is_token68_char(peek())) {
                ++pos_;
            }
            while (!at_end() && peek() == '=') {
                ++pos_;
            }
            std::size_t end = pos_;
            skip_ws();
            if (end > start && (at_end() || peek() == ',')) {
                ch.token68 = std::string(s_.substr(start, end - start));
            } else {
                pos_ = save;
            }
            return;
        }
        while (true) {
            skip_separators();
            if (at_end() || !param_ahead()) {
                return;
            }
            std::string name = ascii_lower(token());
            skip_ws();
            ++pos_;  // '='
            skip_ws();
            std::string value = peek() == '"' ? quoted() : token();
            ch.params.emplace(std::move(name), std::move(value));
            skip_ws();
            if (!at_end() && peek() != ',') {
                // Garbage after a value: skip to the next separator.
                while (!at_end() && peek() != ',') {
                    ++pos_;
                }
            }
        }
    }

    std::string_view s_;
    std::size_t pos_ = 0;
};

}  // namespace

std::string AuthChallenge::param(const std::string& lower_name) const {
    auto it = params.find(lower_name);
    return it == params.end() ? std::string() : it->second;
}

std::vector<AuthChallenge> parse_www_authenticate(std::string_view header) {
    return Parser(header.substr(0, kMaxChallengeHeader)).parse();
}

}  // namespace kiln::registry
