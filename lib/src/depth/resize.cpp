// Model input size and preparation, and the bilinear resize of the output map.
//
// depth_input_size: DepthAnything/Depth-Anything-V2 depth_anything_v2/util/transform.py
// Resize.get_size / constrain_to_multiple_of (keep_aspect_ratio=True), called by
// depth_anything_v2/dpt.py image2tensor with 518 x 518, ensure_multiple_of=14, lower_bound,
// cv2.INTER_CUBIC. resize_bilinear: torch.nn.functional.interpolate(mode="bilinear") with
// align_corners True (dpt.py infer_image) or False. See vfm/depth.h for inputs and outputs.
#include <algorithm>
#include <cmath>
#include <opencv2/imgproc.hpp>

#include "vfm/depth.h"
#include "vfm/error.h"

namespace vfm {

depth_resize parse_depth_resize(const std::string& s) {
    if (s == "lower_bound") return depth_resize::lower_bound;
    if (s == "upper_bound") return depth_resize::upper_bound;
    if (s == "minimal") return depth_resize::minimal;
    if (s == "stretch") return depth_resize::stretch;
    throw fatal_error(
        "preprocess.resize: expected lower_bound, upper_bound, minimal or stretch for depth, "
        "got \"" +
        s + "\"");
}

namespace {

// constrain_to_multiple_of: round to a multiple (half to even, as np.round), floor when above
// max_val, ceil when below min_val (0: none). Never below one multiple (upstream could return 0
// for an extreme aspect ratio with upper_bound or minimal; a model cannot take that).
int constrain(double x, int multiple, int min_val, int max_val) {
    const double m = multiple;
    double y = std::nearbyint(x / m) * m;
    if (max_val > 0 && y > max_val) y = std::floor(x / m) * m;
    if (y < min_val) y = std::ceil(x / m) * m;
    return std::max(multiple, static_cast<int>(y));
}

}  // namespace

depth_size depth_input_size(int img_w, int img_h, int target_w, int target_h, int multiple,
                            depth_resize method) {
    if (method == depth_resize::stretch) return {target_w, target_h};
    multiple = std::max(1, multiple);
    double scale_h = static_cast<double>(target_h) / img_h;
    double scale_w = static_cast<double>(target_w) / img_w;
    switch (method) {
        case depth_resize::lower_bound:  // the output covers the target
            if (scale_w > scale_h)
                scale_h = scale_w;
            else
                scale_w = scale_h;
            break;
        case depth_resize::upper_bound:  // the output fits in the target
            if (scale_w < scale_h)
                scale_h = scale_w;
            else
                scale_w = scale_h;
            break;
        default:  // minimal: the scale closer to 1
            if (std::abs(1 - scale_w) < std::abs(1 - scale_h))
                scale_h = scale_w;
            else
                scale_w = scale_h;
    }
    depth_size s;
    if (method == depth_resize::lower_bound) {
        s.h = constrain(scale_h * img_h, multiple, target_h, 0);
        s.w = constrain(scale_w * img_w, multiple, target_w, 0);
    } else if (method == depth_resize::upper_bound) {
        s.h = constrain(scale_h * img_h, multiple, 0, target_h);
        s.w = constrain(scale_w * img_w, multiple, 0, target_w);
    } else {
        s.h = constrain(scale_h * img_h, multiple, 0, 0);
        s.w = constrain(scale_w * img_w, multiple, 0, 0);
    }
    return s;
}

depth_size checked_input_size(int img_w, int img_h, int target_w, int target_h, int multiple,
                              depth_resize method, const char* bounded_resizes) {
    depth_size t = depth_input_size(img_w, img_h, target_w, target_h, multiple, method);
    if (static_cast<double>(t.w) * t.h > 64.0 * target_w * target_h)
        throw input_error("model input " + std::to_string(t.w) + "x" + std::to_string(t.h) +
                          " for this aspect ratio is over 64 times model.input_size; use "
                          "preprocess.resize " +
                          bounded_resizes);
    return t;
}

void depth_prepare_input(const cv::Mat& bgr, int out_w, int out_h, int interpolation, bool rgb,
                         const float mean[3], const float std[3], float* dst) {
    cv::Mat f;
    bgr.convertTo(f, CV_32FC3);
    cv::Mat r;
    if (f.cols == out_w && f.rows == out_h)
        r = f;
    else
        cv::resize(f, r, cv::Size(out_w, out_h), 0, 0, interpolation);
    if (rgb) cv::cvtColor(r, r, cv::COLOR_BGR2RGB);
    cv::Mat out(out_h, out_w, CV_32FC3, dst);
    cv::subtract(r, cv::Scalar(mean[0], mean[1], mean[2]), out);
    cv::multiply(out, cv::Scalar(1.0 / std[0], 1.0 / std[1], 1.0 / std[2]), out);
}

void resize_bilinear(const float* src, int sw, int sh, float* dst, int dw, int dh,
                     bool align_corners) {
    // Per output column / row: the two source indices and the weight of the second.
    auto axis = [&](int s, int d, std::vector<int>& i0, std::vector<int>& i1,
                    std::vector<float>& lam) {
        i0.resize(d), i1.resize(d), lam.resize(d);
        float scale;
        if (align_corners)
            scale = d > 1 ? static_cast<float>(s - 1) / static_cast<float>(d - 1) : 0.f;
        else
            scale = static_cast<float>(s) / static_cast<float>(d);
        for (int k = 0; k < d; ++k) {
            float x = align_corners ? scale * k : std::max(0.f, scale * (k + 0.5f) - 0.5f);
            int a = std::min(static_cast<int>(x), s - 1);
            i0[k] = a;
            i1[k] = a < s - 1 ? a + 1 : a;
            lam[k] = x - static_cast<float>(a);
        }
    };
    std::vector<int> x0, x1, y0, y1;
    std::vector<float> lx, ly;
    axis(sw, dw, x0, x1, lx);
    axis(sh, dh, y0, y1, ly);
    std::vector<float> r0(dw), r1(dw);  // the two source rows, resampled horizontally
    int have0 = -1, have1 = -1;
    auto horiz = [&](int y, std::vector<float>& out) {
        const float* row = src + static_cast<size_t>(y) * sw;
        for (int k = 0; k < dw; ++k) out[k] = (1.f - lx[k]) * row[x0[k]] + lx[k] * row[x1[k]];
    };
    for (int j = 0; j < dh; ++j) {
        if (have0 != y0[j]) {
            if (have1 == y0[j])
                std::swap(r0, r1), std::swap(have0, have1);
            else
                horiz(y0[j], r0), have0 = y0[j];
        }
        if (have1 != y1[j]) horiz(y1[j], r1), have1 = y1[j];
        float b = ly[j], a = 1.f - b;
        float* out = dst + static_cast<size_t>(j) * dw;
        for (int k = 0; k < dw; ++k) out[k] = a * r0[k] + b * r1[k];
    }
}

double percentile(const float* data, size_t n, double p) {
    std::vector<float> v(data, data + n);
    const double rank = std::clamp(p, 0.0, 100.0) / 100.0 * static_cast<double>(n - 1);
    const size_t k = static_cast<size_t>(rank);
    std::nth_element(v.begin(), v.begin() + k, v.end());
    const double a = v[k];
    if (k + 1 >= n || rank == static_cast<double>(k)) return a;
    const double b = *std::min_element(v.begin() + k + 1, v.end());
    return a + (rank - static_cast<double>(k)) * (b - a);
}

size_t count_non_finite(const float* data, size_t n) {
    size_t bad = 0;
    for (size_t i = 0; i < n; ++i) bad += !std::isfinite(data[i]);
    return bad;
}

}  // namespace vfm
