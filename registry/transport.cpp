#include "registry/transport.h"

namespace kiln::registry {

namespace {

class CurlTransport : public Transport {
  public:
    explicit CurlTransport(const TlsOptions& tls) : client_(options(tls)) {}
    Response send(const Request& request, const BodySink& sink) override {
        return client_.send(request, sink);
    }

  private:
    static http::ClientOptions options(const TlsOptions& tls) {
        http::ClientOptions o;
        o.tls = tls;
        return o;
    }

    http::HttpClient client_;
};

}  // namespace

std::shared_ptr<Transport> make_curl_transport(const TlsOptions& tls) {
    return std::make_shared<CurlTransport>(tls);
}

}  // namespace kiln::registry
