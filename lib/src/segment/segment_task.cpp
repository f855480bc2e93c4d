// The segment task: families sam (encoder over the runner, decoder as a stage; prompts or
// segment-everything) and semantic (logits -> label map), with one set of outputs.
#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <mutex>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <set>

#include "sam.h"
#include "vfm/depth.h"
#include "vfm/detect_task.h"
#include "vfm/embedded_task.h"
#include "vfm/error.h"
#include "vfm/fsutil.h"
#include "vfm/npy.h"
#include "vfm/segment.h"
#include "vfm/sha256.h"

namespace vfm {

namespace {

namespace fs = std::filesystem;

// MB of decoder activations per prompt in a batch (worker_extra_memory_mb below): peak RSS
// 3483 MB at points_per_batch 64 and 1409 MB at 16, one worker (2073 MB / 48 prompts).
constexpr double decoder_mb_per_prompt = 43;

schema segment_schema() {
    using j = nlohmann::ordered_json;
    schema s{common_fields()};
    for (auto& f : s.fields)
        if (f.path == "preprocess.resize")
            f.help =
                "letterbox, stretch, or (semantic) lower_bound: keep the aspect, shorter side to "
                "the input size, sides rounded to model.multiple_of (torchvision's Resize(520) "
                "for [520, 520]); per-image sizes, batched by shape";
    std::vector<field> own = {
        {"labels", ftype::labels, j::array(),
         "class names (semantic: one per output class; sam: names for detector classes)"},
        {"decoder.name", ftype::string, "", "decoder registry name"},
        {"decoder.file", ftype::string, "", "sam: prompt decoder TorchScript file"},
        {"decoder.sha256", ftype::string, "", "expected sha256 of decoder.file (checked if set)"},
        {"decoder.input_layout", ftype::string, "nchw", "unused (the decoder takes raw tensors)"},
        {"decoder.outputs.iou_predictions", ftype::integer, 0,
         "decoder output holding iou_predictions [B, K]"},
        {"decoder.outputs.low_res_masks", ftype::integer, 1,
         "decoder output holding low-res mask logits [B, K, 256, 256] (upstream ONNX "
         "wrapper: 2)"},
        {"sam.variant", ftype::string, "", "vit_b, vit_l, vit_h, vit_t (MobileSAM), ... (info)"},
        {"sam.mode", ftype::string, "auto",
         "auto (prompts when any are given, else everything), prompts or everything"},
        {"sam.multimask", ftype::string, "auto",
         "auto (three candidates for a lone point, the best kept), always or never"},
        {"sam.mask_threshold", ftype::number, 0.0, "logit threshold of a mask"},
        {"sam.resize_interpolation", ftype::string, "area",
         "downscaling to the long side: area (close to upstream's PIL bilinear) or linear"},
        {"prompt.file", ftype::string, "",
         "prompts JSON {\"rel/path.jpg\": {\"points\": [[x, y, label]], \"boxes\": [[x1, y1, "
         "x2, y2]]}}"},
        {"prompt.points", ftype::string_list, j::array(), "points \"x,y[,label]\" for every image"},
        {"prompt.boxes", ftype::string_list, j::array(), "boxes \"x1,y1,x2,y2\" for every image"},
        {"prompt.boxes_from", ftype::string, "", "folder of detect's per-image JSON"},
        {"prompt.detector", ftype::string, "",
         "detect config (file, configs/detect name or fetched model) run first for box prompts"},
        {"prompt.classes", ftype::string_list, j::array(),
         "keep only these detector classes (names or ids)"},
        {"prompt.min_score", ftype::number, 0.0, "keep detections scoring at least this"},
        {"everything.points_per_side", ftype::integer, 32, "grid points per side"},
        {"everything.points_per_batch", ftype::integer, 64, "points per decoder call"},
        {"everything.pred_iou_thresh", ftype::number, 0.88, "minimum predicted IoU"},
        {"everything.stability_score_thresh", ftype::number, 0.95, "minimum stability score"},
        {"everything.stability_score_offset", ftype::number, 1.0, "logit offset for stability"},
        {"everything.box_nms_thresh", ftype::number, 0.7, "box IoU for duplicate masks"},
        {"everything.crop_n_layers", ftype::integer, 0, "crop layers (0: the whole image only)"},
        {"everything.crop_nms_thresh", ftype::number, 0.7, "box IoU across crops"},
        {"everything.crop_overlap_ratio", ftype::number, 512.0 / 1500.0, "crop overlap"},
        {"everything.crop_n_points_downscale_factor", ftype::integer, 1,
         "grid points per side divided by this per layer"},
        {"everything.min_mask_region_area", ftype::number, 0,
         "remove holes and islands smaller than this (px)"},
        {"model.multiple_of", ftype::integer, 1,
         "semantic, preprocess.resize lower_bound: input sides rounded to a multiple of this"},
        {"semantic.output", ftype::integer, 0, "model output holding the logits"},
        {"semantic.output_layout", ftype::string, "nchw", "nchw or nhwc (TF exports)"},
        {"semantic.activation", ftype::string, "none", "none, sigmoid or softmax"},
        {"semantic.threshold", ftype::number, 0.5, "one-channel outputs: foreground threshold"},
        {"semantic.gate_output", ftype::integer, -1,
         "one-channel sigmoid output masking the label map (-1: none)"},
        {"semantic.gate_threshold", ftype::number, 0.5, "gate probability threshold"},
        {"semantic.min_area", ftype::number, 0, "classes covering fewer pixels are not listed"},
        {"semantic.background", ftype::integer, 0,
         "the class that is not an object (no mask record, not drawn); -1: none"},
        {"postprocess.conf", ftype::number, 0.25, "yolov8-seg: minimum class score"},
        {"postprocess.iou", ftype::number, 0.7, "yolov8-seg: NMS IoU (Ultralytics' default)"},
        {"postprocess.agnostic", ftype::boolean, false, "yolov8-seg: NMS across classes"},
        {"postprocess.max_det", ftype::integer, 300, "yolov8-seg: instances kept per image"},
        {"postprocess.mask_threshold", ftype::number, 0.5, "yolov8-seg: mask probability"},
        {"outputs.json", ftype::boolean, true, "per-image JSON <out>/<rel>.json with RLE masks"},
        {"outputs.masks", ftype::boolean, false, "one PNG per mask <out>/masks/<rel>/<n>.png"},
        {"outputs.instance_map", ftype::boolean, false,
         "uint16 instance ids <out>/instances/<rel>.png"},
        {"outputs.label_map", ftype::boolean, false,
         "class ids <out>/labels/<rel>.png (uint8, uint16 past 255) and a colour preview "
         "<out>/labels_color/<rel>.png"},
        {"outputs.overlay", ftype::boolean, false, "coloured overlay <out>/overlay/<rel>.jpg"},
        {"outputs.overlay_alpha", ftype::number, 0.5, "overlay opacity"},
        {"outputs.yolo", ftype::boolean, false, "YOLO-seg polygons <out>/yolo/<rel>.txt"},
        {"outputs.coco", ftype::boolean, true, "the run's COCO dataset <out>/coco.json"},
        {"outputs.embeddings", ftype::boolean, false,
         "sam: save image embeddings <out>/embeddings/<rel>.npy and reuse them on later runs"},
    };
    s.fields.insert(s.fields.end(), own.begin(), own.end());
    return s;
}

const std::set<std::string> k_families = {"sam", "semantic", "yolov8-seg"};

class segment_task final : public task {
  public:
    std::string name() const override { return "segment"; }
    std::string description() const override {
        return "segment: SAM prompts (points, boxes, detector boxes) and segment-everything, "
               "semantic label maps; masks, COCO RLE, YOLO-seg polygons, overlays";
    }
    std::string default_config() const override { return "bodypix-mnv1-050"; }
    schema config_schema() const override { return segment_schema(); }
    std::vector<task_option> options() const override {
        return {
            {"--prompts", "prompt.file", "per-image prompts JSON (points and boxes)"},
            {"--point", "prompt.points", "x,y[,label] for every image (repeatable)",
             task_option::multi},
            {"--box", "prompt.boxes", "x1,y1,x2,y2 for every image (repeatable)",
             task_option::multi},
            {"--boxes-from", "prompt.boxes_from", "boxes from detect's per-image JSON in DIR"},
            {"--detector", "prompt.detector",
             "run this detector (a detect config or fetched name) first; its boxes prompt SAM"},
            {"--classes", "prompt.classes", "detector classes to keep (repeatable)",
             task_option::multi},
            {"--everything", "sam.mode", "segment everything (automatic masks)", task_option::flag,
             "everything"},
            {"--decoder", "decoder",
             "sam decoder: a model file, a config JSON with a \"decoder\" section, or a name",
             task_option::stage},
            {"--masks", "outputs.masks", "write one PNG per mask", task_option::flag},
            {"--overlay", "outputs.overlay", "write overlay previews", task_option::flag},
            {"--label-map", "outputs.label_map", "write label maps", task_option::flag},
            {"--instance-map", "outputs.instance_map", "write instance id maps", task_option::flag},
            {"--yolo", "outputs.yolo", "write YOLO-seg polygon labels", task_option::flag},
            {"--save-embeddings", "outputs.embeddings", "sam: save and reuse image embeddings",
             task_option::flag},
        };
    }

    void configure(const resolved_config& rc) override {
        const auto& c = rc.cfg;
        family_ = get_path(c, "model.family").get<std::string>();
        if (!k_families.count(family_))
            throw fatal_error("model.family: unknown segment family \"" + family_ +
                              "\" (known: sam, semantic, yolov8-seg)");
        const auto& lab = get_path(c, "labels");
        labels_ = lab.is_string() ? load_labels(lab.get<std::string>(), rc.base_dir)
                                  : make_labels(lab.get<std::vector<std::string>>());
        // lower_bound: the model input follows each image's aspect (fully convolutional
        // segmenters, as torchvision's references run them); the sides come from
        // depth_input_size, the same rule as depth's.
        keep_aspect_ = family_ == "semantic" &&
                       get_path(c, "preprocess.resize").get<std::string>() == "lower_bound";
        if (keep_aspect_) {
            pre_ = pixel_options_from_config(c);
            pre_.letterbox = false;
            multiple_ = get_path(c, "model.multiple_of").get<int>();
            if (multiple_ < 1) throw fatal_error("model.multiple_of: must be at least 1");
        } else {
            pre_ = preprocess_from_config(c);
        }
        out_json_ = get_path(c, "outputs.json").get<bool>();
        out_masks_ = get_path(c, "outputs.masks").get<bool>();
        out_instances_ = get_path(c, "outputs.instance_map").get<bool>();
        out_labels_ = get_path(c, "outputs.label_map").get<bool>();
        out_overlay_ = get_path(c, "outputs.overlay").get<bool>();
        overlay_alpha_ = get_path(c, "outputs.overlay_alpha").get<float>();
        out_yolo_ = get_path(c, "outputs.yolo").get<bool>();
        out_coco_ = get_path(c, "outputs.coco").get<bool>();
        out_embeddings_ = get_path(c, "outputs.embeddings").get<bool>();
        if (family_ == "sam")
            configure_sam(c);
        else if (family_ == "semantic")
            configure_semantic(c);
        else
            configure_yolov8_seg(c);
    }

    std::vector<std::string> stage_sections() const override {
        return family_ == "sam" ? std::vector<std::string>{"decoder"} : std::vector<std::string>{};
    }
    void attach_stage(const std::string& section, std::unique_ptr<model> m) override {
        if (section == "decoder") decoder_ = std::make_unique<sam_decoder>(std::move(m), sam_);
    }
    std::string fingerprint_extra() const override { return prompts_fp_; }

    // Segment-everything decodes points_per_batch prompts per call, and the decoder's
    // activations grow with them (256 x 64 x 64 image tokens per prompt through the two-way
    // transformer, then 64 x 128 x 128 and 32 x 256 x 256 maps in the upscaling). Measured
    // with scripts/bench/bench_segment.sh's MobileSAM export, one worker, peak RSS at
    // points_per_batch 64 vs 16: decoder_mb_per_prompt. SAM ViT-B/L/H share this decoder.
    // Prompt mode decodes an image's few prompts at once: nothing notable.
    double worker_extra_memory_mb() const override {
        if (family_ != "sam" || mode_ != "everything") return 0;
        return decoder_mb_per_prompt * sam_.amg.points_per_batch;
    }

    void start(const run_context& ctx) override {
        out_dir_ = ctx.out_dir;
        log_ = ctx.log;
        if (family_ != "sam") return;
        if (!decoder_) throw fatal_error("decoder.file: the sam family needs a decoder");
        decoder_->check(embedding_shape_);
        if (detector_) detector_->load(ctx.device, ctx.log);
        // What decides an image's embedding besides its pixels: the encoder's checksum alone
        // (not the decoder's), the input side, the resize and the crops.
        embed_key_ = sha256_hex(ctx.main_sha256 + "|" + std::to_string(sam_.long_side) + "|" +
                                resize_interp_ + "|" + crops_key_);
    }

    int input_w() const override { return pre_.in_w; }
    int input_h() const override { return pre_.in_h; }
    bool keeps_image() const override { return out_overlay_ || detector_; }
    int reduction_for(image_size s) const override {
        if (out_overlay_ || detector_ ||
            (family_ == "sam" && mode_ == "everything" && amg_layers_ > 0))
            return 1;
        if (keep_aspect_) {
            if (s.w <= 0 || s.h <= 0) return 1;
            depth_size t = input_size_for(s.w, s.h);
            return choose_reduction(s, t.w, t.h, false);
        }
        return choose_reduction(s, pre_.in_w, pre_.in_h, pre_.letterbox);
    }

    void prepare(work_item& w) const override {
        if (family_ == "sam") return prepare_sam(w);
        if (!keep_aspect_) return prepare_whole_image(w, pre_);
        // The input size follows the original image (a reduced decode only shrinks the source).
        depth_size t =
            checked_input_size(w.img.orig_w, w.img.orig_h, pre_.in_w, pre_.in_h, multiple_,
                               depth_resize::lower_bound, "letterbox or stretch");
        preprocess_options o = pre_;
        o.in_w = t.w, o.in_h = t.h;
        prepare_whole_image(w, o, true);
    }

    void check_outputs(const std::vector<tensor>& outs) const override {
        if (family_ == "sam") {
            embedding_shape_ = check_embedding_output(outs, "sam encoder");
            return;
        }
        if (family_ == "yolov8-seg") return yolov8_seg_check(outs, seg_);
        input_transform t;
        t.lb = compute_letterbox(pre_.in_w, pre_.in_h, pre_.in_w, pre_.in_h, pre_.centre);
        int classes = 0;
        semantic_label_map(outs, 0, t, pre_.in_w, pre_.in_h, 8, 8, sem_, &classes);
        if (!labels_.names.empty() && classes > static_cast<int>(labels_.names.size()))
            throw fatal_error("labels: " + std::to_string(labels_.names.size()) +
                              " names for a model with " + std::to_string(classes) + " classes");
    }

    void postprocess(work_item& w, const std::vector<tensor>& outs, int first_row) const override {
        const int W = w.img.orig_w, H = w.img.orig_h;
        std::vector<mask_record> masks;
        nlohmann::ordered_json extra = nlohmann::ordered_json::object();
        if (family_ == "sam") {
            masks = postprocess_sam(w, outs, first_row, extra);
        } else if (family_ == "yolov8-seg") {
            masks = yolov8_seg_masks(outs, first_row, w.rows[0], pre_.in_w, pre_.in_h, W, H, seg_,
                                     labels_);
        } else {
            masks = postprocess_semantic(w, outs, first_row, extra);
        }
        nlohmann::ordered_json recs = nlohmann::ordered_json::array();
        for (const auto& m : masks) recs.push_back(mask_json(m));
        w.result = {{"image", w.in.rel}, {"width", W}, {"height", H}, {"family", family_}};
        for (auto it = extra.begin(); it != extra.end(); ++it) w.result[it.key()] = it.value();
        w.result["masks"] = std::move(recs);
    }

    std::vector<std::string> write_outputs(const work_item& w,
                                           const output_context& ctx) const override {
        std::vector<std::string> written;
        auto put = [&](const std::string& dir, const std::string& suffix, const std::string& data) {
            std::string p = output_path("", dir, w.in.rel, suffix);
            write_file_atomic(ctx.out_dir + "/" + p, data);
            written.push_back(p);
        };
        const int W = w.result["width"].get<int>(), H = w.result["height"].get<int>();
        if (out_embeddings_ && !w.aux.empty() && !reused(w)) {
            // the .npy first, its key last: a key only ever names a complete file
            put("embeddings", ".npy", npy_bytes(embedding_dims(w), w.aux.data()));
            nlohmann::ordered_json k = {{"key", embed_key_}, {"stamp", stamp_key(w.in.path)}};
            put("embeddings", ".key.json", k.dump() + "\n");
        }
        if (out_json_) put("", ".json", w.result.dump() + "\n");
        std::vector<cv::Mat> masks;
        std::vector<int> classes;
        const bool need_masks =
            out_masks_ || out_instances_ || out_overlay_ || out_yolo_ || out_labels_;
        if (need_masks)
            for (const auto& j : w.result["masks"]) {
                mask_record r = mask_from_json(j);
                masks.push_back(rle_decode(r.m));
                classes.push_back(r.class_id);
            }
        if (out_masks_)
            for (size_t i = 0; i < masks.size(); ++i)
                put("masks", "/" + std::to_string(i) + ".png",
                    encode_image(masks[i] * 255, ".png"));
        if (out_instances_)
            put("instances", ".png", encode_image(instance_map(masks, W, H), ".png"));
        cv::Mat lab;  // once, for the label map and a semantic overlay
        if (out_labels_ || (out_overlay_ && family_ == "semantic"))
            lab = label_map_of(w, masks, classes, W, H);
        if (out_labels_) {
            double mx = 0;
            cv::minMaxLoc(lab, nullptr, &mx);
            cv::Mat enc = lab;
            if (mx < 256) lab.convertTo(enc, CV_8U);
            put("labels", ".png", encode_image(enc, ".png"));
            put("labels_color", ".png", encode_image(colorize_labels(lab), ".png"));
        }
        if (out_overlay_) {
            cv::Mat img = w.img.bgr;
            if (img.cols != W || img.rows != H) cv::resize(img, img, {W, H});
            cv::Mat ov = family_ == "semantic"
                             ? overlay_labels(img, lab, overlay_alpha_, background_)
                             : overlay_masks(img, masks, overlay_alpha_);
            put("overlay", ".jpg", encode_image(ov, ".jpg", {cv::IMWRITE_JPEG_QUALITY, 90}));
        }
        if (out_yolo_) {
            std::vector<std::pair<int, cv::Mat>> cm;
            for (size_t i = 0; i < masks.size(); ++i)
                cm.push_back({classes[i] >= 0 ? classes[i] : 0, masks[i]});
            put("yolo", ".txt", yolo_seg_txt(cm, W, H));
        }
        return written;
    }

    std::vector<std::string> finish(
        const output_context& ctx, const std::string& suffix,
        const std::function<void(const record_visitor&)>& each) const override {
        std::set<std::string> seen;
        nlohmann::ordered_json images = nlohmann::ordered_json::array(),
                               anns = nlohmann::ordered_json::array();
        std::set<int> used_classes;
        each([&](const nlohmann::ordered_json& rec) {
            const auto& r = rec["result"];
            seen.insert(rec.value("rel", std::string()));
            if (!out_coco_ || !r.is_object() || !r.contains("masks")) return;
            const int64_t id = static_cast<int64_t>(images.size()) + 1;
            images.push_back({{"id", id},
                              {"file_name", r["image"]},
                              {"width", r["width"]},
                              {"height", r["height"]}});
            for (const auto& m : r["masks"]) {
                int cls = m.value("class_id", -1);
                used_classes.insert(cls);
                nlohmann::ordered_json a = {{"id", static_cast<int64_t>(anns.size()) + 1},
                                            {"image_id", id},
                                            {"category_id", category_of(cls)},
                                            {"segmentation", m["segmentation"]},
                                            {"area", m["area"]},
                                            {"bbox", m["bbox"]},
                                            {"iscrowd", 0}};
                for (const char* k : {"score", "predicted_iou", "stability_score"})
                    if (m.contains(k)) a[k] = m[k];
                anns.push_back(std::move(a));
            }
        });
        warn_unused_prompts(seen, suffix);
        if (!out_coco_) return {};
        nlohmann::ordered_json cats = nlohmann::ordered_json::array();
        for (int c : used_classes)
            cats.push_back({{"id", category_of(c)}, {"name", class_name(c)}});
        nlohmann::ordered_json d = {
            {"images", images}, {"annotations", anns}, {"categories", cats}};
        std::string name = "coco" + suffix + ".json";
        write_file_atomic(ctx.out_dir + "/" + name, d.dump() + "\n");
        return {name};
    }

    nlohmann::ordered_json run_info() const override {
        nlohmann::ordered_json j = {{"family", family_}, {"labels", labels_.names}};
        if (family_ == "sam") j["mode"] = mode_;
        return j;
    }

  private:
    // ---- sam ----
    void configure_sam(const json& c) {
        if (pre_.in_w != pre_.in_h)
            throw fatal_error("model.input_size: the sam encoder takes a square input");
        sam_.long_side = pre_.in_w;
        sam_.iou_output = get_path(c, "decoder.outputs.iou_predictions").get<int>();
        sam_.masks_output = get_path(c, "decoder.outputs.low_res_masks").get<int>();
        sam_.multimask = get_path(c, "sam.multimask").get<std::string>();
        if (sam_.multimask != "auto" && sam_.multimask != "always" && sam_.multimask != "never")
            throw fatal_error("sam.multimask: expected auto, always or never");
        resize_interp_ = get_path(c, "sam.resize_interpolation").get<std::string>();
        if (resize_interp_ != "area" && resize_interp_ != "linear")
            throw fatal_error("sam.resize_interpolation: expected area or linear");
        amg_params& a = sam_.amg;
        a.mask_threshold = get_path(c, "sam.mask_threshold").get<float>();
        a.points_per_side = get_path(c, "everything.points_per_side").get<int>();
        a.points_per_batch = get_path(c, "everything.points_per_batch").get<int>();
        a.pred_iou_thresh = get_path(c, "everything.pred_iou_thresh").get<float>();
        a.stability_score_thresh = get_path(c, "everything.stability_score_thresh").get<float>();
        a.stability_score_offset = get_path(c, "everything.stability_score_offset").get<float>();
        a.box_nms_thresh = get_path(c, "everything.box_nms_thresh").get<float>();
        a.crop_n_layers = get_path(c, "everything.crop_n_layers").get<int>();
        a.crop_nms_thresh = get_path(c, "everything.crop_nms_thresh").get<float>();
        a.crop_overlap_ratio = get_path(c, "everything.crop_overlap_ratio").get<float>();
        a.crop_n_points_downscale_factor =
            get_path(c, "everything.crop_n_points_downscale_factor").get<int>();
        a.min_mask_region_area = get_path(c, "everything.min_mask_region_area").get<double>();
        if (a.points_per_side < 1 || a.points_per_batch < 1 || a.crop_n_layers < 0 ||
            a.crop_n_points_downscale_factor < 1)
            throw fatal_error(
                "everything.*: points_per_side, points_per_batch and "
                "crop_n_points_downscale_factor must be >= 1, crop_n_layers >= 0");
        amg_layers_ = a.crop_n_layers;
        crops_key_ = std::to_string(a.crop_n_layers) + "/" + std::to_string(a.crop_overlap_ratio);

        // Prompt sources.
        std::string fp;
        const std::string pf = get_path(c, "prompt.file").get<std::string>();
        if (!pf.empty()) {
            prompts_file f = load_prompts_file(pf);
            file_prompts_ = std::move(f.by_image);
            for (const auto& [k, v] : file_prompts_)
                by_name_[fs::path(k).filename().string()].push_back(k);
            fp += f.sha256;
        }
        cli_prompts_ =
            parse_cli_prompts(get_path(c, "prompt.points").get<std::vector<std::string>>(),
                              get_path(c, "prompt.boxes").get<std::vector<std::string>>());
        boxes_from_ = get_path(c, "prompt.boxes_from").get<std::string>();
        if (!boxes_from_.empty()) {
            if (!fs::is_directory(boxes_from_))
                throw fatal_error("prompt.boxes_from: " + boxes_from_ + ": not a folder");
            // the detections decide the masks: fold their files' stamps into the fingerprint
            std::vector<std::string> files;
            for (auto& e : fs::recursive_directory_iterator(boxes_from_))
                if (e.is_regular_file() && e.path().extension() == ".json")
                    files.push_back(e.path().string());
            std::sort(files.begin(), files.end());
            for (const auto& f : files) fp += "|" + f + ":" + stamp_key(f);
        }
        const std::string det = get_path(c, "prompt.detector").get<std::string>();
        if (!det.empty()) {
            detector_ = std::make_unique<embedded_task>(make_detect_task(), det, "--detector");
            fp += "|detector:" + detector_->fingerprint();
        }
        classes_ = get_path(c, "prompt.classes").get<std::vector<std::string>>();
        // --classes person,car as well as --classes person --classes car
        std::vector<std::string> split;
        for (const auto& s : classes_) {
            size_t a0 = 0;
            for (size_t b; (b = s.find(',', a0)) != std::string::npos; a0 = b + 1)
                split.push_back(s.substr(a0, b - a0));
            split.push_back(s.substr(a0));
        }
        classes_ = split;
        min_score_ = get_path(c, "prompt.min_score").get<float>();
        const bool any_prompts =
            !file_prompts_.empty() || !cli_prompts_.empty() || !boxes_from_.empty() || detector_;
        mode_ = get_path(c, "sam.mode").get<std::string>();
        if (mode_ != "auto" && mode_ != "prompts" && mode_ != "everything")
            throw fatal_error("sam.mode: expected auto, prompts or everything");
        if (mode_ == "auto") mode_ = any_prompts ? "prompts" : "everything";
        if (mode_ == "prompts" && !any_prompts)
            throw fatal_error(
                "sam.mode prompts: give --prompts, --point, --box, --boxes-from or --detector");
        if (mode_ == "everything" && any_prompts)
            throw fatal_error("--everything: prompts were given too; use one or the other");
        prompts_fp_ = fp;
    }

    std::vector<crop_box> crops_of(int W, int H) const {
        if (mode_ != "everything") return {crop_box{0, 0, W, H, 0}};
        return generate_crop_boxes(W, H, sam_.amg.crop_n_layers, sam_.amg.crop_overlap_ratio);
    }

    void sam_input(const decoded_image& img, const crop_box& cb, float* dst) const {
        sam_prepare_input(img, cb, sam_.long_side, resize_interp_ == "area", pre_, dst);
    }

    void prepare_sam(work_item& w) const {
        const int W = w.img.orig_w, H = w.img.orig_h;
        auto crops = crops_of(W, H);
        if (out_embeddings_ && load_embedding(w, crops.size())) {
            w.rows.clear();
            return;
        }
        const size_t per = static_cast<size_t>(sam_.long_side) * sam_.long_side * 3;
        w.data.resize(per * crops.size());
        w.rows.assign(crops.size(), input_transform{});
        for (size_t i = 0; i < crops.size(); ++i)
            sam_input(w.img, crops[i], w.data.data() + i * per);
    }

    std::vector<int64_t> embedding_dims(const work_item& w) const {
        const int64_t per = embedding_shape_[1] * embedding_shape_[2] * embedding_shape_[3];
        return {static_cast<int64_t>(w.aux.size()) / per, embedding_shape_[1], embedding_shape_[2],
                embedding_shape_[3]};
    }

    static bool reused(const work_item& w) {
        return w.result.is_object() && w.result.value("embedding_reused", false);
    }

    static std::string stamp_key(const std::string& path) {
        file_stamp s = stamp_of(path);
        return std::to_string(s.size) + ":" + std::to_string(s.mtime_ns);
    }

    // A saved embedding for this image, encoder, preprocessing and crops; false when absent
    // or stale (then the encoder runs and the file is rewritten).
    bool load_embedding(work_item& w, size_t rows) const {
        const std::string npy = output_path(out_dir_, "embeddings", w.in.rel, ".npy");
        const std::string key = output_path(out_dir_, "embeddings", w.in.rel, ".key.json");
        if (!stamp_of(key).exists()) return false;
        try {
            json k = json::parse(read_file(key));
            if (k.value("key", "") != embed_key_ || k.value("stamp", "") != stamp_key(w.in.path))
                return false;
            npy_array a = parse_npy(read_file(npy));
            const int64_t per = embedding_shape_[1] * embedding_shape_[2] * embedding_shape_[3];
            if (a.shape.size() != 4 || a.shape[0] != static_cast<int64_t>(rows) ||
                static_cast<int64_t>(a.data.size()) != a.shape[0] * per)
                return false;
            w.aux = std::move(a.data);
            w.result["embedding_reused"] = true;
            return true;
        } catch (const std::exception&) {
            return false;
        }
    }

    std::vector<sam_prompt> prompts_for(work_item& w, std::vector<std::string>& notes) const {
        std::vector<sam_prompt> ps;
        auto it = file_prompts_.find(w.in.rel);
        if (it == file_prompts_.end()) {
            // a key naming the file alone matches when it is unambiguous
            auto n = by_name_.find(fs::path(w.in.rel).filename().string());
            if (n != by_name_.end() && n->second.size() == 1) it = file_prompts_.find(n->second[0]);
        }
        if (it != file_prompts_.end()) ps = it->second;
        ps.insert(ps.end(), cli_prompts_.begin(), cli_prompts_.end());
        if (!boxes_from_.empty()) {
            std::string jf = output_path(boxes_from_, "", w.in.rel, ".json");
            if (!stamp_of(jf).exists()) {
                notes.push_back("no detections file " + jf + "; no box prompts from it");
            } else {
                json rec = json::parse(read_file(jf), nullptr, false);
                if (rec.is_discarded()) throw input_error(jf + ": not valid JSON");
                auto d = prompts_from_detections(rec, classes_, min_score_);
                // detections of the same image at another size would land in the wrong place
                if (rec.contains("width") && rec.contains("height") &&
                    (rec["width"] != w.img.orig_w || rec["height"] != w.img.orig_h))
                    throw input_error(jf + ": detections are for a " + rec["width"].dump() + "x" +
                                      rec["height"].dump() + " image, this one is " +
                                      std::to_string(w.img.orig_w) + "x" +
                                      std::to_string(w.img.orig_h));
                ps.insert(ps.end(), d.begin(), d.end());
            }
        }
        if (detector_) {
            auto d = prompts_from_detections(detector_->run(w.img, w.in.rel, w.in.path), classes_,
                                             min_score_);
            ps.insert(ps.end(), d.begin(), d.end());
        }
        return ps;
    }

    std::vector<mask_record> postprocess_sam(work_item& w, const std::vector<tensor>& outs,
                                             int first_row, nlohmann::ordered_json& extra) const {
        const int W = w.img.orig_w, H = w.img.orig_h;
        auto crops = crops_of(W, H);
        const bool reused = this->reused(w);
        std::vector<tensor> embs(crops.size());
        const auto& es = embedding_shape_;
        const size_t per = static_cast<size_t>(es[1] * es[2] * es[3]);
        if (!reused) {
            const tensor& o = outs.at(0);
            if (o.rank() != 4 || o.shape[1] != es[1] || o.shape[2] != es[2] || o.shape[3] != es[3])
                throw input_error("encoder returned " + shape_str(o.shape));
            w.aux.assign(o.data.begin() + first_row * per,
                         o.data.begin() + (first_row + crops.size()) * per);
        }
        for (size_t i = 0; i < crops.size(); ++i) {
            embs[i].shape = {1, es[1], es[2], es[3]};
            embs[i].data.assign(w.aux.begin() + i * per, w.aux.begin() + (i + 1) * per);
        }
        if (!out_embeddings_ || reused) w.aux.clear();
        extra["mode"] = mode_;
        if (reused) extra["embedding_reused"] = true;
        if (mode_ == "everything") {
            extra["crops"] = static_cast<int>(crops.size());
            return decoder_->everything(embs, crops, W, H);
        }
        std::vector<std::string> notes;
        auto ps = prompts_for(w, notes);
        if (int n = clip_prompts(ps, W, H))
            notes.push_back(std::to_string(n) + " prompt(s) outside the " + std::to_string(W) +
                            "x" + std::to_string(H) + " image clipped to it");
        if (ps.empty()) notes.push_back("no prompts for this image");
        for (const auto& n : notes)
            if (log_) log_("warning: " + w.in.path + ": " + n);
        if (!notes.empty()) extra["warnings"] = notes;
        return decoder_->prompt_masks(embs[0], ps, W, H);
    }

    // ---- yolov8-seg ----
    void configure_yolov8_seg(const json& c) {
        if (labels_.names.empty()) labels_ = coco80();
        seg_.num_classes = static_cast<int>(labels_.names.size());
        seg_.conf = get_path(c, "postprocess.conf").get<float>();
        seg_.nms.iou = get_path(c, "postprocess.iou").get<float>();
        seg_.nms.agnostic = get_path(c, "postprocess.agnostic").get<bool>();
        seg_.nms.max_det = get_path(c, "postprocess.max_det").get<int>();
        seg_.mask_threshold = get_path(c, "postprocess.mask_threshold").get<float>();
        mode_ = "instances";
    }

    // ---- semantic ----
    void configure_semantic(const json& c) {
        sem_.output = get_path(c, "semantic.output").get<int>();
        const std::string lay = get_path(c, "semantic.output_layout").get<std::string>();
        if (lay != "nchw" && lay != "nhwc")
            throw fatal_error("semantic.output_layout: expected nchw or nhwc");
        sem_.nhwc = lay == "nhwc";
        sem_.activation = get_path(c, "semantic.activation").get<std::string>();
        if (sem_.activation != "none" && sem_.activation != "sigmoid" &&
            sem_.activation != "softmax")
            throw fatal_error("semantic.activation: expected none, sigmoid or softmax");
        sem_.threshold = get_path(c, "semantic.threshold").get<float>();
        sem_.gate_output = get_path(c, "semantic.gate_output").get<int>();
        sem_.gate_threshold = get_path(c, "semantic.gate_threshold").get<float>();
        min_area_ = get_path(c, "semantic.min_area").get<double>();
        background_ = get_path(c, "semantic.background").get<int>();
        mode_ = "semantic";
    }

    std::vector<mask_record> postprocess_semantic(work_item& w, const std::vector<tensor>& outs,
                                                  int first_row,
                                                  nlohmann::ordered_json& extra) const {
        const int W = w.img.orig_w, H = w.img.orig_h;
        int classes = 0;
        const int in_w = w.in_w ? w.in_w : pre_.in_w, in_h = w.in_h ? w.in_h : pre_.in_h;
        cv::Mat lab =
            semantic_label_map(outs, first_row, w.rows[0], in_w, in_h, W, H, sem_, &classes);
        // One record per class present, label 0 (background) included only when named.
        std::vector<mask_record> out;
        nlohmann::ordered_json present = nlohmann::ordered_json::array();
        for (int k = 0; k < classes; ++k) {
            cv::Mat m = lab == k;
            const int n = cv::countNonZero(m);
            if (n == 0 || n < min_area_) continue;
            present.push_back({{"class_id", k},
                               {"label", class_name(k)},
                               {"pixels", n},
                               {"fraction", std::round(1e5 * n / (double(W) * H)) / 1e5}});
            if (k == background_) continue;  // background is not an object
            m &= 1;
            mask_record r;
            r.m = rle_encode(m);
            r.bbox = mask_bbox(m);
            r.scored = false;
            r.class_id = k;
            r.label = class_name(k);
            out.push_back(std::move(r));
        }
        extra["classes"] = present;
        w.aux.assign(lab.begin<uint16_t>(), lab.end<uint16_t>());  // the label map, for writers
        return out;
    }

    depth_size input_size_for(int img_w, int img_h) const {
        return depth_input_size(img_w, img_h, pre_.in_w, pre_.in_h, multiple_,
                                depth_resize::lower_bound);
    }

    // ---- shared ----
    cv::Mat label_map_of(const work_item& w, const std::vector<cv::Mat>& masks,
                         const std::vector<int>& classes, int W, int H) const {
        if (family_ == "semantic" && w.aux.size() == static_cast<size_t>(W) * H) {
            cv::Mat lab(H, W, CV_16U);
            std::copy(w.aux.begin(), w.aux.end(), lab.begin<uint16_t>());
            return lab;
        }
        // sam: each mask paints its class (or 1), largest first.
        cv::Mat ids = instance_map(masks, W, H), lab(H, W, CV_16U, cv::Scalar(0));
        for (size_t i = 0; i < masks.size(); ++i)
            lab.setTo(classes[i] >= 0 ? classes[i] : 1, ids == static_cast<int>(i + 1));
        return lab;
    }

    std::string class_name(int k) const {
        if (k >= 0 && k < static_cast<int>(labels_.names.size())) return labels_.names[k];
        if (k < 0) return family_ == "sam" ? "object" : "background";
        return std::to_string(k);
    }
    int category_of(int k) const {
        if (k >= 0 && k < static_cast<int>(labels_.category_ids.size()))
            return labels_.category_ids[k];
        return k >= 0 ? k + 1 : 1;  // unlabelled sam masks: one category "object"
    }

    void warn_unused_prompts(const std::set<std::string>& seen, const std::string& suffix) const {
        if (file_prompts_.empty() || !suffix.empty() || !log_) return;  // shards see a part
        std::set<std::string> names;
        for (const auto& s : seen) names.insert(fs::path(s).filename().string());
        for (const auto& [k, v] : file_prompts_)
            if (!seen.count(k) && !names.count(fs::path(k).filename().string()))
                log_("warning: prompts for \"" + k + "\" match no input image");
    }

    std::string family_, mode_;
    label_set labels_;
    preprocess_options pre_;
    bool out_json_ = true, out_masks_ = false, out_instances_ = false, out_labels_ = false,
         out_overlay_ = false, out_yolo_ = false, out_coco_ = true, out_embeddings_ = false;
    float overlay_alpha_ = 0.5f;
    // sam
    sam_settings sam_;
    std::unique_ptr<sam_decoder> decoder_;
    mutable std::vector<int64_t> embedding_shape_;  // from the warm-up (check_outputs)
    std::map<std::string, std::vector<sam_prompt>> file_prompts_;
    std::map<std::string, std::vector<std::string>> by_name_;
    std::vector<sam_prompt> cli_prompts_;
    std::string boxes_from_, prompts_fp_, embed_key_, crops_key_, resize_interp_ = "area";
    std::vector<std::string> classes_;
    std::unique_ptr<embedded_task> detector_;  // --detector: boxes from a detector in-process
    float min_score_ = 0;
    int amg_layers_ = 0;
    std::string out_dir_;
    std::function<void(const std::string&)> log_;
    // semantic
    semantic_params sem_;
    yolov8_seg_params seg_;
    double min_area_ = 0;
    int background_ = 0;
    bool keep_aspect_ = false;  // preprocess.resize lower_bound
    int multiple_ = 1;
};

}  // namespace

std::unique_ptr<task> make_segment_task() {
    return std::make_unique<segment_task>();
}

}  // namespace vfm
