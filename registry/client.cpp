// The public operations of registry::Client: login check, manifests, blobs,
// mounts. The machinery behind them (scheme, auth, retries, uploads) is
// Client::Impl, in registry/client_impl.h.

#include "registry/client.h"

#include <filesystem>
#include <nlohmann/json.hpp>

#include "content/oci.h"
#include "registry/client_impl.h"
#include "registry/response_text.h"
#include "registry/url.h"

namespace kiln::registry {

namespace {

using content::Digest;

constexpr std::size_t kMaxManifestSize = 4 << 20;
constexpr const char* kManifestAccept =
    "application/vnd.oci.image.manifest.v1+json, "
    "application/vnd.oci.image.index.v1+json, "
    "application/vnd.docker.distribution.manifest.v2+json, "
    "application/vnd.docker.distribution.manifest.list.v2+json, "
    "application/vnd.docker.distribution.manifest.v1+prettyjws, "
    "application/vnd.docker.distribution.manifest.v1+json";

}  // namespace

Client::Client(std::string domain, ClientOptions options)
    : impl_(std::make_unique<Impl>(std::move(domain), std::move(options))) {}

Client::~Client() = default;

const std::string& Client::domain() const {
    return impl_->domain;
}

void Client::check_login(const Credentials& c) {
    Op op;
    op.login = &c;
    Request r;
    r.url = "/v2/";
    Response resp = impl_->execute(op, r);
    if (is_2xx(resp.status)) {
        return;
    }
    if (resp.status == 401 || resp.status == 403) {
        throw Error("registry " + impl_->domain + ": login failed: " + status_detail(resp));
    }
    impl_->fail(op, resp);
}

FetchedManifest Client::get_manifest(const std::string& repository, const std::string& ref) {
    Op op{repository, "manifest " + ref, {pull_scope(repository)}};
    Request r;
    r.url = "/v2/" + repository + "/manifests/" + ref;
    r.headers.emplace_back("Accept", kManifestAccept);
    std::string bytes;
    r.on_head = [&bytes](const Response&) { bytes.clear(); };
    BodySink sink = [&](const char* data, std::size_t n) {
        if (bytes.size() + n > kMaxManifestSize) {
            throw Error(impl_->prefix(op) + ": manifest is larger than 4 MiB");
        }
        bytes.append(data, n);
    };
    Response resp = impl_->execute(op, r, sink);
    if (resp.status == 404) {
        throw Error(impl_->repo_prefix(op) + ": manifest " + ref + " not found");
    }
    if (!is_2xx(resp.status)) {
        impl_->fail(op, resp);
    }
    std::string type = resp.header("content-type");
    type = type.substr(0, type.find(';'));
    while (!type.empty() && type.back() == ' ') {
        type.pop_back();
    }
    auto j = content::try_parse_json(bytes);
    const std::string schema1 =
        ": manifest uses Docker schema 1, which kiln does not support (re-push it with a "
        "current client)";
    if (type.starts_with("application/vnd.docker.distribution.manifest.v1")) {
        throw Error(impl_->prefix(op) + schema1);
    }
    if (!j.is_object()) {
        throw Error(impl_->prefix(op) + ": manifest is not a JSON object");
    }
    if (j.contains("schemaVersion") && j["schemaVersion"] == 1) {
        throw Error(impl_->prefix(op) + schema1);
    }
    FetchedManifest m;
    m.digest = Digest::of(bytes);
    if (ref.starts_with("sha256:")) {
        Digest want = Digest::parse(ref);
        if (want != m.digest) {
            throw Error(impl_->prefix(op) + ": registry sent content with digest " +
                        m.digest.str() + ", not " + want.str());
        }
    }
    // A generic JSON type says nothing: the document's own mediaType does.
    if ((type.empty() || type == "application/json" || type == "text/plain") &&
        j.contains("mediaType") && j["mediaType"].is_string()) {
        type = j["mediaType"].get<std::string>();
    }
    m.media_type = type;
    m.bytes = std::move(bytes);
    return m;
}

std::optional<Digest> Client::head_manifest(const std::string& repository, const std::string& ref) {
    Op op{repository, "manifest " + ref, {pull_scope(repository)}};
    Request r;
    r.method = "HEAD";
    r.url = "/v2/" + repository + "/manifests/" + ref;
    r.headers.emplace_back("Accept", kManifestAccept);
    Response resp = impl_->execute(op, r);
    if (resp.status == 404) {
        return std::nullopt;
    }
    if (!is_2xx(resp.status)) {
        impl_->fail(op, resp);
    }
    std::string d = resp.header("docker-content-digest");
    if (d.starts_with("sha256:")) {
        return Digest::parse(d);
    }
    // Not every registry sends the header: the manifest itself tells.
    return get_manifest(repository, ref).digest;
}

content::BlobInfo Client::fetch_blob(const std::string& repository, const Digest& digest,
                                     std::int64_t size, const content::BlobStore& store,
                                     const std::function<void(std::int64_t)>& progress,
                                     BlobTee* tee) {
    if (store.has(digest)) {
        return {digest, static_cast<std::int64_t>(std::filesystem::file_size(store.path(digest)))};
    }
    Op op{repository, "blob " + digest.str(), {pull_scope(repository)}};
    // A blob that does not match its digest is fetched once more from the
    // start (a proxy may have mangled it), then reported.
    for (int round = 1;; ++round) {
        std::optional<content::BlobStore::Writer> w;
        w.emplace(store.writer());
        auto restart = [&] {
            w.reset();
            w.emplace(store.writer());
            if (tee) {
                tee->restart();
            }
        };
        if (round > 1 && tee) {
            tee->restart();
        }
        Request r;
        r.url = "/v2/" + repository + "/blobs/" + digest.str();
        r.on_head = [&](const Response& h) {
            if (!is_2xx(h.status) || w->size() == 0) {
                return;
            }
            if (h.status == 206) {
                auto start = content_range_start(h.header("content-range"));
                if (start && *start == w->size()) {
                    return;  // resumed where we stopped
                }
                restart();
                throw TransportError(impl_->prefix(op) + ": registry resumed at the wrong offset",
                                     true);
            }
            restart();  // 200: the registry ignored Range and sends it all again
        };
        bool sink_refused = false;
        BodySink sink = [&](const char* data, std::size_t n) {
            if (size >= 0 && w->size() + static_cast<std::int64_t>(n) > size) {
                sink_refused = true;
                throw Error(impl_->prefix(op) + ": registry sent more than the expected " +
                            std::to_string(size) + " bytes");
            }
            w->write(data, n);
            if (tee) {
                tee->write(data, n);
            }
            if (progress) {
                progress(w->size());
            }
        };
        auto before = [&](Request& req) {
            set_header(req, "Range",
                       w->size() > 0 ? "bytes=" + std::to_string(w->size()) + "-" : "");
        };
        Response resp;
        for (;;) {
            // Retries are counted per call; a connection that keeps dropping
            // but delivers more each time is still getting the blob here.
            const std::int64_t had = w->size();
            try {
                resp = impl_->execute(op, r, sink, 0, before);
                break;
            } catch (const Cancelled&) {
                throw;
            } catch (const Error&) {
                if (sink_refused || w->size() <= had) {
                    throw;
                }
            }
        }
        bool complete_already = resp.status == 416 && size >= 0 && w->size() == size;
        if (resp.status == 404) {
            throw Error(impl_->repo_prefix(op) + ": blob " + digest.str() + " not found");
        }
        if (!is_2xx(resp.status) && !complete_already) {
            impl_->fail(op, resp);
        }
        if (size >= 0 && w->size() != size) {
            if (round < 2) {
                continue;
            }
            throw Error(impl_->prefix(op) + ": registry sent " + std::to_string(w->size()) +
                        " bytes, expected " + std::to_string(size));
        }
        try {
            return w->commit(digest);
        } catch (const Error& e) {
            if (round < 2) {
                continue;
            }
            std::string what = e.what();
            auto got = what.rfind("got ");
            throw Error(impl_->prefix(op) + ": digest mismatch" +
                        (got == std::string::npos ? "" : " (" + what.substr(got) + ")"));
        }
    }
}

bool Client::has_blob(const std::string& repository, const Digest& digest) {
    Op op{repository, "blob " + digest.str(), {pull_scope(repository)}};
    return impl_->blob_exists(op, repository, digest);
}

bool Client::mount_blob(const std::string& repository, const Digest& digest,
                        const std::string& from_repository) {
    Op op{
        repository, "blob " + digest.str(), {push_scope(repository), pull_scope(from_repository)}};
    Request r;
    r.method = "POST";
    r.url = "/v2/" + repository + "/blobs/uploads/?mount=" + percent_encode(digest.str()) +
            "&from=" + percent_encode(from_repository);
    Response resp = impl_->execute(op, r);
    if (resp.status == 201) {
        return true;
    }
    if (resp.status == 202) {
        std::string loc = impl_->location(resp);
        if (!loc.empty()) {
            impl_->cancel_upload(op, loc);
        }
        return false;
    }
    impl_->fail(op, resp);
}

void Client::push_blob(const std::string& repository, const Digest& digest, std::int64_t size,
                       const content::BlobStore& store) {
    Op op{repository, "blob " + digest.str(), {push_scope(repository)}};
    if (size < 0) {
        size = static_cast<std::int64_t>(std::filesystem::file_size(store.path(digest)));
    }
    bool chunked = size > impl_->opt.chunk_threshold;
    auto push = [&](bool in_chunks) {
        if (in_chunks) {
            impl_->push_chunked(op, repository, digest, size, store);
        } else {
            impl_->push_monolithic(op, repository, digest, size, store);
        }
    };
    try {
        push(chunked);
    } catch (const UploadRejected&) {
        // The registry refused this way of uploading (a size limit on one PUT,
        // no PATCH support): the other way may suit it.
        try {
            push(!chunked);
        } catch (const UploadRejected& e) {
            throw Error(e.what());
        }
    }
}

Digest Client::put_manifest(const std::string& repository, const std::string& ref,
                            const std::string& media_type, const std::string& bytes) {
    Op op{repository, "manifest " + ref, {push_scope(repository)}};
    Request r;
    r.method = "PUT";
    r.url = "/v2/" + repository + "/manifests/" + ref;
    r.headers.emplace_back("Content-Type", media_type);
    r.body = bytes;
    Response resp = impl_->execute(op, r);
    if (!is_2xx(resp.status)) {
        impl_->fail(op, resp);
    }
    Digest mine = Digest::of(bytes);
    std::string theirs = resp.header("docker-content-digest");
    if (theirs.starts_with("sha256:") && theirs != mine.str()) {
        throw Error(impl_->prefix(op) + ": registry stored it as " + theirs + ", expected " +
                    mine.str());
    }
    return mine;
}

}  // namespace kiln::registry
