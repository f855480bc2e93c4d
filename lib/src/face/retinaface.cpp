// retinaface: decode of the RetinaFace head over its priors (see face_task.h).
#include "vfm/error.h"
#include "vfm/face_task.h"

namespace vfm {

namespace {
struct heads {
    const tensor *loc = nullptr, *conf = nullptr, *landm = nullptr;
};

heads find_heads(const std::vector<tensor>& outs, size_t n) {
    heads h;
    for (const auto& t : outs) {
        if (t.rank() != 3 || t.shape[1] != static_cast<int64_t>(n)) continue;
        if (t.shape[2] == 4 && !h.loc)
            h.loc = &t;
        else if (t.shape[2] == 2 && !h.conf)
            h.conf = &t;
        else if (t.shape[2] == 10 && !h.landm)
            h.landm = &t;
    }
    if (!h.loc || !h.conf || !h.landm) {
        std::string got;
        for (const auto& t : outs) got += (got.empty() ? "" : ", ") + shape_str(t.shape);
        throw fatal_error("retinaface export: expected loc [B, " + std::to_string(n) +
                          ", 4], conf [B, " + std::to_string(n) + ", 2] and landms [B, " +
                          std::to_string(n) + ", 10] for the configured priors, got " + got);
    }
    return h;
}
}  // namespace

void check_retinaface(const std::vector<tensor>& outs, size_t n_priors) {
    find_heads(outs, n_priors);
}

std::vector<scored_face> decode_retinaface(const std::vector<tensor>& outs, int b,
                                           const std::vector<prior>& priors, float conf, float var0,
                                           float var1, int in_w, int in_h) {
    const size_t n = priors.size();
    heads h = find_heads(outs, n);
    const float* loc = h.loc->data.data() + b * n * 4;
    const float* cf = h.conf->data.data() + b * n * 2;
    const float* lm = h.landm->data.data() + b * n * 10;
    std::vector<scored_face> faces;
    for (size_t i = 0; i < n; ++i) {
        float s = cf[2 * i + 1];
        if (s < conf) continue;
        faces.push_back({decode_prior_box(loc + 4 * i, priors[i], var0, var1, in_w, in_h), s,
                         decode_prior_points(lm + 10 * i, 5, priors[i], var0, in_w, in_h)});
    }
    return faces;
}

}  // namespace vfm
