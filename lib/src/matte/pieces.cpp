// matte's pure pieces: network outputs -> alpha/foreground, MODNet's input size, writers.
#include <algorithm>
#include <cmath>
#include <opencv2/imgproc.hpp>

#include "vfm/error.h"
#include "vfm/matte.h"
#include "vfm/output_maps.h"

namespace vfm {

namespace {

size_t count_non_finite(const cv::Mat& m) {
    size_t n = 0;
    for (int y = 0; y < m.rows; ++y) {
        const float* p = m.ptr<float>(y);
        for (int x = 0; x < m.cols * m.channels(); ++x) n += !std::isfinite(p[x]);
    }
    return n;
}

}  // namespace

cv::Mat network_alpha(const std::vector<tensor>& outs, int row, const input_transform& t, int in_w,
                      int in_h, int orig_w, int orig_h, const alpha_output_params& p) {
    output_map v = output_map_of(outs, p.output, row, p.nhwc, "matte.alpha_output");
    if (v.c != 1)
        throw fatal_error("matte.alpha_output: expected a one-channel alpha, got " +
                          shape_str(v.t->shape) + (p.nhwc ? " (read as NHWC)" : ""));
    cv::Mat a = v.channel(0);
    if (size_t bad = count_non_finite(a))
        throw input_error("model alpha has " + std::to_string(bad) +
                          " NaN/Inf values; no files written for this image");
    if (p.sigmoid) {
        cv::exp(-a, a);
        a = 1.0 / (1.0 + a);
    }
    cv::Mat out = resample_to_original(a, output_grid_map(v, t, in_w, in_h), orig_w, orig_h);
    if (p.minmax) {
        // rembg (session_u2net / session_dis predict): (pred - min) / (max - min) per image.
        // The extremes are taken over the part the image covers, after resampling.
        double lo = 0, hi = 0;
        cv::minMaxLoc(out, &lo, &hi);
        if (hi - lo > 1e-12) out = (out - lo) / (hi - lo);
    }
    cv::min(cv::max(out, 0.0), 1.0, out);
    return out;
}

cv::Mat network_foreground(const std::vector<tensor>& outs, int row, const input_transform& t,
                           int in_w, int in_h, int orig_w, int orig_h,
                           const alpha_output_params& p) {
    output_map v = output_map_of(outs, p.foreground_output, row, p.nhwc, "matte.foreground_output");
    if (v.c != 3)
        throw fatal_error("matte.foreground_output: expected RGB [B, 3, h, w], got " +
                          shape_str(v.t->shape) + (p.nhwc ? " (read as NHWC)" : ""));
    const cv::Mat M = output_grid_map(v, t, in_w, in_h);
    std::vector<cv::Mat> bgr(3);
    for (int k = 0; k < 3; ++k) bgr[2 - k] = resample_to_original(v.channel(k), M, orig_w, orig_h);
    cv::Mat fg;
    cv::merge(bgr, fg);
    if (size_t bad = count_non_finite(fg))
        throw input_error("model foreground has " + std::to_string(bad) + " NaN/Inf values");
    cv::min(cv::max(fg, 0.0), 1.0, fg);
    return fg;
}

matte_size modnet_input_size(int w, int h, int ref_size, int multiple) {
    double rw = w, rh = h;
    if ((std::max(w, h) < ref_size) || (std::min(w, h) > ref_size)) {
        if (w >= h) {
            rh = ref_size;
            rw = static_cast<int>(static_cast<double>(w) / h * ref_size);
        } else {
            rw = ref_size;
            rh = static_cast<int>(static_cast<double>(h) / w * ref_size);
        }
    }
    matte_size s;
    s.w = std::max(multiple, static_cast<int>(rw) - static_cast<int>(rw) % multiple);
    s.h = std::max(multiple, static_cast<int>(rh) - static_cast<int>(rh) % multiple);
    return s;
}

cv::Mat union_mask(const std::vector<cv::Mat>& masks, int w, int h) {
    cv::Mat u(h, w, CV_8U, cv::Scalar(0));
    for (const auto& m : masks) {
        if (m.cols != w || m.rows != h) continue;
        u.setTo(1, m != 0);
    }
    return u;
}

cv::Mat alpha_image(const cv::Mat& alpha, int bits) {
    cv::Mat out;
    alpha.convertTo(out, bits == 16 ? CV_16U : CV_8U, bits == 16 ? 65535.0 : 255.0);
    return out;
}

namespace {

// Foreground colour as float BGR 0..1: the decontaminated estimate, else the image itself.
cv::Mat fg_float(const cv::Mat& image, const cv::Mat& fg) {
    if (!fg.empty()) return fg;
    cv::Mat f;
    image.convertTo(f, CV_32FC3, 1.0 / 255);
    return f;
}

}  // namespace

cv::Mat rgba_cutout(const cv::Mat& image, const cv::Mat& fg, const cv::Mat& alpha, int bits) {
    cv::Mat f = fg_float(image, fg);
    std::vector<cv::Mat> ch;
    cv::split(f, ch);
    ch.push_back(alpha);
    cv::Mat bgra;
    cv::merge(ch, bgra);
    cv::Mat out;
    bgra.convertTo(out, bits == 16 ? CV_16UC4 : CV_8UC4, bits == 16 ? 65535.0 : 255.0);
    return out;
}

cv::Mat composite_over(const cv::Mat& image, const cv::Mat& fg, const cv::Mat& alpha,
                       const cv::Mat& bg) {
    cv::Mat f = fg_float(image, fg), b, a3;
    bg.convertTo(b, CV_32FC3, 1.0 / 255);
    cv::Mat ch[] = {alpha, alpha, alpha};
    cv::merge(ch, 3, a3);
    cv::Mat c = f.mul(a3) + b.mul(cv::Scalar::all(1.0) - a3);
    cv::Mat out;
    c.convertTo(out, CV_8UC3, 255.0);
    return out;
}

cv::Mat cover_resize(const cv::Mat& bg, int w, int h) {
    const double s = std::max(static_cast<double>(w) / bg.cols, static_cast<double>(h) / bg.rows);
    const int rw = std::max(w, static_cast<int>(std::ceil(bg.cols * s - 1e-9)));
    const int rh = std::max(h, static_cast<int>(std::ceil(bg.rows * s - 1e-9)));
    cv::Mat r;
    cv::resize(bg, r, {rw, rh}, 0, 0, s < 1 ? cv::INTER_AREA : cv::INTER_LINEAR);
    return r(cv::Rect((rw - w) / 2, (rh - h) / 2, w, h)).clone();
}

alpha_summary summarize_alpha(const cv::Mat& alpha, float threshold) {
    alpha_summary s;
    if (alpha.empty()) return s;
    s.coverage = cv::mean(alpha)[0];
    cv::Mat fg = alpha >= threshold;
    const int n = cv::countNonZero(fg);
    s.foreground_fraction = static_cast<double>(n) / alpha.total();
    if (n == 0) return s;
    cv::Rect r = cv::boundingRect(fg);
    s.x = r.x, s.y = r.y, s.w = r.width, s.h = r.height;
    s.empty = false;
    return s;
}

}  // namespace vfm
