// Closed-form matting (Levin, Lischinski, Weiss, PAMI 2008) over the unknown pixels only.
//
// The matting Laplacian L = sum over windows k of (delta_ij - (1 + c_i' M_k c_j) / n), with
// c = I - mean_k and M_k = (cov_k + eps/n I)^-1 (pymatting/pymatting,
// pymatting/laplacian/cf_laplacian.py: covariance (sum c c' + eps) / n, windows fully inside
// the image). With the known pixels fixed (hard constraints, where pymatting's
// make_linear_system uses a penalty of 100), the unknown ones solve L_uu a_u = -L_uk a_k, a
// sparse SPD system of (4r+1)^2 entries a row, by preconditioned conjugate gradient.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <opencv2/core/utility.hpp>
#include <opencv2/imgproc.hpp>
#include <stdexcept>
#include <vector>

#include "vfm/matting.h"

namespace vfm {

namespace {

using clock_type = std::chrono::steady_clock;

double seconds_since(clock_type::time_point t0) {
    return std::chrono::duration<double>(clock_type::now() - t0).count();
}

// pymatting's trimap_split: >= 0.9 foreground, <= 0.1 background (of 255: 230 and 25).
inline bool is_fg(unsigned char t) {
    return t >= 230;
}
inline bool is_bg(unsigned char t) {
    return t <= 25;
}

// Per window: mean colour and the inverse of (covariance + eps/n I), upper triangle.
struct window_stats {
    double mu[3];
    double m00, m01, m02, m11, m12, m22;
};

struct sparse_system {
    std::vector<int> ptr, col;  // CSR over the unknown pixels, in RCM order
    std::vector<double> val;
    std::vector<double> diag, b;
};

// Fixed-size chunks so that reductions add up in the same order whatever the thread count:
// results do not depend on the machine.
constexpr int chunk_rows = 4096;

template <class body_fn>
void for_chunks(int n, const body_fn& body) {
    const int chunks = (n + chunk_rows - 1) / chunk_rows;
    if (chunks <= 1) {
        body(0, 0, n);
        return;
    }
    cv::parallel_for_(cv::Range(0, chunks), [&](const cv::Range& r) {
        for (int c = r.start; c < r.end; ++c)
            body(c, c * chunk_rows, std::min(n, (c + 1) * chunk_rows));
    });
}

int chunk_count(int n) {
    return std::max(1, (n + chunk_rows - 1) / chunk_rows);
}

double sum_in_order(const std::vector<double>& parts) {
    double s = 0;
    for (double v : parts) s += v;
    return s;
}

// Incomplete Cholesky factor L (L L' ~ A), stored by columns: the entries below the diagonal
// and 1 / L_jj. Float values: a preconditioner needs no more, and the triangular solves,
// sequential, are bound by memory traffic.
using ic_value = float;
enum class factor_result { ok, not_positive, too_large };
struct ichol_factor {
    std::vector<int> ptr, row;
    std::vector<ic_value> val;
    std::vector<double> inv_diag;
};

// State of one left-looking elimination: sparse accumulator, running diagonal, the lists of
// columns pending per row, and the columns produced.
struct elimination {
    std::vector<double> w, d;
    std::vector<char> mark;
    std::vector<int> touched, head;
    std::vector<int> row;
    std::vector<ic_value> val;
};

// Unknowns from which the factorisation is split in two around a separator.
constexpr int split_min_unknown = 4096;

class closed_form_solver {
  public:
    closed_form_solver(const cv::Mat& image, const cv::Mat& trimap, const closed_form_params& p)
        : h_(image.rows), w_(image.cols), p_(p) {
        // Windows of (2r+1)^2 fully inside the image as pymatting; an image smaller than that
        // along an axis gets windows of its own size there (pymatting would have none at all).
        const int r = p.radius;
        wy_ = std::min(2 * r + 1, h_);
        wx_ = std::min(2 * r + 1, w_);
        gh_ = h_ - wy_ + 1;
        gw_ = w_ - wx_ + 1;
        nw_ = wy_ * wx_;
        nx_ = 2 * wx_ - 1;
        image.convertTo(rgb_, CV_64FC3, 1.0 / 255);
        label_ = trimap;
    }

    // The unknown pixels and their index in the system (-1 for known pixels).
    void index_unknown() {
        uidx_.assign(size_t(h_) * w_, -1);
        for (int y = 0; y < h_; ++y) {
            const unsigned char* t = label_.ptr<unsigned char>(y);
            for (int x = 0; x < w_; ++x)
                if (!is_fg(t[x]) && !is_bg(t[x])) {
                    uidx_[size_t(y) * w_ + x] = int(unknown_.size());
                    unknown_.push_back(y * w_ + x);
                }
        }
    }

    // Reverse Cuthill-McKee order of the unknown pixels: breadth first over the matrix's
    // neighbourhood (pixels sharing a window) from a pseudo-peripheral pixel of each component,
    // reversed. Along an unknown band the elimination front is then the band's width instead of
    // an image row's run of unknowns, which keeps the incomplete Cholesky factor small. Coupled
    // pixels are at most one breadth-first level apart, so one level in the middle separates
    // the levels before it from those after: ordered last, it leaves two independent halves
    // that the factorisation and the triangular solves run in parallel. Whether to split
    // depends on the size only, so results never depend on the thread count.
    void reorder() {
        const int n = unknown_count();
        std::vector<int> order, level(n, -1), probe, probe_level(n, -1);
        order.reserve(n);
        // Breadth first from s over unlevelled pixels, levels from base; returns the last one.
        const auto bfs = [&](int s, std::vector<int>& out, std::vector<int>& lvl, int base) {
            size_t head = out.size();
            out.push_back(s);
            lvl[s] = base;
            while (head < out.size()) {
                const int u = out[head++];
                const int y = unknown_[u] / w_, x = unknown_[u] % w_;
                for (int py = std::max(0, y - wy_ + 1); py <= std::min(h_ - 1, y + wy_ - 1); ++py)
                    for (int px = std::max(0, x - wx_ + 1); px <= std::min(w_ - 1, x + wx_ - 1);
                         ++px) {
                        const int v = uidx_[size_t(py) * w_ + px];
                        if (v >= 0 && lvl[v] < 0) lvl[v] = lvl[u] + 1, out.push_back(v);
                    }
            }
            return out.back();
        };
        int base = 0;
        for (int s = 0; s < n; ++s) {
            if (level[s] >= 0) continue;
            probe.clear();
            const int far = bfs(s, probe, probe_level, 0);  // farthest from s: peripheral
            const size_t first = order.size();
            bfs(far, order, level, base);
            for (size_t k = first; k < order.size(); ++k) base = std::max(base, level[order[k]]);
            base += 2;  // components never touch: keep their levels apart too
        }
        std::reverse(order.begin(), order.end());  // levels now decrease along the order
        split_a_ = split_b_ = 0;
        if (n >= split_min_unknown) {
            const int mid = level[order[n / 2]];
            const auto first_s =
                std::find_if(order.begin(), order.end(), [&](int u) { return level[u] == mid; });
            const auto end_s =
                std::find_if(first_s, order.end(), [&](int u) { return level[u] != mid; });
            if (first_s != order.begin() && end_s != order.end()) {
                split_a_ = int(first_s - order.begin());
                split_b_ = split_a_ + int(order.end() - end_s);
                std::rotate(first_s, end_s, order.end());  // A, B, then the separator
            }
        }
        std::vector<int> pixels(n);
        for (int i = 0; i < n; ++i) {
            pixels[i] = unknown_[order[i]];
            uidx_[pixels[i]] = i;
        }
        unknown_.swap(pixels);
    }
    int unknown_count() const { return int(unknown_.size()); }

    // Statistics of every window that contains an unknown pixel (the only ones whose terms
    // reach the unknown rows).
    void compute_windows() {
        widx_.assign(size_t(gh_) * gw_, -1);
        std::vector<int> order;
        for (int pix : unknown_) {
            const int y = pix / w_, x = pix % w_;
            for (int ty = std::max(0, y - wy_ + 1); ty <= std::min(y, gh_ - 1); ++ty)
                for (int tx = std::max(0, x - wx_ + 1); tx <= std::min(x, gw_ - 1); ++tx)
                    widx_[size_t(ty) * gw_ + tx] = 0;
        }
        for (size_t k = 0; k < widx_.size(); ++k)
            if (widx_[k] == 0) {
                widx_[k] = int(order.size());
                order.push_back(int(k));
            }
        windows_.resize(order.size());
        const double eps = p_.eps;
        for_chunks(int(order.size()), [&](int, int begin, int end) {
            for (int k = begin; k < end; ++k) {
                const int ty = order[k] / gw_, tx = order[k] % gw_;
                double s[3] = {0, 0, 0}, ss[6] = {0, 0, 0, 0, 0, 0};
                for (int a = 0; a < wy_; ++a) {
                    const cv::Vec3d* row = rgb_.ptr<cv::Vec3d>(ty + a) + tx;
                    for (int b = 0; b < wx_; ++b) {
                        const cv::Vec3d& c = row[b];
                        s[0] += c[0], s[1] += c[1], s[2] += c[2];
                        ss[0] += c[0] * c[0], ss[1] += c[0] * c[1], ss[2] += c[0] * c[2];
                        ss[3] += c[1] * c[1], ss[4] += c[1] * c[2], ss[5] += c[2] * c[2];
                    }
                }
                window_stats& ws = windows_[k];
                const double n = nw_;
                for (int i = 0; i < 3; ++i) ws.mu[i] = s[i] / n;
                // (sum c c' + eps) / n with c centred, from the raw sums.
                const double a00 = (ss[0] - s[0] * ws.mu[0] + eps) / n;
                const double a01 = (ss[1] - s[0] * ws.mu[1]) / n;
                const double a02 = (ss[2] - s[0] * ws.mu[2]) / n;
                const double a11 = (ss[3] - s[1] * ws.mu[1] + eps) / n;
                const double a12 = (ss[4] - s[1] * ws.mu[2]) / n;
                const double a22 = (ss[5] - s[2] * ws.mu[2] + eps) / n;
                const double c00 = a11 * a22 - a12 * a12, c01 = a02 * a12 - a01 * a22,
                             c02 = a01 * a12 - a02 * a11;
                const double inv_det = 1.0 / (a00 * c00 + a01 * c01 + a02 * c02);
                ws.m00 = c00 * inv_det;
                ws.m01 = c01 * inv_det;
                ws.m02 = c02 * inv_det;
                ws.m11 = (a00 * a22 - a02 * a02) * inv_det;
                ws.m12 = (a01 * a02 - a00 * a12) * inv_det;
                ws.m22 = (a00 * a11 - a01 * a01) * inv_det;
            }
        });
    }

    // Rows of L for the unknown pixels: unknown columns into the CSR matrix, known ones (times
    // their alpha, 1 for foreground) moved to the right-hand side.
    void assemble() {
        const int n = unknown_count();
        const int ny = 2 * wy_ - 1, span = ny * nx_;
        sys_.ptr.assign(n + 1, 0);
        sys_.diag.assign(n, 0);
        sys_.b.assign(n, 0);
        for_chunks(n, [&](int, int begin, int end) {
            for (int u = begin; u < end; ++u) {
                const int y = unknown_[u] / w_, x = unknown_[u] % w_;
                int count = 0;
                for (int py = std::max(0, y - wy_ + 1); py <= std::min(h_ - 1, y + wy_ - 1); ++py)
                    for (int px = std::max(0, x - wx_ + 1); px <= std::min(w_ - 1, x + wx_ - 1);
                         ++px)
                        count += uidx_[size_t(py) * w_ + px] >= 0;
                sys_.ptr[u + 1] = count;
            }
        });
        for (int u = 0; u < n; ++u) sys_.ptr[u + 1] += sys_.ptr[u];
        sys_.col.resize(sys_.ptr[n]);
        sys_.val.resize(sys_.ptr[n]);
        for_chunks(n, [&](int, int begin, int end) {
            std::vector<double> acc(span);
            for (int u = begin; u < end; ++u) {
                const int y = unknown_[u] / w_, x = unknown_[u] % w_;
                std::fill(acc.begin(), acc.end(), 0.0);
                const cv::Vec3d ii = rgb_.at<cv::Vec3d>(y, x);
                for (int ty = std::max(0, y - wy_ + 1); ty <= std::min(y, gh_ - 1); ++ty)
                    for (int tx = std::max(0, x - wx_ + 1); tx <= std::min(x, gw_ - 1); ++tx) {
                        const window_stats& ws = windows_[widx_[size_t(ty) * gw_ + tx]];
                        const double c0 = ii[0] - ws.mu[0], c1 = ii[1] - ws.mu[1],
                                     c2 = ii[2] - ws.mu[2];
                        const double v0 = ws.m00 * c0 + ws.m01 * c1 + ws.m02 * c2;
                        const double v1 = ws.m01 * c0 + ws.m11 * c1 + ws.m12 * c2;
                        const double v2 = ws.m02 * c0 + ws.m12 * c1 + ws.m22 * c2;
                        // 1 + v.(I_j - mu) = (1 - v.mu) + v.I_j
                        const double k0 = 1 - v0 * ws.mu[0] - v1 * ws.mu[1] - v2 * ws.mu[2];
                        for (int a = 0; a < wy_; ++a) {
                            const cv::Vec3d* row = rgb_.ptr<cv::Vec3d>(ty + a) + tx;
                            double* out = &acc[(ty + a - y + wy_ - 1) * nx_ + (tx - x + wx_ - 1)];
                            for (int b = 0; b < wx_; ++b)
                                out[b] -= k0 + v0 * row[b][0] + v1 * row[b][1] + v2 * row[b][2];
                        }
                        acc[(wy_ - 1) * nx_ + wx_ - 1] += nw_;  // delta_ii, times n
                    }
                int k = sys_.ptr[u];
                double rhs = 0;
                const double inv_n = 1.0 / nw_;
                for (int py = std::max(0, y - wy_ + 1); py <= std::min(h_ - 1, y + wy_ - 1); ++py) {
                    const unsigned char* t = label_.ptr<unsigned char>(py);
                    for (int px = std::max(0, x - wx_ + 1); px <= std::min(w_ - 1, x + wx_ - 1);
                         ++px) {
                        const double v = acc[(py - y + wy_ - 1) * nx_ + (px - x + wx_ - 1)] * inv_n;
                        const int j = uidx_[size_t(py) * w_ + px];
                        if (j >= 0) {
                            sys_.col[k] = j;
                            sys_.val[k++] = v;
                            if (j == u) sys_.diag[u] = v;
                        } else if (is_fg(t[px])) {
                            rhs -= v;
                        }
                    }
                }
                sys_.b[u] = rhs;
            }
        });
    }

    // y = A x, returning x.y.
    double multiply(const std::vector<double>& x, std::vector<double>& y) const {
        std::vector<double> parts(chunk_count(unknown_count()), 0.0);
        for_chunks(unknown_count(), [&](int c, int begin, int end) {
            double s = 0;
            for (int i = begin; i < end; ++i) {
                double v = 0;
                for (int k = sys_.ptr[i]; k < sys_.ptr[i + 1]; ++k)
                    v += sys_.val[k] * x[sys_.col[k]];
                y[i] = v;
                s += v * x[i];
            }
            parts[c] = s;
        });
        return sum_in_order(parts);
    }

    // Left-looking elimination of the columns [c0, c1) into e: the thresholded incomplete
    // Cholesky of A + shift diag(A), fill-in kept where |L_ij| > threshold. The method and the
    // default threshold 1e-4 follow pymatting's ichol (pymatting/preconditioner/ichol.py), as
    // does updating the diagonal with dropped entries too. Not positive: a pivot <= 0 (the
    // matting Laplacian is not an M-matrix, so an incomplete factorisation can break down; a
    // shift then makes it work).
    factor_result eliminate(int c0, int c1, elimination& e, double threshold, size_t max_nnz) {
        for (int j = c0; j < c1; ++j) {
            e.touched.clear();
            for (int k = sys_.ptr[j]; k < sys_.ptr[j + 1]; ++k) {
                const int i = sys_.col[k];
                if (i <= j) continue;
                e.w[i] += sys_.val[k];
                if (!e.mark[i]) e.mark[i] = 1, e.touched.push_back(i);
            }
            // Columns k < j with L_jk != 0, each linked under the row of its next entry.
            for (int k = e.head[j]; k != -1;) {
                const int k_next = next_[k];
                const int p0 = pos_[k], p1 = col_end_[k];
                const double l_jk = e.val[p0];
                for (int q = p0 + 1; q < p1; ++q) {
                    const int i = e.row[q];
                    e.w[i] -= e.val[q] * l_jk;
                    if (!e.mark[i]) e.mark[i] = 1, e.touched.push_back(i);
                }
                if (p0 + 1 < p1) {
                    pos_[k] = p0 + 1;
                    next_[k] = e.head[e.row[p0 + 1]];
                    e.head[e.row[p0 + 1]] = k;
                }
                k = k_next;
            }
            if (!(e.d[j] > 1e-12 * sys_.diag[j])) return factor_result::not_positive;
            const double l_jj = std::sqrt(e.d[j]);
            ichol_.inv_diag[j] = 1.0 / l_jj;
            std::sort(e.touched.begin(), e.touched.end());
            const int start = int(e.row.size());
            for (int i : e.touched) {
                const double v = e.w[i] / l_jj;
                e.d[i] -= v * v;
                if (std::abs(v) > threshold) {
                    e.row.push_back(i);
                    e.val.push_back(ic_value(v));
                }
                e.w[i] = 0;
                e.mark[i] = 0;
            }
            if (e.row.size() > max_nnz) return factor_result::too_large;
            ichol_.ptr[j] = start;
            col_end_[j] = int(e.row.size());
            if (col_end_[j] > start) {
                pos_[j] = start;
                next_[j] = e.head[e.row[start]];
                e.head[e.row[start]] = j;
            }
        }
        return factor_result::ok;
    }

    // The whole factor: the halves A and B in parallel when there is a separator S (their
    // columns only reach their own rows and S's), then S's columns with the updates of both.
    factor_result factor_ichol(double shift, double threshold, size_t max_nnz) {
        const int n = unknown_count();
        const bool split = split_b_ > 0;
        const int parts = split ? 2 : 1;
        ichol_.ptr.assign(n + 1, 0);
        ichol_.inv_diag.assign(n, 0);
        col_end_.assign(n, 0);
        pos_.assign(n, 0);
        next_.assign(n, -1);
        std::vector<elimination> e(parts);
        const int range[3] = {0, split ? split_a_ : n, split ? split_b_ : n};
        std::vector<factor_result> result(parts, factor_result::ok);
        cv::parallel_for_(cv::Range(0, parts), [&](const cv::Range& r) {
            for (int t = r.start; t < r.end; ++t) {
                elimination& et = e[t];
                et.w.assign(n, 0.0);
                et.mark.assign(n, 0);
                et.head.assign(n, -1);
                et.d.assign(n, 0.0);  // separator rows: only this part's subtractions
                for (int j = range[t]; j < range[t + 1]; ++j) et.d[j] = sys_.diag[j] * (1 + shift);
                et.row.reserve(size_t(sys_.ptr[range[t + 1]] - sys_.ptr[range[t]]) * 2);
                et.val.reserve(et.row.capacity());
                result[t] = eliminate(range[t], range[t + 1], et, threshold, max_nnz / parts);
            }
        });
        for (factor_result r : result)
            if (r != factor_result::ok) return r;
        elimination& all = e[0];
        if (split) {
            // B's columns after A's in one store; the separator's diagonal and pending-column
            // lists from both halves.
            elimination& b = e[1];
            const int offset = int(all.row.size());
            for (int j = split_a_; j < split_b_; ++j) {
                ichol_.ptr[j] += offset;
                col_end_[j] += offset;
                pos_[j] += offset;
            }
            all.row.insert(all.row.end(), b.row.begin(), b.row.end());
            all.val.insert(all.val.end(), b.val.begin(), b.val.end());
            for (int j = split_b_; j < n; ++j) {
                all.d[j] = sys_.diag[j] * (1 + shift) + all.d[j] + b.d[j];
                if (all.head[j] == -1) {
                    all.head[j] = b.head[j];
                } else {
                    int tail = all.head[j];
                    while (next_[tail] != -1) tail = next_[tail];
                    next_[tail] = b.head[j];
                }
            }
            const factor_result r = eliminate(split_b_, n, all, threshold, max_nnz);
            if (r != factor_result::ok) return r;
        }
        ichol_.ptr[n] = int(all.row.size());
        ichol_.row.swap(all.row);
        ichol_.val.swap(all.val);
        return factor_result::ok;
    }

    // False if no shift made it, or the factor stayed too large even with a coarser threshold
    // (then: Jacobi). The cap, 4 times A's entries and at most 2^26 (512 MB), only matters for
    // huge unknown regions (the fill grows with the width of the elimination front); typical
    // bands fill 1.5 to 2 times A.
    bool factor_ichol() {
        const int n = unknown_count();
        const size_t max_nnz = std::min(size_t(sys_.ptr[n]) * 4, size_t(1) << 26);
        for (double threshold = p_.ichol_threshold; threshold <= 0.1; threshold *= 10) {
            for (double shift : {0.0, 1e-4, 1e-3, 1e-2, 0.1, 1.0}) {
                const factor_result r = factor_ichol(shift, threshold, max_nnz);
                if (r == factor_result::ok) return true;
                if (r == factor_result::too_large) break;
            }
            if (!(threshold > 0)) break;
        }
        ichol_ = {};
        return false;
    }

    // z = (L L')^-1 r: forward substitution by the columns of L, back by the rows of L'. With a
    // separator the halves run in parallel; forward, their updates of the separator rows go
    // to private sums added in a fixed order.
    void apply_ichol(const std::vector<double>& r, std::vector<double>& z) const {
        const ichol_factor& f = ichol_;
        const int n = unknown_count();
        const bool split = split_b_ > 0;
        const int parts = split ? 2 : 1;
        const int range[3] = {0, split ? split_a_ : n, split ? split_b_ : n};
        const int ns = n - range[parts];
        z = r;
        std::vector<double> sep(size_t(parts) * ns, 0.0);
        const auto forward = [&](int j0, int j1, double* sep_sum) {
            for (int j = j0; j < j1; ++j) {
                const double v = z[j] * f.inv_diag[j];
                z[j] = v;
                for (int e = f.ptr[j]; e < f.ptr[j + 1]; ++e) {
                    const int i = f.row[e];
                    if (i < j1)
                        z[i] -= f.val[e] * v;
                    else
                        sep_sum[i - (n - ns)] -= f.val[e] * v;
                }
            }
        };
        const auto backward = [&](int j0, int j1) {
            for (int j = j1 - 1; j >= j0; --j) {
                double v = z[j];
                for (int e = f.ptr[j]; e < f.ptr[j + 1]; ++e) v -= f.val[e] * z[f.row[e]];
                z[j] = v * f.inv_diag[j];
            }
        };
        cv::parallel_for_(cv::Range(0, parts), [&](const cv::Range& rg) {
            for (int t = rg.start; t < rg.end; ++t)
                forward(range[t], range[t + 1], sep.data() + size_t(t) * ns);
        });
        for (int t = 0; t < parts; ++t)
            for (int i = 0; i < ns; ++i) z[n - ns + i] += sep[size_t(t) * ns + i];
        if (split) {
            forward(n - ns, n, sep.data());  // rows >= j1 never occur: a no-op sink
            backward(n - ns, n);
        }
        cv::parallel_for_(cv::Range(0, parts), [&](const cv::Range& rg) {
            for (int t = rg.start; t < rg.end; ++t) backward(range[t], range[t + 1]);
        });
    }

    // Preconditioned conjugate gradient from x (the start, overwritten).
    void solve(std::vector<double>& x, closed_form_stats& st) {
        const int n = unknown_count();
        const std::vector<double>& b = sys_.b;
        double bb = 0;
        for (int i = 0; i < n; ++i) bb += b[i] * b[i];
        const double norm_b = std::sqrt(bb);
        if (norm_b == 0) {  // every known neighbour is background: a = 0 solves it exactly
            std::fill(x.begin(), x.end(), 0.0);
            st.residual = 0;
            return;
        }
        const bool ichol = p_.preconditioner == cf_preconditioner::ichol && factor_ichol();
        std::vector<double> inv_d(n), r(n), z(n), p(n), q(n);
        for (int i = 0; i < n; ++i) inv_d[i] = sys_.diag[i] > 0 ? 1.0 / sys_.diag[i] : 1.0;
        const int chunks = chunk_count(n);
        std::vector<double> part_rz(chunks), part_rr(chunks);
        // z = M^-1 r; returns r.z, and r.r in rr
        const auto precondition = [&](double& rr) {
            if (ichol) apply_ichol(r, z);
            for_chunks(n, [&](int c, int begin, int end) {
                double rz_c = 0, rr_c = 0;
                for (int i = begin; i < end; ++i) {
                    if (!ichol) z[i] = inv_d[i] * r[i];
                    rz_c += r[i] * z[i];
                    rr_c += r[i] * r[i];
                }
                part_rz[c] = rz_c, part_rr[c] = rr_c;
            });
            rr = sum_in_order(part_rr);
            return sum_in_order(part_rz);
        };
        multiply(x, q);
        for (int i = 0; i < n; ++i) r[i] = b[i] - q[i];
        double rr = 0;
        double rz = precondition(rr);
        p = z;
        double norm_r = std::sqrt(rr);
        int it = 0;
        while (norm_r > p_.tol * norm_b && it < p_.max_iter) {
            const double pq = multiply(p, q);
            if (!(pq > 0)) break;  // breakdown (a singular direction): keep what we have
            const double step = rz / pq;
            for_chunks(n, [&](int, int begin, int end) {
                for (int i = begin; i < end; ++i) {
                    x[i] += step * p[i];
                    r[i] -= step * q[i];
                }
            });
            ++it;
            const double rz_new = precondition(rr);
            norm_r = std::sqrt(rr);
            const double beta = rz_new / rz;
            rz = rz_new;
            for_chunks(n, [&](int, int begin, int end) {
                for (int i = begin; i < end; ++i) p[i] = z[i] + beta * p[i];
            });
        }
        st.iterations = it;
        st.residual = norm_r / norm_b;
    }

    cv::Mat compose(const std::vector<double>& x) const {
        cv::Mat alpha(h_, w_, CV_32F);
        for (int y = 0; y < h_; ++y) {
            const unsigned char* t = label_.ptr<unsigned char>(y);
            float* a = alpha.ptr<float>(y);
            for (int xx = 0; xx < w_; ++xx) {
                const int u = uidx_[size_t(y) * w_ + xx];
                a[xx] = u >= 0         ? float(std::min(1.0, std::max(0.0, x[u])))
                        : is_fg(t[xx]) ? 1.f
                                       : 0.f;
            }
        }
        return alpha;
    }

  private:
    int h_, w_, wy_ = 1, wx_ = 1, gh_ = 1, gw_ = 1, nw_ = 1, nx_ = 1;
    closed_form_params p_;
    cv::Mat rgb_, label_;
    std::vector<int> uidx_, unknown_, widx_;
    std::vector<window_stats> windows_;
    sparse_system sys_;
    ichol_factor ichol_;
    int split_a_ = 0, split_b_ = 0;  // halves [0, a) and [a, b), separator [b, n); b = 0: none
    std::vector<int> col_end_, pos_, next_;  // factorisation: column ends, next entry, lists
};

}  // namespace

cv::Mat closed_form_alpha(const cv::Mat& image, const cv::Mat& trimap, const closed_form_params& p,
                          closed_form_stats* stats) {
    if (image.type() != CV_8UC3)
        throw std::invalid_argument("closed_form_alpha: expected a CV_8UC3 image");
    if (trimap.type() != CV_8UC1)
        throw std::invalid_argument("closed_form_alpha: expected a CV_8UC1 trimap");
    if (image.size() != trimap.size())
        throw std::invalid_argument("closed_form_alpha: image and trimap sizes differ");
    // radius 0: one-pixel windows, a zero Laplacian that says nothing about alpha
    if (!(p.eps > 0) || p.radius < 1 || !(p.tol >= 0))
        throw std::invalid_argument("closed_form_alpha: eps must be > 0, radius >= 1, tol >= 0");
    closed_form_stats st;
    const auto t0 = clock_type::now();
    cv::Mat alpha;
    if (image.empty()) {
        alpha = cv::Mat();
    } else {
        closed_form_solver solver(image, trimap, p);
        solver.index_unknown();
        st.unknown = solver.unknown_count();
        const int known = image.rows * image.cols - st.unknown;
        if (st.unknown == 0) {
            alpha = solver.compose({});
        } else if (known == 0) {
            // No constraint at all: every constant (and every colour-affine alpha) has zero
            // energy. pymatting fails here; 0.5 says "undecided" without inventing a matte.
            alpha = cv::Mat(image.size(), CV_32F, cv::Scalar(0.5));
        } else {
            solver.reorder();
            solver.compute_windows();
            solver.assemble();
            // With the incomplete Cholesky preconditioner a start from the distances to both
            // sides saved no iteration (and 5% of Jacobi's): 0.5.
            std::vector<double> x(st.unknown, 0.5);
            st.seconds_build = seconds_since(t0);
            const auto t1 = clock_type::now();
            solver.solve(x, st);
            st.seconds_solve = seconds_since(t1);
            alpha = solver.compose(x);
        }
    }
    if (stats) *stats = st;
    return alpha;
}

}  // namespace vfm
