// blazeface: MediaPipe BlazeFace anchors and decode (see face_family.h).
#include <algorithm>
#include <cmath>

#include "vfm/face_family.h"

namespace vfm {

std::vector<anchor> blazeface_anchors(int in_w, int in_h, const std::vector<int>& strides,
                                      const std::vector<int>& per_cell) {
    std::vector<anchor> out;
    for (size_t l = 0; l < strides.size() && l < per_cell.size(); ++l) {
        const int gw = (in_w + strides[l] - 1) / strides[l];
        const int gh = (in_h + strides[l] - 1) / strides[l];
        for (int y = 0; y < gh; ++y)
            for (int x = 0; x < gw; ++x)
                for (int k = 0; k < per_cell[l]; ++k)
                    out.push_back({(x + 0.5f) / gw, (y + 0.5f) / gh});
    }
    return out;
}

scored_face decode_blazeface_row(const float* r, float logit, const anchor& a, int in_w, int in_h,
                                 int n_keypoints, float clip) {
    const float W = static_cast<float>(in_w), H = static_cast<float>(in_h);
    // anchors are unit-sized, so offsets divided by the input size are fractions of the image
    const float cx = r[0] / W + a.cx, cy = r[1] / H + a.cy;
    const float w = r[2] / W, h = r[3] / H;
    scored_face f;
    f.b = {(cx - w / 2) * W, (cy - h / 2) * H, (cx + w / 2) * W, (cy + h / 2) * H};
    const float z = std::clamp(logit, -clip, clip);
    f.score = 1.f / (1.f + std::exp(-z));
    for (int k = 0; k < n_keypoints; ++k)
        f.points.push_back({(r[4 + 2 * k] / W + a.cx) * W, (r[5 + 2 * k] / H + a.cy) * H});
    return f;
}

std::vector<point2> blazeface_five_points(const std::vector<point2>& kp) {
    // ArcFace 112x112 template: eye distance 35.24 px, mouth width 29.18 px
    constexpr float ratio = (70.7299f - 41.5493f) / (73.5318f - 38.2946f);
    const float ex = kp[1].x - kp[0].x, ey = kp[1].y - kp[0].y;
    const float hx = ex * ratio / 2, hy = ey * ratio / 2;
    return {kp[0], kp[1], kp[2], {kp[3].x - hx, kp[3].y - hy}, {kp[3].x + hx, kp[3].y + hy}};
}

}  // namespace vfm
