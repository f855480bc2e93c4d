// segment's output formats as pure functions: per-mask records (amg.py's metadata fields with
// COCO compressed RLE), YOLO-seg polygons, instance and label maps, palettes, overlays.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <numeric>
#include <opencv2/imgproc.hpp>

#include "vfm/segment.h"

namespace vfm {

namespace {
double r2(double v) {
    return std::round(v * 100) / 100;
}
double r5(double v) {
    return std::round(v * 1e5) / 1e5;
}
// Mask indices by decreasing area (stable): painting in this order keeps small masks visible.
std::vector<size_t> largest_first(const std::vector<cv::Mat>& masks) {
    std::vector<size_t> order(masks.size());
    std::iota(order.begin(), order.end(), 0);
    std::vector<int> area(masks.size());
    for (size_t i = 0; i < masks.size(); ++i) area[i] = cv::countNonZero(masks[i]);
    std::stable_sort(order.begin(), order.end(),
                     [&](size_t a, size_t b) { return area[a] > area[b]; });
    return order;
}
}  // namespace

cv::Vec3b palette_color(int i) {
    // PASCAL VOC devkit labelcolormap: bits of the index spread over R, G, B from the top bit.
    int r = 0, g = 0, b = 0, c = i;
    for (int j = 0; j < 8 && c; ++j, c >>= 3) {
        r |= ((c >> 0) & 1) << (7 - j);
        g |= ((c >> 1) & 1) << (7 - j);
        b |= ((c >> 2) & 1) << (7 - j);
    }
    return cv::Vec3b(static_cast<uchar>(b), static_cast<uchar>(g), static_cast<uchar>(r));
}

nlohmann::ordered_json mask_json(const mask_record& r) {
    nlohmann::ordered_json j;
    j["segmentation"] = {{"size", {r.m.h, r.m.w}}, {"counts", rle_to_string(r.m)}};
    j["area"] = rle_area(r.m);
    // amg.py: bbox = box_xyxy_to_xywh(batched_mask_to_box(mask)) (inclusive max, so w = x2 - x1)
    j["bbox"] = {r2(r.bbox.x1), r2(r.bbox.y1), r2(r.bbox.x2 - r.bbox.x1),
                 r2(r.bbox.y2 - r.bbox.y1)};
    if (r.scored) {
        j["predicted_iou"] = r5(r.predicted_iou);
        j["stability_score"] = r5(r.stability_score);
        if (r.point.x >= 0) j["point_coords"] = {{r2(r.point.x), r2(r.point.y)}};
        j["crop_box"] = {r.crop.x0, r.crop.y0, r.crop.x1 - r.crop.x0, r.crop.y1 - r.crop.y0};
    }
    if (r.prompt >= 0) j["prompt"] = r.prompt;
    if (!r.label.empty()) j["label"] = r.label;
    if (r.class_id >= 0) j["class_id"] = r.class_id;
    if (r.score >= 0) j["score"] = r5(r.score);
    return j;
}

mask_record mask_from_json(const nlohmann::ordered_json& j) {
    mask_record r;
    const auto& seg = j.at("segmentation");
    r.m = rle_from_string(seg.at("counts").get<std::string>(), seg.at("size").at(0).get<int>(),
                          seg.at("size").at(1).get<int>());
    const auto& b = j.at("bbox");
    r.bbox = {b[0].get<float>(), b[1].get<float>(), b[0].get<float>() + b[2].get<float>(),
              b[1].get<float>() + b[3].get<float>()};
    r.scored = j.contains("predicted_iou");
    r.predicted_iou = j.value("predicted_iou", 0.f);
    r.stability_score = j.value("stability_score", 0.f);
    if (j.contains("point_coords"))
        r.point = {j["point_coords"][0][0].get<float>(), j["point_coords"][0][1].get<float>()};
    if (j.contains("crop_box")) {
        const auto& c = j["crop_box"];
        r.crop = {c[0].get<int>(), c[1].get<int>(), c[0].get<int>() + c[2].get<int>(),
                  c[1].get<int>() + c[3].get<int>(), 0};
    }
    r.prompt = j.value("prompt", -1);
    r.label = j.value("label", std::string());
    r.class_id = j.value("class_id", -1);
    r.score = j.value("score", -1.f);
    return r;
}

std::string yolo_seg_txt(const std::vector<std::pair<int, cv::Mat>>& class_masks, int w, int h) {
    std::string out;
    char buf[32];
    for (const auto& [cls, mask] : class_masks) {
        auto polys = mask_polygons(mask, 1.0);
        if (polys.empty()) continue;
        out += std::to_string(cls);
        for (const auto& p : polys.front()) {
            std::snprintf(buf, sizeof buf, " %.6f %.6f", static_cast<double>(p.x) / w,
                          static_cast<double>(p.y) / h);
            out += buf;
        }
        out += "\n";
    }
    return out;
}

cv::Mat instance_map(const std::vector<cv::Mat>& masks, int w, int h) {
    cv::Mat ids(h, w, CV_16U, cv::Scalar(0));
    for (size_t i : largest_first(masks)) ids.setTo(static_cast<int>(i + 1), masks[i]);
    return ids;
}

cv::Mat overlay_masks(const cv::Mat& bgr, const std::vector<cv::Mat>& masks, float alpha) {
    cv::Mat out = bgr.clone();
    for (size_t i : largest_first(masks)) {
        cv::Vec3b c = palette_color(static_cast<int>(i) + 1);
        cv::Mat colour(out.size(), CV_8UC3, cv::Scalar(c[0], c[1], c[2])), blend;
        cv::addWeighted(out, 1 - alpha, colour, alpha, 0, blend);
        blend.copyTo(out, masks[i]);
        std::vector<std::vector<cv::Point>> contours;
        cv::findContours(masks[i].clone(), contours, cv::RETR_EXTERNAL, cv::CHAIN_APPROX_SIMPLE);
        cv::drawContours(out, contours, -1, cv::Scalar(c[0], c[1], c[2]),
                         std::max(1, std::min(out.cols, out.rows) / 400));
    }
    return out;
}

cv::Mat colorize_labels(const cv::Mat& labels16) {
    cv::Mat out(labels16.size(), CV_8UC3);
    for (int y = 0; y < labels16.rows; ++y) {
        const uint16_t* l = labels16.ptr<uint16_t>(y);
        cv::Vec3b* o = out.ptr<cv::Vec3b>(y);
        for (int x = 0; x < labels16.cols; ++x) o[x] = palette_color(l[x]);
    }
    return out;
}

cv::Mat overlay_labels(const cv::Mat& bgr, const cv::Mat& labels16, float alpha, int background) {
    // Palette colour k (k + 1 when class 0 is an object, so that it is not drawn black).
    const int shift = background == 0 ? 0 : 1;
    cv::Mat colour(labels16.size(), CV_8UC3);
    for (int y = 0; y < labels16.rows; ++y) {
        const uint16_t* l = labels16.ptr<uint16_t>(y);
        cv::Vec3b* o = colour.ptr<cv::Vec3b>(y);
        for (int x = 0; x < labels16.cols; ++x) o[x] = palette_color(l[x] + shift);
    }
    cv::Mat blend, out = bgr.clone();
    cv::addWeighted(bgr, 1 - alpha, colour, alpha, 0, blend);
    blend.copyTo(out, labels16 != background);
    return out;
}

}  // namespace vfm
