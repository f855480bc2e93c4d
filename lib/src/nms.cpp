#include "vfm/nms.h"

#include <algorithm>
#include <numeric>

namespace vfm {

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
