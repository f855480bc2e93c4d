// File helpers: atomic writes (temp name in the same folder, then rename) and file facts.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace vfm {

// Marker in temp file names; a run removes stale ones left by a killed run.
constexpr const char* temp_marker = ".vfm-tmp";

// Writes `data` to `path` atomically, creating parent folders. Throws std::runtime_error.
void write_file_atomic(const std::string& path, const void* data, size_t n);
inline void write_file_atomic(const std::string& path, const std::string& s) {
    write_file_atomic(path, s.data(), s.size());
}
std::string read_file(const std::string& path);  // throws std::runtime_error

struct file_stamp {
    int64_t size = -1;
    int64_t mtime_ns = 0;
    bool exists() const { return size >= 0; }
};
file_stamp stamp_of(const std::string& path);

// Removes temp files left in `dir` (recursively) by a killed run; returns how many.
int remove_stale_temps(const std::string& dir);

}  // namespace vfm
