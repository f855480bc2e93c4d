// yolov8-seg: Ultralytics segmentation export. Outputs [B, 4+nc+nm, N] (detect's yolov8 rows,
// then nm mask coefficients per anchor) and prototypes [B, nm, ph, pw] (160x160 at 640).
// Boxes come from detect's yolov8 decoder and the shared NMS; each kept box's mask is
// sigmoid(coefficients . prototypes) with everything outside the box zeroed, resampled from
// the prototype grid straight to the original image (letterbox undone), > mask_threshold.
// Reference: ultralytics/utils/ops.py process_mask (crop_mask on the downsampled box,
// bilinear upsampling, gt 0.5) and scale_masks.
#include <cmath>
#include <opencv2/imgproc.hpp>

#include "vfm/detect_family.h"
#include "vfm/error.h"
#include "vfm/segment.h"

namespace vfm {

void yolov8_seg_check(const std::vector<tensor>& outs, const yolov8_seg_params& p) {
    if (outs.size() < 2)
        throw fatal_error(
            "yolov8-seg export: expected two outputs ([B, 4+nc+nm, N] and "
            "prototypes [B, nm, h, w]), got " +
            std::to_string(outs.size()));
    const tensor& o = outs[0];
    const tensor& pr = outs[1];
    if (pr.rank() != 4 || o.rank() != 3 || o.shape[1] != 4 + p.num_classes + pr.shape[1])
        throw fatal_error("yolov8-seg export: expected [B, 4+nc+nm, N] with nc=" +
                          std::to_string(p.num_classes) + " and prototypes [B, nm, h, w], got " +
                          shape_str(o.shape) + " and " + shape_str(pr.shape));
}

std::vector<mask_record> yolov8_seg_masks(const std::vector<tensor>& outs, int row,
                                          const input_transform& t, int in_w, int in_h, int orig_w,
                                          int orig_h, const yolov8_seg_params& p,
                                          const label_set& labels) {
    yolov8_seg_check(outs, p);
    decode_params dp;
    dp.in_w = in_w, dp.in_h = in_h, dp.num_classes = p.num_classes, dp.conf = p.conf;
    // detect's decoder reads rows 0 .. 4+nc-1 and leaves the coefficients alone
    std::vector<detection> dets = nms(yolov8_family.decode(outs, row, dp), p.nms);
    const tensor& o = outs[0];
    const tensor& pr = outs[1];
    const int64_t rows = o.shape[1], n = o.shape[2];
    const int nm = static_cast<int>(pr.shape[1]);
    const int ph = static_cast<int>(pr.shape[2]), pw = static_cast<int>(pr.shape[3]);
    const float* coef_base = o.data.data() + row * rows * n + (4 + p.num_classes) * n;
    const float* protos = pr.data.data() + static_cast<size_t>(row) * nm * ph * pw;
    // prototype cells per model-input pixel, then per original pixel
    const double gx = static_cast<double>(pw) / in_w, gy = static_cast<double>(ph) / in_h;
    const double sx = gx * t.lb.sx / t.decode_sx, sy = gy * t.lb.sy / t.decode_sy;
    cv::Mat M = (cv::Mat_<double>(2, 3) << sx, 0, 0.5 * sx - 0.5 + t.lb.pad_left * gx, 0, sy,
                 0.5 * sy - 0.5 + t.lb.pad_top * gy);
    std::vector<mask_record> out;
    for (const auto& d : dets) {
        cv::Mat m(ph, pw, CV_32F, cv::Scalar(0));
        float* mp = m.ptr<float>();
        for (int k = 0; k < nm; ++k) {
            const float c = coef_base[k * n + d.anchor];
            const float* pk = protos + static_cast<size_t>(k) * ph * pw;
            for (int i = 0; i < ph * pw; ++i) mp[i] += c * pk[i];
        }
        // crop_mask: zero outside the box (in prototype cells), then the sigmoid
        cv::Mat prob(ph, pw, CV_32F, cv::Scalar(0));
        const float bx1 = d.b.x1 * gx, by1 = d.b.y1 * gy, bx2 = d.b.x2 * gx, by2 = d.b.y2 * gy;
        for (int y = 0; y < ph; ++y)
            for (int x = 0; x < pw; ++x)
                if (x >= bx1 && x < bx2 && y >= by1 && y < by2)
                    prob.at<float>(y, x) = 1.f / (1.f + std::exp(-m.at<float>(y, x)));
        cv::Mat full;
        cv::warpAffine(prob, full, M, cv::Size(orig_w, orig_h),
                       cv::INTER_LINEAR | cv::WARP_INVERSE_MAP, cv::BORDER_CONSTANT);
        cv::Mat bin = full > p.mask_threshold;
        bin &= 1;
        mask_record r;
        r.m = rle_encode(bin);
        r.bbox = clip(to_original(d.b, t), static_cast<float>(orig_w), static_cast<float>(orig_h));
        r.scored = false;
        r.class_id = d.class_id;
        r.label = d.class_id < static_cast<int>(labels.names.size()) ? labels.names[d.class_id]
                                                                     : std::to_string(d.class_id);
        r.score = d.score;
        out.push_back(std::move(r));
    }
    return out;
}

}  // namespace vfm
