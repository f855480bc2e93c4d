// Process-wide runtime set-up done at the top of every binary's main().
#pragma once
#include <string>

namespace vfm {

// glibc malloc: large ViT activations otherwise come from fresh mmap()s on every call and
// page-fault their way in; raising the mmap threshold to 32 MB and the trim threshold to
// 1 GB keeps them in the heap (halves ViT time on Debian's LibTorch, measured).
void tune_malloc();

std::string vfm_version();   // "0.1.0"
std::string git_revision();  // short hash at build time, or "unknown"
long peak_rss_kb();
std::string iso_time_now();

}  // namespace vfm
