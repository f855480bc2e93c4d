// detect's output formats as pure functions: per-image JSON record, YOLO txt, COCO pieces.
#pragma once
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "vfm/labels.h"
#include "vfm/nms.h"

namespace vfm {

// {"image", "width", "height", "detections": [{"box", "score", "class_id", "label"}]};
// boxes rounded to 0.01 px and scores to 1e-5 so files are stable and diffable.
nlohmann::ordered_json detections_json(const std::string& rel, int w, int h,
                                       const std::vector<detection>& dets, const label_set& labels);
std::vector<detection> detections_from_json(const nlohmann::ordered_json& rec);

// YOLO training labels: "class cx cy w h [conf]" normalised to the image size, 6 decimals.
std::string yolo_txt(const std::vector<detection>& dets, int w, int h, bool with_conf);

// "index": index + 1; "stem": the numeric file stem (COCO file names), else index + 1.
int64_t coco_image_id(const std::string& rel, int64_t index, const std::string& mode);

// Streams COCO files from records in input order.
class coco_builder {
  public:
    coco_builder(const label_set& labels, std::string id_mode);
    void add(const nlohmann::ordered_json& record);  // a results.jsonl record with "result"
    std::string results_json() const;                // [{"image_id","category_id","bbox","score"}]
    std::string dataset_json() const;                // {"images","categories","annotations"}

  private:
    const label_set& labels_;
    std::string id_mode_;
    nlohmann::ordered_json images_ = nlohmann::ordered_json::array(),
                           anns_ = nlohmann::ordered_json::array(),
                           results_ = nlohmann::ordered_json::array();
};

}  // namespace vfm
