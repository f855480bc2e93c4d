// yolov8: Ultralytics export head (YOLOv8, YOLO11 share it).
// Input: output [B, 4+nc, N]; rows 0-3 are cx, cy, w, h in input pixels, rows 4.. class scores
// (already sigmoid). No objectness. Reference: ultralytics/nn/modules/head.py Detect._inference
// and ultralytics/utils/ops.py non_max_suppression (best class per anchor, multi_label=False).
#include "vfm/detect_family.h"
#include "vfm/error.h"

namespace vfm {

static void yolov8_check(const std::vector<tensor>& outs, const decode_params& p) {
    const tensor& out = family_output("yolov8", outs, p);
    if (out.rank() != 3 || out.shape[1] != 4 + p.num_classes)
        throw fatal_error("yolov8 export: expected output [B, 4+nc, N] with nc=" +
                          std::to_string(p.num_classes) + ", got " + shape_str(out.shape));
}

static std::vector<detection> yolov8_decode(const std::vector<tensor>& outs, int b,
                                            const decode_params& p) {
    const tensor& out = outs[static_cast<size_t>(p.output_index)];
    const int64_t rows = out.shape[1], n = out.shape[2];
    const float* base = out.data.data() + b * rows * n;
    std::vector<detection> dets;
    for (int64_t i = 0; i < n; ++i) {
        best_score best = best_class(base + 4 * n + i, p.num_classes, n);
        if (best.score < p.conf) continue;
        float cx = base[i], cy = base[n + i], w = base[2 * n + i], h = base[3 * n + i];
        dets.push_back({{cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2},
                        best.score,
                        best.class_id,
                        static_cast<int>(i)});
    }
    return dets;
}

const detect_family yolov8_family = {"yolov8", "[B, 4+nc, N] (cx, cy, w, h, class scores)",
                                     yolov8_check, yolov8_decode};

}  // namespace vfm
