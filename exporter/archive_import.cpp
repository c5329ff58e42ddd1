#include "exporter/archive_import.h"

#include <archive.h>
#include <archive_entry.h>

#include <fstream>
#include <map>
#include <memory>
#include <optional>

#include "base/error.h"
#include "base/limits.h"
#include "content/image_store.h"
#include "content/oci.h"
#include "content/temp_dir.h"
#include "exporter/layer_writer.h"

namespace kiln::exporter {

namespace fs = std::filesystem;

namespace {

struct ReadFree {
    void operator()(archive* a) const { archive_read_free(a); }
};
using ReadPtr = std::unique_ptr<archive, ReadFree>;

constexpr la_int64_t kMaxJson = 16 << 20;

// libarchive's strings may be null: no message, an entry without a name or target.
std::string la_text(const char* s, const char* none = "") {
    return s != nullptr ? s : none;
}

std::string clean(std::string p) {
    while (p.starts_with("./"))
        p.erase(0, 2);
    while (p.starts_with("/"))
        p.erase(0, 1);
    return p;
}

// Joins a symlink target found at `at` (legacy docker-archive layer links).
std::string resolve_link(const std::string& at, const std::string& target) {
    fs::path base = fs::path(at).parent_path();
    return clean((base / target).lexically_normal().string());
}

// What one pass over the archive collects: small JSON files in memory, blobs
// (verified) in a scratch store, and where each path's content went.
struct Collected {
    std::map<std::string, std::string> json;       // index.json, manifest.json, *.json
    std::map<std::string, content::Digest> files;  // archive path → content digest
    std::map<std::string, std::string> links;      // archive path → path it links to
};

Collected collect(const fs::path& archive_path, const content::BlobStore& scratch) {
    ReadPtr a(archive_read_new());
    archive_read_support_filter_all(a.get());
    archive_read_support_format_tar(a.get());
    if (archive_read_open_filename(a.get(), archive_path.c_str(), 1 << 16) != ARCHIVE_OK)
        throw Error("cannot read " + archive_path.string() + ": " +
                    la_text(archive_error_string(a.get()), "malformed archive"));
    Collected c;
    archive_entry* e = nullptr;
    for (;;) {
        int r = archive_read_next_header(a.get(), &e);
        if (r == ARCHIVE_EOF)
            break;
        if (r != ARCHIVE_OK && r != ARCHIVE_WARN)
            throw Error("cannot read " + archive_path.string() + ": " +
                        la_text(archive_error_string(a.get()), "malformed archive"));
        std::string path = clean(la_text(archive_entry_pathname(e)));
        auto type = archive_entry_filetype(e);
        if (type == AE_IFLNK) {
            c.links[path] = resolve_link(path, la_text(archive_entry_symlink(e)));
            continue;
        }
        if (const char* hl = archive_entry_hardlink(e)) {
            c.links[path] = clean(hl);
            continue;
        }
        if (type != AE_IFREG)
            continue;
        bool is_json = path.ends_with(".json") || path == "oci-layout" || path == "repositories";
        if (is_json && archive_entry_size(e) <= kMaxJson) {
            std::string text(static_cast<size_t>(archive_entry_size(e)), '\0');
            if (archive_read_data(a.get(), text.data(), text.size()) !=
                static_cast<la_ssize_t>(text.size()))
                throw Error("cannot read " + path + " in " + archive_path.string());
            c.json[path] = text;
            c.files[path] = scratch.put(text).digest;
            continue;
        }
        // Everything else is streamed into the scratch store; a blob named
        // blobs/sha256/<hex> must have that digest.
        std::optional<content::Digest> expected;
        if (path.starts_with("blobs/sha256/")) {
            try {
                expected = content::Digest::parse("sha256:" + path.substr(13));
            } catch (const Error&) {
                continue;  // not a blob name: nothing an image can refer to
            }
        }
        auto w = scratch.writer();
        char buf[1 << 16];
        for (;;) {
            la_ssize_t n = archive_read_data(a.get(), buf, sizeof buf);
            if (n < 0)
                throw Error("cannot read " + path + " in " + archive_path.string() + ": " +
                            la_text(archive_error_string(a.get()), "malformed archive"));
            if (n == 0)
                break;
            w.write(buf, static_cast<size_t>(n));
        }
        try {
            c.files[path] = w.commit(expected).digest;
        } catch (const Error& err) {
            throw Error(archive_path.string() + ": " + path + ": " + err.what());
        }
    }
    return c;
}

content::Digest file_digest(const Collected& c, std::string path, const fs::path& archive) {
    path = clean(path);
    for (int hops = 0; hops < 16; ++hops) {
        if (auto it = c.files.find(path); it != c.files.end())
            return it->second;
        auto l = c.links.find(path);
        if (l == c.links.end())
            break;
        path = l->second;
    }
    throw Error(archive.string() + ": " + path + " is named by the archive's manifest but missing");
}

// Decompresses (any format libarchive knows) a scratch blob into the store,
// uncompressed, checking it against the diffID the config lists.
content::Descriptor store_layer(const content::BlobStore& scratch, const content::Digest& blob,
                                const content::Digest& diff_id, const content::StateRoot& root,
                                const std::string& where) {
    if (root.blobs().has(diff_id)) {
        // Already here (named by its diffID, so it is complete by the store's invariant).
        auto size = static_cast<std::int64_t>(fs::file_size(root.blobs().path(diff_id)));
        return {layer_media_type(Compression::none, true), diff_id, size, {}, {}};
    }
    auto reader = scratch.reader(blob);
    ReadPtr a(archive_read_new());
    archive_read_support_filter_all(a.get());
    archive_read_support_format_raw(a.get());
    struct Src {
        content::BlobStore::Reader* r;
        char buf[1 << 16];
    } src{&reader, {}};
    auto read_cb = [](archive*, void* ctx, const void** out) -> la_ssize_t {
        auto* s = static_cast<Src*>(ctx);
        try {
            *out = s->buf;
            return static_cast<la_ssize_t>(s->r->read(s->buf, sizeof s->buf));
        } catch (...) {
            return -1;
        }
    };
    if (archive_read_open(a.get(), &src, nullptr, read_cb, nullptr) != ARCHIVE_OK)
        throw Error(where + ": cannot read layer: " +
                    la_text(archive_error_string(a.get()), "malformed archive"));
    archive_entry* e = nullptr;
    auto w = root.blobs().writer();
    if (archive_read_next_header(a.get(), &e) == ARCHIVE_OK) {
        char buf[1 << 16];
        std::uint64_t total = 0;
        for (;;) {
            la_ssize_t n = archive_read_data(a.get(), buf, sizeof buf);
            if (n < 0)
                throw Error(where + ": cannot read layer: " +
                            la_text(archive_error_string(a.get()), "malformed archive"));
            if (n == 0)
                break;
            total += static_cast<std::uint64_t>(n);
            if (total > max_layer_size())
                throw_layer_too_large(where + ": layer " + blob.str());
            w.write(buf, static_cast<size_t>(n));
        }
    }
    try {
        auto info = w.commit(diff_id);
        return {layer_media_type(Compression::none, true), info.digest, info.size, {}, {}};
    } catch (const Error&) {
        throw Error(where + ": layer " + blob.str() + " does not match diffID " + diff_id.str() +
                    " of its config");
    }
}

struct Candidate {
    content::Digest config;
    std::vector<content::Digest> layers;  // blobs as archived
    std::vector<std::string> names;
};

std::vector<Candidate> docker_candidates(const Collected& c, const fs::path& archive) {
    std::vector<Candidate> out;
    auto list = content::try_parse_json(c.json.at("manifest.json"));
    if (!list.is_array())
        throw Error(archive.string() + ": manifest.json is not a list of images");
    for (const auto& m : list) {
        Candidate cand;
        cand.config = file_digest(c, m.value("Config", ""), archive);
        for (const auto& l : m.value("Layers", nlohmann::json::array()))
            cand.layers.push_back(file_digest(c, l.get<std::string>(), archive));
        if (m.contains("RepoTags") && m["RepoTags"].is_array())
            for (const auto& t : m["RepoTags"])
                cand.names.push_back(t.get<std::string>());
        out.push_back(std::move(cand));
    }
    return out;
}

std::vector<Candidate> oci_candidates(const Collected& c, const content::BlobStore& scratch,
                                      const fs::path& archive) {
    std::vector<Candidate> out;
    auto index = content::parse_json_as<content::Index>(c.json.at("index.json"),
                                                        archive.string() + ": index.json");
    for (const auto& d : index.manifests) {
        content::Descriptor desc = d;
        if (desc.media_type == content::media_type::kOciIndex ||
            desc.media_type == content::media_type::kDockerManifestList) {
            // A multi-platform image: take the linux/amd64 entry (or the first).
            auto inner = content::parse_json_as<content::Index>(scratch.read_all(desc.digest),
                                                                "index " + desc.digest.str());
            if (inner.manifests.empty())
                continue;
            desc = inner.manifests.front();
            for (const auto& m : inner.manifests)
                if (m.platform && m.platform->os == "linux" && m.platform->architecture == "amd64")
                    desc = m;
        }
        auto manifest = content::parse_json_as<content::Manifest>(scratch.read_all(desc.digest),
                                                                  "manifest " + desc.digest.str());
        Candidate cand;
        cand.config = manifest.config.digest;
        for (const auto& l : manifest.layers)
            cand.layers.push_back(l.digest);
        auto ann = d.annotations;
        if (auto it = ann.find("io.containerd.image.name"); it != ann.end())
            cand.names.push_back(it->second);
        else if (auto r = ann.find(content::kRefNameAnnotation); r != ann.end())
            cand.names.push_back(r->second);
        out.push_back(std::move(cand));
    }
    return out;
}

// The OCI manifest (uncompressed layers, named by diffID) of an image whose
// config and layer blobs are in `scratch`, written to the store with them.
content::Descriptor store_image(const content::StateRoot& root, const content::BlobStore& scratch,
                                const content::Digest& config_digest,
                                const std::vector<content::Digest>& layers,
                                const std::string& where) {
    std::string config_text = scratch.read_all(config_digest);
    auto config = content::parse_json_as<content::ImageConfig>(
        config_text, where + ": config " + config_digest.str());
    if (config.diff_ids.size() != layers.size())
        throw Error(where + ": config " + config_digest.str() + " lists " +
                    std::to_string(config.diff_ids.size()) + " layers, the manifest " +
                    std::to_string(layers.size()));
    content::Manifest m;
    for (size_t i = 0; i < layers.size(); ++i)
        m.layers.push_back(store_layer(scratch, layers[i], config.diff_ids[i], root, where));
    auto config_blob = root.blobs().put(config_text);
    m.config = {content::media_type::kOciConfig, config_blob.digest, config_blob.size, {}, {}};
    auto mblob = root.blobs().put(content::canonical(nlohmann::json(m)));
    return {content::media_type::kOciManifest,
            mblob.digest,
            mblob.size,
            {},
            content::Platform{config.architecture, config.os, config.variant}};
}

}  // namespace

content::Descriptor import_layout_image(const content::StateRoot& root, const fs::path& layout,
                                        const std::string& reference,
                                        const registry::PlatformSpec& platform) {
    const std::string where = "oci-layout://" + layout.string();
    auto read_text = [&](const fs::path& p) {
        std::ifstream in(p, std::ios::binary);
        if (!in)
            throw Error(where + ": cannot read " + p.lexically_relative(layout).string());
        return std::string(std::istreambuf_iterator<char>(in), {});
    };
    TempDir scratch_dir(root.tmp(), "layout-");
    content::BlobStore scratch(scratch_dir.path(), scratch_dir.path() / "tmp");
    // A blob of the layout into the scratch store, verified against its name.
    auto take = [&](const content::Digest& d) {
        const fs::path file = layout / "blobs" / "sha256" / std::string(d.hex());
        std::ifstream in(file, std::ios::binary);
        if (!in)
            throw Error(where + ": blob " + d.str() + " is missing");
        auto w = scratch.writer();
        char buf[1 << 16];
        while (in.read(buf, sizeof buf) || in.gcount() > 0)
            w.write(buf, static_cast<std::size_t>(in.gcount()));
        try {
            w.commit(d);
        } catch (const Error&) {
            throw Error(where + ": blob " + d.str() + " does not match its digest");
        }
    };
    auto index = content::parse_json_as<content::Index>(read_text(layout / "index.json"),
                                                        where + ": index.json");
    std::optional<content::Descriptor> chosen;
    for (const auto& d : index.manifests) {
        auto tag = d.annotations.find(content::kRefNameAnnotation);
        if (reference.empty() ? index.manifests.size() == 1
                              : (reference.starts_with("sha256:")
                                     ? d.digest.str() == reference
                                     : tag != d.annotations.end() && tag->second == reference))
            chosen = d;
    }
    if (!chosen)
        throw Error(where + ": " +
                    (reference.empty()
                         ? "index.json names " + std::to_string(index.manifests.size()) +
                               " images; pick one with :TAG or @DIGEST"
                         : "no image " + reference));
    take(chosen->digest);
    if (content::is_index(*chosen)) {
        auto inner = content::parse_json_as<content::Index>(
            scratch.read_all(chosen->digest), where + ": index " + chosen->digest.str());
        if (inner.manifests.empty())
            throw Error(where + ": index " + chosen->digest.str() + " holds no image");
        chosen = inner.manifests.front();
        for (const auto& m : inner.manifests)
            if (m.platform && registry::platform_matches(*m.platform, platform)) {
                chosen = m;
                break;
            }
        take(chosen->digest);
    }
    auto manifest = content::parse_json_as<content::Manifest>(
        scratch.read_all(chosen->digest), where + ": manifest " + chosen->digest.str());
    take(manifest.config.digest);
    std::vector<content::Digest> layers;
    for (const auto& l : manifest.layers) {
        take(l.digest);
        layers.push_back(l.digest);
    }
    return store_image(root, scratch, manifest.config.digest, layers, where);
}

std::vector<ImportedImage> import_archive(const content::StateRoot& root, const fs::path& archive,
                                          const std::vector<std::string>& names) {
    std::error_code ec;
    const auto type = fs::status(archive, ec).type();
    if (type == fs::file_type::directory)
        throw Error("cannot load " + archive.string() +
                    ": it is a directory, not an archive (give the .tar that docker save, "
                    "skopeo copy or kiln build -o type=oci,dest=X.tar wrote)");
    if (type == fs::file_type::not_found)
        throw Error("cannot load " + archive.string() + ": no such file");
    if (ec)
        throw Error("cannot load " + archive.string() + ": " + ec.message());
    if (type != fs::file_type::regular)
        throw Error("cannot load " + archive.string() + ": not a regular file");
    TempDir scratch_dir(root.tmp(), "load-");
    content::BlobStore scratch(scratch_dir.path(), scratch_dir.path() / "tmp");
    Collected c = collect(archive, scratch);

    std::vector<Candidate> candidates;
    if (c.json.count("manifest.json"))
        candidates = docker_candidates(c, archive);
    else if (c.json.count("index.json"))
        candidates = oci_candidates(c, scratch, archive);
    else
        throw Error(archive.string() + " is neither an OCI layout nor a docker-archive tar");
    if (candidates.empty())
        throw Error(archive.string() + " holds no image");
    if (!names.empty() && candidates.size() != 1)
        throw Error(archive.string() + " holds " + std::to_string(candidates.size()) +
                    " images; -t names one");

    // Every image is stored before any is named, so a load that fails names nothing.
    std::vector<content::Descriptor> stored;
    for (const auto& cand : candidates)
        stored.push_back(store_image(root, scratch, cand.config, cand.layers, archive.string()));
    std::vector<ImportedImage> out;
    content::ImageStore store(root);
    for (std::size_t i = 0; i < candidates.size(); ++i) {
        ImportedImage img;
        img.manifest = stored[i];
        for (const auto& n : names.empty() ? candidates[i].names : names) {
            store.set(n, stored[i]);
            img.names.push_back(content::normalize_name(n));
        }
        out.push_back(std::move(img));
    }
    return out;
}

}  // namespace kiln::exporter
