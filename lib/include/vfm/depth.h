// depth: monocular depth maps over the shared runner (issue 5).
//
// Pure pieces first (each testable without a model), then the task. Conventions: a depth map is
// row-major float, width x height; "disparity" (relative inverse depth) grows towards the
// camera, "depth" (relative or metric) grows away from it.
#pragma once
#include <cstdint>
#include <memory>
#include <opencv2/core.hpp>
#include <string>
#include <vector>

#include "vfm/task.h"

namespace vfm {

// ---- Model input size -------------------------------------------------------------------------

// How an image is resized to the model input.
//   lower_bound  keep aspect; the image covers target_w x target_h (the shorter side reaches it)
//   upper_bound  keep aspect; the image fits inside target_w x target_h
//   minimal      keep aspect; scale as little as possible towards the target
//   stretch      exactly target_w x target_h (a fixed size: batches any mix of shapes)
enum class depth_resize { lower_bound, upper_bound, minimal, stretch };

// Throws fatal_error naming preprocess.resize for another name.
depth_resize parse_depth_resize(const std::string& s);

// Model input size [w, h] for an image of w x h. Matches DepthAnything/Depth-Anything-V2
// depth_anything_v2/util/transform.py Resize.get_size with keep_aspect_ratio=True (the
// comparison of the two scales, then constrain_to_multiple_of: round half to even as np.round,
// floor when above an upper bound, ceil when below a lower bound), as image2tensor in
// depth_anything_v2/dpt.py calls it (target 518 x 518, multiple 14, lower_bound). stretch returns
// the target itself. Inputs: image size > 0, target > 0, multiple >= 1.
struct depth_size {
    int w = 0, h = 0;
};
depth_size depth_input_size(int img_w, int img_h, int target_w, int target_h, int multiple,
                            depth_resize method);
// The same, for one image about to run: throws input_error when the size is over 64 times the
// target's area (an extreme aspect ratio under lower_bound), naming `bounded_resizes`, the
// preprocess.resize values that would bound it.
depth_size checked_input_size(int img_w, int img_h, int target_w, int target_h, int multiple,
                              depth_resize method, const char* bounded_resizes);

// BGR 8-bit image -> model input, HWC float in the model's channel order, written to dst
// (out_w * out_h * 3 floats): converted to float first and resized in float with
// `interpolation` (a cv::INTER_* value), then (x - mean) / std per channel (0-255 units, in the
// model's channel order). Resizing in float as upstream does (dpt.py image2tensor divides by 255
// before Resize), so cubic overshoot is kept rather than clipped to 0..255.
void depth_prepare_input(const cv::Mat& bgr, int out_w, int out_h, int interpolation, bool rgb,
                         const float mean[3], const float std[3], float* dst);

// ---- Output map ---------------------------------------------------------------------------------

// Bilinear resize of a single-channel float map src (sw x sh) to dst (dw x dh).
// align_corners=true: corner pixels map onto corner pixels, source x = dx * (sw - 1) / (dw - 1)
// (0 when dw == 1) -- torch.nn.functional.interpolate(mode="bilinear", align_corners=True) as
// Depth-Anything-V2 dpt.py infer_image calls it. align_corners=false: pixel centres,
// x = (dx + 0.5) * sw / dw - 0.5 clamped at 0 -- torch's align_corners=False and cv::INTER_LINEAR.
void resize_bilinear(const float* src, int sw, int sh, float* dst, int dw, int dh,
                     bool align_corners);

// The p-th percentile (0..100) of data[0..n) (n > 0), interpolated linearly between the two
// nearest ranks as numpy.percentile's default ("linear"): rank p / 100 * (n - 1).
double percentile(const float* data, size_t n, double p);

// Number of NaN / +-Inf values in data[0..n).
size_t count_non_finite(const float* data, size_t n);

// ---- 16-bit PNG mapping -----------------------------------------------------------------------

// q = round((v - lo) * 65535 / (hi - lo)) clamped to 0..65535; decode v = lo + q * (hi - lo) /
// 65535. per_image: lo, hi = the image's min, max (hi == lo: every q is 0); fixed: a configured
// range; metric_mm: lo = 0, hi = 65.535 (q = millimetres for values in metres). Round trip error
// for lo <= v <= hi: at most half a step, (hi - lo) / 131070.
enum class png16_normalize { per_image, fixed, metric_mm };
png16_normalize parse_png16_normalize(const std::string& s);  // throws fatal_error
const char* png16_normalize_name(png16_normalize n);

struct png16_mapping {
    double lo = 0, hi = 1;
};
uint16_t encode16(float v, const png16_mapping& m);
double decode16(uint16_t q, const png16_mapping& m);
// CV_16UC1 image of the map.
cv::Mat encode16_image(const float* data, int w, int h, const png16_mapping& m);

// ---- Colour maps ------------------------------------------------------------------------------

// turbo, inferno, magma, viridis: OpenCV 4.6 cv::applyColorMap tables (COLORMAP_TURBO, ...;
// modules/imgproc/src/colormap.cpp). spectral: ColorBrewer "Spectral" 11-class diverging scheme
// (Cynthia Brewer, colorbrewer2.org; the same 11 anchors as matplotlib's _cm.py _Spectral_data),
// #9e0142 #d53e4f #f46d43 #fdae61 #fee08b #ffffbf #e6f598 #abdda4 #66c2a5 #3288bd #5e4fa2,
// interpolated linearly in RGB over 256 entries and stored reversed (as matplotlib's Spectral_r,
// which Depth-Anything-V2 run.py uses for relative depth), so that for every map index 255 is
// the warm end (red / yellow) and index 0 the cool end.
enum class colormap { turbo, inferno, magma, viridis, spectral };
colormap parse_colormap(const std::string& s);  // throws fatal_error naming outputs.colormap
// 256 x 1 CV_8UC3 BGR table, index 255 = warm.
cv::Mat colormap_table(colormap c);

// BGR image of the map: t = (v - lo) / (hi - lo) clamped to 0..1 (0 when hi == lo), reversed when
// `warm_high` is false, index = round(t * 255) into colormap_table(c).
cv::Mat colorize(const float* data, int w, int h, double lo, double hi, bool warm_high, colormap c);

// ---- File formats -------------------------------------------------------------------------------

// PFM (Portable Float Map, as the Middlebury stereo benchmark uses it): header "Pf\n<w> <h>\n-1\n"
// (one channel; negative scale = little-endian), then float32 rows from the bottom row up.
std::string pfm_bytes(const float* data, int w, int h);

// Pinhole camera in original-image pixels. Back-projection as Depth-Anything-V2
// metric_depth/depth_to_pointcloud.py: X = (u - cx) z / fx, Y = (v - cy) z / fy, Z = z at the
// pixel (u, v) (integer column and row), OpenCV camera frame (x right, y down, z forward).
struct pinhole {
    double fx = 0, fy = 0, cx = 0, cy = 0;
};
// From config values (NaN = unset): fx, fy given (fy defaults to fx, fx to fy); else from a
// horizontal field of view in degrees: fx = fy = (w / 2) / tan(fov / 2). cx, cy default to
// w / 2, h / 2 (as depth_to_pointcloud.py). Throws fatal_error naming camera.* when neither
// focal lengths nor a field of view in (0, 180) are given.
pinhole make_pinhole(int w, int h, double fx, double fy, double cx, double cy, double fov_deg);

struct point3 {
    float x = 0, y = 0, z = 0;
};
point3 back_project(double u, double v, double z, const pinhole& k);

struct colored_point {
    point3 p;
    uint8_t r = 0, g = 0, b = 0;
};
// Points of a metric depth map (metres), every `stride`-th pixel in both directions, pixels with
// z <= 0 or non-finite skipped; colours from `bgr` (same size as the map) or grey when empty.
std::vector<colored_point> depth_to_points(const float* depth, int w, int h, const pinhole& k,
                                           const cv::Mat& bgr, int stride);
// Binary little-endian PLY 1.0: "ply", "format binary_little_endian 1.0", one comment line,
// "element vertex N", float x, y, z, uchar red, green, blue, "end_header", then 15 bytes a point.
std::string ply_bytes(const std::vector<colored_point>& pts);

// ---- The task -----------------------------------------------------------------------------------

std::unique_ptr<task> make_depth_task();
schema depth_schema();

}  // namespace vfm
