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
