// Geometry of the MediaPipe face mesh + iris pipeline (issue: detector -> rotated face crop ->
// 468/478-point mesh -> iris on eye crops -> everything in original pixels). Pure functions: the
// caller warps crops (cv::warpAffine with roi_to_crop) and runs the models.
//
// References (google/mediapipe, read at 9d88077):
//   roi_from_keypoints: calculators/util/detections_to_rects_calculator.cc (ComputeRotation) and
//     rect_transformation_calculator.cc (square_long, scale), as wired in modules/face_landmark/
//     face_detection_front_detection_to_roi.pbtxt (keypoints 0 -> 1, the eyes; scale 1.5).
//   roi_to_crop / crop_to_image: calculators/tensor/image_to_tensor_utils.cc
//     (GetRotatedSubRectToRectTransformMatrix), image_to_tensor_converter_opencv.cc (rect corners
//     -> (0,0)..(W,H)), tensors_to_landmarks_calculator.cc (x / W, flip as W - x, z / W) and
//     util/landmark_projection_calculator.cc (z scaled as x by the rect width).
//   eye_roi: modules/iris_landmark/iris_landmark_landmarks_to_roi.pbtxt (bounding box of the two
//     corners, rotation corner a -> b, square_long, scale 2.3); corners and flip from
//     graphs/iris_tracking/iris_tracking_cpu.pbtxt and iris_landmark_left_and_right_cpu.pbtxt.
//   refine_with_iris: graphs/iris_tracking/calculators/update_face_landmarks_calculator.cc, then
//     the 10 iris points appended (iris_tracking_cpu.pbtxt) -> 478.
//   refine_with_attention: modules/face_landmark/tensors_to_face_landmarks_with_attention.pbtxt
//     with calculators/util/landmarks_refinement_calculator.cc -> 478.
//
// "Left" and "right" follow MediaPipe: the left eye is the one on the image's left (mesh 33/133,
// the subject's right eye); the right eye (362/263) is mirrored before the iris model.
#pragma once
#include <array>
#include <vector>

#include "vfm/face_geometry.h"
#include "vfm/geometry.h"

namespace vfm {

struct point3 {
    float x = 0, y = 0, z = 0;
};

// Image pixels. angle in radians with MediaPipe's sign: y points down, so a positive angle turns
// the rect's x axis clockwise on screen (towards +y).
struct rotated_rect {
    float cx = 0, cy = 0, w = 0, h = 0, angle = 0;
};

// Model sizes and output layouts (the TorchScript conversions in use; inputs NHWC RGB in [0, 1],
// as face_landmark_cpu.pbtxt output_tensor_float_range and iris_landmark_cpu.pbtxt
// zero_center: false).
constexpr int mesh_input_size = 192;  // facemesh and facemesh-attention
constexpr int mesh_points = 468;      // output (1, 1404): x, y, z in crop pixels
constexpr int refined_points = 478;   // 468 + left iris (468..472) + right iris (473..477)
constexpr int iris_input_size = 64;
constexpr int eye_contour_points = 71;  // iris model output (1, 228): 71 x,y,z then 5 iris x,y,z
constexpr int iris_points = 5;          // centre, then four edge points
// Iris edge order: centre, +x, -y, -x, +y in the crop the model saw. The attention heads give
// both irises in that image order; the iris model on the mirrored right eye, un-flipped as
// MediaPipe does (x only), gives its +x and -x edges swapped in the image (checked on photos).
constexpr int lips_points = 80;  // attention model lips: x, y only

// Output order of facemesh-attention.pt (the converter keeps the TFJS signature order); the
// attention sub-outputs are x, y only. Left/right checked on photos against mesh 33 vs 263.
struct attention_outputs {
    static constexpr int face_flag = 0, mesh = 1, lips = 2, right_iris = 3, left_eye = 4,
                         left_iris = 5, right_eye = 6;
};

// The face flag of both converted mesh models is already a probability (the TFJS graphs end in
// Sigmoid; MediaPipe's tflite needs TensorsToFloats SIGMOID). face_landmark_cpu.pbtxt drops the
// face below 0.5 (ThresholdingCalculator).
constexpr float face_flag_threshold = 0.5f;

constexpr float face_roi_scale = 1.5f;  // face_detection_front_detection_to_roi.pbtxt
constexpr float eye_roi_scale = 2.3f;   // iris_landmark_landmarks_to_roi.pbtxt

constexpr int left_eye_corner_a = 33, left_eye_corner_b = 133;     // not mirrored
constexpr int right_eye_corner_a = 362, right_eye_corner_b = 263;  // mirrored
// face_landmark_landmarks_to_roi.pbtxt: re-crop from a mesh, rotation from 33 to 263.
constexpr int mesh_roi_start = 33, mesh_roi_end = 263;

// Mesh index of each point of the refinement outputs (eye tables: 9 lower-lid, 7 upper-lid, then
// halos and brows; the first 16 are the lid contour whose mean z the attention irises take).
extern const std::array<int, lips_points> lips_mesh_index;
extern const std::array<int, eye_contour_points> left_eye_mesh_index;
extern const std::array<int, eye_contour_points> right_eye_mesh_index;
constexpr int eye_lid_points = 16;

// Wraps to [-pi, pi), as MediaPipe's NormalizeRadians.
float normalize_radians(float a);

// Rect around box b turned so that start -> end points along target_angle (0: the eyes level).
// Rotation = target_angle - atan2(-(end.y - start.y), end.x - start.x). square_long makes both
// sides the longer one before scaling.
rotated_rect roi_from_keypoints(const box& b, point2 start, point2 end, float target_angle,
                                float scale_x, float scale_y, bool square_long);

// The face ROI from a detection box and its eyes (left = image-left eye, keypoint 0).
rotated_rect face_roi(const box& b, point2 left_eye, point2 right_eye);

// Bounding box of all pts, rotation pts[start] -> pts[end], square_long, scale.
// With (mesh, mesh_roi_start, mesh_roi_end, face_roi_scale): MediaPipe's re-crop from a mesh.
rotated_rect roi_from_points(const std::vector<point3>& pts, int start, int end, float scale);

// Square eye ROI from two eye corners of a mesh in image pixels (box of the two corners,
// rotation corner_a -> corner_b).
rotated_rect eye_roi(const std::vector<point3>& mesh, int corner_a, int corner_b,
                     float scale = eye_roi_scale);

// 2x3 affine, image pixels -> crop pixels (row-major), for cv::warpAffine(img, crop, M,
// {out_w, out_h}). The rect's corners land on (0,0), (out_w,0), (out_w,out_h), (0,out_h).
// mirror_x flips the crop horizontally (the right eye before the iris model).
std::array<double, 6> roi_to_crop(const rotated_rect& r, int out_w, int out_h, bool mirror_x);
// The inverse: crop pixels -> image pixels.
std::array<double, 6> crop_to_roi(const rotated_rect& r, int out_w, int out_h, bool mirror_x);

// n model points at v[i * stride + 0..dims-1] (x, y[, z] in crop pixels) -> image pixels.
// z (0 when dims == 2) is scaled like x: z * r.w / out_w. With mirror_x the crop was mirrored;
// x is un-flipped (out_w - x) before the projection, z keeps its sign.
std::vector<point3> crop_to_image(const float* v, int n, int dims, int stride,
                                  const rotated_rect& r, int out_w, int out_h, bool mirror_x);

// MediaPipe iris tracking: the 71 eye-contour points of each eye replace the mesh's x, y, z at
// the eye tables, then left iris and right iris (5 each, iris-model z) are appended -> 478.
// Points in image pixels (crop_to_image of the iris model on each eye's ROI). The iris model's z
// has its own origin (about 0 at the eye; the mesh's lid z is ~3-13 px on 100-200 px faces), so
// keep_mesh_z = true keeps the mesh's z at the eye points and gives each iris the mean z of its
// eye's 16 lid points, as refine_with_attention does; false copies z as MediaPipe does.
std::vector<point3> refine_with_iris(const std::vector<point3>& mesh,
                                     const std::vector<point3>& left_eye,
                                     const std::vector<point3>& left_iris,
                                     const std::vector<point3>& right_eye,
                                     const std::vector<point3>& right_iris,
                                     bool keep_mesh_z = false);

// MediaPipe attention mesh: lips (80) and eyes (71 each) replace the mesh's x, y (z kept);
// the irises (5 each) become 468..477 with z = mean mesh z of that eye's 16 lid points -> 478.
// Works in image pixels: the refinement commutes with the projection.
std::vector<point3> refine_with_attention(const std::vector<point3>& mesh,
                                          const std::vector<point3>& lips,
                                          const std::vector<point3>& left_eye,
                                          const std::vector<point3>& right_eye,
                                          const std::vector<point3>& left_iris,
                                          const std::vector<point3>& right_iris);

}  // namespace vfm
