// Face geometry shared by the face detector families and alignment (issue 4 groundwork).
//
// retinaface_priors / decode: as biubug6/Face-Detector-1MB-with-landmark layers/functions/
//   prior_box.py and utils/box_utils.py (decode, decode_landm): priors are (cx, cy, w, h)
//   normalised to the input size, offsets scaled by variances [0.1, 0.2].
// weighted_nms: MediaPipe's blending NMS (mediapipe/calculators/util/non_max_suppression_
//   calculator.cc, WEIGHTED): each kept detection is the score-weighted mean of its cluster.
// umeyama: least-squares similarity transform (Umeyama 1991), as skimage SimilarityTransform
//   and insightface's face_align use it to map 5 landmarks onto the ArcFace template.
#pragma once
#include <array>
#include <vector>

#include "vfm/geometry.h"

namespace vfm {

struct point2 {
    float x = 0, y = 0;
};

struct prior {
    float cx, cy, w, h;  // normalised to the input size
};

// min_sizes per level, steps per level (e.g. {{10,20},{32,64},{128,256}}, {8,16,32}).
std::vector<prior> retinaface_priors(int in_w, int in_h,
                                     const std::vector<std::vector<int>>& min_sizes,
                                     const std::vector<int>& steps, bool clip = false);

// loc: 4 offsets; returns the box in input pixels.
box decode_prior_box(const float* loc, const prior& p, float var0, float var1, int in_w, int in_h);
// landm: 2*n offsets; returns n points in input pixels.
std::vector<point2> decode_prior_points(const float* landm, int n, const prior& p, float var0,
                                        int in_w, int in_h);

struct scored_face {
    box b;
    float score = 0;
    std::vector<point2> points;
};

// Clusters by IoU > iou with the best remaining detection; each output is the score-weighted mean
// of its cluster's boxes and points, with the best score. Sorted by descending score.
std::vector<scored_face> weighted_nms(std::vector<scored_face> faces, float iou);

// 2x3 similarity (rotation, uniform scale, translation) mapping src onto dst in least squares:
// [a, -b, tx; b, a, ty]. Needs at least 2 points.
std::array<double, 6> umeyama(const std::vector<point2>& src, const std::vector<point2>& dst);

// The ArcFace 112x112 template of 5 points (left eye, right eye, nose, left and right mouth
// corner), as insightface python-package/insightface/utils/face_align.py arcface_dst.
std::vector<point2> arcface_template_112();

}  // namespace vfm
