#include "vfm/geometry.h"

#include <algorithm>
#include <cmath>

namespace vfm {

float iou(const box& a, const box& b) {
    float ix1 = std::max(a.x1, b.x1), iy1 = std::max(a.y1, b.y1);
    float ix2 = std::min(a.x2, b.x2), iy2 = std::min(a.y2, b.y2);
    float inter = (ix2 > ix1 && iy2 > iy1) ? (ix2 - ix1) * (iy2 - iy1) : 0.f;
    float uni = a.area() + b.area() - inter;
    return uni > 0 ? inter / uni : 0.f;
}

box clip(const box& b, float w, float h) {
    auto c = [](float v, float hi) { return std::min(std::max(v, 0.f), hi); };
    return {c(b.x1, w), c(b.y1, h), c(b.x2, w), c(b.y2, h)};
}

letterbox_params compute_letterbox(int img_w, int img_h, int in_w, int in_h, bool centre,
                                   bool scale_up, size_rounding rounding) {
    letterbox_params p;
    // double, as the Python references compute it: int(720 * 0.325) must give 234.
    double r = std::min(static_cast<double>(in_w) / img_w, static_cast<double>(in_h) / img_h);
    if (!scale_up) r = std::min(r, 1.0);
    p.sx = p.sy = static_cast<float>(r);
    // Ultralytics rounds the resized size; YOLOX truncates (int(w * r)).
    if (rounding == size_rounding::by_placement)
        rounding = centre ? size_rounding::nearest : size_rounding::truncate;
    if (rounding == size_rounding::nearest) {
        p.new_w = static_cast<int>(std::lround(img_w * r));
        p.new_h = static_cast<int>(std::lround(img_h * r));
    } else {
        p.new_w = static_cast<int>(img_w * r);
        p.new_h = static_cast<int>(img_h * r);
    }
    p.new_w = std::max(1, std::min(p.new_w, in_w));
    p.new_h = std::max(1, std::min(p.new_h, in_h));
    double dw = in_w - p.new_w, dh = in_h - p.new_h;
    if (centre) {
        p.pad_left = static_cast<int>(std::lround(dw / 2 - 0.1));
        p.pad_top = static_cast<int>(std::lround(dh / 2 - 0.1));
    }
    p.pad_right = in_w - p.new_w - p.pad_left;
    p.pad_bottom = in_h - p.new_h - p.pad_top;
    return p;
}

box to_original(const box& b, const input_transform& t) {
    auto fx = [&](float x) { return ((x - t.lb.pad_left) / t.lb.sx + t.offset_x) * t.decode_sx; };
    auto fy = [&](float y) { return ((y - t.lb.pad_top) / t.lb.sy + t.offset_y) * t.decode_sy; };
    return {fx(b.x1), fy(b.y1), fx(b.x2), fy(b.y2)};
}

box to_input(const box& b, const input_transform& t) {
    auto fx = [&](float x) { return (x / t.decode_sx - t.offset_x) * t.lb.sx + t.lb.pad_left; };
    auto fy = [&](float y) { return (y / t.decode_sy - t.offset_y) * t.lb.sy + t.lb.pad_top; };
    return {fx(b.x1), fy(b.y1), fx(b.x2), fy(b.y2)};
}

static std::vector<int> tile_starts(int len, int size, int step) {
    std::vector<int> s;
    if (len <= size) return {0};
    for (int x = 0;; x += step) {
        if (x + size >= len) {
            s.push_back(len - size);
            break;
        }
        s.push_back(x);
    }
    return s;
}

std::vector<tile_rect> make_tiles(int img_w, int img_h, int size, float overlap) {
    overlap = std::min(std::max(overlap, 0.f), 0.9f);
    int step = std::max(1, static_cast<int>(std::lround(size * (1 - overlap))));
    std::vector<tile_rect> tiles;
    for (int y : tile_starts(img_h, size, step))
        for (int x : tile_starts(img_w, size, step))
            tiles.push_back({x, y, std::min(size, img_w), std::min(size, img_h)});
    return tiles;
}

}  // namespace vfm
