// A task run inside another task's process, one image at a time: segment's --detector (boxes
// from detect for SAM) and matte's mask source (masks from segment for the trimap).
//
// Input: a config spec (a config file, a name under configs/<task>/, or a fetched registry
// model name), extra --set assignments, and decoded images. Output: the embedded task's own
// per-image record (its prepare, main model, stage models and postprocess), so any family of
// that task plugs in unchanged.
#pragma once
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "vfm/model.h"
#include "vfm/task.h"

namespace vfm {

class embedded_task {
  public:
    // Resolves the config (with `sets` applied last) and fingerprints the models; throws
    // fatal_error prefixed with `what` (the option naming it, e.g. "--detector").
    embedded_task(std::unique_ptr<task> t, const std::string& spec, const std::string& what,
                  const std::vector<std::string>& sets = {});
    // Loads the main and stage models, checks the main model's contract on a warm-up pass and
    // starts the task; throws fatal_error.
    void load(const std::string& device, const std::function<void(const std::string&)>& log);
    // The task's record for one decoded image. Throws input_error.
    nlohmann::ordered_json run(const decoded_image& img, const std::string& rel,
                               const std::string& path);
    // sha256 of the models and the config's fingerprint (for --resume).
    const std::string& fingerprint() const { return fingerprint_; }
    const json& config() const { return rc_.cfg; }

  private:
    struct stage {
        std::string section, path;
        bool nhwc = false;
    };
    std::unique_ptr<task> task_;
    resolved_config rc_;
    std::string what_, model_path_, model_sha_;
    std::vector<stage> stages_;
    std::unique_ptr<model> model_;
    std::mutex mu_;  // one main-model forward at a time: OpenCV DNN models are not re-entrant
    std::string fingerprint_;
    bool nhwc_ = false, channels_last_ = true, has_main_ = true;
};

}  // namespace vfm
