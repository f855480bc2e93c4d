#include "vfm/nms.h"

#include <algorithm>
#include <numeric>

namespace vfm {

std::vector<size_t> nms_keep(const std::vector<box>& boxes, const std::vector<float>& scores,
                             float iou_thr, size_t max_keep) {
    std::vector<size_t> order(boxes.size());
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(),
                     [&](size_t a, size_t b) { return scores[a] > scores[b]; });
    std::vector<size_t> keep;
    std::vector<char> removed(boxes.size(), 0);
    for (size_t oi = 0; oi < order.size(); ++oi) {
        size_t i = order[oi];
        if (removed[i]) continue;
        keep.push_back(i);
        if (max_keep && keep.size() >= max_keep) break;
        for (size_t oj = oi + 1; oj < order.size(); ++oj)
            if (!removed[order[oj]] && iou(boxes[i], boxes[order[oj]]) > iou_thr)
                removed[order[oj]] = 1;
    }
    return keep;
}

std::vector<detection> nms(std::vector<detection> dets, const nms_params& p) {
    std::stable_sort(dets.begin(), dets.end(),
                     [](const detection& a, const detection& b) { return a.score > b.score; });
    std::vector<detection> keep;
    std::vector<char> removed(dets.size(), 0);
    for (size_t i = 0; i < dets.size(); ++i) {
        if (removed[i]) continue;
        keep.push_back(dets[i]);
        if (p.max_det > 0 && static_cast<int>(keep.size()) >= p.max_det) break;
        for (size_t j = i + 1; j < dets.size(); ++j) {
            if (removed[j]) continue;
            if (!p.agnostic && dets[j].class_id != dets[i].class_id) continue;
            if (iou(dets[i].b, dets[j].b) > p.iou) removed[j] = 1;
        }
    }
    return keep;
}

}  // namespace vfm
