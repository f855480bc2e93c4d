// The matte task: families rvm, modnet, saliency (a network gives the alpha over the runner),
// trimap-net (image + trimap -> alpha, ViTMatte-style) and solver (closed-form matting); trimaps
// come from --trimap files or from masks of a segment config run in the same process (SAM
// prompts, detector boxes through SAM, semantic classes). One set of outputs.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <set>

#include "vfm/detect_task.h"
#include "vfm/embedded_task.h"
#include "vfm/error.h"
#include "vfm/fsutil.h"
#include "vfm/matte.h"
#include "vfm/matting.h"
#include "vfm/model.h"
#include "vfm/segment.h"

namespace vfm {

namespace {

namespace fs = std::filesystem;
using ojson = nlohmann::ordered_json;

schema matte_schema() {
    using j = nlohmann::ordered_json;
    schema s{common_fields()};
    std::vector<field> own = {
        {"matte.alpha_output", ftype::integer, 0, "model output holding the alpha"},
        {"matte.foreground_output", ftype::integer, -1,
         "model output holding foreground RGB 0..1 (rvm: 2); -1: none"},
        {"matte.output_layout", ftype::string, "nchw", "nchw or nhwc (TF exports)"},
        {"matte.activation", ftype::string, "none", "none or sigmoid (the output holds logits)"},
        {"matte.normalize", ftype::string, "none",
         "none or minmax (each alpha stretched to 0..1, as rembg does for U2-Net/ISNet)"},
        {"modnet.ref_size", ftype::integer, 512, "modnet: reference size of the short side"},
        {"modnet.multiple", ftype::integer, 32, "modnet: input sides rounded down to this"},
        {"trimap_net.multiple", ftype::integer, 32, "trimap-net: input padded to this multiple"},
        {"trimap_net.max_side", ftype::integer, 0,
         "trimap-net: longer side scaled down to this first (0: the image's own size)"},
        {"trimap_net.keep_known", ftype::boolean, true,
         "trimap-net: alpha forced to 0 / 1 where the trimap is known"},
        {"trimap.dir", ftype::string, "",
         "folder of user trimaps <dir>/<rel>.png (0 background, 255 foreground, else unknown)"},
        {"trimap.erode", ftype::integer, 10, "mask -> trimap: foreground eroded by this (px)"},
        {"trimap.dilate", ftype::integer, 10, "mask -> trimap: background starts this far (px)"},
        {"trimap.fg_threshold", ftype::integer, 240,
         "alpha -> trimap (refine): foreground above this (0-255; rembg's default)"},
        {"trimap.bg_threshold", ftype::integer, 10,
         "alpha -> trimap (refine): background below this (0-255; rembg's default)"},
        {"trimap.alpha_erode", ftype::integer, 10,
         "alpha -> trimap (refine): both regions eroded by this (px; rembg's default)"},
        {"source.segment", ftype::string, "",
         "segment config (file, configs/segment name or fetched model) whose masks make the "
         "trimaps"},
        {"source.classes", ftype::string_list, j::array(),
         "keep only masks of these labels or class ids (empty: all)"},
        {"source.points", ftype::string_list, j::array(),
         "sam points \"x,y[,label]\" for every image"},
        {"source.boxes", ftype::string_list, j::array(),
         "sam boxes \"x1,y1,x2,y2\" for every image"},
        {"source.prompts", ftype::string, "", "sam prompts JSON (segment's --prompts)"},
        {"source.detector", ftype::string, "", "detect config whose boxes prompt sam"},
        {"source.min_score", ftype::number, 0.0, "keep detections scoring at least this"},
        {"refine.method", ftype::string, "none",
         "networks: none, or closed-form (alpha -> trimap -> solver, as rembg -a)"},
        {"closed_form.eps", ftype::number, 1e-7, "colour covariance regularisation"},
        {"closed_form.radius", ftype::integer, 1, "window radius"},
        {"closed_form.max_iter", ftype::integer, 10000, "conjugate-gradient iteration cap"},
        {"closed_form.tol", ftype::number, 1e-7, "relative residual to stop at"},
        {"foreground.method", ftype::string, "auto",
         "cutout/composite colours: auto (the network's foreground, else estimate), estimate "
         "(multi-level foreground estimation), or image (the raw pixels)"},
        {"decoder.name", ftype::string, "", "mam: decoder registry name"},
        {"decoder.file", ftype::string, "",
         "mam: TorchScript (image [1,3,L,L], image_embeddings, point_coords [1,N,2], "
         "point_labels [1,N]) -> alpha [1,1,L,L]"},
        {"decoder.sha256", ftype::string, "", "expected sha256 of decoder.file (checked if set)"},
        {"decoder.input_layout", ftype::string, "nchw", "unused (the decoder takes raw tensors)"},
        {"decoder.alpha_output", ftype::integer, 0, "mam: decoder output holding the alpha"},
        {"outputs.json", ftype::boolean, true, "per-image JSON <out>/<rel>.json"},
        {"outputs.alpha", ftype::boolean, true, "alpha <out>/alpha/<rel>.png"},
        {"outputs.alpha_bits", ftype::integer, 8, "alpha PNG depth: 8 or 16"},
        {"outputs.cutout", ftype::boolean, true, "RGBA cutout <out>/cutout/<rel>.<format>"},
        {"outputs.composite", ftype::boolean, false,
         "subject over outputs.background <out>/composite/<rel>.<format>"},
        {"outputs.background", ftype::string, "#ffffff",
         "composite background: #rrggbb, r,g,b or an image file"},
        {"outputs.mask", ftype::boolean, false, "binary mask <out>/mask/<rel>.png"},
        {"outputs.trimap", ftype::boolean, false, "the trimap used <out>/trimap/<rel>.png"},
        {"outputs.threshold", ftype::number, 0.5, "alpha threshold of the mask and the bbox"},
        {"outputs.format", ftype::string, "png",
         "cutout and composite format: png, webp, tiff, or keep (the input's own where it can "
         "hold the image; cutouts of JPEGs become PNG)"},
        {"outputs.only", ftype::string, "",
         "write only this image output (alpha, cutout, composite, mask, trimap) and the JSON"},
    };
    s.fields.insert(s.fields.end(), own.begin(), own.end());
    return s;
}

const std::set<std::string> k_families = {"rvm",        "modnet", "saliency",
                                          "trimap-net", "solver", "mam"};
const std::set<std::string> k_network = {"rvm", "modnet", "saliency"};

// "#rrggbb", "r,g,b" -> BGR; false when `s` is neither.
bool parse_color(const std::string& s, cv::Scalar* bgr) {
    int r = 0, g = 0, b = 0;
    char tail = 0;
    if (s.size() == 7 && s[0] == '#' &&
        std::sscanf(s.c_str() + 1, "%2x%2x%2x%c", &r, &g, &b, &tail) == 3) {
    } else if (std::sscanf(s.c_str(), "%d,%d,%d%c", &r, &g, &b, &tail) == 3) {
        if (r < 0 || r > 255 || g < 0 || g > 255 || b < 0 || b > 255) return false;
    } else {
        return false;
    }
    *bgr = cv::Scalar(b, g, r);
    return true;
}

// What postprocess leaves for the writers in work_item::aux, each W*H floats per channel:
// alpha, then the trimap (when written), then the foreground BGR (when a cutout or composite
// is written). The flags are fixed per run, so the writers know the layout.
struct payload {
    cv::Mat alpha, trimap, fg;
};

class matte_task final : public task {
  public:
    std::string name() const override { return "matte"; }
    std::string description() const override {
        return "matte: alpha mattes from matting networks (RVM, MODNet, U2-Net-style saliency), "
               "from prompts or masks (trimap + closed-form matting) and from user trimaps; "
               "alpha PNGs, RGBA cutouts, composites";
    }
    std::string default_config() const override { return "rvm"; }
    schema config_schema() const override { return matte_schema(); }
    std::vector<task_option> options() const override {
        return {
            {"--trimap", "trimap.dir", "user trimaps <DIR>/<rel>.png (same relative names)"},
            {"--source", "source.segment",
             "segment config or fetched name whose masks become trimaps (solver, trimap-net)"},
            {"--point", "source.points", "sam point x,y[,label] for every image (repeatable)",
             task_option::multi},
            {"--box", "source.boxes", "sam box x1,y1,x2,y2 for every image (repeatable)",
             task_option::multi},
            {"--prompts", "source.prompts", "sam per-image prompts JSON"},
            {"--detector", "source.detector", "detector whose boxes prompt sam"},
            {"--classes", "source.classes", "mask labels or class ids to keep (repeatable)",
             task_option::multi},
            {"--refine", "refine.method",
             "refine a network's alpha with closed-form matting (as rembg -a)", task_option::flag,
             "closed-form"},
            {"--composite", "outputs.composite", "write composites over --background",
             task_option::flag},
            {"--background", "outputs.background", "#rrggbb, r,g,b or an image file"},
            {"--format", "outputs.format", "cutout/composite format: png, webp, tiff or keep"},
            {"--only", "outputs.only", "only this output: alpha, cutout, composite, mask, trimap"},
            {"--alpha16", "outputs.alpha_bits", "16-bit alpha PNGs", task_option::flag, "16"},
            {"--trimaps", "outputs.trimap", "write the trimaps used", task_option::flag},
        };
    }

    void configure(const resolved_config& rc) override {
        const auto& c = rc.cfg;
        family_ = get_path(c, "model.family").get<std::string>();
        if (!k_families.count(family_))
            throw fatal_error("model.family: unknown matte family \"" + family_ +
                              "\" (known: rvm, modnet, saliency, trimap-net, solver, mam)");
        pre_ = preprocess_from_config(c);
        ap_.output = get_path(c, "matte.alpha_output").get<int>();
        ap_.foreground_output = get_path(c, "matte.foreground_output").get<int>();
        const std::string lay = get_path(c, "matte.output_layout").get<std::string>();
        if (lay != "nchw" && lay != "nhwc")
            throw fatal_error("matte.output_layout: expected nchw or nhwc");
        ap_.nhwc = lay == "nhwc";
        const std::string act = get_path(c, "matte.activation").get<std::string>();
        if (act != "none" && act != "sigmoid")
            throw fatal_error("matte.activation: expected none or sigmoid");
        ap_.sigmoid = act == "sigmoid";
        const std::string norm = get_path(c, "matte.normalize").get<std::string>();
        if (norm != "none" && norm != "minmax")
            throw fatal_error("matte.normalize: expected none or minmax");
        ap_.minmax = norm == "minmax";
        ref_size_ = get_path(c, "modnet.ref_size").get<int>();
        multiple_ = get_path(c, "modnet.multiple").get<int>();
        tn_multiple_ = get_path(c, "trimap_net.multiple").get<int>();
        tn_max_side_ = get_path(c, "trimap_net.max_side").get<int>();
        tn_keep_known_ = get_path(c, "trimap_net.keep_known").get<bool>();
        if (ref_size_ < 1 || multiple_ < 1 || tn_multiple_ < 1 || tn_max_side_ < 0)
            throw fatal_error(
                "modnet.ref_size, modnet.multiple and trimap_net.multiple must be >= 1, "
                "trimap_net.max_side >= 0");

        trimap_dir_ = get_path(c, "trimap.dir").get<std::string>();
        if (!trimap_dir_.empty() && !fs::is_directory(trimap_dir_))
            throw fatal_error("trimap.dir: " + trimap_dir_ + ": not a folder");
        trimaps_fp_.clear();
        if (!trimap_dir_.empty()) {
            // the trimaps decide the alphas: their stamps go into the --resume fingerprint
            std::vector<std::string> files;
            for (auto& e : fs::recursive_directory_iterator(trimap_dir_))
                if (e.is_regular_file()) files.push_back(e.path().string());
            std::sort(files.begin(), files.end());
            for (const auto& f : files) {
                file_stamp st = stamp_of(f);
                trimaps_fp_ +=
                    "|" + f + ":" + std::to_string(st.size) + ":" + std::to_string(st.mtime_ns);
            }
        }
        erode_ = get_path(c, "trimap.erode").get<int>();
        dilate_ = get_path(c, "trimap.dilate").get<int>();
        fg_thr_ = get_path(c, "trimap.fg_threshold").get<int>();
        bg_thr_ = get_path(c, "trimap.bg_threshold").get<int>();
        alpha_erode_ = get_path(c, "trimap.alpha_erode").get<int>();
        if (erode_ < 0 || dilate_ < 0 || alpha_erode_ < 0)
            throw fatal_error("trimap.erode, trimap.dilate and trimap.alpha_erode must be >= 0");

        refine_ = get_path(c, "refine.method").get<std::string>();
        if (refine_ != "none" && refine_ != "closed-form")
            throw fatal_error("refine.method: expected none or closed-form");
        cf_.eps = get_path(c, "closed_form.eps").get<double>();
        cf_.radius = get_path(c, "closed_form.radius").get<int>();
        cf_.max_iter = get_path(c, "closed_form.max_iter").get<int>();
        cf_.tol = get_path(c, "closed_form.tol").get<double>();
        if (cf_.radius < 1 || cf_.max_iter < 1 || !(cf_.eps > 0) || !(cf_.tol > 0))
            throw fatal_error("closed_form.*: radius and max_iter must be >= 1, eps and tol > 0");
        fg_method_ = get_path(c, "foreground.method").get<std::string>();
        if (fg_method_ != "auto" && fg_method_ != "estimate" && fg_method_ != "image")
            throw fatal_error("foreground.method: expected auto, estimate or image");

        configure_outputs(c);
        // --classes person,car as well as --classes person --classes car
        classes_.clear();
        for (const auto& v : get_path(c, "source.classes").get<std::vector<std::string>>()) {
            size_t a = 0;
            for (size_t b; (b = v.find(',', a)) != std::string::npos; a = b + 1)
                classes_.insert(v.substr(a, b - a));
            classes_.insert(v.substr(a));
        }
        if (family_ == "mam")
            configure_mam_prompts(c);
        else
            configure_source(c);
        const bool needs_trimap = family_ == "solver" || family_ == "trimap-net";
        if (needs_trimap && trimap_dir_.empty() && !source_)
            throw fatal_error("model.family " + family_ +
                              ": give trimaps (--trimap DIR) or a mask source (--source CONFIG, "
                              "with --point/--box/--detector for sam)");
        if (!needs_trimap && (source_ || !trimap_dir_.empty()))
            throw fatal_error("model.family " + family_ +
                              ": --trimap and --source are for the solver and trimap-net "
                              "families (a network makes its own alpha)");
    }

    bool uses_main_model() const override {
        return k_network.count(family_) > 0 || family_ == "mam";
    }
    std::vector<std::string> stage_sections() const override {
        if (family_ == "trimap-net") return {"model"};
        if (family_ == "mam") return {"decoder"};
        return {};
    }
    void attach_stage(const std::string& section, std::unique_ptr<model> m) override {
        if (section == "model") trimap_net_ = std::move(m);
        if (section == "decoder") mam_decoder_ = std::move(m);
    }
    std::string fingerprint_extra() const override {
        std::string fp = prompts_fp_ + trimaps_fp_;  // files that decide the alphas
        if (detector_) fp += "|detector:" + detector_->fingerprint();
        if (source_) fp += "|source:" + source_->fingerprint();
        return fp;
    }

    void start(const run_context& ctx) override {
        log_ = ctx.log;
        if (source_) source_->load(ctx.device, ctx.log);
        if (family_ == "trimap-net") check_trimap_net();
        if (family_ == "mam") check_mam_decoder();
        if (detector_) detector_->load(ctx.device, ctx.log);
    }

    int input_w() const override { return pre_.in_w; }
    int input_h() const override { return pre_.in_h; }
    bool keeps_image() const override { return true; }
    // Full-size decode: the alpha, solver and cutouts work at the original resolution.
    int reduction_for(image_size) const override { return 1; }

    void prepare(work_item& w) const override {
        if (!uses_main_model()) return;  // rows stay empty: all the work is in postprocess
        if (family_ == "mam") {
            w.data.resize(static_cast<size_t>(pre_.in_w) * pre_.in_w * 3);
            sam_prepare_input(w.img, crop_box{0, 0, w.img.orig_w, w.img.orig_h, 0}, pre_.in_w, true,
                              pre_, w.data.data());
            w.rows.assign(1, input_transform{});
            return;
        }
        preprocess_options o = pre_;
        if (family_ == "modnet") {
            matte_size s = modnet_input_size(w.img.orig_w, w.img.orig_h, ref_size_, multiple_);
            o.in_w = s.w, o.in_h = s.h, o.letterbox = false;
        }
        prepare_whole_image(w, o, family_ == "modnet");
    }

    void check_outputs(const std::vector<tensor>& outs) const override {
        if (family_ == "mam") {
            embedding_shape_ = check_embedding_output(outs, "mam encoder");
            return;
        }
        input_transform t;
        t.lb = compute_letterbox(pre_.in_w, pre_.in_h, pre_.in_w, pre_.in_h, pre_.centre);
        network_alpha(outs, 0, t, pre_.in_w, pre_.in_h, 4, 4, ap_);
        if (ap_.foreground_output >= 0)
            network_foreground(outs, 0, t, pre_.in_w, pre_.in_h, 4, 4, ap_);
    }

    void postprocess(work_item& w, const std::vector<tensor>& outs, int first_row) const override {
        const int W = w.img.orig_w, H = w.img.orig_h;
        const cv::Mat& img = w.img.bgr;  // full size: reduction_for is 1
        ojson info = ojson::object();
        std::vector<std::string> notes;
        payload p;
        std::string fg_kind = writes_colour() ? "image" : "none";
        if (family_ == "mam") {
            p.alpha = mam_alpha(w, outs, first_row, notes);
            if (cv::countNonZero(p.alpha > 0) == 0 && notes.empty())
                notes.push_back("the prompts gave an empty alpha");
        } else if (uses_main_model()) {
            const int iw = w.in_w ? w.in_w : pre_.in_w, ih = w.in_h ? w.in_h : pre_.in_h;
            p.alpha = network_alpha(outs, first_row, w.rows[0], iw, ih, W, H, ap_);
            if (ap_.foreground_output >= 0 && fg_method_ == "auto" && writes_colour() &&
                refine_ == "none") {
                p.fg = network_foreground(outs, first_row, w.rows[0], iw, ih, W, H, ap_);
                fg_kind = "network";
            }
            if (refine_ == "closed-form") {
                p.trimap = trimap_from_alpha(p.alpha, fg_thr_, bg_thr_, alpha_erode_);
                info["trimap"] = trimap_info(p.trimap, "alpha");
                p.alpha = solve(img, p.trimap, info);
            }
        } else {
            p.trimap = trimap_for(w, info, notes);
            if (!p.trimap.empty()) {
                p.alpha = family_ == "solver" ? solve(img, p.trimap, info)
                                              : run_trimap_net(img, p.trimap);
            } else {
                p.alpha = cv::Mat(H, W, CV_32F, cv::Scalar(0));  // empty mask: empty alpha
            }
        }
        if (writes_colour() && p.fg.empty() && fg_method_ != "image" &&
            cv::countNonZero(p.alpha > 0) > 0) {
            auto t0 = std::chrono::steady_clock::now();
            p.fg = estimate_foreground_ml(img, p.alpha);
            fg_kind = "estimate";
            info["foreground_ms"] = ms_since(t0);
        }
        alpha_summary s = summarize_alpha(p.alpha, threshold_);
        w.result = {{"image", w.in.rel}, {"width", W}, {"height", H}, {"family", family_}};
        w.result["coverage"] = std::round(s.coverage * 1e6) / 1e6;
        w.result["foreground_fraction"] = std::round(s.foreground_fraction * 1e6) / 1e6;
        w.result["bbox"] = s.empty ? ojson(nullptr) : ojson::array({s.x, s.y, s.w, s.h});
        w.result["foreground"] = fg_kind;
        for (auto it = info.begin(); it != info.end(); ++it) w.result[it.key()] = it.value();
        if (s.empty) notes.push_back("empty alpha: no pixel reaches " + fmt_num(threshold_));
        for (const auto& n : notes)
            if (log_) log_("warning: " + w.in.path + ": " + n);
        if (!notes.empty()) w.result["warnings"] = notes;
        pack(w, p);
    }

    std::vector<std::string> write_outputs(const work_item& w,
                                           const output_context& ctx) const override {
        std::vector<std::string> written;
        auto put = [&](const std::string& dir, const std::string& ext, const cv::Mat& m,
                       const std::vector<int>& params = {}) {
            std::string p = output_path("", dir, w.in.rel, ext);
            write_file_atomic(ctx.out_dir + "/" + p, encode_image(m, ext, params));
            written.push_back(p);
        };
        if (out_json_) {
            std::string p = output_path("", "", w.in.rel, ".json");
            write_file_atomic(ctx.out_dir + "/" + p, w.result.dump() + "\n");
            written.push_back(p);
        }
        const int W = w.result["width"].get<int>(), H = w.result["height"].get<int>();
        payload p = unpack(w, W, H);
        cv::Mat img = w.img.bgr;
        if (img.cols != W || img.rows != H) cv::resize(img, img, {W, H});
        if (wants("alpha")) put("alpha", ".png", alpha_image(p.alpha, alpha_bits_));
        if (wants("mask")) put("mask", ".png", p.alpha >= threshold_);
        if (wants("trimap") && !p.trimap.empty()) put("trimap", ".png", p.trimap);
        if (wants("cutout")) {
            const std::string ext = format_for(w.in.rel, true);
            put("cutout", ext, rgba_cutout(img, p.fg, p.alpha, 8), write_params(ext));
        }
        if (wants("composite")) {
            cv::Mat bg = background_.empty() ? cv::Mat(H, W, CV_8UC3, bg_color_)
                                             : cover_resize(background_, W, H);
            const std::string ext = format_for(w.in.rel, false);
            put("composite", ext, composite_over(img, p.fg, p.alpha, bg), write_params(ext));
        }
        return written;
    }

    std::vector<std::string> finish(
        const output_context&, const std::string&,
        const std::function<void(const record_visitor&)>&) const override {
        return {};
    }

    ojson run_info() const override {
        ojson j = {{"family", family_}};
        if (source_) j["source"] = source_spec_;
        if (!trimap_dir_.empty()) j["trimap_dir"] = trimap_dir_;
        return j;
    }

  private:
    void configure_outputs(const json& c) {
        out_json_ = get_path(c, "outputs.json").get<bool>();
        only_ = get_path(c, "outputs.only").get<std::string>();
        const std::set<std::string> kinds = {"", "alpha", "cutout", "composite", "mask", "trimap"};
        if (!kinds.count(only_))
            throw fatal_error("outputs.only: expected alpha, cutout, composite, mask or trimap");
        for (const char* k : {"alpha", "cutout", "composite", "mask", "trimap"})
            on_[k] =
                only_.empty() ? get_path(c, std::string("outputs.") + k).get<bool>() : only_ == k;
        alpha_bits_ = get_path(c, "outputs.alpha_bits").get<int>();
        if (alpha_bits_ != 8 && alpha_bits_ != 16)
            throw fatal_error("outputs.alpha_bits: expected 8 or 16");
        threshold_ = get_path(c, "outputs.threshold").get<float>();
        format_ = get_path(c, "outputs.format").get<std::string>();
        if (format_ != "png" && format_ != "webp" && format_ != "tiff" && format_ != "keep")
            throw fatal_error("outputs.format: expected png, webp, tiff or keep");
        const std::string bg = get_path(c, "outputs.background").get<std::string>();
        if (!parse_color(bg, &bg_color_)) {
            background_ = cv::imread(bg, cv::IMREAD_COLOR);
            if (background_.empty())
                throw fatal_error("outputs.background: \"" + bg +
                                  "\" is neither a colour (#rrggbb, r,g,b) nor a readable image");
        }
    }

    void configure_source(const json& c) {
        source_spec_ = get_path(c, "source.segment").get<std::string>();
        std::vector<std::string> sets;
        auto list = [&](const char* key, const char* to) {
            auto v = get_path(c, key);
            if (!v.empty()) sets.push_back(std::string(to) + "=" + v.dump());
        };
        list("source.points", "prompt.points");
        list("source.boxes", "prompt.boxes");
        list("source.classes", "prompt.classes");
        for (auto [key, to] : {std::pair<const char*, const char*>{"source.prompts", "prompt.file"},
                               {"source.detector", "prompt.detector"}}) {
            const std::string v = get_path(c, key).get<std::string>();
            if (!v.empty()) sets.push_back(std::string(to) + "=" + v);
        }
        const double ms = get_path(c, "source.min_score").get<double>();
        if (ms > 0) sets.push_back("prompt.min_score=" + std::to_string(ms));
        const bool prompted = !get_path(c, "source.points").empty() ||
                              !get_path(c, "source.boxes").empty() ||
                              !get_path(c, "source.prompts").get<std::string>().empty() ||
                              !get_path(c, "source.detector").get<std::string>().empty();
        if (source_spec_.empty()) {
            if (prompted)
                throw fatal_error(
                    "--point/--box/--prompts/--detector prompt a segment model: "
                    "give it with --source (e.g. a sam config)");
            return;
        }
        // The segment task writes nothing here: only its per-image records are used.
        sets.push_back("outputs.coco=false");
        source_ =
            std::make_unique<embedded_task>(make_segment_task(), source_spec_, "--source", sets);
    }

    bool wants(const std::string& k) const { return on_.at(k); }
    bool writes_colour() const { return wants("cutout") || wants("composite"); }

    std::string format_for(const std::string& rel, bool needs_alpha) const {
        if (format_ != "keep") return "." + format_;
        std::string ext = fs::path(rel).extension().string();
        std::transform(ext.begin(), ext.end(), ext.begin(), ::tolower);
        static const std::set<std::string> with_alpha = {".png", ".webp", ".tiff", ".tif"};
        static const std::set<std::string> without = {".jpg", ".jpeg", ".bmp"};
        if (with_alpha.count(ext)) return ext;
        if (!needs_alpha && without.count(ext)) return ext;
        return ".png";
    }
    static std::vector<int> write_params(const std::string& ext) {
        if (ext == ".jpg" || ext == ".jpeg") return {cv::IMWRITE_JPEG_QUALITY, 95};
        if (ext == ".webp") return {cv::IMWRITE_WEBP_QUALITY, 101};  // > 100: lossless
        return {};
    }

    static double ms_since(std::chrono::steady_clock::time_point t0) {
        return std::round(
                   std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0)
                       .count() *
                   10) /
               10;
    }
    static std::string fmt_num(double v) {
        char b[32];
        std::snprintf(b, sizeof b, "%g", v);
        return b;
    }

    static ojson trimap_info(const cv::Mat& t, const std::string& from) {
        const double n = static_cast<double>(t.total());
        return {{"source", from},
                {"unknown", cv::countNonZero(t == trimap_unknown)},
                {"foreground", std::round(cv::countNonZero(t == trimap_fg) / n * 1e6) / 1e6},
                {"background", std::round(cv::countNonZero(t == trimap_bg) / n * 1e6) / 1e6}};
    }

    cv::Mat solve(const cv::Mat& img, const cv::Mat& trimap, ojson& info) const {
        auto t0 = std::chrono::steady_clock::now();
        closed_form_stats st;
        cv::Mat a = closed_form_alpha(img, trimap, cf_, &st);
        info["solver"] = {{"method", "closed-form"},
                          {"unknown", st.unknown},
                          {"iterations", st.iterations},
                          {"residual", st.residual},
                          {"ms", ms_since(t0)}};
        return a;
    }

    // The trimap of one image: the user's file, or the source masks' union through
    // trimap_from_mask. Empty Mat: the source gave no mask (empty alpha, with a note).
    cv::Mat trimap_for(const work_item& w, ojson& info, std::vector<std::string>& notes) const {
        const int W = w.img.orig_w, H = w.img.orig_h;
        if (!trimap_dir_.empty()) {
            std::string f;
            for (const char* ext : {".png", ".jpg", ".tif", ".tiff", ".webp", ".bmp"})
                if (f.empty() && stamp_of(output_path(trimap_dir_, "", w.in.rel, ext)).exists())
                    f = output_path(trimap_dir_, "", w.in.rel, ext);
            if (f.empty())
                throw input_error("no trimap " + output_path(trimap_dir_, "", w.in.rel, ".png"));
            cv::Mat t = cv::imread(f, cv::IMREAD_UNCHANGED);
            if (t.empty()) throw input_error(f + ": cannot read the trimap");
            if (t.cols != W || t.rows != H)
                throw input_error(f + ": trimap is " + std::to_string(t.cols) + "x" +
                                  std::to_string(t.rows) + ", the image " + std::to_string(W) +
                                  "x" + std::to_string(H));
            cv::Mat n = normalize_trimap(t);
            info["trimap"] = trimap_info(n, "file");
            return n;
        }
        ojson rec = source_->run(w.img, w.in.rel, w.in.path);
        std::vector<cv::Mat> masks;
        ojson used = ojson::array();
        for (const auto& m : rec.value("masks", ojson::array())) {
            const std::string label = m.value("label", std::string());
            const int cls = m.value("class_id", -1);
            if (!classes_.empty() && !classes_.count(label) && !classes_.count(std::to_string(cls)))
                continue;
            mask_record r = mask_from_json(m);
            masks.push_back(rle_decode(r.m));
            used.push_back(label.empty() ? ojson(cls) : ojson(label));
        }
        for (const auto& n : rec.value("warnings", ojson::array()))
            notes.push_back("source: " + n.get<std::string>());
        info["source_masks"] = used;
        cv::Mat u = union_mask(masks, W, H);
        if (cv::countNonZero(u) == 0) {
            notes.push_back(masks.empty() ? "the source gave no mask; empty alpha"
                                          : "the source masks are empty; empty alpha");
            return cv::Mat();
        }
        cv::Mat t = trimap_from_mask(u, erode_, dilate_);
        info["trimap"] = trimap_info(t, "mask");
        return t;
    }

    // ---- trimap-net (ViTMatte-style: [1, 4, H, W] = RGB normalised + trimap 0 / 0.5 / 1) ----

    tensor trimap_net_input(const cv::Mat& img, const cv::Mat& trimap, int* vw, int* vh) const {
        cv::Mat im = img, tm = trimap;
        const int L = std::max(img.cols, img.rows);
        if (tn_max_side_ > 0 && L > tn_max_side_) {
            const double s = static_cast<double>(tn_max_side_) / L;
            cv::Size sz(std::max(1, static_cast<int>(std::lround(img.cols * s))),
                        std::max(1, static_cast<int>(std::lround(img.rows * s))));
            cv::resize(img, im, sz, 0, 0, cv::INTER_AREA);
            cv::resize(trimap, tm, sz, 0, 0, cv::INTER_NEAREST);
        }
        *vw = im.cols, *vh = im.rows;
        // HF ViTMatteImageProcessor pads bottom/right with zeros to size_divisibility (32)
        const int m = tn_multiple_;
        const int pw = (im.cols + m - 1) / m * m, ph = (im.rows + m - 1) / m * m;
        tensor t;
        t.shape = {1, 4, ph, pw};
        t.mem = layout::nchw;
        t.data.assign(static_cast<size_t>(4) * ph * pw, 0.f);
        const size_t plane = static_cast<size_t>(ph) * pw;
        for (int y = 0; y < im.rows; ++y) {
            const cv::Vec3b* p = im.ptr<cv::Vec3b>(y);
            const uchar* q = tm.ptr<uchar>(y);
            for (int x = 0; x < im.cols; ++x) {
                const size_t i = static_cast<size_t>(y) * pw + x;
                for (int ch = 0; ch < 3; ++ch) {
                    const int src = pre_.rgb ? 2 - ch : ch;
                    t.data[ch * plane + i] = (p[x][src] - pre_.mean[ch]) / pre_.std[ch];
                }
                t.data[3 * plane + i] = q[x] / 255.f;
            }
        }
        return t;
    }

    void check_trimap_net() {
        if (!trimap_net_) throw fatal_error("model.file: the trimap-net family needs a model");
        tensor in;
        in.shape = {1, 4, tn_multiple_, tn_multiple_};
        in.data.assign(static_cast<size_t>(in.numel()), 0.f);
        std::vector<tensor> outs;
        try {
            outs = trimap_net_->forward(in);
        } catch (const std::exception& e) {
            std::string m = e.what();
            throw fatal_error("trimap-net: forward pass on a [1, 4, " +
                              std::to_string(tn_multiple_) + ", " + std::to_string(tn_multiple_) +
                              "] input failed: " + m.substr(0, m.find('\n')));
        }
        const tensor* o = ap_.output < static_cast<int>(outs.size()) ? &outs[ap_.output] : nullptr;
        if (!o || o->numel() != static_cast<int64_t>(tn_multiple_) * tn_multiple_)
            throw fatal_error(
                "trimap-net: expected an alpha [1, 1, H, W] of the input's size at "
                "output " +
                std::to_string(ap_.output) + ", got " +
                (o ? shape_str(o->shape) : std::string("no such output")));
    }

    cv::Mat run_trimap_net(const cv::Mat& img, const cv::Mat& trimap) const {
        int vw = 0, vh = 0;
        tensor in = trimap_net_input(img, trimap, &vw, &vh);
        const int ph = static_cast<int>(in.shape[2]), pw = static_cast<int>(in.shape[3]);
        std::vector<tensor> outs;
        try {
            outs = trimap_net_->forward(in);
        } catch (const std::exception& e) {
            std::string m = e.what();
            throw input_error("trimap-net failed: " + m.substr(0, m.find('\n')));
        }
        const tensor& o = outs.at(ap_.output);
        if (o.numel() != static_cast<int64_t>(ph) * pw)
            throw input_error("trimap-net returned " + shape_str(o.shape) + " for a [1, 4, " +
                              std::to_string(ph) + ", " + std::to_string(pw) + "] input");
        cv::Mat a(ph, pw, CV_32F, const_cast<float*>(o.data.data()));
        cv::Mat alpha = a(cv::Rect(0, 0, vw, vh)).clone();
        if (!cv::checkRange(alpha)) throw input_error("trimap-net alpha has NaN/Inf values");
        if (ap_.sigmoid) {
            cv::exp(-alpha, alpha);
            alpha = 1.0 / (1.0 + alpha);
        }
        if (vw != img.cols || vh != img.rows)
            cv::resize(alpha, alpha, img.size(), 0, 0, cv::INTER_LINEAR);
        cv::min(cv::max(alpha, 0.0), 1.0, alpha);
        if (tn_keep_known_) {
            alpha.setTo(1.0, trimap == trimap_fg);
            alpha.setTo(0.0, trimap == trimap_bg);
        }
        return alpha;
    }

    // ---- mam (Matting Anything: SAM encoder over the runner; a decoder taking the image, the
    // embedding and one prompt returns the alpha in the encoder's resized, padded frame) ----

    void configure_mam_prompts(const json& c) {
        if (pre_.in_w != pre_.in_h)
            throw fatal_error("model.input_size: the mam encoder takes a square input");
        mam_alpha_output_ = get_path(c, "decoder.alpha_output").get<int>();
        if (!get_path(c, "source.segment").get<std::string>().empty() || !trimap_dir_.empty())
            throw fatal_error(
                "model.family mam: prompts go to the model itself; --source and "
                "--trimap are for the solver and trimap-net families");
        const std::string pf = get_path(c, "source.prompts").get<std::string>();
        if (!pf.empty()) {
            prompts_file f = load_prompts_file(pf);
            file_prompts_ = std::move(f.by_image);
            prompts_fp_ = f.sha256;
        }
        cli_prompts_ =
            parse_cli_prompts(get_path(c, "source.points").get<std::vector<std::string>>(),
                              get_path(c, "source.boxes").get<std::vector<std::string>>());
        det_classes_.assign(classes_.begin(), classes_.end());
        min_score_ = get_path(c, "source.min_score").get<float>();
        const std::string det = get_path(c, "source.detector").get<std::string>();
        if (!det.empty())
            detector_ = std::make_unique<embedded_task>(make_detect_task(), det, "--detector");
        if (file_prompts_.empty() && cli_prompts_.empty() && !detector_)
            throw fatal_error(
                "model.family mam: give prompts (--point, --box, --prompts or "
                "--detector)");
    }

    tensor mam_image(const work_item& w) const {
        const int L = pre_.in_w;
        std::vector<float> hwc(static_cast<size_t>(L) * L * 3);
        sam_prepare_input(w.img, crop_box{0, 0, w.img.orig_w, w.img.orig_h, 0}, L, true, pre_,
                          hwc.data());
        tensor t;
        t.shape = {1, 3, L, L};
        t.data.resize(hwc.size());
        const size_t plane = static_cast<size_t>(L) * L;
        for (size_t i = 0; i < plane; ++i)
            for (int c = 0; c < 3; ++c) t.data[c * plane + i] = hwc[3 * i + c];
        return t;
    }

    std::vector<tensor> mam_forward(const tensor& image, const tensor& emb,
                                    const decoder_prompts& dp) const {
        return mam_decoder_->forward_multi({image, emb, dp.coords, dp.labels});
    }

    void check_mam_decoder() {
        if (!mam_decoder_) throw fatal_error("decoder.file: the mam family needs a decoder");
        const int L = pre_.in_w;
        tensor image, emb;
        image.shape = {1, 3, L, L};
        image.data.assign(static_cast<size_t>(3) * L * L, 0.f);
        emb.shape = embedding_shape_;
        emb.shape[0] = 1;
        emb.data.assign(static_cast<size_t>(emb.numel()), 0.f);
        sam_prompt pr;
        pr.has_box = true;
        pr.b = {0, 0, 8, 8};
        std::vector<tensor> outs;
        try {
            outs = mam_forward(image, emb, encode_prompts({pr}, L, L, L));
        } catch (const std::exception& e) {
            std::string m = e.what();
            throw fatal_error(
                "mam decoder: the encoder's " + shape_str(embedding_shape_) +
                " embedding and a box prompt do not run: " + m.substr(0, m.find('\n')));
        }
        if (mam_alpha_output_ >= static_cast<int>(outs.size()) ||
            outs[mam_alpha_output_].numel() != static_cast<int64_t>(L) * L)
            throw fatal_error("mam decoder: expected an alpha [1, 1, " + std::to_string(L) + ", " +
                              std::to_string(L) + "] at output " +
                              std::to_string(mam_alpha_output_) + ", got " +
                              (mam_alpha_output_ < static_cast<int>(outs.size())
                                   ? shape_str(outs[mam_alpha_output_].shape)
                                   : std::string("no such output")));
    }

    std::vector<sam_prompt> mam_prompts_for(const work_item& w) const {
        std::vector<sam_prompt> ps;
        auto it = file_prompts_.find(w.in.rel);
        if (it == file_prompts_.end())
            it = file_prompts_.find(fs::path(w.in.rel).filename().string());
        if (it != file_prompts_.end()) ps = it->second;
        ps.insert(ps.end(), cli_prompts_.begin(), cli_prompts_.end());
        if (detector_) {
            auto d = prompts_from_detections(detector_->run(w.img, w.in.rel, w.in.path),
                                             det_classes_, min_score_);
            ps.insert(ps.end(), d.begin(), d.end());
        }
        return ps;
    }

    // The alpha of every prompt, joined by their maximum, at the original size.
    cv::Mat mam_alpha(const work_item& w, const std::vector<tensor>& outs, int first_row,
                      std::vector<std::string>& notes) const {
        const int W = w.img.orig_w, H = w.img.orig_h, L = pre_.in_w;
        cv::Mat alpha(H, W, CV_32F, cv::Scalar(0));
        const auto& es = embedding_shape_;
        const tensor& o = outs.at(0);
        if (o.rank() != 4 || o.shape[1] != es[1] || o.shape[2] != es[2] || o.shape[3] != es[3])
            throw input_error("encoder returned " + shape_str(o.shape));
        const size_t per = static_cast<size_t>(es[1] * es[2] * es[3]);
        tensor emb;
        emb.shape = {1, es[1], es[2], es[3]};
        emb.data.assign(o.data.begin() + first_row * per, o.data.begin() + (first_row + 1) * per);
        auto ps = mam_prompts_for(w);
        if (int n = clip_prompts(ps, W, H))
            notes.push_back(std::to_string(n) + " prompt(s) outside the image clipped to it");
        if (ps.empty()) {
            notes.push_back("no prompts for this image; empty alpha");
            return alpha;
        }
        const tensor image = mam_image(w);
        const sam_resize rs = sam_preprocess_shape(W, H, L);
        for (const auto& pr : ps) {
            auto r = mam_forward(image, emb, encode_prompts({pr}, W, H, L));
            const tensor& a = r.at(mam_alpha_output_);
            if (a.numel() != static_cast<int64_t>(L) * L)
                throw input_error("mam decoder returned " + shape_str(a.shape));
            cv::Mat m(L, L, CV_32F, const_cast<float*>(a.data.data()));
            if (!cv::checkRange(m)) throw input_error("mam alpha has NaN/Inf values");
            cv::Mat up;
            cv::resize(m(cv::Rect(0, 0, rs.new_w, rs.new_h)), up, {W, H}, 0, 0, cv::INTER_LINEAR);
            alpha = cv::max(alpha, up);
        }
        cv::min(cv::max(alpha, 0.0), 1.0, alpha);
        return alpha;
    }

    // ---- payload ----
    void pack(work_item& w, const payload& p) const {
        const size_t n = p.alpha.total();
        w.aux.assign(p.alpha.begin<float>(), p.alpha.end<float>());  // any strides
        if (wants("trimap")) {
            w.aux.resize(2 * n, -1.f);  // -1: no trimap for this image
            if (!p.trimap.empty())
                for (size_t i = 0; i < n; ++i) w.aux[n + i] = p.trimap.data[i];
        }
        if (writes_colour() && !p.fg.empty()) {
            const size_t at = w.aux.size();
            w.aux.resize(at + 3 * n);
            cv::Mat fg = p.fg.isContinuous() ? p.fg : p.fg.clone();
            const float* f = fg.ptr<float>();
            std::copy(f, f + 3 * n, w.aux.begin() + at);
        }
    }

    payload unpack(const work_item& w, int W, int H) const {
        const size_t n = static_cast<size_t>(W) * H;
        payload p;
        p.alpha = cv::Mat(H, W, CV_32F, const_cast<float*>(w.aux.data()));
        size_t at = n;
        if (wants("trimap")) {
            if (w.aux[at] >= 0) {
                p.trimap = cv::Mat(H, W, CV_8U);
                for (size_t i = 0; i < n; ++i) p.trimap.data[i] = static_cast<uchar>(w.aux[at + i]);
            }
            at += n;
        }
        if (w.aux.size() >= at + 3 * n)
            p.fg = cv::Mat(H, W, CV_32FC3, const_cast<float*>(w.aux.data() + at));
        return p;
    }

    std::string family_;
    preprocess_options pre_;
    alpha_output_params ap_;
    int ref_size_ = 512, multiple_ = 32, tn_multiple_ = 32, tn_max_side_ = 0;
    bool tn_keep_known_ = true;
    std::string trimap_dir_, refine_ = "none", fg_method_ = "auto";
    int erode_ = 10, dilate_ = 10, fg_thr_ = 240, bg_thr_ = 10, alpha_erode_ = 10;
    closed_form_params cf_;
    std::unique_ptr<model> trimap_net_;
    // mam
    std::unique_ptr<model> mam_decoder_;
    int mam_alpha_output_ = 0;
    mutable std::vector<int64_t> embedding_shape_;  // from the warm-up (check_outputs)
    std::map<std::string, std::vector<sam_prompt>> file_prompts_;
    std::vector<sam_prompt> cli_prompts_;
    std::string prompts_fp_, trimaps_fp_;
    std::vector<std::string> det_classes_;
    float min_score_ = 0;
    std::unique_ptr<embedded_task> detector_;
    std::unique_ptr<embedded_task> source_;
    std::string source_spec_;
    std::set<std::string> classes_;
    // outputs
    bool out_json_ = true;
    std::map<std::string, bool> on_;
    std::string only_, format_ = "png";
    int alpha_bits_ = 8;
    float threshold_ = 0.5f;
    cv::Scalar bg_color_{255, 255, 255};
    cv::Mat background_;
    std::function<void(const std::string&)> log_;
};

}  // namespace

std::unique_ptr<task> make_matte_task() {
    return std::make_unique<matte_task>();
}

}  // namespace vfm
