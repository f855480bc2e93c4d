// Per-pixel model outputs taken back to the original image (see vfm/output_maps.h).
#include "vfm/output_maps.h"

#include <opencv2/imgproc.hpp>
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

cv::Mat resample_to_original(const cv::Mat& ch, const cv::Mat& M, int w, int h) {
    cv::Mat out;
    cv::warpAffine(ch, out, M, cv::Size(w, h), cv::INTER_LINEAR | cv::WARP_INVERSE_MAP,
                   cv::BORDER_REPLICATE);
    return out;
}

}  // namespace vfm
