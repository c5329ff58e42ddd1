// A client of one registry host, speaking the OCI distribution spec / Docker
// Registry HTTP API v2: manifests, blobs, uploads, with auth and retries.
//
// Contract:
//  - Scheme: https; a loopback host (localhost, 127.0.0.0/8, ::1) or one in
//    ClientOptions::insecure_registries falls back to plain http when the
//    https attempt fails to connect or handshake (as Docker does).
//  - Auth: anonymous first; on 401 the WWW-Authenticate challenge decides:
//    Basic → credentials; Bearer realm/service/scope → a token from the realm
//    (with credentials when there are any), cached per scope set, fetched
//    again on a later 401. Push asks for "pull,push"; a cross-repository
//    mount also asks for "pull" on the source repository.
//  - Retries: every request, on connection errors, 408, 429 (honouring
//    Retry-After) and 5xx, up to RetryPolicy::attempts with exponential
//    backoff and jitter; bodies are re-sent from the start.
//  - Errors throw kiln::Error naming the host, the repository and the
//    manifest or blob ("registry 127.0.0.1:5000: app/web: blob sha256:...:
//    404 not found").
//  - Thread safety: one Client may be used from several threads at once.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "content/blob_store.h"
#include "content/digest.h"
#include "registry/credentials.h"
#include "registry/transport.h"

namespace kiln::registry {

struct RetryPolicy {
    int attempts = 6;  // total tries per request
    std::chrono::milliseconds base_delay{200};
    std::chrono::milliseconds max_delay{10'000};
};

struct ClientOptions {
    std::vector<std::string> insecure_registries;  // hosts (with port) allowed over http
    RetryPolicy retry;
    // Uploads above this size go in chunks (PATCH); at or below, one PUT.
    std::int64_t chunk_threshold = 16 << 20;
    std::int64_t chunk_size = 4 << 20;
    // Credentials for the host; default: CredentialStore().lookup(host's domain).
    std::function<std::optional<Credentials>(const std::string& domain)> credentials;
    std::shared_ptr<Transport> transport;  // default: make_curl_transport()
    // Set by a signal handler: transfers stop and no retry starts; the
    // operation throws kiln::Cancelled.
    const std::atomic<bool>* cancel = nullptr;
};

// Sees a blob's bytes as Client::fetch_blob() receives them, in order.
// restart() says the download starts over from byte 0 (a registry that
// ignored Range, a second try after a digest mismatch); write() then begins
// again at byte 0. Neither may throw: a tee keeps its own errors.
class BlobTee {
  public:
    virtual void write(const char* data, std::size_t size) = 0;
    virtual void restart() = 0;

  protected:
    ~BlobTee() = default;
};

// A blob uploaded while it is being made, its digest known only at its end
// (a layer streamed to the registry as it is compressed): the bytes go in
// PATCH chunks of ClientOptions::chunk_size, sent from a thread of its own
// while the next one fills (write() waits for the one being sent: at most two
// chunks in memory), and a PUT naming the digest closes the session.
// Best effort: nothing here throws. Any failure (a refused PATCH, a dropped
// connection, a cancel) ends the stream; finish() then says false, the
// session is cancelled, and the caller uploads the blob the usual way.
class StreamUpload {
  public:
    ~StreamUpload();
    StreamUpload(const StreamUpload&) = delete;
    StreamUpload& operator=(const StreamUpload&) = delete;

    void write(const void* data, std::size_t size);
    // The blob has ended and its bytes are `digest`: true when the registry
    // now has it.
    bool finish(const content::Digest& digest);

    struct State;
    explicit StreamUpload(std::unique_ptr<State> state);

  private:
    std::unique_ptr<State> s_;
};

struct FetchedManifest {
    std::string media_type;  // from the Content-Type header, or the document's mediaType
    std::string bytes;       // exactly as served (its digest is the manifest's digest)
    content::Digest digest;  // verified when the request named a digest
};

class Client {
  public:
    // `domain` is the reference's domain ("docker.io", "127.0.0.1:5000");
    // requests go to its API host.
    Client(std::string domain, ClientOptions options = {});
    ~Client();
    Client(const Client&) = delete;
    Client& operator=(const Client&) = delete;

    const std::string& domain() const;

    // GET /v2/ (with credentials if given): throws an Error naming the host
    // unless the registry accepts them. Used by `kiln login`.
    void check_login(const Credentials& c);

    // GET a manifest or index by tag or digest, accepting OCI and Docker
    // schema 2 types. Schema 1 is refused with a message saying so.
    FetchedManifest get_manifest(const std::string& repository, const std::string& ref);
    // HEAD: the digest a tag points at now, or nullopt on 404.
    std::optional<content::Digest> head_manifest(const std::string& repository,
                                                 const std::string& ref);

    // Downloads a blob into `store`, verified while streaming against
    // `digest`; an interrupted transfer is resumed with Range when the
    // registry honours it, else restarted. Nothing is named in the store
    // unless the whole blob verified. `progress(bytes_so_far)` is optional;
    // so is `tee`, which sees the bytes as they arrive (never when the store
    // has the blob already).
    content::BlobInfo fetch_blob(const std::string& repository, const content::Digest& digest,
                                 std::int64_t size, const content::BlobStore& store,
                                 const std::function<void(std::int64_t)>& progress = {},
                                 BlobTee* tee = nullptr);

    // Starts a StreamUpload into `repository` (the session opens on its thread).
    std::unique_ptr<StreamUpload> stream_upload(const std::string& repository);
    // HEAD a blob: true when the repository has it.
    bool has_blob(const std::string& repository, const content::Digest& digest);
    // POST ?mount=&from=: true when the registry mounted it (201), false when
    // it declined (202: the upload session it opened is cancelled).
    bool mount_blob(const std::string& repository, const content::Digest& digest,
                    const std::string& from_repository);
    // Uploads a blob from `store`: one PUT up to chunk_threshold, else PATCH
    // chunks; when the registry rejects one way the other is tried.
    void push_blob(const std::string& repository, const content::Digest& digest, std::int64_t size,
                   const content::BlobStore& store);
    // PUT a manifest under a tag or its digest; returns the digest the
    // registry reports (checked against the bytes').
    content::Digest put_manifest(const std::string& repository, const std::string& ref,
                                 const std::string& media_type, const std::string& bytes);

  private:
    friend class StreamUpload;
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace kiln::registry
