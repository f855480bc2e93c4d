// The depth task: config schema, model contract, pre/post-processing and per-image files.
//
// Families (the model's layout; both give one map per image in one output):
//   dpt     Depth Anything V2 / MiDaS-style DPT exports: [B, 3, H, W] normalised RGB in, with H, W
//           from the aspect-keeping resize (Depth-Anything-V2 depth_anything_v2/dpt.py
//           image2tensor: 518, multiple of 14, lower_bound, cubic, ImageNet mean/std); out
//           [B, 1, H', W'] or [B, H', W'], resized bilinearly (align_corners as infer_image) to
//           the original image size.
//   pydnet  PyDNet++ converted from TFLite (FilippoAleotti/mobilePydnet): 640 x 448 RGB/255 in,
//           three heads [B, 1, 448, 640] out, model.output_index picking the finest (0).
// The map's meaning is model.prediction: disparity (relative inverse depth), relative_depth, or
// metric_depth (metres; times model.max_depth when the export ends in a sigmoid, as Depth
// Anything V2's metric heads do: metric_depth/depth_anything_v2/dpt.py).
#include <algorithm>
#include <cmath>
#include <limits>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "vfm/depth.h"
#include "vfm/error.h"
#include "vfm/fsutil.h"
#include "vfm/npy.h"

namespace vfm {

schema depth_schema() {
    using j = nlohmann::ordered_json;
    schema s{common_fields()};
    // Depth's own defaults and meanings for shared keys (Depth Anything V2's preprocessing).
    for (auto& f : s.fields) {
        if (f.path == "model.input_size") {
            f.def = j::array({518, 518});
            f.help = "model input [width, height]; the bound for lower_bound/upper_bound/minimal";
        } else if (f.path == "preprocess.mean") {
            f.def = j::array({123.675, 116.28, 103.53});
        } else if (f.path == "preprocess.std") {
            f.def = j::array({58.395, 57.12, 57.375});
        } else if (f.path == "preprocess.resize") {
            f.def = "lower_bound";
            f.help =
                "lower_bound (keep aspect, shorter side to the input size, per-image sizes "
                "batched by shape), upper_bound, minimal, or stretch (fixed size: any mix of "
                "shapes batches together)";
        } else if (f.path == "preprocess.interpolation") {
            f.def = "cubic";
        }
    }
    std::vector<field> own = {
        {"model.multiple_of", ftype::integer, 14, "input sides rounded to a multiple of this"},
        {"model.prediction", ftype::string, "disparity",
         "what the map holds: disparity (relative inverse depth, larger = nearer), "
         "relative_depth (larger = farther) or metric_depth (metres)"},
        {"model.max_depth", ftype::number, 0,
         "metric_depth: metres = model output x this (sigmoid heads: Depth Anything V2 uses 20 "
         "indoor, 80 outdoor); 0: the output is already in metres"},
        {"model.output_index", ftype::integer, 0, "which model output holds the map"},
        {"postprocess.align_corners", ftype::boolean, true,
         "bilinear resize of the map to the image with align_corners (as Depth Anything V2)"},
        {"outputs.json", ftype::boolean, true, "per-image JSON <out>/<rel>.json"},
        {"outputs.png16", ftype::boolean, true, "16-bit PNG <out>/png16/<rel>.png"},
        {"outputs.normalize", ftype::string, "per_image",
         "16-bit mapping: per_image (min..max -> 0..65535), fixed (outputs.range) or metric_mm"},
        {"outputs.range", ftype::number_list, nullptr,
         "[lo, hi] for normalize fixed (also the colour range then)"},
        {"outputs.tiff", ftype::boolean, false, "float32 TIFF <out>/tiff/<rel>.tiff"},
        {"outputs.npy", ftype::boolean, false, "float32 .npy <out>/npy/<rel>.npy"},
        {"outputs.pfm", ftype::boolean, false, "PFM <out>/pfm/<rel>.pfm"},
        {"outputs.color", ftype::boolean, true, "colourised PNG <out>/color/<rel>.png"},
        {"outputs.colormap", ftype::string, "spectral", "turbo, inferno, magma, viridis, spectral"},
        {"outputs.flip", ftype::boolean, false, "near = cool instead of near = warm"},
        {"outputs.color_percentiles", ftype::number_list, nlohmann::ordered_json::array({0, 100}),
         "colour range: these percentiles of the image's values ([0, 100]: min..max)"},
        {"outputs.preview", ftype::boolean, false,
         "image and colourised map side by side <out>/preview/<rel>.jpg"},
        {"outputs.ply", ftype::boolean, false,
         "point cloud <out>/ply/<rel>.ply (metric_depth; needs camera.*)"},
        {"outputs.ply_stride", ftype::integer, 1, "point cloud: every n-th pixel each way"},
        {"camera.fx", ftype::number, nullptr, "focal length x, original-image pixels"},
        {"camera.fy", ftype::number, nullptr, "focal length y (default: fx)"},
        {"camera.cx", ftype::number, nullptr, "principal point x (default: width / 2)"},
        {"camera.cy", ftype::number, nullptr, "principal point y (default: height / 2)"},
        {"camera.fov", ftype::number, nullptr, "horizontal field of view, degrees (if no fx)"},
    };
    s.fields.insert(s.fields.end(), own.begin(), own.end());
    return s;
}

namespace {

enum class prediction { disparity, relative_depth, metric_depth };

double num_or_nan(const json& cfg, const std::string& path) {
    const json& v = get_path(cfg, path);
    return v.is_number() ? v.get<double>() : std::numeric_limits<double>::quiet_NaN();
}

class depth_task final : public task {
  public:
    std::string name() const override { return "depth"; }
    std::string description() const override {
        return "depth: monocular depth maps (Depth Anything V2 / DPT, PyDNet) as 16-bit PNG, "
               "float TIFF, .npy, PFM, colourised PNG and point clouds";
    }
    std::string default_config() const override { return "pydnet"; }
    schema config_schema() const override { return depth_schema(); }

    void configure(const resolved_config& rc) override {
        const auto& c = rc.cfg;
        family_ = get_path(c, "model.family").get<std::string>();
        if (family_ != "dpt" && family_ != "pydnet")
            throw fatal_error("model.family: unknown depth family \"" + family_ +
                              "\" (known: dpt, pydnet)");
        try {
            model_name_ = find_model_file(c, rc.base_dir);
        } catch (const std::exception&) {
            model_name_ = get_path(c, "model.file").get<std::string>();
        }
        const std::string pred = get_path(c, "model.prediction").get<std::string>();
        if (pred == "disparity")
            pred_ = prediction::disparity;
        else if (pred == "relative_depth")
            pred_ = prediction::relative_depth;
        else if (pred == "metric_depth")
            pred_ = prediction::metric_depth;
        else
            throw fatal_error(
                "model.prediction: expected disparity, relative_depth or metric_depth, got \"" +
                pred + "\"");
        pred_name_ = pred;
        max_depth_ = get_path(c, "model.max_depth").get<double>();
        if (max_depth_ < 0) throw fatal_error("model.max_depth: must not be negative");
        if (max_depth_ > 0 && pred_ != prediction::metric_depth)
            throw fatal_error("model.max_depth: only for model.prediction metric_depth");
        output_index_ = get_path(c, "model.output_index").get<int>();
        if (output_index_ < 0) throw fatal_error("model.output_index: must not be negative");

        const preprocess_options px = pixel_options_from_config(c);
        in_w_ = px.in_w, in_h_ = px.in_h;
        interp_ = px.interpolation;
        rgb_ = px.rgb;
        std::copy(px.mean, px.mean + 3, mean_);
        std::copy(px.std, px.std + 3, std_);
        multiple_ = get_path(c, "model.multiple_of").get<int>();
        if (multiple_ < 1) throw fatal_error("model.multiple_of: must be at least 1");
        resize_ = parse_depth_resize(get_path(c, "preprocess.resize").get<std::string>());
        align_corners_ = get_path(c, "postprocess.align_corners").get<bool>();

        out_json_ = get_path(c, "outputs.json").get<bool>();
        out_png16_ = get_path(c, "outputs.png16").get<bool>();
        normalize_ = parse_png16_normalize(get_path(c, "outputs.normalize").get<std::string>());
        if (normalize_ == png16_normalize::metric_mm && pred_ != prediction::metric_depth)
            throw fatal_error(
                "outputs.normalize: metric_mm needs a metric model (model.prediction "
                "metric_depth)");
        const json& range = get_path(c, "outputs.range");
        has_range_ = !range.is_null();
        if (has_range_) {
            auto r = range.get<std::vector<double>>();
            if (r.size() != 2 || !(r[1] > r[0]))
                throw fatal_error("outputs.range: expected [lo, hi] with lo < hi");
            range_lo_ = r[0], range_hi_ = r[1];
        } else if (normalize_ == png16_normalize::fixed) {
            throw fatal_error("outputs.range: normalize fixed needs outputs.range [lo, hi]");
        }
        out_tiff_ = get_path(c, "outputs.tiff").get<bool>();
        out_npy_ = get_path(c, "outputs.npy").get<bool>();
        out_pfm_ = get_path(c, "outputs.pfm").get<bool>();
        out_color_ = get_path(c, "outputs.color").get<bool>();
        cmap_ = parse_colormap(get_path(c, "outputs.colormap").get<std::string>());
        flip_ = get_path(c, "outputs.flip").get<bool>();
        auto pct = get_path(c, "outputs.color_percentiles").get<std::vector<double>>();
        if (pct.size() != 2 || !(pct[0] >= 0 && pct[0] < pct[1] && pct[1] <= 100))
            throw fatal_error(
                "outputs.color_percentiles: expected [lo, hi] with 0 <= lo < hi <= 100");
        pct_lo_ = pct[0], pct_hi_ = pct[1];
        out_preview_ = get_path(c, "outputs.preview").get<bool>();
        out_ply_ = get_path(c, "outputs.ply").get<bool>();
        ply_stride_ = get_path(c, "outputs.ply_stride").get<int>();
        if (ply_stride_ < 1) throw fatal_error("outputs.ply_stride: must be at least 1");
        cam_fx_ = num_or_nan(c, "camera.fx"), cam_fy_ = num_or_nan(c, "camera.fy");
        cam_cx_ = num_or_nan(c, "camera.cx"), cam_cy_ = num_or_nan(c, "camera.cy");
        cam_fov_ = num_or_nan(c, "camera.fov");
        if (out_ply_) {
            if (pred_ != prediction::metric_depth)
                throw fatal_error(
                    "outputs.ply: a point cloud needs a metric model (model.prediction "
                    "metric_depth)");
            make_pinhole(640, 480, cam_fx_, cam_fy_, cam_cx_, cam_cy_, cam_fov_);  // validates
        }
    }

    int input_w() const override { return in_w_; }
    int input_h() const override { return in_h_; }
    bool keeps_image() const override { return out_preview_ || out_ply_; }
    int reduction_for(image_size s) const override {
        if (keeps_image() || s.w <= 0 || s.h <= 0) return 1;  // previews, colours: every pixel
        depth_size t = depth_input_size(s.w, s.h, in_w_, in_h_, multiple_, resize_);
        return choose_reduction(s, t.w, t.h, false);
    }

    void prepare(work_item& w) const override {
        // The input size follows the original image (a reduced decode only shrinks the source).
        depth_size t = checked_input_size(w.img.orig_w, w.img.orig_h, in_w_, in_h_, multiple_,
                                          resize_, "upper_bound or stretch");
        w.data.resize(static_cast<size_t>(t.w) * t.h * 3);
        depth_prepare_input(w.img.bgr, t.w, t.h, interp_, rgb_, mean_, std_, w.data.data());
        w.in_w = t.w, w.in_h = t.h;
        input_transform tr;
        tr.decode_sx = w.img.sx, tr.decode_sy = w.img.sy;
        w.rows = {tr};
    }

    void check_outputs(const std::vector<tensor>& outs) const override { check(outs); }

    void postprocess(work_item& w, const std::vector<tensor>& outs, int first_row) const override {
        const tensor& o = check(outs);
        const int64_t mh = o.shape[o.rank() - 2], mw = o.shape[o.rank() - 1];
        if (first_row >= o.shape[0])
            throw input_error("model returned " + std::to_string(o.shape[0]) + " rows, row " +
                              std::to_string(first_row) + " needed");
        const size_t n = static_cast<size_t>(mh * mw);
        const float* src = o.data.data() + static_cast<size_t>(first_row) * n;
        if (size_t bad = count_non_finite(src, n))
            throw input_error("model output has " + std::to_string(bad) + " NaN/Inf values (of " +
                              std::to_string(n) + "); no files written for this image");
        const int W = w.img.orig_w, H = w.img.orig_h;
        std::vector<float> map(static_cast<size_t>(W) * H);
        resize_bilinear(src, static_cast<int>(mw), static_cast<int>(mh), map.data(), W, H,
                        align_corners_);
        if (pred_ == prediction::metric_depth && max_depth_ > 0)
            for (auto& v : map) v = static_cast<float>(v * max_depth_);
        auto mm = std::minmax_element(map.begin(), map.end());
        const double lo = *mm.first, hi = *mm.second;

        json outputs = json::object();
        for (const auto& [key, on] : enabled())
            if (on) outputs[key] = file_for(key, w.in.rel);
        w.result = {{"image", w.in.rel},
                    {"width", W},
                    {"height", H},
                    {"kind", pred_ == prediction::metric_depth ? "metric" : "relative"},
                    {"min", lo},
                    {"max", hi},
                    {"outputs", outputs},
                    {"prediction", pred_name_},
                    {"units", pred_ == prediction::metric_depth ? "m" : "relative"}};
        if (out_png16_) {
            png16_mapping m = mapping(lo, hi);
            w.result["png16"] = {{"normalize", png16_normalize_name(normalize_)},
                                 {"lo", m.lo},
                                 {"hi", m.hi},
                                 {"decode", "lo + v * (hi - lo) / 65535"}};
        }
        if (out_color_ || out_preview_) {
            double clo = lo, chi = hi;
            if (has_range_) {
                clo = range_lo_, chi = range_hi_;
            } else if (pct_lo_ > 0 || pct_hi_ < 100) {
                clo = percentile(map.data(), map.size(), pct_lo_);
                chi = percentile(map.data(), map.size(), pct_hi_);
            }
            w.result["color_range"] = {clo, chi};
        }
        w.aux = std::move(map);  // the map at the original size, for write_outputs
    }

    std::vector<std::string> write_outputs(const work_item& w,
                                           const output_context& ctx) const override {
        std::vector<std::string> written;
        auto put = [&](const std::string& key, const std::string& data) {
            std::string rel_out = file_for(key, w.in.rel);
            write_file_atomic(ctx.out_dir + "/" + rel_out, data);
            written.push_back(rel_out);
        };
        const int W = w.result["width"].get<int>(), H = w.result["height"].get<int>();
        const float* map = w.aux.data();
        if (w.aux.size() != static_cast<size_t>(W) * H)
            throw std::runtime_error("depth map missing");
        if (out_json_) put("json", w.result.dump() + "\n");
        if (out_png16_) {
            png16_mapping m{w.result["png16"]["lo"].get<double>(),
                            w.result["png16"]["hi"].get<double>()};
            put("png16", encode_image(encode16_image(map, W, H, m), ".png"));
        }
        if (out_tiff_) {
            cv::Mat m(H, W, CV_32FC1, const_cast<float*>(map));
            put("tiff", encode_image(m, ".tiff"));
        }
        if (out_npy_) put("npy", npy_bytes({H, W}, map));
        if (out_pfm_) put("pfm", pfm_bytes(map, W, H));
        cv::Mat colour;
        if (out_color_ || out_preview_) {
            const auto& cr = w.result["color_range"];
            bool warm_high = (pred_ == prediction::disparity) != flip_;
            colour =
                colorize(map, W, H, cr[0].get<double>(), cr[1].get<double>(), warm_high, cmap_);
        }
        if (out_color_) put("color", encode_image(colour, ".png"));
        if (out_preview_) {
            const cv::Mat& img = w.img.bgr;
            cv::Mat c = colour;
            if (c.size() != img.size()) cv::resize(colour, c, img.size(), 0, 0, cv::INTER_LINEAR);
            cv::Mat both;
            cv::hconcat(img, c, both);
            put("preview", encode_image(both, ".jpg"));
        }
        if (out_ply_) {
            pinhole k = make_pinhole(W, H, cam_fx_, cam_fy_, cam_cx_, cam_cy_, cam_fov_);
            put("ply", ply_bytes(depth_to_points(map, W, H, k, w.img.bgr, ply_stride_)));
        }
        return written;
    }

    std::vector<std::string> finish(
        const output_context&, const std::string&,
        const std::function<void(const record_visitor&)>&) const override {
        return {};
    }

    nlohmann::ordered_json run_info() const override {
        return {{"family", family_},
                {"prediction", pred_name_},
                {"kind", pred_ == prediction::metric_depth ? "metric" : "relative"}};
    }

  private:
    // The configured model output, checked against the family's layout; throws fatal_error.
    const tensor& check(const std::vector<tensor>& outs) const {
        const std::string who = model_name_ + ": " + family_ + " export: ";
        if (static_cast<size_t>(output_index_) >= outs.size())
            throw fatal_error(who + "the model returned " + std::to_string(outs.size()) +
                              " output(s); model.output_index is " + std::to_string(output_index_));
        const tensor& o = outs[output_index_];
        bool ok = (o.rank() == 4 && o.shape[1] == 1) || o.rank() == 3;
        if (ok)
            for (auto d : o.shape) ok = ok && d > 0;
        if (!ok)
            throw fatal_error(who + "expected output " + std::to_string(output_index_) +
                              " [B, 1, H, W] or [B, H, W], got " + shape_str(o.shape));
        return o;
    }

    png16_mapping mapping(double lo, double hi) const {
        switch (normalize_) {
            case png16_normalize::per_image:
                return {lo, hi};
            case png16_normalize::fixed:
                return {range_lo_, range_hi_};
            default:
                return {0.0, 65.535};  // millimetres
        }
    }

    std::vector<std::pair<const char*, bool>> enabled() const {
        return {{"json", out_json_},       {"png16", out_png16_}, {"tiff", out_tiff_},
                {"npy", out_npy_},         {"pfm", out_pfm_},     {"color", out_color_},
                {"preview", out_preview_}, {"ply", out_ply_}};
    }

    static std::string file_for(const std::string& key, const std::string& rel) {
        if (key == "json") return output_path("", "", rel, ".json");
        if (key == "png16") return output_path("", "png16", rel, ".png");
        if (key == "tiff") return output_path("", "tiff", rel, ".tiff");
        if (key == "npy") return output_path("", "npy", rel, ".npy");
        if (key == "pfm") return output_path("", "pfm", rel, ".pfm");
        if (key == "color") return output_path("", "color", rel, ".png");
        if (key == "preview") return output_path("", "preview", rel, ".jpg");
        return output_path("", "ply", rel, ".ply");
    }

    std::string family_, model_name_, pred_name_;
    prediction pred_ = prediction::disparity;
    double max_depth_ = 0;
    int output_index_ = 0, in_w_ = 518, in_h_ = 518, multiple_ = 14;
    depth_resize resize_ = depth_resize::lower_bound;
    int interp_ = cv::INTER_CUBIC;
    bool rgb_ = true;
    float mean_[3] = {0, 0, 0}, std_[3] = {1, 1, 1};
    bool align_corners_ = true;
    bool out_json_ = true, out_png16_ = true, out_tiff_ = false, out_npy_ = false;
    bool out_pfm_ = false, out_color_ = true, flip_ = false, out_preview_ = false;
    bool out_ply_ = false, has_range_ = false;
    png16_normalize normalize_ = png16_normalize::per_image;
    double range_lo_ = 0, range_hi_ = 1, pct_lo_ = 0, pct_hi_ = 100;
    colormap cmap_ = colormap::spectral;
    int ply_stride_ = 1;
    double cam_fx_ = 0, cam_fy_ = 0, cam_cx_ = 0, cam_cy_ = 0, cam_fov_ = 0;
};

}  // namespace

std::unique_ptr<task> make_depth_task() {
    return std::make_unique<depth_task>();
}

}  // namespace vfm
