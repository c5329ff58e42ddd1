#include "base/http_client.h"

#include <curl/curl.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cstring>
#include <exception>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <sstream>

#include "base/ascii.h"

namespace kiln::http {

std::string Response::header(const std::string& lower_name) const {
    auto it = headers.find(lower_name);
    return it == headers.end() ? std::string() : it->second;
}

namespace {

namespace fs = std::filesystem;

// What the transport keeps of a body it does not stream to a sink.
constexpr std::size_t kMaxKeptBody = 1 << 20;
constexpr const char* kSystemBundle = "/etc/ssl/certs/ca-certificates.crt";

struct EasyDeleter {
    void operator()(CURL* h) const { curl_easy_cleanup(h); }
};
using EasyHandle = std::unique_ptr<CURL, EasyDeleter>;

struct ShareDeleter {
    void operator()(CURLSH* h) const { curl_share_cleanup(h); }
};
using ShareHandle = std::unique_ptr<CURLSH, ShareDeleter>;

struct SlistDeleter {
    void operator()(curl_slist* l) const { curl_slist_free_all(l); }
};
using Slist = std::unique_ptr<curl_slist, SlistDeleter>;

void global_init() {
    static std::once_flag once;
    std::call_once(once, [] {
        if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
            throw Error("cannot initialise libcurl");
        }
    });
}

std::string read_file(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

// TLS material for one host, found the way Docker finds it under certs.d.
struct HostTls {
    std::string ca_pem;  // system bundle + the host's CAs; empty: use curl's default
    std::string client_cert;
    std::string client_key;
};

HostTls find_host_tls(const TlsOptions& tls, const std::string& host) {
    HostTls out;
    std::vector<fs::path> cas;
    if (host.empty() || host.find("..") != std::string::npos ||
        host.find('/') != std::string::npos) {
        return out;
    }
    for (const auto& dir : tls.certs_dirs) {
        fs::path hd = fs::path(dir) / host;
        std::error_code ec;
        if (!fs::is_directory(hd, ec)) {
            continue;
        }
        std::vector<fs::path> entries;
        for (const auto& e : fs::directory_iterator(hd, ec)) {
            entries.push_back(e.path());
        }
        std::sort(entries.begin(), entries.end());
        for (const auto& p : entries) {
            if (p.extension() == ".crt") {
                cas.push_back(p);
            } else if (p.extension() == ".cert" && out.client_cert.empty()) {
                fs::path key = p;
                key.replace_extension(".key");
                if (fs::exists(key, ec)) {
                    out.client_cert = p.string();
                    out.client_key = key.string();
                }
            }
        }
    }
    if (!cas.empty()) {
        out.ca_pem = read_file(kSystemBundle);
        for (const auto& p : cas) {
            if (!out.ca_pem.empty() && out.ca_pem.back() != '\n') {
                out.ca_pem += '\n';
            }
            out.ca_pem += read_file(p);
        }
    }
    return out;
}

int on_progress(void* cancel, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
    return static_cast<const std::atomic<bool>*>(cancel)->load() ? 1 : 0;
}

bool retryable_code(CURLcode c) {
    switch (c) {
        case CURLE_PEER_FAILED_VERIFICATION:
        case CURLE_SSL_CACERT_BADFILE:
        case CURLE_SSL_CERTPROBLEM:
        case CURLE_SSL_ISSUER_ERROR:
        case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
        case CURLE_SSL_CRL_BADFILE:
        case CURLE_UNSUPPORTED_PROTOCOL:
        case CURLE_URL_MALFORMAT:
        case CURLE_TOO_MANY_REDIRECTS:
        case CURLE_OUT_OF_MEMORY:
        case CURLE_BAD_FUNCTION_ARGUMENT:
        case CURLE_NOT_BUILT_IN:
        case CURLE_ABORTED_BY_CALLBACK:  // cancelled: the user asked to stop
            return false;
        default:
            return true;
    }
}

// State of one transfer, reachable from curl's callbacks.
struct Transfer {
    const Request* request = nullptr;
    const BodySink* sink = nullptr;
    CURL* handle = nullptr;
    Response response;
    bool head_reported = false;
    std::exception_ptr error;  // thrown by a sink, on_head or body reader
    std::size_t body_offset = 0;

    void report_head() {
        if (head_reported) {
            return;
        }
        head_reported = true;
        long code = 0;
        curl_easy_getinfo(handle, CURLINFO_RESPONSE_CODE, &code);
        response.status = code;
        if (request->on_head) {
            Response head;
            head.status = code;
            head.headers = response.headers;
            request->on_head(head);
        }
    }
};

std::size_t on_write(char* data, std::size_t size, std::size_t n, void* user) {
    auto* t = static_cast<Transfer*>(user);
    std::size_t len = size * n;
    try {
        t->report_head();
        bool ok = t->response.status >= 200 && t->response.status < 300;
        if (ok && t->sink && *t->sink) {
            (*t->sink)(data, len);
        } else if (t->response.body.size() < kMaxKeptBody) {
            t->response.body.append(data, std::min(len, kMaxKeptBody - t->response.body.size()));
        }
        return len;
    } catch (...) {
        t->error = std::current_exception();
        return 0;  // aborts the transfer with CURLE_WRITE_ERROR
    }
}

std::size_t on_header(char* data, std::size_t size, std::size_t n, void* user) {
    auto* t = static_cast<Transfer*>(user);
    std::size_t len = size * n;
    std::string_view line(data, len);
    while (!line.empty() && (line.back() == '\r' || line.back() == '\n')) {
        line.remove_suffix(1);
    }
    if (line.starts_with("HTTP/")) {
        // A new response (after a redirect or a 100 Continue): forget the previous one's headers.
        t->response.headers.clear();
        return len;
    }
    auto colon = line.find(':');
    if (colon == std::string_view::npos) {
        return len;
    }
    std::string name = ascii_lower(line.substr(0, colon));
    std::string_view value = line.substr(colon + 1);
    while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) {
        value.remove_prefix(1);
    }
    while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) {
        value.remove_suffix(1);
    }
    t->response.headers.emplace(std::move(name), std::string(value));
    return len;
}

std::size_t on_read(char* buf, std::size_t size, std::size_t n, void* user) {
    auto* t = static_cast<Transfer*>(user);
    std::size_t len = size * n;
    try {
        const Request& r = *t->request;
        if (r.body_reader) {
            return r.body_reader(buf, len);
        }
        std::size_t k = std::min(len, r.body.size() - t->body_offset);
        std::memcpy(buf, r.body.data() + t->body_offset, k);
        t->body_offset += k;
        return k;
    } catch (...) {
        t->error = std::current_exception();
        return CURL_READFUNC_ABORT;
    }
}

int on_seek(void* user, curl_off_t offset, int origin) {
    auto* t = static_cast<Transfer*>(user);
    if (origin != SEEK_SET || offset != 0) {
        return CURL_SEEKFUNC_CANTSEEK;
    }
    try {
        const Request& r = *t->request;
        if (r.body_reader) {
            if (!r.rewind) {
                return CURL_SEEKFUNC_CANTSEEK;
            }
            r.rewind();
        }
        t->body_offset = 0;
        return CURL_SEEKFUNC_OK;
    } catch (...) {
        t->error = std::current_exception();
        return CURL_SEEKFUNC_FAIL;
    }
}

}  // namespace

struct HttpClient::Impl {
    explicit Impl(ClientOptions options) : options_(std::move(options)) {
        global_init();
        share_.reset(curl_share_init());
        if (!share_) {
            throw Error("cannot initialise libcurl");
        }
        curl_share_setopt(share_.get(), CURLSHOPT_LOCKFUNC, &Impl::lock);
        curl_share_setopt(share_.get(), CURLSHOPT_UNLOCKFUNC, &Impl::unlock);
        curl_share_setopt(share_.get(), CURLSHOPT_USERDATA, this);
        curl_share_setopt(share_.get(), CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
        curl_share_setopt(share_.get(), CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
        // Not CURL_LOCK_DATA_CONNECT: curl 7.88 documents that sharing the
        // connection cache between concurrent threads is unsafe (a known bug).
        // Connections are reused through the handle pool instead: an easy
        // handle keeps its live connections across curl_easy_reset.
    }

    ~Impl() {
        // Easy handles detach from the share before it goes.
        free_.clear();
    }

    Response send(const Request& request, const BodySink& sink) {
        Lease lease(*this);
        CURL* h = lease.get();
        curl_easy_reset(h);

        Transfer t;
        t.request = &request;
        t.sink = &sink;
        t.handle = h;

        std::array<char, CURL_ERROR_SIZE> errbuf{};
        curl_easy_setopt(h, CURLOPT_SHARE, share_.get());
        curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf.data());
        curl_easy_setopt(h, CURLOPT_URL, request.url.c_str());
        curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(h, CURLOPT_HTTP_VERSION, static_cast<long>(CURL_HTTP_VERSION_2TLS));
        curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 1L);
        curl_easy_setopt(h, CURLOPT_MAXREDIRS, 10L);
        curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
        curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
        curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT,
                         static_cast<long>(options_.connect_timeout.count()));
        curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
        curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME,
                         static_cast<long>(options_.stall_timeout.count()));
        curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
        curl_easy_setopt(
            h, CURLOPT_USERAGENT,
            options_.user_agent.empty() ? "kiln/" KILN_VERSION : options_.user_agent.c_str());
        if (request.want_filetime)
            curl_easy_setopt(h, CURLOPT_FILETIME, 1L);
        curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, &on_write);
        curl_easy_setopt(h, CURLOPT_WRITEDATA, &t);
        curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, &on_header);
        curl_easy_setopt(h, CURLOPT_HEADERDATA, &t);
        if (request.cancel) {
            // curl calls this about once a second even on a stalled transfer.
            curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
            curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, &on_progress);
            curl_easy_setopt(h, CURLOPT_XFERINFODATA, request.cancel);
        }

        std::shared_ptr<const HostTls> host_tls;
        if (request.url.starts_with("https://")) {
            if (!request.tls_verify) {
                curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
                curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
            }
            host_tls = tls_for(url_authority(request.url));
            if (!host_tls->ca_pem.empty()) {
                curl_blob blob{};
                blob.data = const_cast<char*>(host_tls->ca_pem.data());
                blob.len = host_tls->ca_pem.size();
                blob.flags = CURL_BLOB_COPY;
                curl_easy_setopt(h, CURLOPT_CAINFO_BLOB, &blob);
            }
            if (!host_tls->client_cert.empty()) {
                curl_easy_setopt(h, CURLOPT_SSLCERT, host_tls->client_cert.c_str());
                curl_easy_setopt(h, CURLOPT_SSLKEY, host_tls->client_key.c_str());
            }
        }

        bool has_body = !request.body.empty() || request.body_reader;
        std::int64_t body_size = request.body_reader
                                     ? request.body_size
                                     : static_cast<std::int64_t>(request.body.size());
        const std::string& m = request.method;
        if (m == "HEAD") {
            curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
        } else if (m == "PUT" || m == "PATCH" || (m == "POST" && has_body)) {
            curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
            curl_easy_setopt(h, CURLOPT_READFUNCTION, &on_read);
            curl_easy_setopt(h, CURLOPT_READDATA, &t);
            curl_easy_setopt(h, CURLOPT_SEEKFUNCTION, &on_seek);
            curl_easy_setopt(h, CURLOPT_SEEKDATA, &t);
            if (!has_body) {
                body_size = 0;
            }
            if (body_size >= 0) {
                curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(body_size));
            }
            if (m != "PUT") {
                curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, m.c_str());
            }
        } else if (m == "POST") {
            curl_easy_setopt(h, CURLOPT_POST, 1L);
            curl_easy_setopt(h, CURLOPT_POSTFIELDS, "");
            curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(0));
        } else if (m != "GET") {
            curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, m.c_str());
        }

        Slist headers;
        bool has_content_type = false;
        auto add = [&](const std::string& line) {
            curl_slist* l = curl_slist_append(headers.get(), line.c_str());
            if (!l) {
                throw Error("out of memory building an HTTP request");
            }
            (void)headers.release();
            headers.reset(l);
        };
        for (const auto& [name, value] : request.headers) {
            has_content_type = has_content_type || ascii_lower(name) == "content-type";
            add(name + ": " + value);
        }
        // Registries do not need a 100-continue round trip, and curl's
        // form-encoded default type would be wrong for an upload.
        add("Expect:");
        if (!has_content_type) {
            add("Content-Type:");
        }
        curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers.get());

        CURLcode rc = curl_easy_perform(h);
        if (t.error) {
            std::rethrow_exception(t.error);
        }
        if (rc != CURLE_OK) {
            std::string msg = curl_easy_strerror(rc);
            if (errbuf[0] != '\0') {
                msg = errbuf.data();
            }
            if (rc == CURLE_ABORTED_BY_CALLBACK && request.cancel && *request.cancel)
                throw Cancelled();
            throw HttpError(request.method + " " + strip_query(request.url) + ": " + msg, msg,
                            retryable_code(rc));
        }
        t.report_head();  // no body: on_head not yet called
        if (t.error) {
            std::rethrow_exception(t.error);
        }
        char* eff = nullptr;
        curl_easy_getinfo(h, CURLINFO_EFFECTIVE_URL, &eff);
        t.response.url = eff ? eff : request.url;
        if (request.want_filetime) {
            curl_off_t mtime = -1;
            if (curl_easy_getinfo(h, CURLINFO_FILETIME_T, &mtime) == CURLE_OK && mtime >= 0)
                t.response.filetime = static_cast<std::int64_t>(mtime);
        }
        return std::move(t.response);
    }

  private:
    // A handle taken from the free list for one transfer, given back after.
    class Lease {
      public:
        explicit Lease(Impl& owner) : owner_(owner) {
            std::lock_guard lock(owner_.pool_mutex_);
            if (!owner_.free_.empty()) {
                handle_ = std::move(owner_.free_.back());
                owner_.free_.pop_back();
            }
            if (!handle_) {
                handle_.reset(curl_easy_init());
                if (!handle_) {
                    throw Error("cannot initialise libcurl");
                }
            }
        }
        ~Lease() {
            std::lock_guard lock(owner_.pool_mutex_);
            owner_.free_.push_back(std::move(handle_));
        }
        Lease(const Lease&) = delete;
        Lease& operator=(const Lease&) = delete;
        CURL* get() const { return handle_.get(); }

      private:
        Impl& owner_;
        EasyHandle handle_;
    };

    static void lock(CURL*, curl_lock_data data, curl_lock_access, void* user) {
        static_cast<Impl*>(user)->locks_[index(data)].lock();
    }
    static void unlock(CURL*, curl_lock_data data, void* user) {
        static_cast<Impl*>(user)->locks_[index(data)].unlock();
    }
    static std::size_t index(curl_lock_data data) {
        auto i = static_cast<std::size_t>(data);
        return i < kLocks ? i : 0;
    }

    std::shared_ptr<const HostTls> tls_for(const std::string& host) {
        std::lock_guard lock(tls_mutex_);
        auto it = tls_cache_.find(host);
        if (it != tls_cache_.end()) {
            return it->second;
        }
        auto found = std::make_shared<const HostTls>(find_host_tls(options_.tls, host));
        tls_cache_.emplace(host, found);
        return found;
    }

    static constexpr std::size_t kLocks = CURL_LOCK_DATA_LAST;

    ClientOptions options_;
    std::array<std::mutex, kLocks> locks_;
    ShareHandle share_;  // declared before free_: handles are cleaned up first
    std::mutex pool_mutex_;
    std::vector<EasyHandle> free_;
    std::mutex tls_mutex_;
    std::map<std::string, std::shared_ptr<const HostTls>> tls_cache_;
};

HttpClient::HttpClient(ClientOptions options) : impl_(std::make_unique<Impl>(std::move(options))) {}

HttpClient::~HttpClient() = default;

Response HttpClient::send(const Request& request, const BodySink& sink) {
    return impl_->send(request, sink);
}

std::string url_authority(const std::string& url) {
    auto p = url.find("://");
    if (p == std::string::npos) {
        return "";
    }
    std::size_t start = p + 3;
    std::size_t end = url.find_first_of("/?#", start);
    std::string auth =
        url.substr(start, end == std::string::npos ? std::string::npos : end - start);
    if (auto at = auth.rfind('@'); at != std::string::npos) {
        auth = auth.substr(at + 1);
    }
    return auth;
}

std::string strip_query(const std::string& url) {
    return url.substr(0, url.find('?'));
}

}  // namespace kiln::http
