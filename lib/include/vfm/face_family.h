// Face detector families: one decoder per model layout, chosen by model.family.
//
// Input: the model's outputs for a batch. Output: faces in model-input pixels with their
// keypoints, before the task's mapping to the original image, min_face filter and NMS.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "vfm/config.h"
#include "vfm/face_geometry.h"
#include "vfm/tensor.h"

namespace vfm {

class face_family {
  public:
    virtual ~face_family() = default;
    // Throws fatal_error naming the config key at fault.
    virtual void configure(const json& cfg, int in_w, int in_h) = 0;
    // Model-contract check on the warm-up outputs; throws fatal_error.
    virtual void check(const std::vector<tensor>& outs) const = 0;
    // Faces of batch row b with score >= conf, in input pixels.
    virtual std::vector<scored_face> decode(const std::vector<tensor>& outs, int b,
                                            float conf) const = 0;
    // MediaPipe's detectors are meant for blending (weighted) NMS; the others for hard NMS.
    virtual bool weighted_nms() const { return false; }
    // 5: eyes, nose, mouth corners. 6: BlazeFace's eyes, nose, mouth centre, ears.
    virtual int n_points() const { return 5; }
};

// "retinaface", "yunet" or "blazeface"; throws fatal_error for another name.
std::unique_ptr<face_family> make_face_family(const std::string& name);

// BlazeFace SSD anchors (mediapipe/calculators/tflite/ssd_anchors_calculator.cc with the options
// of mediapipe/modules/face_detection/face_detection_short_range.pbtxt and _full_range /
// the "back" model): per stride, a grid of ceil(in/stride) cells, row-major, `per_cell` anchors
// per cell (consecutive layers of one stride merged, as the calculator does); fixed anchor size
// so only centres matter, normalised to [0, 1]: ((x + 0.5) / grid_w, (y + 0.5) / grid_h).
// Front 128x128: strides {8, 16}, per_cell {2, 6} -> 512 + 384 = 896.
struct anchor {
    float cx, cy;
};
std::vector<anchor> blazeface_anchors(int in_w, int in_h, const std::vector<int>& strides,
                                      const std::vector<int>& per_cell);

// One BlazeFace regressor row (16 values: box dx, dy, w, h, then 6 keypoints x, y; offsets in
// input pixels, mediapipe/calculators/tflite/tflite_tensors_to_detections_calculator.cc
// DecodeBoxes with reverse_output_order, scales = input size) to a face in input pixels.
// score: the raw logit, clipped to +-clip then passed through a sigmoid.
scored_face decode_blazeface_row(const float* reg, float logit, const anchor& a, int in_w, int in_h,
                                 int n_keypoints, float clip = 100.f);

// 5 landmarks (eyes, nose, mouth corners) from BlazeFace's 6 keypoints: the mouth corners are
// estimated from the mouth centre along the eye line, at ArcFace's template ratio of mouth width
// to eye distance (0.828); the face JSON marks them as estimated.
std::vector<point2> blazeface_five_points(const std::vector<point2>& kp6);

}  // namespace vfm
