// Model input preparation settings from a config's model.* and preprocess.* keys, shared by
// every task.
#include <opencv2/imgproc.hpp>

#include "vfm/error.h"
#include "vfm/model.h"
#include "vfm/task.h"

namespace vfm {

int interpolation_of(const std::string& s) {
    if (s == "linear") return cv::INTER_LINEAR;
    if (s == "cubic") return cv::INTER_CUBIC;
    if (s == "area") return cv::INTER_AREA;
    if (s == "nearest") return cv::INTER_NEAREST;
    throw fatal_error("preprocess.interpolation: expected linear, cubic, area or nearest, got \"" +
                      s + "\"");
}

preprocess_options pixel_options_from_config(const json& c) {
    preprocess_options o;
    auto size = get_path(c, "model.input_size").get<std::vector<int>>();
    if (size.size() != 2 || size[0] <= 0 || size[1] <= 0)
        throw fatal_error("model.input_size: expected [width, height] of positive integers");
    o.in_w = size[0], o.in_h = size[1];
    std::string color = get_path(c, "preprocess.color").get<std::string>();
    if (color != "rgb" && color != "bgr")
        throw fatal_error("preprocess.color: expected rgb or bgr, got \"" + color + "\"");
    o.rgb = color == "rgb";
    auto mean = get_path(c, "preprocess.mean").get<std::vector<float>>();
    auto stdv = get_path(c, "preprocess.std").get<std::vector<float>>();
    if (mean.size() != 3 || stdv.size() != 3)
        throw fatal_error("preprocess.mean/std: expected 3 values each");
    for (int i = 0; i < 3; ++i) {
        if (stdv[i] == 0) throw fatal_error("preprocess.std: values must not be 0");
        o.mean[i] = mean[i], o.std[i] = stdv[i];
    }
    o.interpolation = interpolation_of(get_path(c, "preprocess.interpolation").get<std::string>());
    return o;
}

preprocess_options preprocess_from_config(const json& c) {
    preprocess_options o = pixel_options_from_config(c);
    std::string resize = get_path(c, "preprocess.resize").get<std::string>();
    if (resize != "letterbox" && resize != "stretch")
        throw fatal_error("preprocess.resize: expected letterbox or stretch, got \"" + resize +
                          "\"");
    o.letterbox = resize == "letterbox";
    o.centre = get_path(c, "preprocess.letterbox_centre").get<bool>();
    o.scale_up = get_path(c, "preprocess.scale_up").get<bool>();
    o.pad_value = get_path(c, "preprocess.pad_value").get<float>();
    o.pad_mean = get_path(c, "preprocess.pad_mean").get<bool>();
    std::string rounding = get_path(c, "preprocess.letterbox_rounding").get<std::string>();
    if (rounding == "nearest")
        o.rounding = size_rounding::nearest;
    else if (rounding == "truncate")
        o.rounding = size_rounding::truncate;
    else if (rounding != "auto")
        throw fatal_error(
            "preprocess.letterbox_rounding: expected auto, nearest or truncate, got \"" + rounding +
            "\"");

    return o;
}

void warm_up(model& m, const task& t, const std::string& model_path, int passes) {
    tensor blank;
    blank.shape = {1, 3, t.input_h(), t.input_w()};
    blank.data.assign(static_cast<size_t>(blank.numel()), 0.f);
    blank.mem = layout::nhwc;
    std::vector<tensor> outs;
    try {
        for (int i = 0; i < passes; ++i) outs = m.forward(blank);
    } catch (const std::exception& e) {
        std::string msg = e.what();
        throw fatal_error(model_path + ": forward pass on a " + shape_str(blank.shape) +
                          " input failed: " + msg.substr(0, msg.find('\n')));
    }
    t.check_outputs(outs);
}

void prepare_whole_image(work_item& w, const preprocess_options& o, bool own_size) {
    w.data.resize(static_cast<size_t>(o.in_w) * o.in_h * 3);
    input_transform t;
    t.lb = prepare_input(w.img.bgr, o, w.data.data());
    t.decode_sx = w.img.sx, t.decode_sy = w.img.sy;
    w.rows = {t};
    if (own_size) w.in_w = o.in_w, w.in_h = o.in_h;
}

}  // namespace vfm
