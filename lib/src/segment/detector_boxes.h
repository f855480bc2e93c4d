// Box prompts from a detector run in the same process (Grounded-SAM style: boxes -> masks).
//
// Input: a detect config (a file, a name under configs/detect/, or a fetched model name) and an
// image. Output: detect's per-image record ({"detections": [...]}) for the image, produced by
// the detect task itself (its letterbox, family decoder, NMS and labels), so any detector
// family, and a text-prompted detector later, plugs in here unchanged.
#pragma once
#include <memory>
#include <mutex>
#include <string>

#include "vfm/model.h"
#include "vfm/task.h"

namespace vfm {

class detector_boxes {
  public:
    // Resolves the detector's config and fingerprints its model; throws fatal_error naming the
    // config or model.
    explicit detector_boxes(const std::string& spec);
    // Loads the model and checks its contract on a warm-up pass; throws fatal_error.
    void load(const std::string& device);
    // detect's JSON record for one decoded image. Throws input_error.
    nlohmann::ordered_json detect(const decoded_image& img, const std::string& rel);
    // sha256 of the detector's model file and config fingerprint (for --resume).
    const std::string& fingerprint() const { return fingerprint_; }
    const std::string& model_path() const { return model_path_; }

  private:
    std::unique_ptr<task> task_;
    std::unique_ptr<model> model_;
    std::mutex mu_;  // one forward at a time: OpenCV DNN models are not re-entrant
    std::string fingerprint_, model_path_;
    bool nhwc_ = false, channels_last_ = true;
};

}  // namespace vfm
