// nanodet: NanoDet's GFL head (RangiLyu/nanodet, nanodet/model/head/gfl_head.py), exported with
// one score and one box-distribution output per stride.
// Input: per stride s, a [B, N, nc] class-score output (sigmoid applied) and a [B, N, 4*(R+1)]
// distribution output, N = (H/s)*(W/s), cells row-major, matched by shape in any order.
// Decode as gfl_head.py get_bboxes: centre ((x + 0.5) s, (y + 0.5) s); each side's distance is
// the softmax expectation over R+1 bins times s; box = centre -/+ (left, top, right, bottom).
#include <cmath>
#include <string>

#include "vfm/detect_family.h"
#include "vfm/error.h"

namespace vfm {

namespace {

struct level {
    int stride, gw, gh;
    const tensor* cls = nullptr;
    const tensor* reg = nullptr;
};

// Matches each stride's two outputs by shape.
std::vector<level> find_levels(const std::vector<tensor>& outs, const decode_params& p) {
    const int64_t bins = 4 * (p.reg_max + 1);
    std::vector<level> levels;
    for (int s : p.strides) {
        level l{s, p.in_w / s, p.in_h / s};
        const int64_t n = static_cast<int64_t>(l.gw) * l.gh;
        for (const auto& t : outs) {
            if (t.rank() != 3 || t.shape[1] != n) continue;
            if (t.shape[2] == p.num_classes && !l.cls)
                l.cls = &t;
            else if (t.shape[2] == bins && !l.reg)
                l.reg = &t;
        }
        if (!l.cls || !l.reg) {
            std::string got;
            for (const auto& t : outs) got += (got.empty() ? "" : ", ") + shape_str(t.shape);
            throw fatal_error("nanodet export: expected for stride " + std::to_string(s) +
                              " a [B, " + std::to_string(n) + ", " + std::to_string(p.num_classes) +
                              "] score output and a [B, " + std::to_string(n) + ", " +
                              std::to_string(bins) + "] box-distribution output, got " + got);
        }
        levels.push_back(l);
    }
    return levels;
}

// Expectation of the softmax over `n` bins.
float integral(const float* v, int n) {
    float mx = v[0];
    for (int i = 1; i < n; ++i) mx = std::max(mx, v[i]);
    float sum = 0, acc = 0;
    for (int i = 0; i < n; ++i) {
        float e = std::exp(v[i] - mx);
        sum += e;
        acc += e * i;
    }
    return acc / sum;
}

}  // namespace

static void nanodet_check(const std::vector<tensor>& outs, const decode_params& p) {
    find_levels(outs, p);
}

static std::vector<detection> nanodet_decode(const std::vector<tensor>& outs, int b,
                                             const decode_params& p) {
    const int nb = p.reg_max + 1;
    std::vector<detection> dets;
    for (const auto& l : find_levels(outs, p)) {
        const int64_t n = static_cast<int64_t>(l.gw) * l.gh;
        const float* cls = l.cls->data.data() + b * n * p.num_classes;
        const float* reg = l.reg->data.data() + b * n * 4 * nb;
        for (int64_t i = 0; i < n; ++i) {
            best_score best = best_class(cls + i * p.num_classes, p.num_classes);
            if (best.score < p.conf) continue;
            const float* r = reg + i * 4 * nb;
            const float s = static_cast<float>(l.stride);
            float cx = (static_cast<float>(i % l.gw) + 0.5f) * s;
            float cy = (static_cast<float>(i / l.gw) + 0.5f) * s;
            dets.push_back({{cx - integral(r, nb) * s, cy - integral(r + nb, nb) * s,
                             cx + integral(r + 2 * nb, nb) * s, cy + integral(r + 3 * nb, nb) * s},
                            best.score,
                            best.class_id});
        }
    }
    return dets;
}

const detect_family nanodet_family = {"nanodet", "per stride [B, N, nc] scores + [B, N, 4*(R+1)]",
                                      nanodet_check, nanodet_decode};

}  // namespace vfm
