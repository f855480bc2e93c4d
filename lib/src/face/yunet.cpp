// yunet: decode of the YuNet head (see face_task.h).
#include <algorithm>
#include <cmath>

#include "vfm/error.h"
#include "vfm/face_task.h"

namespace vfm {

namespace {
struct yunet_level {
    int stride, gw, gh;
    const tensor *a = nullptr, *b = nullptr, *bbox = nullptr, *kps = nullptr;  // a, b: cls/obj
};

std::vector<yunet_level> find_levels(const std::vector<tensor>& outs,
                                     const std::vector<int>& strides, int in_w, int in_h) {
    std::vector<yunet_level> levels;
    for (int s : strides) {
        yunet_level l{s, in_w / s, in_h / s};
        const int64_t n = static_cast<int64_t>(l.gw) * l.gh;
        for (const auto& t : outs) {
            if (t.rank() != 3 || t.shape[1] != n) continue;
            if (t.shape[2] == 1) {
                if (!l.a)
                    l.a = &t;
                else if (!l.b)
                    l.b = &t;
            } else if (t.shape[2] == 4 && !l.bbox)
                l.bbox = &t;
            else if (t.shape[2] == 10 && !l.kps)
                l.kps = &t;
        }
        if (!l.a || !l.b || !l.bbox || !l.kps) {
            std::string got;
            for (const auto& t : outs) got += (got.empty() ? "" : ", ") + shape_str(t.shape);
            const std::string ns = std::to_string(n);
            throw fatal_error("yunet export: expected for stride " + std::to_string(s) +
                              " cls [B, " + ns + ", 1], obj [B, " + ns + ", 1], bbox [B, " + ns +
                              ", 4] and kps [B, " + ns + ", 10], got " + got);
        }
        levels.push_back(l);
    }
    return levels;
}
}  // namespace

void check_yunet(const std::vector<tensor>& outs, const std::vector<int>& strides, int in_w,
                 int in_h) {
    find_levels(outs, strides, in_w, in_h);
}

std::vector<scored_face> decode_yunet(const std::vector<tensor>& outs, int b,
                                      const std::vector<int>& strides, float conf, int in_w,
                                      int in_h) {
    std::vector<scored_face> faces;
    for (const auto& l : find_levels(outs, strides, in_w, in_h)) {
        const int64_t n = static_cast<int64_t>(l.gw) * l.gh;
        const float* ca = l.a->data.data() + b * n;
        const float* cb = l.b->data.data() + b * n;
        const float* bb = l.bbox->data.data() + b * n * 4;
        const float* kp = l.kps->data.data() + b * n * 10;
        const float s = static_cast<float>(l.stride);
        for (int64_t i = 0; i < n; ++i) {
            float score = std::sqrt(std::clamp(ca[i], 0.f, 1.f) * std::clamp(cb[i], 0.f, 1.f));
            if (score < conf) continue;
            const float c = static_cast<float>(i % l.gw), r = static_cast<float>(i / l.gw);
            const float* d = bb + 4 * i;
            float cx = (c + d[0]) * s, cy = (r + d[1]) * s;
            float w = std::exp(d[2]) * s, h = std::exp(d[3]) * s;
            scored_face f{{cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2}, score, {}};
            for (int k = 0; k < 5; ++k)
                f.points.push_back(
                    {(kp[10 * i + 2 * k] + c) * s, (kp[10 * i + 2 * k + 1] + r) * s});
            faces.push_back(std::move(f));
        }
    }
    return faces;
}

}  // namespace vfm
