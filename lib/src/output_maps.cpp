// Per-pixel model outputs taken back to the original image (see vfm/output_maps.h).
#include "vfm/output_maps.h"

#include <cmath>
#include <opencv2/imgproc.hpp>
#include <stdexcept>
#include <string>

#include "vfm/error.h"

namespace vfm {

cv::Mat output_map::channel(int k) const {
    cv::Mat m(static_cast<int>(h), static_cast<int>(w), CV_32F);
    const float* base = t->data.data() + row_offset;
    if (!nhwc) {
        std::copy(base + k * h * w, base + (k + 1) * h * w, m.ptr<float>());
    } else {
        float* d = m.ptr<float>();
        for (int64_t i = 0; i < h * w; ++i) d[i] = base[i * c + k];
    }
    return m;
}

output_map output_map_of(const std::vector<tensor>& outs, int index, int row, bool nhwc,
                         const char* what) {
    if (index < 0 || index >= static_cast<int>(outs.size()))
        throw fatal_error(std::string(what) + ": the model has " + std::to_string(outs.size()) +
                          " outputs, no output " + std::to_string(index));
    const tensor& o = outs[index];
    output_map v;
    v.t = &o;
    v.nhwc = nhwc;
    if (o.rank() == 4) {
        v.c = nhwc ? o.shape[3] : o.shape[1];
        v.h = nhwc ? o.shape[1] : o.shape[2];
        v.w = nhwc ? o.shape[2] : o.shape[3];
    } else if (o.rank() == 3) {  // [B, h, w]: one channel
        v.h = o.shape[1], v.w = o.shape[2];
    } else {
        throw fatal_error(
            std::string(what) + ": expected a per-pixel output [B, C, h, w] (" +
            (nhwc ? "NHWC [B, h, w, C]" : "or NHWC [B, h, w, C] with the config's output layout") +
            ") or [B, h, w], got " + shape_str(o.shape));
    }
    if (row >= o.shape[0])
        throw fatal_error(std::string(what) + ": output has " + std::to_string(o.shape[0]) +
                          " rows, row " + std::to_string(row) + " needed");
    v.row_offset = static_cast<size_t>(row) * v.c * v.h * v.w;
    return v;
}

cv::Mat output_grid_map(const output_map& v, const input_transform& t, int in_w, int in_h) {
    // output cells per model-input pixel, times model-input pixels per original pixel
    const double ox = static_cast<double>(v.w) / in_w, oy = static_cast<double>(v.h) / in_h;
    const double sx = ox * t.lb.sx / t.decode_sx, sy = oy * t.lb.sy / t.decode_sy;
    const double offx = t.lb.pad_left * ox, offy = t.lb.pad_top * oy;
    cv::Mat M =
        (cv::Mat_<double>(2, 3) << sx, 0, 0.5 * sx - 0.5 + offx, 0, sy, 0.5 * sy - 0.5 + offy);
    return M;
}

namespace {

// Destination index i samples source position a * i + b on an axis of n source cells.
void axis_taps(double a, double b, int n_dst, int n_src, std::vector<int>& i0, std::vector<int>& i1,
               std::vector<float>& w) {
    i0.resize(n_dst), i1.resize(n_dst), w.resize(n_dst);
    for (int i = 0; i < n_dst; ++i) {
        const double s = a * i + b;
        if (s <= 0 || n_src == 1) {
            i0[i] = i1[i] = 0, w[i] = 0;
        } else if (s >= n_src - 1) {
            i0[i] = i1[i] = n_src - 1, w[i] = 0;
        } else {
            const int f = static_cast<int>(std::floor(s));
            i0[i] = f, i1[i] = f + 1, w[i] = static_cast<float>(s - f);
        }
    }
}

}  // namespace

grid_sampler::grid_sampler(const cv::Mat& M, int sw, int sh, int dw, int dh)
    : src_w(sw), dst_w(dw) {
    if (M.at<double>(0, 1) != 0 || M.at<double>(1, 0) != 0)
        throw std::logic_error("grid_sampler: the map must be axis-aligned");
    axis_taps(M.at<double>(0, 0), M.at<double>(0, 2), dw, sw, x0, x1, wx);
    axis_taps(M.at<double>(1, 1), M.at<double>(1, 2), dh, sh, y0, y1, wy);
}

void grid_sampler::row(const float* plane, int64_t col_step, int64_t row_step, int y, float* tmp,
                       float* out) const {
    const float* r0 = plane + y0[y] * row_step;
    const float* r1 = plane + y1[y] * row_step;
    const float v = wy[y];
    if (col_step == 1) {
        for (int i = 0; i < src_w; ++i) tmp[i] = r0[i] + v * (r1[i] - r0[i]);
    } else {
        for (int i = 0; i < src_w; ++i) {
            const float a = r0[i * col_step], b = r1[i * col_step];
            tmp[i] = a + v * (b - a);
        }
    }
    for (int x = 0; x < dst_w; ++x) {
        const float a = tmp[x0[x]], b = tmp[x1[x]];
        out[x] = a + wx[x] * (b - a);
    }
}

cv::Mat resample_to_original(const cv::Mat& ch, const cv::Mat& M, int w, int h) {
    CV_Assert(ch.type() == CV_32F);
    grid_sampler s(M, ch.cols, ch.rows, w, h);
    cv::Mat out(h, w, CV_32F);
    std::vector<float> tmp(static_cast<size_t>(ch.cols));
    for (int y = 0; y < h; ++y)
        s.row(ch.ptr<float>(), 1, static_cast<int64_t>(ch.step1()), y, tmp.data(),
              out.ptr<float>(y));
    return out;
}

}  // namespace vfm
