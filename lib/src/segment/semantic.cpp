// Semantic label maps from per-pixel logits.
//
// Input: the model's outputs for a batch, the row of one image, how the image sits in the model
// input (letterbox or stretch, reduced decode). Output: a CV_16U label map at the original
// size. Each channel is resampled with one affine map (pixel centres, bilinear, replicated
// border) straight from the output grid to the original image, then the arg-max is kept
// channel by channel, so memory stays at three full-size maps whatever the class count.
// Upsampling logits (not labels) bilinearly is what DeepLab / torchvision segmentation
// references do (F.interpolate of the logits, then argmax).
#include <cmath>
#include <opencv2/imgproc.hpp>

#include "vfm/error.h"
#include "vfm/output_maps.h"
#include "vfm/segment.h"

namespace vfm {

namespace {

float logit(float p) {
    p = std::min(std::max(p, 1e-6f), 1 - 1e-6f);
    return std::log(p / (1 - p));
}

}  // namespace

cv::Mat semantic_label_map(const std::vector<tensor>& outs, int row, const input_transform& t,
                           int in_w, int in_h, int orig_w, int orig_h, const semantic_params& p,
                           int* classes) {
    output_map v = output_map_of(outs, p.output, row, p.nhwc, "semantic.output");
    cv::Mat M = output_grid_map(v, t, in_w, in_h);
    cv::Mat labels(orig_h, orig_w, CV_16U, cv::Scalar(0));
    if (v.c == 1) {
        // One channel: foreground where the score passes the threshold (on logits for sigmoid).
        const float thr = p.activation == "sigmoid" ? logit(p.threshold) : p.threshold;
        cv::Mat s = resample_to_original(v.channel(0), M, orig_w, orig_h);
        labels.setTo(1, s >= thr);
        if (classes) *classes = 2;
    } else {
        cv::Mat best = resample_to_original(v.channel(0), M, orig_w, orig_h);
        for (int k = 1; k < v.c; ++k) {
            cv::Mat s = resample_to_original(v.channel(k), M, orig_w, orig_h);
            cv::Mat better = s > best;
            s.copyTo(best, better);
            labels.setTo(k, better);
        }
        if (classes) *classes = static_cast<int>(v.c);
    }
    if (p.gate_output >= 0) {
        output_map g = output_map_of(outs, p.gate_output, row, p.nhwc, "semantic.gate_output");
        if (g.c != 1)
            throw fatal_error("semantic.gate_output: expected a one-channel output, got " +
                              shape_str(g.t->shape));
        cv::Mat gm = output_grid_map(g, t, in_w, in_h);
        cv::Mat s = resample_to_original(g.channel(0), gm, orig_w, orig_h);
        if (p.gate_offset) {
            labels += 1;
            if (classes) *classes += 1;
        }
        labels.setTo(0, s < logit(p.gate_threshold));
    }
    return labels;
}

}  // namespace vfm
