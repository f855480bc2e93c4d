// Detections and the one non-maximum suppression every detector family shares.
#pragma once
#include <cstddef>
#include <vector>

#include "vfm/geometry.h"

namespace vfm {

struct detection {
    box b;
    float score = 0;
    int class_id = 0;
    int anchor = -1;  // output column it came from (yolov8: where the mask coefficients are)
};

struct nms_params {
    float iou = 0.45f;
    bool agnostic = false;  // suppress across classes
    int max_det = 300;      // keep at most this many after NMS (0 = no limit)
};

// Indices of the boxes greedy NMS keeps (highest score first, stable on ties; every box is
// one class), at most max_keep (0 = no limit).
std::vector<size_t> nms_keep(const std::vector<box>& boxes, const std::vector<float>& scores,
                             float iou_thr, size_t max_keep = 0);

// Greedy NMS, highest score first; class-aware unless agnostic. Stable: equal scores keep
// their input order. Returns the kept detections sorted by descending score.
std::vector<detection> nms(std::vector<detection> dets, const nms_params& p);

}  // namespace vfm
