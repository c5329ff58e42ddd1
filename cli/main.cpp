#include <malloc.h>

#include "cli/commands.h"

int main(int argc, char** argv) {
    // One malloc arena: a build runs a thread per ready step, and glibc's
    // default (an arena per thread, up to 8 per core) keeps each thread's freed
    // memory in its own arena, which nearly doubled peak RSS (78 MB against a
    // 25 MB heap on a 20,000-file COPY). kiln's threads mostly wait for I/O and
    // children, so they rarely contend for the one lock.
    mallopt(M_ARENA_MAX, 1);
    return kiln::cli::run(argc, argv);
}
