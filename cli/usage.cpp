#include "cli/usage.h"

#include <algorithm>

#include "base/edit_distance.h"

namespace kiln::cli {

namespace {

std::vector<const CLI::App*> subcommands_of(const CLI::App& cmd) {
    return cmd.get_subcommands([](const CLI::App*) { return true; });
}

// The option of `cmd` (or of the top-level `app`, whose options stand before
// the command) that `name` ("--tag", "-t") names; null when none does.
const CLI::Option* option_named(const CLI::App& app, const CLI::App& cmd, const std::string& name) {
    for (const CLI::App* in : {&cmd, &app}) {
        for (const CLI::Option* opt : in->get_options()) {
            if (!opt->nonpositional())
                continue;
            for (const auto& l : opt->get_lnames())
                if (name == "--" + l)
                    return opt;
            for (const auto& s : opt->get_snames())
                if (name == "-" + s)
                    return opt;
        }
        if (in == &app)
            break;
    }
    return nullptr;
}

std::vector<std::string> long_flags(const CLI::App& cmd) {
    std::vector<std::string> out;
    for (const CLI::Option* opt : cmd.get_options())
        if (opt->nonpositional())
            for (const auto& l : opt->get_lnames())
                out.push_back("--" + l);
    return out;
}

std::string one_line(std::string text) {
    std::replace(text.begin(), text.end(), '\n', ' ');
    while (!text.empty() && text.back() == ' ')
        text.pop_back();
    return text;
}

std::string suggestion(const std::string& word, const std::vector<std::string>& candidates) {
    auto c = closest(word, candidates);
    return c.empty() ? "" : "; did you mean " + c + "?";
}

}  // namespace

std::string closest(const std::string& word, const std::vector<std::string>& candidates) {
    std::string best;
    std::size_t best_distance = 3;
    for (const auto& c : candidates) {
        const auto d = edit_distance(word, c);
        if (d < best_distance) {
            best = c;
            best_distance = d;
        }
    }
    if (!best.empty() || word.size() < 3)
        return best;
    for (const auto& c : candidates)
        if (c.starts_with(word))
            return c;
    return "";
}

std::string usage_message(const CLI::App& app, const CLI::ParseError& e, int argc,
                          const char* const* argv) {
    const CLI::App* cmd = &app;
    std::string path = app.get_name();
    bool options_ended = false;
    for (int i = 1; i < argc; ++i) {
        const std::string token = argv[i];
        if (!options_ended && token == "--") {
            options_ended = true;
            continue;
        }
        if (!options_ended && token.size() > 1 && token[0] == '-') {
            const bool is_long = token.starts_with("--");
            const std::string name =
                is_long ? token.substr(0, token.find('=')) : token.substr(0, 2);
            const CLI::Option* opt = option_named(app, *cmd, name);
            if (!opt)
                return "unknown flag " + name + " for " + path +
                       (is_long ? suggestion(name, long_flags(*cmd)) : "");
            const bool value_attached =
                is_long ? token.find('=') != std::string::npos : token.size() > 2;
            if (opt->get_type_size_max() > 0 && !value_attached)
                ++i;  // its value
            continue;
        }
        const auto subs = subcommands_of(*cmd);
        if (subs.empty())
            continue;  // an argument of the command
        auto named = std::find_if(subs.begin(), subs.end(),
                                  [&](const CLI::App* s) { return s->get_name() == token; });
        if (named == subs.end()) {
            std::vector<std::string> names;
            for (const CLI::App* s : subs)
                names.push_back(s->get_name());
            return "unknown command \"" + token + "\" for " + path + suggestion(token, names);
        }
        cmd = *named;
        path += " " + token;
    }
    return path + ": " + one_line(e.what());
}

}  // namespace kiln::cli
