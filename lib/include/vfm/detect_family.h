// Detector families: each turns one image's slice of the raw model output into candidate
// detections in model-input pixels. One file per family in lib/src/detect/.
//
// Inputs: the model's outputs (most families read the one at output_index), the batch index,
// the model input size, the number of classes and the confidence threshold. Output: candidates
// (before NMS) whose score >= conf.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "vfm/nms.h"
#include "vfm/tensor.h"

namespace vfm {

struct decode_params {
    int in_w = 0, in_h = 0;  // model input size
    int num_classes = 0;
    float conf = 0.25f;
    std::vector<int> strides = {8, 16, 32};  // grid strides for anchor-free raw heads (yolox)
    int output_index = 0;                    // which output holds the detections
    int reg_max = 10;                        // distribution bins - 1 (nanodet GFL head)
};

struct detect_family {
    const char* name;
    const char* layout;  // the contract, for error messages
    // Throws fatal_error naming the contract when the output does not fit it.
    void (*check)(const std::vector<tensor>& outs, const decode_params& p);
    std::vector<detection> (*decode)(const std::vector<tensor>& outs, int b,
                                     const decode_params& p);
};

// The best of n class scores spaced `stride` floats apart (the first on ties).
struct best_score {
    int class_id;
    float score;
};
inline best_score best_class(const float* s, int n, int64_t stride = 1) {
    best_score b{0, s[0]};
    for (int c = 1; c < n; ++c)
        if (s[c * stride] > b.score) b = {c, s[c * stride]};
    return b;
}

// The output at p.output_index; throws fatal_error naming the family when there is none.
const tensor& family_output(const char* family, const std::vector<tensor>& outs,
                            const decode_params& p);

// nullptr when unknown.
const detect_family* find_detect_family(const std::string& name);
std::vector<std::string> detect_family_names();

// Family implementations (lib/src/detect/<name>.cpp).
extern const detect_family yolov8_family;
extern const detect_family yolov5_family;
extern const detect_family yolox_family;
extern const detect_family centernet_family;
extern const detect_family nanodet_family;

}  // namespace vfm
