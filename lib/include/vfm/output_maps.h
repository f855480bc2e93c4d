// Per-pixel model outputs (segmentation logits, alpha mattes, foreground colours) taken back to
// the original image.
//
// Input: one image's row of an output [B, C, h, w], NHWC [B, h, w, C] or [B, h, w], and how the
// image sits in the model input (letterbox or stretch, reduced decode). Output: a channel as a
// CV_32F map at the original size, resampled with one affine map (pixel centres, bilinear,
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
// `ch` (output grid) resampled through M to a w x h original-size map.
cv::Mat resample_to_original(const cv::Mat& ch, const cv::Mat& M, int w, int h);

}  // namespace vfm
