#include "vfm/embedded_task.h"

#include <filesystem>

#include "vfm/error.h"
#include "vfm/sha256.h"

namespace vfm {

namespace fs = std::filesystem;

embedded_task::embedded_task(std::unique_ptr<task> t, const std::string& spec,
                             const std::string& what, const std::vector<std::string>& sets)
    : task_(std::move(t)), what_(what) {
    config_request r;
    std::error_code ec;
    // a fetched registry name (its generated config) or a config file / configs/<task> name
    if (spec.find('/') == std::string::npos && !fs::path(spec).has_extension() &&
        fs::is_regular_file(models_dir() + "/" + spec + ".json", ec))
        r.model = spec;
    else
        r.config = spec;
    r.sets = sets;
    auto prefixed = [&](const std::exception& e) { return fatal_error(what_ + ": " + e.what()); };
    try {
        rc_ = resolve_config(task_->name(), task_->config_schema(), r);
        task_->configure(rc_);
        has_main_ = task_->uses_main_model();
        std::string all;
        if (has_main_) {
            model_path_ = find_model_file(rc_.cfg, rc_.base_dir);
            model_sha_ = sha256_file(model_path_);
            const std::string pin = get_path(rc_.cfg, "model.sha256").get<std::string>();
            if (!pin.empty() && pin != model_sha_)
                throw fatal_error(model_path_ + ": sha256 " + model_sha_ +
                                  " differs from the config's model.sha256 " + pin);
            nhwc_ = get_path(rc_.cfg, "model.input_layout").get<std::string>() == "nhwc";
            channels_last_ = get_path(rc_.cfg, "model.channels_last").get<bool>();
            all = model_sha_;
        }
        for (const auto& sec : task_->stage_sections()) {
            stage s{sec, find_model_file(rc_.cfg, rc_.base_dir, sec), false};
            const std::string sha = sha256_file(s.path);
            const json& pin = get_path(rc_.cfg, sec + ".sha256");
            if (pin.is_string() && !pin.get<std::string>().empty() && pin != sha)
                throw fatal_error(s.path + ": sha256 " + sha + " differs from the config's " + sec +
                                  ".sha256 " + pin.get<std::string>());
            const json& lay = get_path(rc_.cfg, sec + ".input_layout");
            s.nhwc = lay.is_string() && lay.get<std::string>() == "nhwc";
            all += "|" + sec + "=" + sha;
            stages_.push_back(s);
        }
        fingerprint_ = all + "|" + task_->fingerprint_extra() + "|" + config_fingerprint(rc_.cfg);
    } catch (const fatal_error& e) {
        throw prefixed(e);
    } catch (const std::runtime_error& e) {  // sha256_file on an unreadable file
        throw prefixed(e);
    }
}

void embedded_task::load(const std::string& device,
                         const std::function<void(const std::string&)>& log) {
    model_options mo;
    mo.device = device;
    mo.channels_last = channels_last_;
    if (has_main_) {
        mo.path = model_path_;
        mo.nhwc_input = nhwc_;
        model_ = load_model(mo);
        try {
            warm_up(*model_, *task_, model_path_, 1);
        } catch (const fatal_error& e) {
            throw fatal_error(what_ + ": " + e.what());
        }
    }
    for (const auto& s : stages_) {
        model_options so = mo;
        so.path = s.path;
        so.nhwc_input = s.nhwc;
        task_->attach_stage(s.section, load_model(so));
    }
    run_context ctx;
    ctx.device = device;
    ctx.main = model_.get();
    ctx.main_sha256 = model_sha_;
    ctx.models_fingerprint = fingerprint_;
    ctx.log = log;
    try {
        task_->start(ctx);
    } catch (const fatal_error& e) {
        throw fatal_error(what_ + ": " + e.what());
    }
}

nlohmann::ordered_json embedded_task::run(const decoded_image& img, const std::string& rel,
                                          const std::string& path) {
    work_item w;
    w.img = img;
    w.in.rel = rel;
    w.in.path = path;
    task_->prepare(w);
    std::vector<tensor> outs;
    if (!w.rows.empty()) {
        const int iw = w.in_w ? w.in_w : task_->input_w();
        const int ih = w.in_h ? w.in_h : task_->input_h();
        tensor in;
        in.shape = {static_cast<int64_t>(w.rows.size()), 3, ih, iw};
        in.mem = layout::nhwc;
        in.data = std::move(w.data);
        std::lock_guard<std::mutex> lock(mu_);
        try {
            outs = model_->forward(in);
        } catch (const std::exception& e) {
            std::string m = e.what();
            throw input_error(what_ + " failed: " + m.substr(0, m.find('\n')));
        }
    }
    task_->postprocess(w, outs, 0);
    return w.result;
}

}  // namespace vfm
