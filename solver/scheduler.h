// Runs a DAG of jobs on a bounded pool of worker threads.
//
// Contract: a job starts only after all its dependencies finished without
// error; at most `workers` jobs run at once; when a job throws, no further
// job starts, the ones running are asked to stop through the shared
// CancelFlag, and run_jobs() rethrows the first exception after every running
// job has returned. Dependencies must point to earlier jobs (the graph is
// built in topological order), which rules out cycles by construction.
#pragma once

#include <atomic>
#include <functional>
#include <string>
#include <vector>

namespace kiln::solver {

using CancelFlag = std::atomic<bool>;

struct Job {
    std::string name;
    std::vector<size_t> deps;  // indices of earlier jobs
    std::function<void(const CancelFlag&)> run;
};

// `cancel`, when given, is the flag jobs see (the caller may set it from
// outside, e.g. on SIGINT); it is also set when a job fails. A run that was
// cancelled from outside throws kiln::Cancelled once every
// running job has returned.
void run_jobs(std::vector<Job>& jobs, unsigned workers, CancelFlag* cancel = nullptr);

}  // namespace kiln::solver
