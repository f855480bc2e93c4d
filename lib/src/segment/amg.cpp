// Automatic mask generator geometry: point grids, crop boxes and uncropping, following
// facebookresearch/segment-anything segment_anything/utils/amg.py (see vfm/mask_ops.h).
#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "vfm/mask_ops.h"

namespace vfm {

std::vector<cv::Point2f> build_point_grid(int n_per_side) {
    const int n = n_per_side;
    if (n <= 0) throw std::invalid_argument("build_point_grid: n_per_side must be positive");
    // np.linspace(offset, 1 - offset, n): start + i * step in double, the last exactly stop.
    const double offset = 1.0 / (2 * n), stop = 1 - offset;
    const double step = n > 1 ? (stop - offset) / (n - 1) : 0;
    std::vector<double> side(n);
    for (int i = 0; i < n; ++i) side[i] = i * step + offset;
    side[n - 1] = n > 1 ? stop : offset;
    std::vector<cv::Point2f> pts;
    pts.reserve(size_t(n) * n);
    for (int iy = 0; iy < n; ++iy)  // x varies fastest: np.stack([tile x, tile y]).reshape
        for (int ix = 0; ix < n; ++ix) pts.emplace_back(float(side[ix]), float(side[iy]));
    return pts;
}

std::vector<std::vector<cv::Point2f>> build_all_layer_point_grids(int n_per_side, int n_layers,
                                                                  int scale_per_layer) {
    if (n_layers > 0 && scale_per_layer < 1)
        throw std::invalid_argument("build_all_layer_point_grids: scale_per_layer must be >= 1");
    std::vector<std::vector<cv::Point2f>> grids;
    int64_t div = 1;  // scale_per_layer^i; int(n / div) is integer division for positives
    for (int i = 0; i <= n_layers; ++i) {
        grids.push_back(build_point_grid(int(n_per_side / div)));  // 0 throws, as upstream
        div *= scale_per_layer;
    }
    return grids;
}

std::vector<crop_box> generate_crop_boxes(int w, int h, int n_layers, float overlap_ratio) {
    std::vector<crop_box> boxes{{0, 0, w, h, 0}};  // the whole image first
    const int short_side = std::min(w, h);
    auto crop_len = [](int len, int n, int overlap) {  // int(ceil((overlap*(n-1) + len) / n))
        return int(std::ceil((double(overlap) * (n - 1) + len) / n));
    };
    for (int layer = 1; layer <= n_layers; ++layer) {
        const int n = 1 << layer;  // crops per side
        const int overlap = int(double(overlap_ratio) * short_side * (2.0 / n));
        const int cw = crop_len(w, n, overlap), ch = crop_len(h, n, overlap);
        for (int i = 0; i < n; ++i)  // itertools.product(x0s, y0s): x outer, y inner
            for (int j = 0; j < n; ++j) {
                const int x0 = (cw - overlap) * i, y0 = (ch - overlap) * j;
                boxes.push_back({x0, y0, std::min(x0 + cw, w), std::min(y0 + ch, h), layer});
            }
    }
    return boxes;
}

bool box_near_crop_edge(const box& b, const crop_box& crop, int orig_w, int orig_h, float atol) {
    const box u = uncrop_box(b, crop);
    const float v[4] = {u.x1, u.y1, u.x2, u.y2};
    const float c[4] = {float(crop.x0), float(crop.y0), float(crop.x1), float(crop.y1)};
    const float o[4] = {0.f, 0.f, float(orig_w), float(orig_h)};
    // torch.isclose(..., atol, rtol=0) in float32: |a - b| <= atol.
    auto close = [atol](float a, float b) { return std::fabs(a - b) <= atol; };
    for (int k = 0; k < 4; ++k)
        if (close(v[k], c[k]) && !close(v[k], o[k])) return true;
    return false;
}

box uncrop_box(const box& b, const crop_box& crop) {
    const float dx = float(crop.x0), dy = float(crop.y0);
    return box{b.x1 + dx, b.y1 + dy, b.x2 + dx, b.y2 + dy};
}

cv::Point2f uncrop_point(cv::Point2f p, const crop_box& crop) {
    return {p.x + float(crop.x0), p.y + float(crop.y0)};
}

cv::Mat uncrop_mask(const cv::Mat& mask, const crop_box& crop, int orig_w, int orig_h) {
    if (crop.x0 < 0 || crop.y0 < 0 || crop.x1 > orig_w || crop.y1 > orig_h ||
        mask.cols != crop.x1 - crop.x0 || mask.rows != crop.y1 - crop.y0)
        throw std::invalid_argument("uncrop_mask: mask does not match a crop inside the image");
    if (mask.empty()) return cv::Mat::zeros(orig_h, orig_w, CV_8U);
    cv::Mat out;
    cv::copyMakeBorder(mask, out, crop.y0, orig_h - crop.y1, crop.x0, orig_w - crop.x1,
                       cv::BORDER_CONSTANT, cv::Scalar::all(0));
    return out;
}

}  // namespace vfm
