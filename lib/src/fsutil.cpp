#include "vfm/fsutil.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace fs = std::filesystem;

namespace vfm {

void write_file_atomic(const std::string& path, const void* data, size_t n) {
    static std::atomic<unsigned> counter{0};
    fs::path p(path);
    if (p.has_parent_path()) {
        std::error_code ec;
        fs::create_directories(p.parent_path(), ec);
        if (ec)
            throw std::runtime_error("cannot create folder " + p.parent_path().string() + ": " +
                                     ec.message());
    }
    std::string tmp = (p.has_parent_path() ? p.parent_path().string() + "/" : std::string()) + "." +
                      p.filename().string() + "." + std::to_string(getpid()) + "." +
                      std::to_string(counter++) + temp_marker;
    int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) throw std::runtime_error("cannot write " + path + ": " + std::strerror(errno));
    const char* c = static_cast<const char*>(data);
    size_t left = n;
    while (left > 0) {
        ssize_t w = ::write(fd, c, left);
        if (w < 0) {
            if (errno == EINTR) continue;
            int e = errno;
            ::close(fd);
            ::unlink(tmp.c_str());
            throw std::runtime_error("cannot write " + path + ": " + std::strerror(e));
        }
        c += w, left -= static_cast<size_t>(w);
    }
    if (::close(fd) != 0 || ::rename(tmp.c_str(), path.c_str()) != 0) {
        int e = errno;
        ::unlink(tmp.c_str());
        throw std::runtime_error("cannot write " + path + ": " + std::strerror(e));
    }
}

std::string read_file(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    if (!f) throw std::runtime_error("cannot open " + path);
    std::ostringstream ss;
    ss << f.rdbuf();
    if (f.bad()) throw std::runtime_error("read error on " + path);
    return ss.str();
}

file_stamp stamp_of(const std::string& path) {
    struct stat st;
    if (::stat(path.c_str(), &st) != 0) return {};
    return {static_cast<int64_t>(st.st_size),
            static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000LL + st.st_mtim.tv_nsec};
}

int remove_stale_temps(const std::string& dir) {
    std::error_code ec;
    if (!fs::is_directory(dir, ec)) return 0;
    int n = 0;
    const std::string marker = temp_marker;
    for (auto it = fs::recursive_directory_iterator(dir, ec); !ec && it != fs::end(it);
         it.increment(ec)) {
        const std::string name = it->path().filename().string();
        if (name.size() > marker.size() &&
            name.compare(name.size() - marker.size(), marker.size(), marker) == 0) {
            std::error_code e2;
            if (fs::remove(it->path(), e2)) ++n;
        }
    }
    return n;
}

}  // namespace vfm
