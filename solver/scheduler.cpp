#include "solver/scheduler.h"

#include "base/error.h"

#include <condition_variable>
#include <exception>
#include <mutex>
#include <stdexcept>
#include <thread>

namespace kiln::solver {

void run_jobs(std::vector<Job>& jobs, unsigned workers, CancelFlag* external) {
    for (size_t i = 0; i < jobs.size(); ++i) {
        for (size_t d : jobs[i].deps) {
            if (d >= i)
                throw std::logic_error("job " + jobs[i].name + " depends on a later job");
        }
    }
    if (workers == 0)
        workers = 1;
    std::mutex mu;
    std::condition_variable cv;
    std::vector<int> state(jobs.size(), 0);  // 0 waiting, 1 running, 2 done
    size_t finished = 0;
    unsigned running = 0;
    std::exception_ptr first_error;
    CancelFlag own{false};
    CancelFlag& cancel = external ? *external : own;

    auto ready = [&](size_t i) {
        if (state[i] != 0)
            return false;
        for (size_t d : jobs[i].deps) {
            if (state[d] != 2)
                return false;
        }
        return true;
    };

    auto worker = [&] {
        std::unique_lock lock(mu);
        for (;;) {
            size_t pick = jobs.size();
            cv.wait(lock, [&] {
                if (first_error || finished == jobs.size())
                    return true;
                for (size_t i = 0; i < jobs.size(); ++i) {
                    if (ready(i)) {
                        pick = i;
                        return true;
                    }
                }
                // Nothing ready and nothing running means nothing can ever run.
                return running == 0;
            });
            if (first_error || pick == jobs.size()) {
                cv.notify_all();
                return;
            }
            state[pick] = 1;
            ++running;
            lock.unlock();
            std::exception_ptr err;
            try {
                jobs[pick].run(cancel);
            } catch (...) {
                err = std::current_exception();
            }
            lock.lock();
            --running;
            state[pick] = 2;
            ++finished;
            if (err && !first_error) {
                first_error = err;
                cancel = true;
            }
            cv.notify_all();
        }
    };

    std::vector<std::thread> threads;
    unsigned n = std::min<unsigned>(workers, static_cast<unsigned>(jobs.size()));
    for (unsigned i = 0; i < n; ++i)
        threads.emplace_back(worker);
    for (auto& t : threads)
        t.join();
    if (first_error)
        std::rethrow_exception(first_error);
    if (cancel)
        throw Cancelled();
}

}  // namespace kiln::solver
