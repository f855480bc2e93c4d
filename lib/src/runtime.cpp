#include "vfm/runtime.h"

#include <malloc.h>
#include <sys/resource.h>

#include <ctime>

#ifndef VFM_GIT_REV
#define VFM_GIT_REV "unknown"
#endif
#ifndef VFM_VERSION
#define VFM_VERSION "0.0.0"
#endif

namespace vfm {

void tune_malloc() {
    mallopt(M_MMAP_THRESHOLD, 32 * 1024 * 1024);
    mallopt(M_TRIM_THRESHOLD, 1024 * 1024 * 1024);
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
