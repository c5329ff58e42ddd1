#include "solver/stage_state.h"

#include "base/ascii.h"

namespace kiln::solver {

bool is_scratch(const std::string& base) {
    return ascii_lower(base) == "scratch";
}

OmitDir unchanged_in(const std::vector<std::string>& parents,
                     const snapshotter::Snapshotter& snaps) {
    return [&parents, &snaps](const std::string& rel, const struct stat& st) {
        for (auto it = parents.rbegin(); it != parents.rend(); ++it) {
            struct stat lower;
            if (::lstat((snaps.path(*it) / rel).c_str(), &lower) != 0)
                continue;
            return S_ISDIR(lower.st_mode) && lower.st_mode == st.st_mode &&
                   lower.st_uid == st.st_uid && lower.st_gid == st.st_gid &&
                   lower.st_mtim.tv_sec == st.st_mtim.tv_sec &&
                   lower.st_mtim.tv_nsec == st.st_mtim.tv_nsec;
        }
        return false;  // new here
    };
}

std::vector<std::string> layer_keys(const std::vector<content::Descriptor>& layers,
                                    snapshotter::Snapshotter& snaps,
                                    const content::BlobStore& blobs) {
    std::vector<std::string> chain;
    for (const auto& layer : layers) {
        const std::string key = chain_id(chain.empty() ? "" : chain.back(), layer.digest);
        if (!snaps.exists(key)) {
            auto reader = blobs.reader(layer.digest);
            snaps.apply(
                key, [&](void* buf, std::size_t n) { return reader.read(buf, n); },
                layer.digest.str());
        }
        chain.push_back(key);
    }
    return chain;
}

std::vector<std::string> layer_chain(const StageState& state, snapshotter::Snapshotter& snaps,
                                     const content::BlobStore& blobs, std::size_t count) {
    std::vector<content::Descriptor> layers;
    for (std::size_t i = 0; i < state.steps.size() && i < count; ++i)
        if (state.steps[i].stored_layer)
            layers.push_back(*state.steps[i].stored_layer);
    return layer_keys(layers, snaps, blobs);
}

std::vector<content::Descriptor> image_layers(const content::StoredImage& image) {
    std::vector<content::Descriptor> out = image.manifest.layers;
    for (size_t i = 0; i < out.size() && i < image.config.diff_ids.size(); ++i)
        out[i].digest = image.config.diff_ids[i];
    return out;
}

content::Digest key_of(const nlohmann::json& j) {
    try {
        return content::Digest::of(j.dump());
    } catch (const nlohmann::json::type_error&) {
        // A name that is not UTF-8 (COPY caf\xe9 /f): CBOR keeps its bytes as they
        // are, so two different names never share a key.
        auto cbor = nlohmann::json::to_cbor(j);
        return content::Digest::of("cbor:" + std::string(cbor.begin(), cbor.end()));
    }
}

std::optional<content::Descriptor> nonempty(const content::BlobStore& blobs,
                                            const content::Descriptor& layer) {
    std::string bytes = blobs.read_all(layer.digest);
    for (char c : bytes)
        if (c != '\0')
            return layer;
    return std::nullopt;
}

std::vector<StepOutcome> base_steps(const content::StoredImage& image) {
    std::vector<StepOutcome> steps;
    size_t next = 0;
    auto take_layer = [&](StepOutcome& o) {
        if (next < image.manifest.layers.size()) {
            o.stored_layer = image.manifest.layers[next];
            o.stored_layer->digest = image.config.diff_ids.at(next);
            ++next;
        }
    };
    for (const auto& h : image.config.history) {
        StepOutcome o;
        o.history = h;
        if (!h.empty_layer)
            take_layer(o);
        steps.push_back(o);
    }
    while (next < image.manifest.layers.size()) {  // layers without history
        StepOutcome o;
        take_layer(o);
        steps.push_back(o);
    }
    return steps;
}

void date_metadata_steps(std::vector<StepOutcome>& steps, const std::string& now) {
    std::string last;
    for (auto& s : steps) {
        if (!s.history.created.empty())
            last = s.history.created;
        else if (!last.empty())
            s.history.created = last;
    }
    std::string next = now;
    for (auto it = steps.rbegin(); it != steps.rend(); ++it) {
        if (it->history.created.empty())
            it->history.created = next;
        else
            next = it->history.created;
    }
}

}  // namespace kiln::solver
