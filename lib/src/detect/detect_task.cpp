#include "vfm/detect_task.h"

#include <algorithm>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "vfm/detect_family.h"
#include "vfm/detect_outputs.h"
#include "vfm/error.h"
#include "vfm/fsutil.h"
#include "vfm/labels.h"

namespace vfm {

schema detect_schema() {
    using j = nlohmann::ordered_json;
    schema s{common_fields()};
    std::vector<field> own = {
        {"model.strides", ftype::int_list, j::array({8, 16, 32}), "grid strides (yolox)"},
        {"model.output_index", ftype::integer, 0, "which model output holds the detections"},
        {"model.reg_max", ftype::integer, 10, "distribution bins - 1 per box side (nanodet)"},
        {"labels", ftype::labels, "coco80", "\"coco80\", \"file:PATH\" or a list of names"},
        {"postprocess.conf", ftype::number, 0.25, "minimum score"},
        {"postprocess.iou", ftype::number, 0.45, "NMS IoU threshold"},
        {"postprocess.max_det", ftype::integer, 300, "detections kept per image"},
        {"postprocess.max_candidates", ftype::integer, 30000, "top candidates fed to NMS"},
        {"postprocess.classes", ftype::int_list, j::array(), "keep only these class ids"},
        {"postprocess.agnostic", ftype::boolean, false, "NMS across classes"},
        {"tile.size", ftype::integer, 0, "tile side in image pixels (0: no tiling)"},
        {"tile.overlap", ftype::number, 0.2, "tile overlap fraction"},
        {"tile.full_image", ftype::boolean, true, "also run the whole image when tiling"},
        {"outputs.json", ftype::boolean, true, "per-image JSON <out>/<rel>.json"},
        {"outputs.yolo_txt", ftype::boolean, false, "YOLO labels <out>/labels/<rel>.txt"},
        {"outputs.yolo_conf", ftype::boolean, false, "append the score to YOLO lines"},
        {"outputs.coco", ftype::boolean, true, "coco_results.json and coco_dataset.json per run"},
        {"outputs.coco_image_id", ftype::string, "index", "index or stem (numeric file names)"},
        {"outputs.preview", ftype::boolean, false, "annotated image <out>/preview/<rel>.jpg"},
        {"outputs.crops", ftype::boolean, false, "crops <out>/crops/<rel>/<n>_<label>.jpg"},
        {"outputs.labels_dir", ftype::string, "labels", "folder for YOLO txt"},
        {"outputs.preview_dir", ftype::string, "preview", "folder for previews"},
        {"outputs.crops_dir", ftype::string, "crops", "folder for crops"},
    };
    s.fields.insert(s.fields.end(), own.begin(), own.end());
    return s;
}

namespace {

class detect_task final : public task {
  public:
    std::string name() const override { return "detect"; }
    std::string description() const override {
        return "detect: object detection (YOLOv8/YOLO11, YOLOv5, YOLOX) over images and folders";
    }
    std::string default_config() const override { return "yolox-nano"; }
    schema config_schema() const override { return detect_schema(); }

    void configure(const resolved_config& rc) override {
        const auto& c = rc.cfg;
        std::string fam = get_path(c, "model.family").get<std::string>();
        family_ = find_detect_family(fam);
        if (!family_) {
            std::string names;
            for (auto& n : detect_family_names()) names += (names.empty() ? "" : ", ") + n;
            throw fatal_error("model.family: unknown detector family \"" + fam +
                              "\" (known: " + names + ")");
        }
        const auto& lab = get_path(c, "labels");
        labels_ = lab.is_string() ? load_labels(lab.get<std::string>(), rc.base_dir)
                                  : make_labels(lab.get<std::vector<std::string>>());
        pre_ = preprocess_from_config(c);

        dp_.in_w = pre_.in_w, dp_.in_h = pre_.in_h;
        dp_.num_classes = static_cast<int>(labels_.names.size());
        dp_.conf = get_path(c, "postprocess.conf").get<float>();
        dp_.strides = get_path(c, "model.strides").get<std::vector<int>>();
        dp_.output_index = get_path(c, "model.output_index").get<int>();
        dp_.reg_max = get_path(c, "model.reg_max").get<int>();
        nms_.iou = get_path(c, "postprocess.iou").get<float>();
        nms_.agnostic = get_path(c, "postprocess.agnostic").get<bool>();
        nms_.max_det = get_path(c, "postprocess.max_det").get<int>();
        max_candidates_ = get_path(c, "postprocess.max_candidates").get<int>();
        classes_ = get_path(c, "postprocess.classes").get<std::vector<int>>();
        tile_size_ = get_path(c, "tile.size").get<int>();
        tile_overlap_ = get_path(c, "tile.overlap").get<float>();
        tile_full_ = get_path(c, "tile.full_image").get<bool>();
        out_json_ = get_path(c, "outputs.json").get<bool>();
        out_yolo_ = get_path(c, "outputs.yolo_txt").get<bool>();
        yolo_conf_ = get_path(c, "outputs.yolo_conf").get<bool>();
        out_coco_ = get_path(c, "outputs.coco").get<bool>();
        coco_ids_ = get_path(c, "outputs.coco_image_id").get<std::string>();
        if (coco_ids_ != "index" && coco_ids_ != "stem")
            throw fatal_error("outputs.coco_image_id: expected index or stem, got \"" + coco_ids_ +
                              "\"");
        out_preview_ = get_path(c, "outputs.preview").get<bool>();
        out_crops_ = get_path(c, "outputs.crops").get<bool>();
        labels_dir_ = get_path(c, "outputs.labels_dir").get<std::string>();
        preview_dir_ = get_path(c, "outputs.preview_dir").get<std::string>();
        crops_dir_ = get_path(c, "outputs.crops_dir").get<std::string>();
    }

    int input_w() const override { return pre_.in_w; }
    int input_h() const override { return pre_.in_h; }
    bool keeps_image() const override { return out_preview_ || out_crops_; }
    int reduction_for(image_size s) const override {
        if (tile_size_ > 0 || out_crops_ || s.w <= 0) return 1;
        return choose_reduction(s, pre_.in_w, pre_.in_h, pre_.letterbox);
    }

    void prepare(work_item& w) const override {
        const cv::Mat& img = w.img.bgr;
        std::vector<tile_rect> regions;
        if (tile_size_ > 0 && (img.cols > tile_size_ || img.rows > tile_size_)) {
            // Tiles are in original pixels; the decoded image is full size when tiling.
            regions = make_tiles(img.cols, img.rows, tile_size_, tile_overlap_);
            if (tile_full_) regions.insert(regions.begin(), {0, 0, img.cols, img.rows});
        } else {
            regions.push_back({0, 0, img.cols, img.rows});
        }
        const size_t row = static_cast<size_t>(pre_.in_w) * pre_.in_h * 3;
        w.data.resize(row * regions.size());
        w.rows.clear();
        for (size_t i = 0; i < regions.size(); ++i) {
            const auto& r = regions[i];
            input_transform t;
            t.lb = prepare_input(img(cv::Rect(r.x, r.y, r.w, r.h)), pre_, w.data.data() + i * row);
            t.offset_x = static_cast<float>(r.x), t.offset_y = static_cast<float>(r.y);
            t.decode_sx = w.img.sx, t.decode_sy = w.img.sy;
            w.rows.push_back(t);
        }
    }

    void check_outputs(const std::vector<tensor>& outs) const override {
        family_->check(outs, dp_);
    }

    void postprocess(work_item& w, const std::vector<tensor>& outs, int first_row) const override {
        family_->check(outs, dp_);
        std::vector<detection> all;
        for (size_t r = 0; r < w.rows.size(); ++r) {
            for (auto& d : family_->decode(outs, first_row + static_cast<int>(r), dp_)) {
                if (!classes_.empty() &&
                    std::find(classes_.begin(), classes_.end(), d.class_id) == classes_.end())
                    continue;
                d.b = clip(to_original(d.b, w.rows[r]), static_cast<float>(w.img.orig_w),
                           static_cast<float>(w.img.orig_h));
                if (d.b.area() <= 0) continue;
                all.push_back(d);
            }
        }
        if (max_candidates_ > 0 && static_cast<int>(all.size()) > max_candidates_) {
            std::partial_sort(
                all.begin(), all.begin() + max_candidates_, all.end(),
                [](const detection& a, const detection& b) { return a.score > b.score; });
            all.resize(static_cast<size_t>(max_candidates_));
        }
        w.result = detections_json(w.in.rel, w.img.orig_w, w.img.orig_h, nms(std::move(all), nms_),
                                   labels_);
    }

    std::vector<std::string> write_outputs(const work_item& w,
                                           const output_context& ctx) const override {
        std::vector<std::string> written;
        auto put = [&](const std::string& dir, const std::string& rel, const std::string& suffix,
                       const std::string& data) {
            std::string rel_out = output_path("", dir, rel, suffix);
            write_file_atomic(ctx.out_dir + "/" + rel_out, data);
            written.push_back(rel_out);
        };
        if (out_json_) put("", w.in.rel, ".json", w.result.dump() + "\n");
        std::vector<detection> dets;
        if (out_yolo_ || out_preview_ || out_crops_) dets = detections_from_json(w.result);
        if (out_yolo_)
            put(labels_dir_, w.in.rel, ".txt",
                yolo_txt(dets, w.img.orig_w, w.img.orig_h, yolo_conf_));
        if (out_preview_) {
            put(preview_dir_, w.in.rel, ".jpg",
                encode_image(draw_preview(w, dets), ".jpg", {cv::IMWRITE_JPEG_QUALITY, 90}));
        }
        if (out_crops_) {
            for (size_t i = 0; i < dets.size(); ++i) {
                cv::Rect r(cv::Point(static_cast<int>(dets[i].b.x1 / w.img.sx),
                                     static_cast<int>(dets[i].b.y1 / w.img.sy)),
                           cv::Point(static_cast<int>(std::ceil(dets[i].b.x2 / w.img.sx)),
                                     static_cast<int>(std::ceil(dets[i].b.y2 / w.img.sy))));
                r &= cv::Rect(0, 0, w.img.bgr.cols, w.img.bgr.rows);
                if (r.area() <= 0) continue;
                std::string jpg =
                    encode_image(w.img.bgr(r), ".jpg", {cv::IMWRITE_JPEG_QUALITY, 95});
                std::string label = label_of(dets[i].class_id);
                std::replace(label.begin(), label.end(), ' ', '_');
                put(crops_dir_, w.in.rel, "/" + std::to_string(i) + "_" + label + ".jpg", jpg);
            }
        }
        return written;
    }

    std::vector<std::string> finish(
        const output_context& ctx, const std::string& suffix,
        const std::function<void(const record_visitor&)>& each) const override {
        if (!out_coco_) return {};
        coco_builder cb(labels_, coco_ids_);
        each([&](const nlohmann::ordered_json& rec) { cb.add(rec); });
        std::string r = "coco_results" + suffix + ".json", d = "coco_dataset" + suffix + ".json";
        write_file_atomic(ctx.out_dir + "/" + r, cb.results_json());
        write_file_atomic(ctx.out_dir + "/" + d, cb.dataset_json());
        return {r, d};
    }

    nlohmann::ordered_json run_info() const override {
        return {{"family", family_->name},
                {"labels", labels_.names},
                {"category_ids", labels_.category_ids}};
    }

  private:
    std::string label_of(int c) const {
        return c >= 0 && c < static_cast<int>(labels_.names.size()) ? labels_.names[c]
                                                                    : std::to_string(c);
    }

    cv::Mat draw_preview(const work_item& w, const std::vector<detection>& dets) const {
        cv::Mat img = w.img.bgr.clone();
        int thick = std::max(1, static_cast<int>(std::lround((img.cols + img.rows) / 600.0)));
        double fs = std::max(0.4, thick / 3.0);
        for (const auto& d : dets) {
            // Deterministic colour per class (golden-ratio hue walk).
            cv::Mat hsv(1, 1, CV_8UC3,
                        cv::Scalar(static_cast<int>(std::fmod(d.class_id * 0.618034, 1.0) * 180),
                                   220, 255));
            cv::Mat bgr;
            cv::cvtColor(hsv, bgr, cv::COLOR_HSV2BGR);
            cv::Vec3b c = bgr.at<cv::Vec3b>(0, 0);
            cv::Scalar col(c[0], c[1], c[2]);
            cv::Point p1(static_cast<int>(d.b.x1 / w.img.sx), static_cast<int>(d.b.y1 / w.img.sy));
            cv::Point p2(static_cast<int>(d.b.x2 / w.img.sx), static_cast<int>(d.b.y2 / w.img.sy));
            cv::rectangle(img, p1, p2, col, thick, cv::LINE_AA);
            char text[96];
            std::snprintf(text, sizeof text, "%s %.2f", label_of(d.class_id).c_str(), d.score);
            int base = 0;
            cv::Size ts =
                cv::getTextSize(text, cv::FONT_HERSHEY_SIMPLEX, fs, std::max(1, thick / 2), &base);
            cv::Point tl(p1.x, std::max(0, p1.y - ts.height - base - 2));
            cv::rectangle(img, tl, tl + cv::Point(ts.width + 2, ts.height + base + 2), col,
                          cv::FILLED);
            cv::putText(img, text, tl + cv::Point(1, ts.height + 1), cv::FONT_HERSHEY_SIMPLEX, fs,
                        cv::Scalar(0, 0, 0), std::max(1, thick / 2), cv::LINE_AA);
        }
        return img;
    }

    const detect_family* family_ = nullptr;
    label_set labels_;
    preprocess_options pre_;
    decode_params dp_;
    nms_params nms_;
    int max_candidates_ = 30000;
    std::vector<int> classes_;
    int tile_size_ = 0;
    float tile_overlap_ = 0.2f;
    bool tile_full_ = true;
    bool out_json_ = true, out_yolo_ = false, yolo_conf_ = false, out_coco_ = true;
    bool out_preview_ = false, out_crops_ = false;
    std::string coco_ids_ = "index", labels_dir_, preview_dir_, crops_dir_;
};

}  // namespace

std::unique_ptr<task> make_detect_task() {
    return std::make_unique<detect_task>();
}

}  // namespace vfm
