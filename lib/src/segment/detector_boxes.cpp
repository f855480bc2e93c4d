#include "detector_boxes.h"

#include <filesystem>

#include "vfm/detect_task.h"
#include "vfm/error.h"
#include "vfm/sha256.h"

namespace vfm {

namespace fs = std::filesystem;

detector_boxes::detector_boxes(const std::string& spec) : task_(make_detect_task()) {
    config_request r;
    std::error_code ec;
    // a fetched registry name (its generated config) or a config file / configs/detect name
    if (spec.find('/') == std::string::npos && !fs::path(spec).has_extension() &&
        fs::is_regular_file(models_dir() + "/" + spec + ".json", ec))
        r.model = spec;
    else
        r.config = spec;
    resolved_config rc;
    try {
        rc = resolve_config("detect", task_->config_schema(), r);
    } catch (const fatal_error& e) {
        throw fatal_error(std::string("--detector: ") + e.what());
    }
    task_->configure(rc);
    model_path_ = find_model_file(rc.cfg, rc.base_dir);
    std::string sha = sha256_file(model_path_);
    const std::string pin = get_path(rc.cfg, "model.sha256").get<std::string>();
    if (!pin.empty() && pin != sha)
        throw fatal_error("--detector: " + model_path_ + ": sha256 " + sha + " differs from the " +
                          "config's model.sha256 " + pin);
    nhwc_ = get_path(rc.cfg, "model.input_layout").get<std::string>() == "nhwc";
    channels_last_ = get_path(rc.cfg, "model.channels_last").get<bool>();
    fingerprint_ = sha + "|" + config_fingerprint(rc.cfg);
}

void detector_boxes::load(const std::string& device) {
    model_options mo;
    mo.path = model_path_;
    mo.device = device;
    mo.nhwc_input = nhwc_;
    mo.channels_last = channels_last_;
    model_ = load_model(mo);
    tensor warm;
    warm.shape = {1, 3, task_->input_h(), task_->input_w()};
    warm.data.assign(static_cast<size_t>(warm.numel()), 0.f);
    warm.mem = layout::nhwc;
    std::vector<tensor> outs;
    try {
        outs = model_->forward(warm);
    } catch (const std::exception& e) {
        std::string m = e.what();
        throw fatal_error("--detector: " + model_path_ +
                          ": forward pass failed: " + m.substr(0, m.find('\n')));
    }
    try {
        task_->check_outputs(outs);
    } catch (const fatal_error& e) {
        throw fatal_error(std::string("--detector: ") + e.what());
    }
}

nlohmann::ordered_json detector_boxes::detect(const decoded_image& img, const std::string& rel) {
    work_item w;
    w.img = img;
    w.in.rel = rel;
    task_->prepare(w);
    const int iw = task_->input_w(), ih = task_->input_h();
    tensor in;
    in.shape = {static_cast<int64_t>(w.rows.size()), 3, ih, iw};
    in.mem = layout::nhwc;
    in.data = std::move(w.data);
    std::vector<tensor> outs;
    {
        std::lock_guard<std::mutex> lock(mu_);
        try {
            outs = model_->forward(in);
        } catch (const std::exception& e) {
            std::string m = e.what();
            throw input_error("detector failed: " + m.substr(0, m.find('\n')));
        }
    }
    task_->postprocess(w, outs, 0);
    return w.result;
}

}  // namespace vfm
