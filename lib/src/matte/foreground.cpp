// Multi-level foreground estimation (Germer, Uelwer, Conrad, Harmeling, ICPR 2020), as
// pymatting's estimate_foreground_ml (pymatting/pymatting,
// pymatting/foreground/estimate_foreground_ml.py): level sizes, nearest-neighbour resampling,
// iteration counts and the per-pixel 2x2 system follow it. Two deliberate differences:
//  - the sweeps are red-black Gauss-Seidel (pixels with x+y even, then odd) instead of one
//    raster-order sweep, so rows can be updated in parallel with a result that does not depend
//    on the thread count; both converge to the same fixed point;
//  - the 1x1 start is the image's mean colour for F and B (pymatting starts from np.empty).
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <opencv2/core/utility.hpp>
#include <stdexcept>
#include <vector>

#include "vfm/matting.h"

namespace vfm {

namespace {

// pymatting's _resize_nearest: source index = destination index * source size // destination
// size (not cv::resize's float scale, which rounds differently at some sizes).
cv::Mat resize_nearest(const cv::Mat& src, int w, int h) {
    cv::Mat dst(h, w, src.type());
    const size_t px = src.elemSize();
    std::vector<int> xs(w);
    for (int x = 0; x < w; ++x) xs[x] = std::min(src.cols - 1, int(int64_t(x) * src.cols / w));
    for (int y = 0; y < h; ++y) {
        const uchar* s = src.ptr(std::min(src.rows - 1, int(int64_t(y) * src.rows / h)));
        uchar* d = dst.ptr(y);
        for (int x = 0; x < w; ++x) std::copy_n(s + xs[x] * px, px, d + x * px);
    }
    return dst;
}

// One red-black half sweep over the pixels with (x + y) % 2 == parity of rows [y0, y1).
void sweep_rows(const cv::Mat& image, const cv::Mat& alpha, cv::Mat& f, cv::Mat& b, int parity,
                int y0, int y1, float reg, float grad_w) {
    const int h = image.rows, w = image.cols;
    for (int y = y0; y < y1; ++y) {
        const float* ar = alpha.ptr<float>(y);
        const float* au = alpha.ptr<float>(std::max(0, y - 1));
        const float* ad = alpha.ptr<float>(std::min(h - 1, y + 1));
        const cv::Vec3f* ir = image.ptr<cv::Vec3f>(y);
        cv::Vec3f* fr = f.ptr<cv::Vec3f>(y);
        cv::Vec3f* br = b.ptr<cv::Vec3f>(y);
        const cv::Vec3f* fu = f.ptr<cv::Vec3f>(std::max(0, y - 1));
        const cv::Vec3f* fd = f.ptr<cv::Vec3f>(std::min(h - 1, y + 1));
        const cv::Vec3f* bu = b.ptr<cv::Vec3f>(std::max(0, y - 1));
        const cv::Vec3f* bd = b.ptr<cv::Vec3f>(std::min(h - 1, y + 1));
        for (int x = (y + parity) & 1; x < w; x += 2) {
            const int xl = std::max(0, x - 1), xr = std::min(w - 1, x + 1);
            const float a0 = ar[x], a1 = 1.f - a0;
            float a00 = a0 * a0, a01 = a0 * a1, a11 = a1 * a1;
            cv::Vec3f b0 = ir[x] * a0, b1 = ir[x] * a1;
            // Neighbours left, right, up, down (clamped at the border, as pymatting).
            const float an[4] = {ar[xl], ar[xr], au[x], ad[x]};
            const cv::Vec3f* fn[4] = {&fr[xl], &fr[xr], &fu[x], &fd[x]};
            const cv::Vec3f* bn[4] = {&br[xl], &br[xr], &bu[x], &bd[x]};
            for (int d = 0; d < 4; ++d) {
                const float da = reg + grad_w * std::abs(a0 - an[d]);
                a00 += da;
                a11 += da;
                b0 += *fn[d] * da;
                b1 += *bn[d] * da;
            }
            const float inv_det = 1.f / (a00 * a11 - a01 * a01);
            for (int c = 0; c < 3; ++c) {
                const float fc = inv_det * (a11 * b0[c] - a01 * b1[c]);
                const float bc = inv_det * (a00 * b1[c] - a01 * b0[c]);
                fr[x][c] = std::min(1.f, std::max(0.f, fc));
                br[x][c] = std::min(1.f, std::max(0.f, bc));
            }
        }
    }
}

}  // namespace

cv::Mat estimate_foreground_ml(const cv::Mat& image, const cv::Mat& alpha,
                               const foreground_params& p, cv::Mat* background) {
    if (image.type() != CV_8UC3)
        throw std::invalid_argument("estimate_foreground_ml: expected a CV_8UC3 image");
    if (alpha.type() != CV_32FC1)
        throw std::invalid_argument("estimate_foreground_ml: expected a CV_32FC1 alpha");
    if (image.size() != alpha.size())
        throw std::invalid_argument("estimate_foreground_ml: image and alpha sizes differ");
    if (image.empty()) {
        if (background) *background = cv::Mat();
        return cv::Mat();
    }
    const int h0 = image.rows, w0 = image.cols;
    cv::Mat image0, alpha0;
    image.convertTo(image0, CV_32FC3, 1.0 / 255);
    // An alpha outside [0, 1] makes the 2x2 systems meaningless; clip it.
    cv::min(cv::max(alpha, 0.0), 1.0, alpha0);

    // pymatting: ceil(log2(max side)) levels after the 1x1 one, side_l = round(side^(l/n)).
    int n_levels = 0;
    while ((int64_t(1) << n_levels) < std::max(w0, h0)) ++n_levels;
    n_levels = std::max(1, n_levels);
    const cv::Scalar mean = cv::mean(image0);
    cv::Mat f_prev(1, 1, CV_32FC3, mean), b_prev(1, 1, CV_32FC3, mean);
    const float reg = float(p.regularization), grad_w = float(p.gradient_weight);
    for (int level = 0; level <= n_levels; ++level) {
        // Python's round() rounds halves to even, as nearbyint in the default rounding mode.
        const double e = double(level) / n_levels;
        const int w = std::max(1, int(std::nearbyint(std::pow(double(w0), e))));
        const int h = std::max(1, int(std::nearbyint(std::pow(double(h0), e))));
        const cv::Mat img = level == n_levels ? image0 : resize_nearest(image0, w, h);
        const cv::Mat a = level == n_levels ? alpha0 : resize_nearest(alpha0, w, h);
        cv::Mat f = resize_nearest(f_prev, w, h), b = resize_nearest(b_prev, w, h);
        const int n_iter =
            w <= p.small_size && h <= p.small_size ? p.n_small_iterations : p.n_big_iterations;
        const bool parallel = int64_t(w) * h >= 65536;
        for (int it = 0; it < n_iter; ++it)
            for (int parity = 0; parity < 2; ++parity) {
                if (!parallel) {
                    sweep_rows(img, a, f, b, parity, 0, h, reg, grad_w);
                    continue;
                }
                cv::parallel_for_(cv::Range(0, h), [&](const cv::Range& r) {
                    sweep_rows(img, a, f, b, parity, r.start, r.end, reg, grad_w);
                });
            }
        f_prev = f;
        b_prev = b;
    }
    if (background) *background = b_prev;
    return f_prev;
}

}  // namespace vfm
