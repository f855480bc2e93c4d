// detect: object detectors (yolov8, yolov5, yolox families) over the shared runner.
//
// Input: a BGR image. Output: boxes in original-image pixels after letterbox undo, class
// filter, class-aware (or agnostic) NMS and max_det; optional tiling for large images merged
// by the same NMS. Files: per-image JSON, YOLO txt, previews, crops, COCO results + dataset.
#pragma once
#include <memory>

#include "vfm/task.h"

namespace vfm {

std::unique_ptr<task> make_detect_task();
schema detect_schema();

}  // namespace vfm
