#include "vfm/face_task.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "vfm/error.h"
#include "vfm/fsutil.h"
#include "vfm/nms.h"

namespace vfm {

schema face_schema() {
    using j = nlohmann::ordered_json;
    schema s{common_fields()};
    std::vector<field> own = {
        {"model.min_sizes", ftype::int_list, j::array({10, 20, 32, 64, 128, 256}),
         "prior sizes, model.priors_per_level per stride (retinaface)"},
        {"model.priors_per_level", ftype::integer, 2, "prior sizes per stride"},
        {"model.steps", ftype::int_list, j::array({8, 16, 32}), "prior / grid strides"},
        {"model.variances", ftype::number_list, j::array({0.1, 0.2}), "box decode variances"},
        {"postprocess.conf", ftype::number, 0.5, "minimum face score"},
        {"postprocess.iou", ftype::number, 0.4, "NMS IoU threshold"},
        {"postprocess.max_faces", ftype::integer, 0, "faces kept per image (0: all)"},
        {"postprocess.min_face", ftype::number, 0, "drop faces whose shorter side is below (px)"},
        {"outputs.json", ftype::boolean, true, "per-image JSON <out>/<rel>.json"},
        {"outputs.preview", ftype::boolean, false, "annotated image <out>/preview/<rel>.jpg"},
        {"outputs.anonymize", ftype::string, "none", "none, blur, pixelate or fill"},
        {"outputs.anonymize_margin", ftype::number, 0.2, "grow each face box by this fraction"},
        {"outputs.aligned", ftype::boolean, false, "aligned crops <out>/aligned/<rel>/<n>.png"},
        {"align.size", ftype::int_list, j::array({112, 112}), "aligned crop [width, height]"},
        {"align.template", ftype::number_list,
         j::array({38.2946, 51.6963, 73.5318, 51.5014, 56.0252, 71.7366, 41.5493, 92.3655, 70.7299,
                   92.2041}),
         "5 template points (x, y) in the crop; default: insightface's ArcFace 112x112"},
    };
    s.fields.insert(s.fields.end(), own.begin(), own.end());
    return s;
}

void anonymize_faces(cv::Mat& img, const std::vector<box>& boxes, const std::string& mode,
                     float margin) {
    for (const auto& b : boxes) {
        float mx = b.width() * margin / 2, my = b.height() * margin / 2;
        cv::Rect r(cv::Point(static_cast<int>(std::floor(b.x1 - mx)),
                             static_cast<int>(std::floor(b.y1 - my))),
                   cv::Point(static_cast<int>(std::ceil(b.x2 + mx)),
                             static_cast<int>(std::ceil(b.y2 + my))));
        r &= cv::Rect(0, 0, img.cols, img.rows);
        if (r.area() <= 0) continue;
        cv::Mat roi = img(r);
        if (mode == "fill") {
            roi.setTo(cv::Scalar::all(0));
        } else if (mode == "pixelate") {
            cv::Mat small;
            int bw = std::max(1, std::min(8, r.width)),
                bh = std::max(1, (bw * r.height) / std::max(1, r.width));
            cv::resize(roi, small, cv::Size(bw, bh), 0, 0, cv::INTER_AREA);
            cv::resize(small, roi, roi.size(), 0, 0, cv::INTER_NEAREST);
        } else if (mode == "blur") {
            int k = std::max(3, (std::max(r.width, r.height) / 2) | 1);
            cv::GaussianBlur(roi, roi, cv::Size(k, k), 0);
        }
    }
}

namespace {

class face_task final : public task {
  public:
    std::string name() const override { return "face"; }
    std::string description() const override {
        return "face: face detection with 5 landmarks, anonymisation and aligned crops";
    }
    std::string default_config() const override { return "retinaface-mnet025"; }
    schema config_schema() const override { return face_schema(); }

    void configure(const resolved_config& rc) override {
        const auto& c = rc.cfg;
        const std::string fam = get_path(c, "model.family").get<std::string>();
        if (fam != "retinaface" && fam != "yunet")
            throw fatal_error("model.family: unknown face detector family \"" + fam +
                              "\" (known: retinaface, yunet)");
        yunet_ = fam == "yunet";
        pre_ = preprocess_from_config(c);
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
        priors_ = retinaface_priors(pre_.in_w, pre_.in_h, levels, steps);
        steps_ = steps;
        auto var = get_path(c, "model.variances").get<std::vector<float>>();
        if (var.size() != 2) throw fatal_error("model.variances: expected 2 numbers");
        var0_ = var[0], var1_ = var[1];
        conf_ = get_path(c, "postprocess.conf").get<float>();
        iou_ = get_path(c, "postprocess.iou").get<float>();
        max_faces_ = get_path(c, "postprocess.max_faces").get<int>();
        min_face_ = get_path(c, "postprocess.min_face").get<float>();
        out_json_ = get_path(c, "outputs.json").get<bool>();
        out_preview_ = get_path(c, "outputs.preview").get<bool>();
        anonymize_ = get_path(c, "outputs.anonymize").get<std::string>();
        if (anonymize_ != "none" && anonymize_ != "blur" && anonymize_ != "pixelate" &&
            anonymize_ != "fill")
            throw fatal_error("outputs.anonymize: expected none, blur, pixelate or fill, got \"" +
                              anonymize_ + "\"");
        margin_ = get_path(c, "outputs.anonymize_margin").get<float>();
        out_aligned_ = get_path(c, "outputs.aligned").get<bool>();
        auto asz = get_path(c, "align.size").get<std::vector<int>>();
        auto tpl = get_path(c, "align.template").get<std::vector<float>>();
        if (asz.size() != 2 || asz[0] <= 0 || asz[1] <= 0)
            throw fatal_error("align.size: expected [width, height]");
        if (tpl.size() != 10) throw fatal_error("align.template: expected 10 numbers (5 points)");
        align_w_ = asz[0], align_h_ = asz[1];
        for (int i = 0; i < 5; ++i) template_.push_back({tpl[2 * i], tpl[2 * i + 1]});
    }

    int input_w() const override { return pre_.in_w; }
    int input_h() const override { return pre_.in_h; }
    bool keeps_image() const override {
        return out_preview_ || out_aligned_ || anonymize_ != "none";
    }
    int reduction_for(image_size s) const override {
        // anonymised copies and aligned crops need every original pixel
        if (out_aligned_ || anonymize_ != "none") return 1;
        return choose_reduction(s, pre_.in_w, pre_.in_h, pre_.letterbox);
    }

    void prepare(work_item& w) const override {
        w.data.resize(static_cast<size_t>(pre_.in_w) * pre_.in_h * 3);
        input_transform t;
        t.lb = prepare_input(w.img.bgr, pre_, w.data.data());
        t.decode_sx = w.img.sx, t.decode_sy = w.img.sy;
        w.rows = {t};
    }

    void check_outputs(const std::vector<tensor>& outs) const override {
        if (yunet_)
            check_yunet(outs, steps_, pre_.in_w, pre_.in_h);
        else
            check_retinaface(outs, priors_.size());
    }

    void postprocess(work_item& w, const std::vector<tensor>& outs, int first_row) const override {
        auto faces = yunet_ ? decode_yunet(outs, first_row, steps_, conf_, pre_.in_w, pre_.in_h)
                            : decode_retinaface(outs, first_row, priors_, conf_, var0_, var1_,
                                                pre_.in_w, pre_.in_h);
        const auto& t = w.rows[0];
        const float W = static_cast<float>(w.img.orig_w), H = static_cast<float>(w.img.orig_h);
        std::vector<scored_face> kept;
        for (auto& f : faces) {
            f.b = clip(to_original(f.b, t), W, H);
            if (f.b.area() <= 0 || std::min(f.b.width(), f.b.height()) < min_face_) continue;
            for (auto& p : f.points) {
                box q = to_original({p.x, p.y, p.x, p.y}, t);
                p = {q.x1, q.y1};
            }
            kept.push_back(std::move(f));
        }
        std::vector<box> boxes;
        std::vector<float> scores;
        for (const auto& f : kept) boxes.push_back(f.b), scores.push_back(f.score);
        auto r2 = [](double v) { return std::round(v * 100) / 100; };
        nlohmann::ordered_json arr = nlohmann::ordered_json::array();
        for (size_t i :
             nms_keep(boxes, scores, iou_, static_cast<size_t>(std::max(0, max_faces_)))) {
            const auto& f = kept[i];
            nlohmann::ordered_json lm = nlohmann::ordered_json::array();
            for (const auto& p : f.points) lm.push_back({r2(p.x), r2(p.y)});
            arr.push_back({{"box", {r2(f.b.x1), r2(f.b.y1), r2(f.b.x2), r2(f.b.y2)}},
                           {"score", std::round(f.score * 1e5) / 1e5},
                           {"landmarks", lm}});
        }
        w.result = {
            {"image", w.in.rel}, {"width", w.img.orig_w}, {"height", w.img.orig_h}, {"faces", arr}};
    }

    std::vector<std::string> write_outputs(const work_item& w,
                                           const output_context& ctx) const override {
        std::vector<std::string> written;
        auto put = [&](const std::string& rel_out, const std::string& data) {
            write_file_atomic(ctx.out_dir + "/" + rel_out, data);
            written.push_back(rel_out);
        };
        auto encode = [](const cv::Mat& m, const std::string& ext) {
            std::vector<uchar> buf;
            if (!cv::imencode(ext, m, buf)) throw std::runtime_error("cannot encode " + ext);
            return std::string(buf.begin(), buf.end());
        };
        if (out_json_) put(output_path("", "", w.in.rel, ".json"), w.result.dump() + "\n");
        std::vector<box> boxes;
        std::vector<std::vector<point2>> points;
        for (const auto& f : w.result["faces"]) {
            const auto& b = f["box"];
            // to decoded-image pixels (a reduced decode only happens without anonymise/align)
            boxes.push_back({b[0].get<float>() / w.img.sx, b[1].get<float>() / w.img.sy,
                             b[2].get<float>() / w.img.sx, b[3].get<float>() / w.img.sy});
            std::vector<point2> pts;
            for (const auto& p : f["landmarks"])
                pts.push_back({p[0].get<float>() / w.img.sx, p[1].get<float>() / w.img.sy});
            points.push_back(pts);
        }
        if (out_preview_) {
            cv::Mat img = w.img.bgr.clone();
            int thick = std::max(1, static_cast<int>(std::lround((img.cols + img.rows) / 600.0)));
            const cv::Scalar colours[5] = {
                {255, 0, 0}, {0, 0, 255}, {0, 255, 0}, {255, 0, 255}, {0, 255, 255}};
            for (size_t i = 0; i < boxes.size(); ++i) {
                cv::rectangle(img, cv::Point2f(boxes[i].x1, boxes[i].y1),
                              cv::Point2f(boxes[i].x2, boxes[i].y2), cv::Scalar(0, 200, 0), thick,
                              cv::LINE_AA);
                for (size_t k = 0; k < points[i].size(); ++k)
                    cv::circle(img, cv::Point2f(points[i][k].x, points[i][k].y), thick + 1,
                               colours[k % 5], cv::FILLED, cv::LINE_AA);
            }
            put(output_path("", "preview", w.in.rel, ".jpg"), encode(img, ".jpg"));
        }
        if (anonymize_ != "none") {
            cv::Mat img = w.img.bgr.clone();
            anonymize_faces(img, boxes, anonymize_, margin_);
            std::string ext = std::filesystem::path(w.in.rel).extension().string();
            for (auto& ch : ext)
                ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
            put(output_path("", "anonymized", w.in.rel, ext), encode(img, ext));
        }
        if (out_aligned_) {
            for (size_t i = 0; i < points.size(); ++i) {
                auto m = umeyama(points[i], template_);
                cv::Mat M = (cv::Mat_<double>(2, 3) << m[0], m[1], m[2], m[3], m[4], m[5]);
                cv::Mat crop;
                cv::warpAffine(w.img.bgr, crop, M, cv::Size(align_w_, align_h_), cv::INTER_LINEAR,
                               cv::BORDER_CONSTANT);
                put(output_path("", "aligned", w.in.rel, "/" + std::to_string(i) + ".png"),
                    encode(crop, ".png"));
            }
        }
        return written;
    }

    std::vector<std::string> finish(
        const output_context&, const std::string&,
        const std::function<void(const record_visitor&)>&) const override {
        return {};
    }

  private:
    preprocess_options pre_;
    bool yunet_ = false;
    std::vector<prior> priors_;
    std::vector<int> steps_;
    float var0_ = 0.1f, var1_ = 0.2f, conf_ = 0.5f, iou_ = 0.4f, min_face_ = 0, margin_ = 0.2f;
    int max_faces_ = 0, align_w_ = 112, align_h_ = 112;
    bool out_json_ = true, out_preview_ = false, out_aligned_ = false;
    std::string anonymize_ = "none";
    std::vector<point2> template_;
};

}  // namespace

std::unique_ptr<task> make_face_task() {
    return std::make_unique<face_task>();
}

}  // namespace vfm
