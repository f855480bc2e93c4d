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
#include "vfm/segment.h"

namespace vfm {

namespace {

struct channel_view {
    const tensor* t = nullptr;
    int64_t c = 1, h = 0, w = 0;
    bool nhwc = false;
    size_t row_offset = 0;
    cv::Mat channel(int k) const {  // a copy: NHWC channels are strided
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
};

channel_view view_of(const std::vector<tensor>& outs, int index, int row, bool nhwc,
                     const char* what) {
    if (index < 0 || index >= static_cast<int>(outs.size()))
        throw fatal_error(std::string(what) + ": the model has " + std::to_string(outs.size()) +
                          " outputs, no output " + std::to_string(index));
    const tensor& o = outs[index];
    channel_view v;
    v.t = &o;
    v.nhwc = nhwc;
    if (o.rank() == 4) {
        v.c = nhwc ? o.shape[3] : o.shape[1];
        v.h = nhwc ? o.shape[1] : o.shape[2];
        v.w = nhwc ? o.shape[2] : o.shape[3];
    } else if (o.rank() == 3) {  // [B, h, w]: one channel
        v.h = o.shape[1], v.w = o.shape[2];
    } else {
        throw fatal_error(std::string(what) + ": expected logits [B, C, h, w] (" +
                          (nhwc ? "NHWC [B, h, w, C]" : "or NHWC with semantic.output_layout") +
                          ") or [B, h, w], got " + shape_str(o.shape));
    }
    if (row >= o.shape[0])
        throw fatal_error(std::string(what) + ": output has " + std::to_string(o.shape[0]) +
                          " rows, row " + std::to_string(row) + " needed");
    v.row_offset = static_cast<size_t>(row) * v.c * v.h * v.w;
    return v;
}

// Inverse affine map (original pixel -> output-grid pixel), pixel centres aligned.
cv::Mat grid_map(const channel_view& v, const input_transform& t, int in_w, int in_h) {
    // output cells per model-input pixel, times model-input pixels per original pixel
    const double ox = static_cast<double>(v.w) / in_w, oy = static_cast<double>(v.h) / in_h;
    const double sx = ox * t.lb.sx / t.decode_sx, sy = oy * t.lb.sy / t.decode_sy;
    const double offx = t.lb.pad_left * ox, offy = t.lb.pad_top * oy;
    cv::Mat M =
        (cv::Mat_<double>(2, 3) << sx, 0, 0.5 * sx - 0.5 + offx, 0, sy, 0.5 * sy - 0.5 + offy);
    return M;
}

cv::Mat resample(const cv::Mat& ch, const cv::Mat& M, int w, int h) {
    cv::Mat out;
    cv::warpAffine(ch, out, M, cv::Size(w, h), cv::INTER_LINEAR | cv::WARP_INVERSE_MAP,
                   cv::BORDER_REPLICATE);
    return out;
}

float logit(float p) {
    p = std::min(std::max(p, 1e-6f), 1 - 1e-6f);
    return std::log(p / (1 - p));
}

}  // namespace

cv::Mat semantic_label_map(const std::vector<tensor>& outs, int row, const input_transform& t,
                           int in_w, int in_h, int orig_w, int orig_h, const semantic_params& p,
                           int* classes) {
    channel_view v = view_of(outs, p.output, row, p.nhwc, "semantic.output");
    cv::Mat M = grid_map(v, t, in_w, in_h);
    cv::Mat labels(orig_h, orig_w, CV_16U, cv::Scalar(0));
    if (v.c == 1) {
        // One channel: foreground where the score passes the threshold (on logits for sigmoid).
        const float thr = p.activation == "sigmoid" ? logit(p.threshold) : p.threshold;
        cv::Mat s = resample(v.channel(0), M, orig_w, orig_h);
        labels.setTo(1, s >= thr);
        if (classes) *classes = 2;
    } else {
        cv::Mat best = resample(v.channel(0), M, orig_w, orig_h);
        for (int k = 1; k < v.c; ++k) {
            cv::Mat s = resample(v.channel(k), M, orig_w, orig_h);
            cv::Mat better = s > best;
            s.copyTo(best, better);
            labels.setTo(k, better);
        }
        if (classes) *classes = static_cast<int>(v.c);
    }
    if (p.gate_output >= 0) {
        channel_view g = view_of(outs, p.gate_output, row, p.nhwc, "semantic.gate_output");
        if (g.c != 1)
            throw fatal_error("semantic.gate_output: expected a one-channel output, got " +
                              shape_str(g.t->shape));
        cv::Mat gm = grid_map(g, t, in_w, in_h);
        cv::Mat s = resample(g.channel(0), gm, orig_w, orig_h);
        if (p.gate_offset) {
            labels += 1;
            if (classes) *classes += 1;
        }
        labels.setTo(0, s < logit(p.gate_threshold));
    }
    return labels;
}

}  // namespace vfm
