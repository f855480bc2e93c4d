#include "vfm/runtime.h"

#include <malloc.h>
#include <sys/resource.h>

#include <algorithm>
#include <cmath>
#include <ctime>
#include <fstream>

#ifndef VFM_GIT_REV
#define VFM_GIT_REV "unknown"
#endif
#ifndef VFM_VERSION
#define VFM_VERSION "0.0.0"
#endif

namespace vfm {

void tune_malloc() {
    mallopt(M_MMAP_THRESHOLD, 32 * 1024 * 1024);
    // -1: never give the heap's top back (mallopt(3)). With a 1 GB threshold every SAM decoder
    // batch that freed more than that was trimmed and page-faulted in again by the next one:
    // MobileSAM segment-everything, one worker, one image: 4.0 M minor faults, 30 s system
    // time, 88 s; untrimmed 0.84 M, 9 s, 71 s; peak RSS the same (3.5 GB). The process keeps
    // its peak until it exits, which for a batch run is the memory it needed anyway.
    mallopt(M_TRIM_THRESHOLD, -1);
    // Blocks over 32 MB would still be mmap'ed (the threshold's ceiling) and worker threads'
    // arenas are 64 MB heaps that cannot hold them: every SAM decoder batch (hundreds of MB of
    // activations) page-faulted its memory in afresh. One heap grown with brk and kept keeps
    // it mapped: MobileSAM segment-everything, one decoder batch, went from 3.4 M to 0.84 M
    // minor faults and 19.5 to 15.2 s (scripts/bench/bench_segment.sh).
    mallopt(M_MMAP_MAX, 0);
    mallopt(M_ARENA_MAX, 1);
}

std::string vfm_version() {
    return VFM_VERSION;
}
std::string git_revision() {
    return VFM_GIT_REV;
}

long mem_available_kb() {
    std::ifstream f("/proc/meminfo");
    std::string key;
    long kb = 0;
    while (f >> key >> kb) {
        if (key == "MemAvailable:") return kb;
        f.ignore(256, '\n');
    }
    return 0;
}

int workers_within(int workers, double per_worker_mb, double budget_mb) {
    if (per_worker_mb <= 0 || workers <= 1) return std::max(1, workers);
    const double fit = std::floor(budget_mb / per_worker_mb);
    return static_cast<int>(std::clamp(fit, 1.0, static_cast<double>(workers)));
}

long peak_rss_kb() {
    rusage ru{};
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss;
}

std::string iso_time_now() {
    std::time_t t = std::time(nullptr);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
    return buf;
}

}  // namespace vfm
