// Process-wide runtime set-up done at the top of every binary's main().
#pragma once
#include <string>

namespace vfm {

// glibc malloc: large ViT activations otherwise come from fresh mmap()s on every call and
// page-fault their way in; one arena, no mmap'ed blocks and no trimming keep them in the heap
// (halves ViT time on Debian's LibTorch, measured; lib/src/runtime.cpp has the figures).
void tune_malloc();

std::string vfm_version();   // "0.1.0"
std::string git_revision();  // short hash at build time, or "unknown"
long peak_rss_kb();
long mem_available_kb();  // /proc/meminfo MemAvailable; 0 when unknown

// Workers that fit a memory budget: the largest count <= `workers` with
// count * per_worker_mb <= budget_mb, at least 1; `workers` itself when per_worker_mb <= 0.
int workers_within(int workers, double per_worker_mb, double budget_mb);
std::string iso_time_now();

}  // namespace vfm
