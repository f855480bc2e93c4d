#include <algorithm>
#include <cmath>
#include <string>

#include "vfm/error.h"
#include "vfm/face_mesh.h"

namespace vfm {

// Index tables from google/mediapipe modules/face_landmark/
// tensors_to_face_landmarks_with_attention.pbtxt (the eye tables also appear in
// graphs/iris_tracking/calculators/update_face_landmarks_calculator.cc).
const std::array<int, lips_points> lips_mesh_index = {
    61,  146, 91, 181, 84, 17,  314, 405, 321, 375, 291,  // lower outer
    185, 40,  39, 37,  0,  267, 269, 270, 409,            // upper outer, no corners
    78,  95,  88, 178, 87, 14,  317, 402, 318, 324, 308,  // lower inner
    191, 80,  81, 82,  13, 312, 311, 310, 415,            // upper inner
    76,  77,  90, 180, 85, 16,  315, 404, 320, 307, 306,  // lower semi-outer
    184, 74,  73, 72,  11, 302, 303, 304, 408,            // upper semi-outer
    62,  96,  89, 179, 86, 15,  316, 403, 319, 325, 292,  // lower semi-inner
    183, 42,  41, 38,  12, 268, 271, 272, 407,            // upper semi-inner
};

const std::array<int, eye_contour_points> left_eye_mesh_index = {
    33,  7,   163, 144, 145, 153, 154, 155, 133,  // lower lid
    246, 161, 160, 159, 158, 157, 173,            // upper lid, no corners
    130, 25,  110, 24,  23,  22,  26,  112, 243,  // halo x2 lower
    247, 30,  29,  27,  28,  56,  190,            // halo x2 upper
    226, 31,  228, 229, 230, 231, 232, 233, 244,  // halo x3 lower
    113, 225, 224, 223, 222, 221, 189,            // halo x3 upper
    35,  124, 46,  53,  52,  65,                  // halo x4 upper / brow inner
    143, 111, 117, 118, 119, 120, 121, 128, 245,  // halo x5 lower
    156, 70,  63,  105, 66,  107, 55,  193,       // halo x5 upper / brow outer
};

const std::array<int, eye_contour_points> right_eye_mesh_index = {
    263, 249, 390, 373, 374, 380, 381, 382, 362,  // lower lid
    466, 388, 387, 386, 385, 384, 398,            // upper lid, no corners
    359, 255, 339, 254, 253, 252, 256, 341, 463,  // halo x2 lower
    467, 260, 259, 257, 258, 286, 414,            // halo x2 upper
    446, 261, 448, 449, 450, 451, 452, 453, 464,  // halo x3 lower
    342, 445, 444, 443, 442, 441, 413,            // halo x3 upper
    265, 353, 276, 283, 282, 295,                 // halo x4 upper / brow inner
    372, 340, 346, 347, 348, 349, 350, 357, 465,  // halo x5 lower
    383, 300, 293, 334, 296, 336, 285, 417,       // halo x5 upper / brow outer
};

namespace {

constexpr double pi = 3.14159265358979323846;

void check_size(const std::vector<point3>& v, size_t n, const char* what) {
    if (v.size() != n)
        throw fatal_error(std::string("face mesh: ") + what + " has " + std::to_string(v.size()) +
                          " points, expected " + std::to_string(n));
}

// Mean z of an eye's lid contour (the first 16 of its table): LandmarksRefinementCalculator's
// assign_average for the attention irises.
float lid_mean_z(const std::vector<point3>& pts, const std::array<int, eye_contour_points>& eye) {
    double z = 0;
    for (int i = 0; i < eye_lid_points; ++i) z += pts[eye[i]].z;
    return static_cast<float>(z / eye_lid_points);
}

}  // namespace

float normalize_radians(float a) {
    const double d = a;
    return static_cast<float>(d - 2 * pi * std::floor((d + pi) / (2 * pi)));
}

rotated_rect roi_from_keypoints(const box& b, point2 start, point2 end, float target_angle,
                                float scale_x, float scale_y, bool square_long) {
    rotated_rect r;
    r.cx = (b.x1 + b.x2) / 2, r.cy = (b.y1 + b.y2) / 2;
    float w = b.width(), h = b.height();
    // Image y points down; the minus makes the angle counter-clockwise on screen, as MediaPipe.
    r.angle = normalize_radians(target_angle - std::atan2(-(end.y - start.y), end.x - start.x));
    // MediaPipe squares in pixels (normalised sides times the image size), as here.
    if (square_long) w = h = std::max(w, h);
    r.w = w * scale_x, r.h = h * scale_y;
    return r;
}

rotated_rect face_roi(const box& b, point2 left_eye, point2 right_eye) {
    return roi_from_keypoints(b, left_eye, right_eye, 0.f, face_roi_scale, face_roi_scale, true);
}

rotated_rect roi_from_points(const std::vector<point3>& pts, int start, int end, float scale) {
    const int n = static_cast<int>(pts.size());
    if (start < 0 || end < 0 || start >= n || end >= n)
        throw fatal_error("face mesh: ROI keypoint index out of range");
    box b{pts[0].x, pts[0].y, pts[0].x, pts[0].y};
    for (const auto& p : pts) {
        b.x1 = std::min(b.x1, p.x), b.y1 = std::min(b.y1, p.y);
        b.x2 = std::max(b.x2, p.x), b.y2 = std::max(b.y2, p.y);
    }
    return roi_from_keypoints(b, {pts[start].x, pts[start].y}, {pts[end].x, pts[end].y}, 0.f, scale,
                              scale, true);
}

rotated_rect eye_roi(const std::vector<point3>& mesh, int corner_a, int corner_b, float scale) {
    const int n = static_cast<int>(mesh.size());
    if (corner_a < 0 || corner_b < 0 || corner_a >= n || corner_b >= n)
        throw fatal_error("face mesh: eye corner index out of range");
    return roi_from_points({mesh[corner_a], mesh[corner_b]}, 0, 1, scale);
}

std::array<double, 6> crop_to_roi(const rotated_rect& r, int out_w, int out_h, bool mirror_x) {
    // p = centre + R(angle) * [f * (u / W - 0.5) * w, (v / H - 0.5) * h], f = -1 when mirrored:
    // GetRotatedSubRectToRectTransformMatrix with the normalisation folded in.
    const double c = std::cos(static_cast<double>(r.angle)),
                 s = std::sin(static_cast<double>(r.angle));
    const double f = mirror_x ? -1.0 : 1.0;
    const double ax = f * r.w / out_w, by = static_cast<double>(r.h) / out_h;
    return {c * ax, -s * by, r.cx - c * f * r.w / 2 + s * r.h / 2,
            s * ax, c * by,  r.cy - s * f * r.w / 2 - c * r.h / 2};
}

std::array<double, 6> roi_to_crop(const rotated_rect& r, int out_w, int out_h, bool mirror_x) {
    const auto m = crop_to_roi(r, out_w, out_h, mirror_x);
    const double det = m[0] * m[4] - m[1] * m[3];
    const double a = m[4] / det, b = -m[1] / det, d = -m[3] / det, e = m[0] / det;
    return {a, b, -(a * m[2] + b * m[5]), d, e, -(d * m[2] + e * m[5])};
}

std::vector<point3> crop_to_image(const float* v, int n, int dims, int stride,
                                  const rotated_rect& r, int out_w, int out_h, bool mirror_x) {
    // The mirrored matrix already contains MediaPipe's un-flip (x -> W - x) in its sign.
    const auto m = crop_to_roi(r, out_w, out_h, mirror_x);
    const double zs = static_cast<double>(r.w) / out_w;
    std::vector<point3> out(static_cast<size_t>(std::max(n, 0)));
    for (int i = 0; i < n; ++i) {
        const float* p = v + static_cast<size_t>(i) * stride;
        const double x = p[0], y = p[1];
        out[i] = {static_cast<float>(m[0] * x + m[1] * y + m[2]),
                  static_cast<float>(m[3] * x + m[4] * y + m[5]),
                  dims > 2 ? static_cast<float>(p[2] * zs) : 0.f};
    }
    return out;
}

std::vector<point3> refine_with_iris(const std::vector<point3>& mesh,
                                     const std::vector<point3>& left_eye,
                                     const std::vector<point3>& left_iris,
                                     const std::vector<point3>& right_eye,
                                     const std::vector<point3>& right_iris, bool keep_mesh_z) {
    check_size(mesh, mesh_points, "mesh");
    check_size(left_eye, eye_contour_points, "left eye contour");
    check_size(right_eye, eye_contour_points, "right eye contour");
    check_size(left_iris, iris_points, "left iris");
    check_size(right_iris, iris_points, "right iris");
    std::vector<point3> out = mesh;
    for (int i = 0; i < eye_contour_points; ++i) {
        const int l = left_eye_mesh_index[i], r = right_eye_mesh_index[i];
        out[l] = {left_eye[i].x, left_eye[i].y, keep_mesh_z ? mesh[l].z : left_eye[i].z};
        out[r] = {right_eye[i].x, right_eye[i].y, keep_mesh_z ? mesh[r].z : right_eye[i].z};
    }
    out.insert(out.end(), left_iris.begin(), left_iris.end());
    out.insert(out.end(), right_iris.begin(), right_iris.end());
    if (keep_mesh_z) {
        const float zl = lid_mean_z(mesh, left_eye_mesh_index),
                    zr = lid_mean_z(mesh, right_eye_mesh_index);
        for (int i = 0; i < iris_points; ++i)
            out[mesh_points + i].z = zl, out[mesh_points + iris_points + i].z = zr;
    }
    return out;
}

std::vector<point3> refine_with_attention(const std::vector<point3>& mesh,
                                          const std::vector<point3>& lips,
                                          const std::vector<point3>& left_eye,
                                          const std::vector<point3>& right_eye,
                                          const std::vector<point3>& left_iris,
                                          const std::vector<point3>& right_iris) {
    check_size(mesh, mesh_points, "mesh");
    check_size(lips, lips_points, "lips");
    check_size(left_eye, eye_contour_points, "left eye");
    check_size(right_eye, eye_contour_points, "right eye");
    check_size(left_iris, iris_points, "left iris");
    check_size(right_iris, iris_points, "right iris");
    std::vector<point3> out = mesh;
    out.resize(refined_points);
    // Lips and eyes refine x, y only (z_refinement none): their heads are 2-D.
    auto refine_xy = [&out](const std::vector<point3>& src, const int* index) {
        for (size_t i = 0; i < src.size(); ++i)
            out[index[i]].x = src[i].x, out[index[i]].y = src[i].y;
    };
    refine_xy(lips, lips_mesh_index.data());
    refine_xy(left_eye, left_eye_mesh_index.data());
    refine_xy(right_eye, right_eye_mesh_index.data());
    // Irises: z is the mean z of the eye's lid contour (assign_average); the iris heads have none.
    const float zl = lid_mean_z(out, left_eye_mesh_index),
                zr = lid_mean_z(out, right_eye_mesh_index);
    for (int i = 0; i < iris_points; ++i) {
        out[mesh_points + i] = {left_iris[i].x, left_iris[i].y, zl};
        out[mesh_points + iris_points + i] = {right_iris[i].x, right_iris[i].y, zr};
    }
    return out;
}

}  // namespace vfm
