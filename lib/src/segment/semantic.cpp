// Semantic label maps from per-pixel logits.
//
// Input: the model's outputs for a batch, the row of one image, how the image sits in the model
// input (letterbox or stretch, reduced decode). Output: a CV_16U label map at the original
// size. Each channel is resampled with one axis-aligned map (pixel centres, bilinear, replicated
// border) straight from the output grid to the original image, row by row into the running
// arg-max (grid_sampler), so memory stays at the label map whatever the class count.
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
        // Row by row, every channel resampled straight into the running arg-max: two rows of
        // scores in memory, whatever the class count (ADE20K: 150).
        grid_sampler s(M, static_cast<int>(v.w), static_cast<int>(v.h), orig_w, orig_h);
        const float* base = v.t->data.data() + v.row_offset;
        const int64_t col_step = v.nhwc ? v.c : 1, row_step = v.nhwc ? v.w * v.c : v.w;
        auto plane = [&](int64_t k) { return v.nhwc ? base + k : base + k * v.h * v.w; };
        std::vector<float> tmp(static_cast<size_t>(v.w)), best(orig_w), cur(orig_w);
        for (int y = 0; y < orig_h; ++y) {
            uint16_t* lab = labels.ptr<uint16_t>(y);
            s.row(plane(0), col_step, row_step, y, tmp.data(), best.data());
            for (int64_t k = 1; k < v.c; ++k) {
                s.row(plane(k), col_step, row_step, y, tmp.data(), cur.data());
                for (int x = 0; x < orig_w; ++x)
                    if (cur[x] > best[x]) best[x] = cur[x], lab[x] = static_cast<uint16_t>(k);
            }
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
