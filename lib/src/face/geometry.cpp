#include <algorithm>
#include <cmath>

#include "vfm/face_geometry.h"

namespace vfm {

std::vector<prior> retinaface_priors(int in_w, int in_h,
                                     const std::vector<std::vector<int>>& min_sizes,
                                     const std::vector<int>& steps, bool clip) {
    std::vector<prior> out;
    for (size_t k = 0; k < steps.size() && k < min_sizes.size(); ++k) {
        const int step = steps[k];
        const int fh = (in_h + step - 1) / step, fw = (in_w + step - 1) / step;  // ceil
        for (int i = 0; i < fh; ++i)
            for (int j = 0; j < fw; ++j)
                for (int ms : min_sizes[k]) {
                    prior p{(j + 0.5f) * step / in_w, (i + 0.5f) * step / in_h,
                            static_cast<float>(ms) / in_w, static_cast<float>(ms) / in_h};
                    if (clip) {
                        p.cx = std::clamp(p.cx, 0.f, 1.f), p.cy = std::clamp(p.cy, 0.f, 1.f);
                        p.w = std::clamp(p.w, 0.f, 1.f), p.h = std::clamp(p.h, 0.f, 1.f);
                    }
                    out.push_back(p);
                }
    }
    return out;
}

box decode_prior_box(const float* loc, const prior& p, float var0, float var1, int in_w, int in_h) {
    float cx = p.cx + loc[0] * var0 * p.w, cy = p.cy + loc[1] * var0 * p.h;
    float w = p.w * std::exp(loc[2] * var1), h = p.h * std::exp(loc[3] * var1);
    return {(cx - w / 2) * in_w, (cy - h / 2) * in_h, (cx + w / 2) * in_w, (cy + h / 2) * in_h};
}

std::vector<point2> decode_prior_points(const float* landm, int n, const prior& p, float var0,
                                        int in_w, int in_h) {
    std::vector<point2> pts(static_cast<size_t>(n));
    for (int i = 0; i < n; ++i)
        pts[i] = {(p.cx + landm[2 * i] * var0 * p.w) * in_w,
                  (p.cy + landm[2 * i + 1] * var0 * p.h) * in_h};
    return pts;
}

std::vector<scored_face> weighted_nms(std::vector<scored_face> faces, float iou_thr) {
    std::stable_sort(faces.begin(), faces.end(),
                     [](const scored_face& a, const scored_face& b) { return a.score > b.score; });
    std::vector<scored_face> out;
    std::vector<char> used(faces.size(), 0);
    for (size_t i = 0; i < faces.size(); ++i) {
        if (used[i]) continue;
        double wsum = 0, x1 = 0, y1 = 0, x2 = 0, y2 = 0;
        std::vector<double> px(faces[i].points.size() * 2, 0.0);
        for (size_t j = i; j < faces.size(); ++j) {
            if (used[j] || (j != i && iou(faces[i].b, faces[j].b) <= iou_thr)) continue;
            used[j] = 1;
            const double w = faces[j].score;
            wsum += w;
            x1 += w * faces[j].b.x1, y1 += w * faces[j].b.y1;
            x2 += w * faces[j].b.x2, y2 += w * faces[j].b.y2;
            for (size_t k = 0; k < faces[i].points.size() && k < faces[j].points.size(); ++k)
                px[2 * k] += w * faces[j].points[k].x, px[2 * k + 1] += w * faces[j].points[k].y;
        }
        scored_face f;
        f.score = faces[i].score;
        f.b = {static_cast<float>(x1 / wsum), static_cast<float>(y1 / wsum),
               static_cast<float>(x2 / wsum), static_cast<float>(y2 / wsum)};
        for (size_t k = 0; k < faces[i].points.size(); ++k)
            f.points.push_back(
                {static_cast<float>(px[2 * k] / wsum), static_cast<float>(px[2 * k + 1] / wsum)});
        out.push_back(std::move(f));
    }
    return out;
}

std::array<double, 6> umeyama(const std::vector<point2>& src, const std::vector<point2>& dst) {
    const size_t n = std::min(src.size(), dst.size());
    double mx = 0, my = 0, nx = 0, ny = 0;
    for (size_t i = 0; i < n; ++i) mx += src[i].x, my += src[i].y, nx += dst[i].x, ny += dst[i].y;
    mx /= n, my /= n, nx /= n, ny /= n;
    // With complex numbers z = x + iy the best similarity is c = sum(conj(s) d) / sum(|s|^2),
    // the closed form of Umeyama's solution in 2-D (no reflection).
    double sxx = 0, re = 0, im = 0;
    for (size_t i = 0; i < n; ++i) {
        double sx = src[i].x - mx, sy = src[i].y - my, dx = dst[i].x - nx, dy = dst[i].y - ny;
        sxx += sx * sx + sy * sy;
        re += sx * dx + sy * dy;
        im += sx * dy - sy * dx;
    }
    double a = sxx > 0 ? re / sxx : 1, b = sxx > 0 ? im / sxx : 0;
    return {a, -b, nx - (a * mx - b * my), b, a, ny - (b * mx + a * my)};
}

std::vector<point2> arcface_template_112() {
    return {{38.2946f, 51.6963f},
            {73.5318f, 51.5014f},
            {56.0252f, 71.7366f},
            {41.5493f, 92.3655f},
            {70.7299f, 92.2041f}};
}

}  // namespace vfm
