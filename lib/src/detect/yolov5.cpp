// yolov5: Ultralytics YOLOv5 export head.
// Input: output [B, N, 5+nc]; cx, cy, w, h in input pixels, objectness, class probabilities
// (all already sigmoid). Score = obj * cls, as in yolov5 utils/general.py non_max_suppression
// (candidates need obj > conf first, then obj * cls > conf).
#include "vfm/detect_family.h"
#include "vfm/error.h"

namespace vfm {

static void yolov5_check(const std::vector<tensor>& outs, const decode_params& p) {
    const tensor& out = family_output("yolov5", outs, p);
    if (out.rank() != 3 || out.shape[2] != 5 + p.num_classes)
        throw fatal_error("yolov5 export: expected output [B, N, 5+nc] with nc=" +
                          std::to_string(p.num_classes) + ", got " + shape_str(out.shape));
}

static std::vector<detection> yolov5_decode(const std::vector<tensor>& outs, int b,
                                            const decode_params& p) {
    const tensor& out = outs[static_cast<size_t>(p.output_index)];
    const int64_t n = out.shape[1], cols = out.shape[2];
    const float* base = out.data.data() + b * n * cols;
    std::vector<detection> dets;
    for (int64_t i = 0; i < n; ++i) {
        const float* r = base + i * cols;
        float obj = r[4];
        if (obj <= p.conf) continue;
        best_score best = best_class(r + 5, p.num_classes);
        float s = obj * best.score;
        if (s < p.conf) continue;
        dets.push_back({{r[0] - r[2] / 2, r[1] - r[3] / 2, r[0] + r[2] / 2, r[1] + r[3] / 2},
                        s,
                        best.class_id});
    }
    return dets;
}

const detect_family yolov5_family = {"yolov5", "[B, N, 5+nc] (cx, cy, w, h, obj, class probs)",
                                     yolov5_check, yolov5_decode};

}  // namespace vfm
