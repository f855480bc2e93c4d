// Small concurrency and progress pieces of the runner.
#pragma once
#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <optional>
#include <string>

namespace vfm {

// A bounded multi-producer multi-consumer queue; pop() returns nullopt once closed and empty.
template <class T>
class bounded_queue {
  public:
    explicit bounded_queue(size_t cap) : cap_(cap ? cap : 1) {}
    void push(T v) {
        std::unique_lock<std::mutex> l(m_);
        not_full_.wait(l, [&] { return q_.size() < cap_; });
        q_.push_back(std::move(v));
        not_empty_.notify_one();
    }
    std::optional<T> pop() {
        std::unique_lock<std::mutex> l(m_);
        not_empty_.wait(l, [&] { return !q_.empty() || closed_; });
        if (q_.empty()) return std::nullopt;
        T v = std::move(q_.front());
        q_.pop_front();
        not_full_.notify_one();
        return v;
    }
    void close() {
        std::lock_guard<std::mutex> l(m_);
        closed_ = true;
        not_empty_.notify_all();
    }

  private:
    size_t cap_;
    std::deque<T> q_;
    bool closed_ = false;
    std::mutex m_;
    std::condition_variable not_empty_, not_full_;
};

// Progress on stderr: a bar on a terminal, a plain line every few seconds otherwise.
class progress {
  public:
    enum class style { none, bar, plain };
    progress(style s, size_t total, std::string label);
    void update(size_t done, size_t failed);
    void finish();

  private:
    void draw(bool final);
    style style_;
    size_t total_, done_ = 0, failed_ = 0;
    std::string label_;
    std::chrono::steady_clock::time_point start_, last_;
    std::mutex m_;
};

}  // namespace vfm
