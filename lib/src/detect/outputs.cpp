#include <cmath>
#include <cstdio>
#include <filesystem>

#include "vfm/detect_outputs.h"

namespace vfm {

// Divide by a power of ten (not multiply by 0.01) so the result is the double nearest the
// decimal, which JSON prints shortest.
static double round_to(double v, double q) {
    const double s = std::round(1.0 / q);
    return std::round(v * s) / s;
}

nlohmann::ordered_json detections_json(const std::string& rel, int w, int h,
                                       const std::vector<detection>& dets,
                                       const label_set& labels) {
    nlohmann::ordered_json arr = nlohmann::ordered_json::array();
    for (const auto& d : dets) {
        std::string label = d.class_id >= 0 && d.class_id < static_cast<int>(labels.names.size())
                                ? labels.names[d.class_id]
                                : std::to_string(d.class_id);
        arr.push_back({{"box",
                        {round_to(d.b.x1, 0.01), round_to(d.b.y1, 0.01), round_to(d.b.x2, 0.01),
                         round_to(d.b.y2, 0.01)}},
                       {"score", round_to(d.score, 1e-5)},
                       {"class_id", d.class_id},
                       {"label", label}});
    }
    return {{"image", rel}, {"width", w}, {"height", h}, {"detections", arr}};
}

std::vector<detection> detections_from_json(const nlohmann::ordered_json& rec) {
    std::vector<detection> dets;
    for (const auto& d : rec.at("detections")) {
        const auto& b = d.at("box");
        dets.push_back(
            {{b[0].get<float>(), b[1].get<float>(), b[2].get<float>(), b[3].get<float>()},
             d.at("score").get<float>(),
             d.at("class_id").get<int>()});
    }
    return dets;
}

std::string yolo_txt(const std::vector<detection>& dets, int w, int h, bool with_conf) {
    std::string s;
    char buf[160];
    for (const auto& d : dets) {
        double cx = (d.b.x1 + d.b.x2) / 2.0 / w, cy = (d.b.y1 + d.b.y2) / 2.0 / h;
        double bw = (d.b.x2 - d.b.x1) / static_cast<double>(w),
               bh = (d.b.y2 - d.b.y1) / static_cast<double>(h);
        int n =
            std::snprintf(buf, sizeof buf, "%d %.6f %.6f %.6f %.6f", d.class_id, cx, cy, bw, bh);
        if (with_conf) std::snprintf(buf + n, sizeof buf - n, " %.5f", d.score);
        s += buf;
        s += "\n";
    }
    return s;
}

int64_t coco_image_id(const std::string& rel, int64_t index, const std::string& mode) {
    if (mode == "stem") {
        std::string stem = std::filesystem::path(rel).stem().string();
        if (!stem.empty() && stem.size() < 18 &&
            stem.find_first_not_of("0123456789") == std::string::npos)
            return std::stoll(stem);
    }
    return index + 1;
}

coco_builder::coco_builder(const label_set& labels, std::string id_mode)
    : labels_(labels), id_mode_(std::move(id_mode)) {}

void coco_builder::add(const nlohmann::ordered_json& rec) {
    const auto& r = rec.at("result");
    int64_t id =
        coco_image_id(rec.at("rel").get<std::string>(), rec.at("index").get<int64_t>(), id_mode_);
    images_.push_back({{"id", id},
                       {"file_name", rec.at("rel")},
                       {"width", r.at("width")},
                       {"height", r.at("height")}});
    for (const auto& d : detections_from_json(r)) {
        int cat = d.class_id >= 0 && d.class_id < static_cast<int>(labels_.category_ids.size())
                      ? labels_.category_ids[d.class_id]
                      : d.class_id + 1;
        double x = round_to(d.b.x1, 0.01), y = round_to(d.b.y1, 0.01);
        double w = round_to(d.b.x2 - d.b.x1, 0.01), h = round_to(d.b.y2 - d.b.y1, 0.01);
        double score = round_to(d.score, 1e-5);
        results_.push_back(
            {{"image_id", id}, {"category_id", cat}, {"bbox", {x, y, w, h}}, {"score", score}});
        anns_.push_back({{"id", static_cast<int64_t>(anns_.size()) + 1},
                         {"image_id", id},
                         {"category_id", cat},
                         {"bbox", {x, y, w, h}},
                         {"area", round_to(w * h, 0.01)},
                         {"iscrowd", 0},
                         {"score", score}});
    }
}

std::string coco_builder::results_json() const {
    return results_.dump() + "\n";
}

std::string coco_builder::dataset_json() const {
    nlohmann::ordered_json cats = nlohmann::ordered_json::array();
    for (size_t i = 0; i < labels_.names.size(); ++i)
        cats.push_back({{"id", labels_.category_ids[i]}, {"name", labels_.names[i]}});
    nlohmann::ordered_json d = {{"info", {{"description", "vfm detect"}}},
                                {"images", images_},
                                {"categories", cats},
                                {"annotations", anns_}};
    return d.dump() + "\n";
}

}  // namespace vfm
