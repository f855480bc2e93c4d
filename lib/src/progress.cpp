#include <cstdio>

#include "vfm/pipeline.h"

namespace vfm {

progress::progress(style s, size_t total, std::string label)
    : style_(s), total_(total), label_(std::move(label)) {
    start_ = last_ = std::chrono::steady_clock::now();
}

void progress::update(size_t done, size_t failed) {
    std::lock_guard<std::mutex> l(m_);
    done_ = done, failed_ = failed;
    auto now = std::chrono::steady_clock::now();
    double since = std::chrono::duration<double>(now - last_).count();
    if ((style_ == style::bar && since >= 0.1) || (style_ == style::plain && since >= 5.0)) {
        last_ = now;
        draw(false);
    }
}

void progress::finish() {
    std::lock_guard<std::mutex> l(m_);
    if (style_ == style::bar) {
        draw(true);
        std::fputc('\n', stderr);
    }
}

void progress::draw(bool final) {
    double el = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
    double rate = el > 0 ? done_ / el : 0;
    double eta = rate > 0 ? (total_ - done_) / rate : 0;
    if (style_ == style::bar) {
        const int width = 30;
        int fill = total_ ? static_cast<int>(width * done_ / total_) : width;
        std::string bar(static_cast<size_t>(fill), '#');
        bar.resize(width, '.');
        std::fprintf(stderr, "\r%s [%s] %zu/%zu %.1f img/s ETA %.0fs%s%s", label_.c_str(),
                     bar.c_str(), done_, total_, rate, final ? 0.0 : eta,
                     failed_ ? (" failed " + std::to_string(failed_)).c_str() : "", "   ");
    } else {
        std::fprintf(stderr, "%s: %zu/%zu images, %.1f img/s, ETA %.0fs, %zu failed\n",
                     label_.c_str(), done_, total_, rate, eta, failed_);
    }
    std::fflush(stderr);
}

}  // namespace vfm
