// yolox: YOLOX export with decode_in_inference=False (the official ONNX export).
// Input: output [B, N, 5+nc], N = sum over strides s of (H/s)*(W/s), cells row-major per
// stride; columns: raw x, y offsets and log w, h, then objectness and class probabilities
// (sigmoid already applied by the head). Decode as yolox/models/yolo_head.py decode_outputs:
// cx = (x + grid_x) * s, w = exp(w) * s. Score = obj * cls (yolox/utils/boxes.py postprocess).
#include <cmath>

#include "vfm/detect_family.h"
#include "vfm/error.h"

namespace vfm {

static int64_t yolox_cells(const decode_params& p) {
    int64_t n = 0;
    for (int s : p.strides) n += static_cast<int64_t>(p.in_h / s) * (p.in_w / s);
    return n;
}

static void yolox_check(const std::vector<tensor>& outs, const decode_params& p) {
    const tensor& out = family_output("yolox", outs, p);
    int64_t n = yolox_cells(p);
    if (out.rank() != 3 || out.shape[2] != 5 + p.num_classes || out.shape[1] != n)
        throw fatal_error("yolox export: expected output [B, " + std::to_string(n) + ", " +
                          std::to_string(5 + p.num_classes) + "] for input " +
                          std::to_string(p.in_w) + "x" + std::to_string(p.in_h) +
                          " (strides 8/16/32, nc=" + std::to_string(p.num_classes) + "), got " +
                          shape_str(out.shape));
}

static std::vector<detection> yolox_decode(const std::vector<tensor>& outs, int b,
                                           const decode_params& p) {
    const tensor& out = outs[static_cast<size_t>(p.output_index)];
    const int64_t n = out.shape[1], cols = out.shape[2];
    const float* r = out.data.data() + b * n * cols;
    std::vector<detection> dets;
    for (int s : p.strides) {
        int gw = p.in_w / s, gh = p.in_h / s;
        for (int gy = 0; gy < gh; ++gy) {
            for (int gx = 0; gx < gw; ++gx, r += cols) {
                float obj = r[4];
                if (obj < p.conf) continue;
                best_score best = best_class(r + 5, p.num_classes);
                float sc = obj * best.score;
                if (sc < p.conf) continue;
                float cx = (r[0] + gx) * s, cy = (r[1] + gy) * s;
                float w = std::exp(r[2]) * s, h = std::exp(r[3]) * s;
                dets.push_back(
                    {{cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2}, sc, best.class_id});
            }
        }
    }
    return dets;
}

const detect_family yolox_family = {"yolox", "[B, N, 5+nc] raw grid output (strides 8/16/32)",
                                    yolox_check, yolox_decode};

}  // namespace vfm
