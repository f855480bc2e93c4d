// matte: alpha mattes from matting networks, from prompts (masks -> trimaps -> solver) and from
// trimaps (issue 7).
//
// Pure pieces (network outputs -> alpha, input sizes, masks -> trimap, writers) are declared
// here and unit-tested; the solver and foreground estimation are in vfm/matting.h; the task
// (lib/src/matte/matte_task.cpp) wires them to the runner.
#pragma once
#include <memory>
#include <opencv2/core.hpp>
#include <string>
#include <vector>

#include "vfm/geometry.h"
#include "vfm/task.h"
#include "vfm/tensor.h"

namespace vfm {

// ---- Network outputs ----------------------------------------------------------------------------

// Where a matting network puts its alpha (and foreground) and how to read it.
struct alpha_output_params {
    int output = 0;              // output holding the alpha [B, 1, h, w] / [B, h, w] (/ NHWC)
    int foreground_output = -1;  // output holding foreground RGB 0..1 [B, 3, h, w]; -1: none
    bool nhwc = false;           // outputs are [B, h, w, C] (TF exports: RVM)
    bool sigmoid = false;        // the alpha output holds logits
    bool minmax = false;  // stretch each image's alpha to 0..1 (rembg's U2-Net/ISNet outputs)
};

// One image's alpha (CV_32F, orig_w x orig_h, clamped to [0, 1]) from its row of `outs`: the
// part of the output the image covers (letterbox undone) resampled bilinearly. Throws
// fatal_error for a layout that does not fit, input_error for NaN/Inf values.
cv::Mat network_alpha(const std::vector<tensor>& outs, int row, const input_transform& t, int in_w,
                      int in_h, int orig_w, int orig_h, const alpha_output_params& p);
// The network's foreground colours as CV_32FC3 BGR in [0, 1] at the original size (RGB output).
cv::Mat network_foreground(const std::vector<tensor>& outs, int row, const input_transform& t,
                           int in_w, int in_h, int orig_w, int orig_h,
                           const alpha_output_params& p);

// MODNet's inference size (ZHKKKe/MODNet, demo/image_matting/colab/inference.py): when both
// sides are below ref_size or both above, scale so the short side is ref_size (the other side
// keeping the aspect ratio); otherwise keep the size; then round each side down to a multiple of
// `multiple` (32), at least `multiple`.
struct matte_size {
    int w = 0, h = 0;
};
matte_size modnet_input_size(int w, int h, int ref_size, int multiple);

// ---- Masks and trimaps ------------------------------------------------------------------------

// The union of `masks` (CV_8U, non-zero = in) as a 0/1 CV_8U mask of w x h.
cv::Mat union_mask(const std::vector<cv::Mat>& masks, int w, int h);

// ---- Writers ----------------------------------------------------------------------------------

// Alpha 0..1 -> 8-bit (round(a*255)) or 16-bit (round(a*65535)) single-channel image.
cv::Mat alpha_image(const cv::Mat& alpha, int bits);
// BGRA cutout: colour from `fg` (CV_32FC3 BGR 0..1, decontaminated) or `image` (CV_8UC3) when
// fg is empty, alpha as the fourth channel; 8-bit, or 16-bit when bits == 16.
cv::Mat rgba_cutout(const cv::Mat& image, const cv::Mat& fg, const cv::Mat& alpha, int bits);
// fg*alpha + bg*(1-alpha), 8-bit BGR; fg as for rgba_cutout; `bg` CV_8UC3 of the same size.
cv::Mat composite_over(const cv::Mat& image, const cv::Mat& fg, const cv::Mat& alpha,
                       const cv::Mat& bg);
// `bg` scaled to cover w x h (aspect kept) and centre-cropped; a background image for
// composites.
cv::Mat cover_resize(const cv::Mat& bg, int w, int h);

// Per-image facts for the JSON: coverage = mean alpha, foreground_fraction = share of pixels
// with alpha >= threshold and their bounding box [x, y, w, h] (empty: no pixel passes).
struct alpha_summary {
    double coverage = 0, foreground_fraction = 0;
    int x = 0, y = 0, w = 0, h = 0;
    bool empty = true;
};
alpha_summary summarize_alpha(const cv::Mat& alpha, float threshold);

// ---- Task ---------------------------------------------------------------------------------------

std::unique_ptr<task> make_matte_task();

}  // namespace vfm
