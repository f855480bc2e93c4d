// Image decoding and model-input preparation.
//
// decode_image: bytes -> 8-bit BGR, EXIF orientation applied (JPEG), grayscale expanded,
// 16-bit scaled to 8-bit, alpha composited onto a background; optional reduced-size JPEG
// decode; refuses images over max_pixels before decoding them (header probe).
#pragma once
#include <opencv2/core.hpp>
#include <string>
#include <vector>

#include "vfm/geometry.h"

namespace vfm {

struct image_size {
    int w = 0, h = 0;
};

// Reads the pixel size from a JPEG/PNG/BMP/WebP header; {0,0} when unknown.
image_size probe_image_size(const std::string& bytes);

struct decode_options {
    long long max_pixels = 100000000;
    int reduce = 1;  // 1, 2, 4 or 8: JPEG decode at reduced size
    cv::Scalar alpha_background = {255, 255, 255};
};

struct decoded_image {
    cv::Mat bgr;                 // CV_8UC3
    int orig_w = 0, orig_h = 0;  // size after orientation, before any reduction
    float sx = 1, sy = 1;        // original px per decoded px
};

// Throws input_error with a one-line reason.
decoded_image decode_image(const std::string& bytes, const decode_options& o);

// Largest JPEG decode reduction (1, 2 or 4) that loses nothing the model sees: with a letterbox
// the image is scaled by min(in_w / w, in_h / h), so a reduction f is free while that scale is
// at most 1 / f; stretched to the input, both sides must stay at least the input's size.
int choose_reduction(image_size img, int in_w, int in_h, bool letterbox);

struct preprocess_options {
    int in_w = 640, in_h = 640;
    bool letterbox = true;  // else stretch
    bool centre = true;
    bool scale_up = true;  // letterbox: false keeps smaller images at their size (padded)
    size_rounding rounding = size_rounding::by_placement;  // letterbox: the resized size
    float pad_value = 114;
    // Pad with the mean colour exactly: zeros after normalisation, as detectron2's ImageList
    // pads normalised tensors (detectron2/structures/image_list.py from_tensors); pad_value is
    // then unused.
    bool pad_mean = false;
    bool rgb = true;
    float mean[3] = {0, 0, 0};  // in the model's channel order, 0-255 units
    float std[3] = {255, 255, 255};
    int interpolation = 1;  // cv::INTER_LINEAR
};

// 8-bit BGR -> float in the model's channel order, (x - mean) / std, written into `out` (a
// CV_32FC3 matrix or view of bgr8's size).
void normalise_into(const cv::Mat& bgr8, const preprocess_options& o, cv::Mat out);

// BGR 8-bit image (or a view of a tile) -> HWC float in the model's channel order, normalised,
// written to `dst` (in_h * in_w * 3 floats). Returns the letterbox used.
letterbox_params prepare_input(const cv::Mat& bgr, const preprocess_options& o, float* dst);

// The bytes of `m` encoded by extension (".jpg", ".png", ".tiff", ...) with OpenCV imwrite
// params; throws std::runtime_error when OpenCV cannot encode it.
std::string encode_image(const cv::Mat& m, const std::string& ext,
                         const std::vector<int>& params = {});

}  // namespace vfm
