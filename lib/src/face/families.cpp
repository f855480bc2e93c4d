// The face detector families behind face_family (see face_family.h and face_task.h).
#include <algorithm>

#include "vfm/error.h"
#include "vfm/face_family.h"
#include "vfm/face_task.h"

namespace vfm {

namespace {

class retinaface_family final : public face_family {
  public:
    void configure(const json& c, int in_w, int in_h) override {
        in_w_ = in_w, in_h_ = in_h;
        auto sizes = get_path(c, "model.min_sizes").get<std::vector<int>>();
        auto steps = get_path(c, "model.steps").get<std::vector<int>>();
        int per = get_path(c, "model.priors_per_level").get<int>();
        if (per <= 0 || sizes.size() != steps.size() * static_cast<size_t>(per))
            throw fatal_error(
                "model.min_sizes: expected model.priors_per_level sizes for each of "
                "the " +
                std::to_string(steps.size()) + " model.steps");
        std::vector<std::vector<int>> levels;
        for (size_t k = 0; k < steps.size(); ++k)
            levels.emplace_back(sizes.begin() + k * per, sizes.begin() + (k + 1) * per);
        priors_ = retinaface_priors(in_w, in_h, levels, steps);
        auto var = get_path(c, "model.variances").get<std::vector<float>>();
        if (var.size() != 2) throw fatal_error("model.variances: expected 2 numbers");
        var0_ = var[0], var1_ = var[1];
    }
    void check(const std::vector<tensor>& outs) const override {
        check_retinaface(outs, priors_.size());
    }
    std::vector<scored_face> decode(const std::vector<tensor>& outs, int b,
                                    float conf) const override {
        return decode_retinaface(outs, b, priors_, conf, var0_, var1_, in_w_, in_h_);
    }

  private:
    int in_w_ = 0, in_h_ = 0;
    std::vector<prior> priors_;
    float var0_ = 0.1f, var1_ = 0.2f;
};

class yunet_family final : public face_family {
  public:
    void configure(const json& c, int in_w, int in_h) override {
        in_w_ = in_w, in_h_ = in_h;
        steps_ = get_path(c, "model.steps").get<std::vector<int>>();
    }
    void check(const std::vector<tensor>& outs) const override {
        check_yunet(outs, steps_, in_w_, in_h_);
    }
    std::vector<scored_face> decode(const std::vector<tensor>& outs, int b,
                                    float conf) const override {
        return decode_yunet(outs, b, steps_, conf, in_w_, in_h_);
    }

  private:
    int in_w_ = 0, in_h_ = 0;
    std::vector<int> steps_;
};

// BlazeFace exports give regressors [B, n, 16] and logits [B, n, 1], either once over all
// anchors or once per stride (TFJS graphs): the parts are taken in anchor order, i.e. by
// decreasing n (the finer stride has more anchors).
class blazeface_family final : public face_family {
  public:
    void configure(const json& c, int in_w, int in_h) override {
        in_w_ = in_w, in_h_ = in_h;
        auto strides = get_path(c, "model.anchor_strides").get<std::vector<int>>();
        auto per = get_path(c, "model.anchors_per_cell").get<std::vector<int>>();
        if (strides.empty() || strides.size() != per.size())
            throw fatal_error(
                "model.anchors_per_cell: expected one count per model.anchor_strides entry");
        anchors_ = blazeface_anchors(in_w, in_h, strides, per);
    }
    void check(const std::vector<tensor>& outs) const override { parts(outs); }
    std::vector<scored_face> decode(const std::vector<tensor>& outs, int b,
                                    float conf) const override {
        auto p = parts(outs);
        std::vector<scored_face> faces;
        size_t a = 0;
        for (size_t k = 0; k < p.reg.size(); ++k) {
            const int64_t n = p.reg[k]->shape[1];
            const float* reg = p.reg[k]->data.data() + b * n * kCoords;
            const float* lg = p.logit[k]->data.data() + b * n;
            for (int64_t i = 0; i < n; ++i, ++a) {
                scored_face f =
                    decode_blazeface_row(reg + i * kCoords, lg[i], anchors_[a], in_w_, in_h_, 6);
                if (f.score >= conf) faces.push_back(std::move(f));
            }
        }
        return faces;
    }
    bool weighted_nms() const override { return true; }
    int n_points() const override { return 6; }

  private:
    static constexpr int kCoords = 16;
    struct split {
        std::vector<const tensor*> reg, logit;
    };
    split parts(const std::vector<tensor>& outs) const {
        split s;
        for (const auto& t : outs) {
            if (t.rank() != 3) continue;
            if (t.shape[2] == kCoords) s.reg.push_back(&t);
            if (t.shape[2] == 1) s.logit.push_back(&t);
        }
        auto by_n = [](const tensor* a, const tensor* b) { return a->shape[1] > b->shape[1]; };
        std::stable_sort(s.reg.begin(), s.reg.end(), by_n);
        std::stable_sort(s.logit.begin(), s.logit.end(), by_n);
        int64_t nr = 0, nl = 0;
        bool same = s.reg.size() == s.logit.size();
        for (size_t k = 0; k < s.reg.size(); ++k) nr += s.reg[k]->shape[1];
        for (size_t k = 0; k < s.logit.size(); ++k) {
            nl += s.logit[k]->shape[1];
            if (same && s.logit[k]->shape[1] != s.reg[k]->shape[1]) same = false;
        }
        const int64_t na = static_cast<int64_t>(anchors_.size());
        if (s.reg.empty() || !same || nr != na || nl != na) {
            std::string got;
            for (const auto& t : outs) got += (got.empty() ? "" : ", ") + shape_str(t.shape);
            throw fatal_error(
                "blazeface export: expected regressors [B, n, 16] and scores [B, n, "
                "1] over the " +
                std::to_string(na) + " anchors of the configured strides, got " + got);
        }
        return s;
    }
    int in_w_ = 0, in_h_ = 0;
    std::vector<anchor> anchors_;
};

}  // namespace

std::unique_ptr<face_family> make_face_family(const std::string& name) {
    if (name == "retinaface") return std::make_unique<retinaface_family>();
    if (name == "yunet") return std::make_unique<yunet_family>();
    if (name == "blazeface") return std::make_unique<blazeface_family>();
    throw fatal_error("model.family: unknown face detector family \"" + name +
                      "\" (known: retinaface, yunet, blazeface)");
}

}  // namespace vfm
