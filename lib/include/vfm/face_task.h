// face: face detection with 5 landmarks over the shared runner (issue 4, first part).
//
// Input: a BGR image. Output per face: box, score and 5 landmarks (eyes, nose, mouth corners) in
// original pixels, after the family's decode, min_face filter and NMS. Files: per-image JSON,
// previews, anonymised copies (blur, pixelate, fill) and aligned crops (similarity transform of
// the landmarks onto a template, ArcFace 112x112 by default).
#pragma once
#include <memory>

#include "vfm/face_geometry.h"
#include "vfm/task.h"

namespace vfm {

std::unique_ptr<task> make_face_task();
schema face_schema();

// RetinaFace head (biubug6/Face-Detector-1MB-with-landmark models/retinaface.py): outputs
// loc [B, N, 4], conf [B, N, 2] (softmax), landms [B, N, 10] over `priors`, matched by their last
// dimension; faces in input pixels with score >= conf. Throws fatal_error on another layout.
void check_retinaface(const std::vector<tensor>& outs, size_t n_priors);
std::vector<scored_face> decode_retinaface(const std::vector<tensor>& outs, int b,
                                           const std::vector<prior>& priors, float conf, float var0,
                                           float var1, int in_w, int in_h);

// YuNet head (ShiqiYu/libfacedetection.train, decoded as OpenCV 4.8 modules/objdetect/src/
// face_detect.cpp): per stride s in `strides`, N = (in_w/s)*(in_h/s) cells row-major, outputs
// cls [B,N,1], obj [B,N,1], bbox [B,N,4], kps [B,N,10] matched by shape (cls and obj enter
// symmetrically: score = sqrt(cls * obj)); centre (c + dx) s, size exp(dw) s, points (c + kx) s.
void check_yunet(const std::vector<tensor>& outs, const std::vector<int>& strides, int in_w,
                 int in_h);
std::vector<scored_face> decode_yunet(const std::vector<tensor>& outs, int b,
                                      const std::vector<int>& strides, float conf, int in_w,
                                      int in_h);

// Anonymises `img` in place over each box grown by `margin` (fraction of its size):
// "blur" (Gaussian, kernel ~ half the face), "pixelate" (8 blocks across) or "fill" (black).
void anonymize_faces(cv::Mat& img, const std::vector<box>& boxes, const std::string& mode,
                     float margin);

}  // namespace vfm
