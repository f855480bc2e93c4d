// Prompts for the sam family: files, command-line points and boxes, detect's JSON, and the
// decoder inputs they become (segment_anything/utils/onnx.py SamOnnxModel's contract).
#include <algorithm>
#include <cmath>
#include <sstream>

#include "vfm/error.h"
#include "vfm/fsutil.h"
#include "vfm/segment.h"
#include "vfm/sha256.h"

namespace vfm {

namespace {

std::vector<float> numbers_of(const std::string& s, const std::string& what) {
    std::vector<float> v;
    std::stringstream ss(s);
    std::string tok;
    while (std::getline(ss, tok, ',')) {
        try {
            size_t used = 0;
            float f = std::stof(tok, &used);
            if (tok.find_first_not_of(" \t", used) != std::string::npos || !std::isfinite(f))
                throw std::invalid_argument(tok);
            v.push_back(f);
        } catch (const std::exception&) {
            throw fatal_error(what + ": \"" + s + "\" is not a list of numbers");
        }
    }
    return v;
}

sam_point point_of(const nlohmann::json& p, const std::string& where) {
    if (!p.is_array() || (p.size() != 2 && p.size() != 3))
        throw fatal_error(where + ": a point is [x, y] or [x, y, label]");
    for (const auto& v : p)
        if (!v.is_number()) throw fatal_error(where + ": point values must be numbers");
    sam_point sp{p[0].get<float>(), p[1].get<float>(), p.size() == 3 ? p[2].get<int>() : 1};
    if (sp.label != 0 && sp.label != 1)
        throw fatal_error(where + ": point label must be 1 (foreground) or 0 (background)");
    return sp;
}

box box_of(const std::vector<float>& v, const std::string& where) {
    if (v.size() != 4) throw fatal_error(where + ": a box is [x1, y1, x2, y2]");
    box b{std::min(v[0], v[2]), std::min(v[1], v[3]), std::max(v[0], v[2]), std::max(v[1], v[3])};
    return b;
}

}  // namespace

std::vector<sam_prompt> parse_image_prompts(const nlohmann::json& entry, const std::string& where) {
    if (!entry.is_object())
        throw fatal_error(where + ": expected {\"points\": ..., \"boxes\": ...}");
    std::vector<sam_prompt> out;
    for (auto it = entry.begin(); it != entry.end(); ++it)
        if (it.key() != "points" && it.key() != "boxes")
            throw fatal_error(where + ": unknown key \"" + it.key() +
                              "\" (expected points and boxes)");
    if (entry.contains("boxes")) {
        const auto& bs = entry["boxes"];
        if (!bs.is_array()) throw fatal_error(where + ".boxes: expected a list of boxes");
        for (const auto& b : bs) {
            if (!b.is_array()) throw fatal_error(where + ".boxes: a box is [x1, y1, x2, y2]");
            std::vector<float> v;
            for (const auto& x : b) {
                if (!x.is_number()) throw fatal_error(where + ".boxes: box values must be numbers");
                v.push_back(x.get<float>());
            }
            sam_prompt p;
            p.has_box = true;
            p.b = box_of(v, where + ".boxes");
            out.push_back(p);
        }
    }
    if (entry.contains("points")) {
        const auto& ps = entry["points"];
        if (!ps.is_array()) throw fatal_error(where + ".points: expected a list of points");
        sam_prompt p;
        for (const auto& x : ps) p.points.push_back(point_of(x, where + ".points"));
        if (!p.points.empty()) out.push_back(p);
    }
    return out;
}

std::map<std::string, std::vector<sam_prompt>> parse_prompts_file(const nlohmann::json& j,
                                                                  const std::string& file) {
    if (!j.is_object())
        throw fatal_error(file +
                          ": expected {\"image/path.jpg\": {\"points\": [...], \"boxes\": "
                          "[...]}, ...}");
    std::map<std::string, std::vector<sam_prompt>> out;
    for (auto it = j.begin(); it != j.end(); ++it)
        out[it.key()] = parse_image_prompts(it.value(), file + ": \"" + it.key() + "\"");
    return out;
}

prompts_file load_prompts_file(const std::string& path) {
    std::string text;
    try {
        text = read_file(path);
    } catch (const std::exception&) {
        throw fatal_error(path + ": cannot read the prompts file");
    }
    nlohmann::json j = nlohmann::json::parse(text, nullptr, false);
    if (j.is_discarded()) throw fatal_error(path + ": not valid JSON");
    return {parse_prompts_file(j, path), sha256_hex(text)};
}

std::vector<sam_prompt> parse_cli_prompts(const std::vector<std::string>& points,
                                          const std::vector<std::string>& boxes) {
    std::vector<sam_prompt> out;
    for (const auto& s : boxes) {
        sam_prompt p;
        p.has_box = true;
        p.b = box_of(numbers_of(s, "--box"), "--box \"" + s + "\"");
        out.push_back(p);
    }
    sam_prompt pts;
    for (const auto& s : points) {
        auto v = numbers_of(s, "--point");
        if (v.size() != 2 && v.size() != 3)
            throw fatal_error("--point \"" + s + "\": expected x,y or x,y,label");
        sam_point sp{v[0], v[1], v.size() == 3 ? static_cast<int>(v[2]) : 1};
        if ((sp.label != 0 && sp.label != 1) || (v.size() == 3 && v[2] != sp.label))
            throw fatal_error("--point \"" + s + "\": label must be 1 (foreground) or 0");
        pts.points.push_back(sp);
    }
    if (!pts.points.empty()) out.push_back(pts);
    return out;
}

std::vector<sam_prompt> prompts_from_detections(const nlohmann::ordered_json& record,
                                                const std::vector<std::string>& classes,
                                                float min_score) {
    std::vector<sam_prompt> out;
    if (!record.contains("detections") || !record["detections"].is_array()) return out;
    for (const auto& d : record["detections"]) {
        const auto& b = d.at("box");
        sam_prompt p;
        p.has_box = true;
        p.b = box_of({b.at(0).get<float>(), b.at(1).get<float>(), b.at(2).get<float>(),
                      b.at(3).get<float>()},
                     "detections");
        p.score = d.value("score", 1.0f);
        p.class_id = d.value("class_id", -1);
        p.label = d.value("label", std::string());
        if (p.score < min_score) continue;
        if (!classes.empty() &&
            std::find(classes.begin(), classes.end(), p.label) == classes.end() &&
            std::find(classes.begin(), classes.end(), std::to_string(p.class_id)) == classes.end())
            continue;
        out.push_back(p);
    }
    return out;
}

int clip_prompts(std::vector<sam_prompt>& ps, int w, int h) {
    int changed = 0;
    const float mx = static_cast<float>(w - 1), my = static_cast<float>(h - 1);
    for (auto& p : ps) {
        bool c = false;
        for (auto& pt : p.points) {
            float x = std::clamp(pt.x, 0.f, mx), y = std::clamp(pt.y, 0.f, my);
            c |= x != pt.x || y != pt.y;
            pt.x = x, pt.y = y;
        }
        if (p.has_box) {
            box b = clip(p.b, static_cast<float>(w), static_cast<float>(h));
            c |= b.x1 != p.b.x1 || b.y1 != p.b.y1 || b.x2 != p.b.x2 || b.y2 != p.b.y2;
            p.b = b;
        }
        changed += c;
    }
    return changed;
}

decoder_prompts encode_prompts(const std::vector<sam_prompt>& ps, int w, int h, int long_side) {
    size_t n = 0;
    for (const auto& p : ps) n = std::max(n, p.points.size() + (p.has_box ? 2 : 1));
    decoder_prompts d;
    const int64_t B = static_cast<int64_t>(ps.size()), N = static_cast<int64_t>(n);
    d.coords.shape = {B, N, 2};
    d.labels.shape = {B, N};
    d.coords.data.assign(static_cast<size_t>(B * N * 2), 0.f);
    d.labels.data.assign(static_cast<size_t>(B * N), -1.f);
    for (int64_t b = 0; b < B; ++b) {
        const auto& p = ps[b];
        float* c = d.coords.data.data() + b * N * 2;
        float* l = d.labels.data.data() + b * N;
        size_t k = 0;
        for (const auto& pt : p.points) {
            cv::Point2f q = sam_apply_coords({pt.x, pt.y}, w, h, long_side);
            c[2 * k] = q.x, c[2 * k + 1] = q.y, l[k] = static_cast<float>(pt.label);
            ++k;
        }
        if (p.has_box) {
            box q = sam_apply_box(p.b, w, h, long_side);
            c[2 * k] = q.x1, c[2 * k + 1] = q.y1, l[k] = 2;
            c[2 * k + 2] = q.x2, c[2 * k + 3] = q.y2, l[k + 1] = 3;
        }
        // the rest stays (0, 0) with label -1: the padding point(s)
    }
    return d;
}

int choose_mask(const decoder_result& r, int b, bool multimask) {
    if (!multimask || r.masks_per_prompt < 2) return 0;
    const float* iou = r.iou.data() + static_cast<size_t>(b) * r.masks_per_prompt;
    int best = 1;
    for (int k = 2; k < r.masks_per_prompt; ++k)
        if (iou[k] > iou[best]) best = k;
    return best;
}

bool wants_multimask(const sam_prompt& p, const std::string& mode) {
    if (mode == "always") return true;
    if (mode == "never") return false;
    return !p.has_box && p.points.size() == 1;
}

}  // namespace vfm
