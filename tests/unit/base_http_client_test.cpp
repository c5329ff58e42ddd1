// base/http_client.h against a loopback server of the test's own: bodies stream to the
// sink, and a set cancel flag stops a stalled transfer (for the registry and for ADD's
// download alike) with kiln::Cancelled.
#include "base/http_client.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include "base/unique_fd.h"
#include "solver/add_op.h"

namespace {

using namespace kiln;
using Clock = std::chrono::steady_clock;
namespace fs = std::filesystem;

// Answers one connection with `head` + `body`, then holds it open (sending nothing)
// until destroyed: a server that stalls part way.
class StallingServer {
  public:
    StallingServer(std::string head, std::string body)
        : head_(std::move(head)), body_(std::move(body)) {
        listener_ = UniqueFd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        socklen_t len = sizeof a;
        if (::bind(listener_.get(), reinterpret_cast<sockaddr*>(&a), len) != 0 ||
            ::listen(listener_.get(), 4) != 0 ||
            ::getsockname(listener_.get(), reinterpret_cast<sockaddr*>(&a), &len) != 0)
            throw std::runtime_error("cannot listen");
        port_ = ntohs(a.sin_port);
        thread_ = std::thread([this] { serve(); });
    }
    ~StallingServer() {
        stop_ = true;
        thread_.join();
    }
    std::string url(const std::string& path) const {
        return "http://127.0.0.1:" + std::to_string(port_) + path;
    }

  private:
    void serve() {
        pollfd p{listener_.get(), POLLIN, 0};
        while (!stop_ && ::poll(&p, 1, 50) <= 0) {
        }
        if (stop_)
            return;
        UniqueFd c(::accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC));
        char buf[4096];
        (void)::read(c.get(), buf, sizeof buf);  // the request; its content does not matter
        std::string out = head_ + body_;
        (void)::send(c.get(), out.data(), out.size(), MSG_NOSIGNAL);
        while (!stop_)
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }

    std::string head_, body_;
    UniqueFd listener_;
    int port_ = 0;
    std::atomic<bool> stop_{false};
    std::thread thread_;
};

const std::string kHead = "HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\nX-Kiln-Test: yes\r\n\r\n";

void set_after(CancelFlag& flag, std::chrono::milliseconds delay, std::thread& t) {
    t = std::thread([&flag, delay] {
        std::this_thread::sleep_for(delay);
        flag = true;
    });
}

TEST(HttpClient, StreamsA2xxBodyToTheSinkAndCancelStopsAStalledTransfer) {
    StallingServer server(kHead, "first bytes");
    http::HttpClient client;
    http::Request r;
    r.url = server.url("/blob");
    CancelFlag cancel{false};
    r.cancel = &cancel;
    long status = 0;
    std::string header;
    r.on_head = [&](const http::Response& head) {
        status = head.status;
        header = head.header("x-kiln-test");
    };
    std::string got;
    std::thread setter;
    set_after(cancel, std::chrono::milliseconds(300), setter);
    const auto start = Clock::now();
    EXPECT_THROW(client.send(r, [&](const char* d, std::size_t n) { got.append(d, n); }),
                 Cancelled);
    setter.join();
    EXPECT_LT(Clock::now() - start, std::chrono::seconds(3)) << "cancel was not prompt";
    EXPECT_EQ(status, 200);
    EXPECT_EQ(header, "yes");
    EXPECT_EQ(got, "first bytes");
}

TEST(HttpClient, ARefusedConnectionIsARetryableHttpErrorNamingTheUrl) {
    http::HttpClient client;
    http::Request r;
    r.url = "http://127.0.0.1:1/v2/?secret=1";
    try {
        client.send(r);
        FAIL() << "expected HttpError";
    } catch (const http::HttpError& e) {
        EXPECT_TRUE(e.retryable);
        EXPECT_EQ(std::string(e.what()).rfind("GET http://127.0.0.1:1/v2/: ", 0), 0u) << e.what();
        EXPECT_EQ(std::string(e.what()).find("secret"), std::string::npos) << e.what();
        EXPECT_FALSE(e.reason().empty());
    }
}

TEST(AddFetch, CtrlCStopsADownloadAndLeavesNoFile) {
    StallingServer server(kHead, "part of it");
    char tmpl[] = "/tmp/kiln-add-fetch-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    const fs::path dir = tmpl;
    CancelFlag cancel{false};
    std::thread setter;
    set_after(cancel, std::chrono::milliseconds(300), setter);
    const auto start = Clock::now();
    EXPECT_THROW(solver::fetch_url(server.url("/file.txt"), dir / "file.txt", "", &cancel),
                 Cancelled);
    setter.join();
    EXPECT_LT(Clock::now() - start, std::chrono::seconds(3)) << "cancel was not prompt";
    EXPECT_TRUE(fs::is_empty(dir)) << "the download or its temporary file was left behind";
    fs::remove_all(dir);
}

}  // namespace
