#include "solver/scheduler.h"

#include <algorithm>
#include <condition_variable>
#include <exception>
#include <mutex>
#include <stdexcept>

#include "base/error.h"
#include "base/thread_pool.h"

namespace kiln::solver {

void run_jobs(std::vector<Job>& jobs, unsigned workers, CancelFlag* external) {
    for (size_t i = 0; i < jobs.size(); ++i) {
        for (size_t d : jobs[i].deps) {
            if (d >= i)
                throw std::logic_error("job " + jobs[i].name + " depends on a later job");
        }
    }
    if (jobs.empty()) {
        if (external && *external)
            throw Cancelled();
        return;
    }
    if (workers == 0)
        workers = 1;
    std::mutex mu;
    std::condition_variable cv;
    std::vector<int> state(jobs.size(), 0);  // 0 waiting, 1 running, 2 done
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

    const unsigned slots = std::min<unsigned>(workers, static_cast<unsigned>(jobs.size()));
    {
        // Declared after everything its tasks touch, so it joins before they go away.
        ThreadPool pool(slots);
        std::unique_lock lock(mu);
        for (;;) {
            // A free slot takes the lowest-numbered ready job; none starts after a failure.
            for (size_t i = 0; i < jobs.size() && running < slots && !first_error; ++i) {
                if (!ready(i))
                    continue;
                state[i] = 1;
                ++running;
                pool.submit([&, i] {
                    std::exception_ptr err;
                    try {
                        jobs[i].run(cancel);
                    } catch (...) {
                        err = std::current_exception();
                    }
                    std::lock_guard done(mu);
                    --running;
                    state[i] = 2;
                    if (err && !first_error) {
                        first_error = err;
                        cancel = true;
                    }
                    cv.notify_all();
                });
            }
            // Nothing running means nothing more can start: all done, failed, or stuck.
            if (running == 0)
                break;
            cv.wait(lock);
        }
    }
    if (first_error)
        std::rethrow_exception(first_error);
    if (cancel)
        throw Cancelled();
}

}  // namespace kiln::solver
