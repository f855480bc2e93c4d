// Pure mask and geometry functions for SAM-style segmentation.
//
// Masks are cv::Mat CV_8U, nonzero = inside (outputs are 0/1). Each function names the upstream
// it follows: pycocotools cocodataset/cocoapi common/maskApi.c (RLE), and
// facebookresearch/segment-anything segment_anything/utils/amg.py, utils/transforms.py,
// modeling/sam.py (postprocess_masks) and automatic_mask_generator.py.
#pragma once
#include <cstdint>
#include <opencv2/core.hpp>
#include <string>
#include <vector>

#include "vfm/geometry.h"

namespace vfm {

// --- RLE as pycocotools: column-major (Fortran) order; counts alternate starting with a run of
// zeros (0 when the first pixel is inside). An empty (0-pixel) mask encodes as counts {0}, as
// maskApi.c rleEncode does.
struct rle {
    int h = 0, w = 0;
    std::vector<uint32_t> counts;
};
rle rle_encode(const cv::Mat& mask);  // CV_8U single channel, any size incl. empty
// CV_8U 0/1, h x w. Throws std::invalid_argument when the counts do not add up to h * w.
cv::Mat rle_decode(const rle& r);
// pycocotools' compressed counts string (maskApi.c rleToString): 5 bits per char from '0',
// counts[i] stored as the difference to counts[i-2] for i > 2 (not i >= 2, as upstream).
std::string rle_to_string(const rle& r);
// maskApi.c rleFrString; throws std::invalid_argument on a character outside '0'..'o', a value
// cut off mid-way, a run out of 0..2^32-1, or counts not adding up to h * w.
rle rle_from_string(const std::string& s, int h, int w);
int64_t rle_area(const rle& r);
// maskApi.c rleToBbox (pycocotools toBbox: x, y, w, h), returned as x1=x, y1=y, x2=x+w, y2=y+h.
// Upstream quirk kept: a run of ones that wraps to the next column spans the full height.
box rle_bbox(const rle& r);

// --- masks
// amg.py batched_mask_to_box: x1,y1 = min index, x2,y2 = max index (inclusive, so a single
// pixel at (3,4) gives 3,4,3,4); an empty mask gives 0,0,0,0.
box mask_bbox(const cv::Mat& mask);
// amg.py calculate_stability_score: |logits > thr+offset| / |logits > thr-offset|. As upstream
// (int / int true division in torch) an empty denominator gives NaN, which fails any
// `score >= thresh` filter, so such masks are dropped as upstream drops them.
float stability_score(const cv::Mat& logits /*CV_32F*/, float mask_threshold, float offset);
// amg.py remove_small_regions: holes = true fills background components (8-connected, as
// cv2.connectedComponentsWithStats(..., 8)) smaller than area_thresh; false removes foreground
// components smaller than area_thresh, but keeps the largest one when every component is small.
// Returns upstream's "changed": true whenever a small component exists, even when the all-small
// rule leaves the mask as it was. mask: CV_8U, rewritten in place as 0/1.
bool remove_small_regions(cv::Mat& mask, double area_thresh, bool holes);
// Outer polygons of a binary mask (cv::findContours RETR_EXTERNAL, CHAIN_APPROX_SIMPLE), each
// at least 3 points, largest area first; epsilon > 0 applies approxPolyDP with that epsilon.
std::vector<std::vector<cv::Point>> mask_polygons(const cv::Mat& mask, double epsilon = 0);

// --- SAM transforms (transforms.py ResizeLongestSide)
struct sam_resize {
    int new_w = 0, new_h = 0;
};
// get_preprocess_shape: scale = long_side / max(w, h), int(x * scale + 0.5) in double.
sam_resize sam_preprocess_shape(int w, int h, int long_side);
cv::Point2f sam_apply_coords(cv::Point2f p, int w, int h, int long_side);    // original -> resized
cv::Point2f sam_unapply_coords(cv::Point2f p, int w, int h, int long_side);  // inverse
box sam_apply_box(const box& b, int w, int h, int long_side);
// sam.py Sam.postprocess_masks on one low-res mask: bilinear (align_corners=False) to
// long_side x long_side, crop to the resized image (new_h x new_w), bilinear to h x w.
// Bilinear as torch's CPU F.interpolate to float rounding, which cv::resize INTER_LINEAR is not
// at non-integer scales (up to ~1e-3 off; see mask_ops.cpp). Returns CV_32F h x w.
cv::Mat sam_upscale_logits(const cv::Mat& low_res /*CV_32F*/, int w, int h, int long_side);

// --- automatic mask generator geometry (amg.py)
// n x n points in [0,1] at offset 1/(2n); x varies fastest (row by row), as upstream.
std::vector<cv::Point2f> build_point_grid(int n_per_side);
// Layer i has int(n_per_side / scale_per_layer^i) points per side, i = 0..n_layers.
std::vector<std::vector<cv::Point2f>> build_all_layer_point_grids(int n_per_side, int n_layers,
                                                                  int scale_per_layer);
struct crop_box {
    int x0 = 0, y0 = 0, x1 = 0, y1 = 0;  // x1, y1 exclusive
    int layer = 0;
};
// generate_crop_boxes: the whole image, then per layer i (1..n_layers) 2^i x 2^i crops, x0
// outer and y0 inner as upstream's itertools.product.
std::vector<crop_box> generate_crop_boxes(int w, int h, int n_layers, float overlap_ratio);
// is_box_near_crop_edge for one box given in crop coordinates: some side (after uncropping) is
// within atol of the crop's side but not within atol of the image's side.
bool box_near_crop_edge(const box& b, const crop_box& crop, int orig_w, int orig_h,
                        float atol = 20.f);
box uncrop_box(const box& b, const crop_box& crop);
cv::Point2f uncrop_point(cv::Point2f p, const crop_box& crop);
// Zero-pad a crop-sized mask into the original frame (uncrop_masks).
cv::Mat uncrop_mask(const cv::Mat& mask, const crop_box& crop, int orig_w, int orig_h);

}  // namespace vfm
