// Per-pixel model outputs (segmentation logits, alpha mattes, foreground colours) taken back to
// the original image.
//
// Input: one image's row of an output [B, C, h, w], NHWC [B, h, w, C] or [B, h, w], and how the
// image sits in the model input (letterbox or stretch, reduced decode). Output: a channel as a
// CV_32F map at the original size, resampled with one axis-aligned map (pixel centres, bilinear,
// replicated border) straight from the output grid, as F.interpolate of the logits does in
// DeepLab / torchvision references, without an intermediate full-size copy of every channel.
#pragma once
#include <opencv2/core.hpp>
#include <vector>

#include "vfm/geometry.h"
#include "vfm/tensor.h"

namespace vfm {

struct output_map {
    const tensor* t = nullptr;
    int64_t c = 1, h = 0, w = 0;
    bool nhwc = false;
    size_t row_offset = 0;
    // Channel k of the row at the output's own size (a copy: NHWC channels are strided).
    cv::Mat channel(int k) const;
};

// outs[index]'s row `row`; `what` names the config key in errors. Throws fatal_error for a
// missing output, a rank other than 3 or 4, or too few rows.
output_map output_map_of(const std::vector<tensor>& outs, int index, int row, bool nhwc,
                         const char* what);
// Inverse affine map (original pixel -> output-grid pixel), pixel centres aligned.
cv::Mat output_grid_map(const output_map& v, const input_transform& t, int in_w, int in_h);

// Bilinear resampling through an axis-aligned M (as output_grid_map gives), one destination row
// at a time and separably: a destination pixel at src position s (per axis) blends the two
// neighbours floor(s), floor(s) + 1 by distance; outside [0, n - 1] it takes the edge value
// (replicated border). These are F.interpolate's (align_corners=False) weights, computed in
// float: cv::warpAffine would round every position to 1/32 pixel, and is 4x slower.
struct grid_sampler {
    grid_sampler(const cv::Mat& M, int src_w, int src_h, int dst_w, int dst_h);
    // Destination row y of a source plane whose columns are col_step floats apart and rows
    // row_step apart (NCHW planes: 1 and w; NHWC channels: C and w * C). tmp holds src_w floats.
    void row(const float* plane, int64_t col_step, int64_t row_step, int y, float* tmp,
             float* out) const;
    int src_w = 0, dst_w = 0;
    std::vector<int> x0, x1, y0, y1;
    std::vector<float> wx, wy;  // weight of x1 / y1
};

// `ch` (output grid) resampled through M to a w x h original-size map.
cv::Mat resample_to_original(const cv::Mat& ch, const cv::Mat& M, int w, int h);

}  // namespace vfm
