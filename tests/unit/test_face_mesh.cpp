#include <catch2/catch.hpp>
#include <cmath>
#include <set>

#include "vfm/face_mesh.h"

using namespace vfm;

namespace {

const double pi = 3.14159265358979323846;

point2 apply(const std::array<double, 6>& m, double x, double y) {
    return {static_cast<float>(m[0] * x + m[1] * y + m[2]),
            static_cast<float>(m[3] * x + m[4] * y + m[5])};
}

}  // namespace

TEST_CASE("mesh: normalize_radians wraps to -pi up to pi", "[mesh]") {
    CHECK(normalize_radians(0.5f) == Approx(0.5));
    CHECK(normalize_radians(static_cast<float>(1.5 * pi)) == Approx(-0.5 * pi));
    CHECK(normalize_radians(static_cast<float>(-1.5 * pi)) == Approx(0.5 * pi));
    CHECK(normalize_radians(static_cast<float>(pi)) == Approx(-pi));
}

TEST_CASE("mesh: ROI from a box and two eye points", "[mesh]") {
    const box b{10, 20, 50, 80};  // 40 x 60, centre (30, 50)
    SECTION("level eyes: no rotation, long side squared then scaled") {
        auto r = roi_from_keypoints(b, {20, 40}, {40, 40}, 0, 1.5f, 1.5f, true);
        CHECK(r.cx == Approx(30));
        CHECK(r.cy == Approx(50));
        CHECK(r.w == Approx(90));  // max(40, 60) * 1.5
        CHECK(r.h == Approx(90));
        CHECK(r.angle == Approx(0).margin(1e-7));
        auto n = roi_from_keypoints(b, {20, 40}, {40, 40}, 0, 2, 1, false);
        CHECK(n.w == Approx(80));
        CHECK(n.h == Approx(60));
    }
    SECTION("right eye straight below the left: +90 degrees") {
        // 0 - atan2(-(10), 0) = pi / 2
        auto r = roi_from_keypoints(b, {30, 40}, {30, 50}, 0, 1, 1, true);
        CHECK(r.angle == Approx(pi / 2));
    }
    SECTION("right eye lower by as much as it is right: +45 degrees") {
        auto r = face_roi(b, {20, 40}, {30, 50});
        CHECK(r.angle == Approx(pi / 4));
        CHECK(r.w == Approx(90));
        // eye line pointing up-right: negative (counter-clockwise on screen)
        CHECK(roi_from_keypoints(b, {20, 50}, {30, 40}, 0, 1, 1, true).angle == Approx(-pi / 4));
    }
    SECTION("target angle is added") {
        auto r = roi_from_keypoints(b, {20, 40}, {40, 40}, static_cast<float>(pi / 2), 1, 1, true);
        CHECK(r.angle == Approx(pi / 2));
    }
}

TEST_CASE("mesh: roi_to_crop without rotation", "[mesh]") {
    rotated_rect r{100, 50, 96, 96, 0};
    auto m = roi_to_crop(r, 192, 192, false);
    // scale 2, the rect's top-left corner (52, 2) at the crop origin
    CHECK(m[0] == Approx(2));
    CHECK(m[1] == Approx(0).margin(1e-12));
    CHECK(m[2] == Approx(-104));
    CHECK(m[4] == Approx(2));
    CHECK(m[5] == Approx(-4));
    auto c = apply(m, 100, 50);
    CHECK(c.x == Approx(96));
    CHECK(c.y == Approx(96));
    c = apply(m, 148, 98);
    CHECK(c.x == Approx(192));
    CHECK(c.y == Approx(192));
}

TEST_CASE("mesh: roi_to_crop rotated by 90 degrees", "[mesh]") {
    // Crop x runs down the image, crop y runs towards -x:
    // image = (100, 50) + R(90) * [(u / 10 - 0.5) * 20, (v / 10 - 0.5) * 20]
    rotated_rect r{100, 50, 20, 20, static_cast<float>(pi / 2)};
    auto m = roi_to_crop(r, 10, 10, false);
    auto c = apply(m, 110, 40);  // crop (0, 0)
    CHECK(c.x == Approx(0).margin(1e-5));
    CHECK(c.y == Approx(0).margin(1e-5));
    c = apply(m, 110, 60);  // crop (10, 0)
    CHECK(c.x == Approx(10));
    CHECK(c.y == Approx(0).margin(1e-5));
    c = apply(m, 90, 40);  // crop (0, 10)
    CHECK(c.x == Approx(0).margin(1e-5));
    CHECK(c.y == Approx(10));
    auto inv = crop_to_roi(r, 10, 10, false);
    c = apply(inv, 10, 10);
    CHECK(c.x == Approx(90));
    CHECK(c.y == Approx(60));
}

TEST_CASE("mesh: mirrored crop and its un-flip", "[mesh]") {
    rotated_rect r{100, 50, 20, 20, 0};
    auto m = roi_to_crop(r, 10, 10, true);
    auto c = apply(m, 110, 40);  // the rect's top-right corner lands on the crop origin
    CHECK(c.x == Approx(0).margin(1e-5));
    CHECK(c.y == Approx(0).margin(1e-5));
    c = apply(m, 90, 40);
    CHECK(c.x == Approx(10));
    // a model point at crop x = 2 on the mirrored crop is image x = 100 + (0.5 - 0.2) * 20
    const float v[3] = {2, 5, 4};
    auto p = crop_to_image(v, 1, 3, 3, r, 10, 10, true);
    CHECK(p[0].x == Approx(106));
    CHECK(p[0].y == Approx(50));
    CHECK(p[0].z == Approx(8));  // z * w / out_w, sign kept
}

TEST_CASE("mesh: crop_to_image layout, z scale and round trip", "[mesh]") {
    rotated_rect r{321.5f, 123.25f, 150, 150, 0.3f};
    SECTION("dims 2 with stride 2 gives z = 0; dims 3 scales z like x") {
        const float xy[4] = {96, 96, 0, 0};
        auto p = crop_to_image(xy, 2, 2, 2, r, 192, 192, false);
        REQUIRE(p.size() == 2);
        CHECK(p[0].x == Approx(321.5));  // crop centre -> rect centre
        CHECK(p[0].y == Approx(123.25));
        CHECK(p[0].z == 0);
        const float xyz[8] = {96, 96, -19.2f, 0, 1, 2, 3, 0};  // stride 4: one padding value
        auto q = crop_to_image(xyz, 2, 3, 4, r, 192, 192, false);
        CHECK(q[0].z == Approx(-19.2 * 150 / 192));
        CHECK(q[1].x == Approx(apply(crop_to_roi(r, 192, 192, false), 1, 2).x));
        CHECK(q[1].z == Approx(3 * 150.0 / 192));
    }
    SECTION("image -> crop -> image for both mirror settings") {
        for (bool mirror : {false, true}) {
            auto m = roi_to_crop(r, 64, 64, mirror);
            for (point2 img : {point2{300, 100}, point2{350.5f, 170}, point2{250, 60}}) {
                auto c = apply(m, img.x, img.y);
                const float v[2] = {c.x, c.y};
                auto back = crop_to_image(v, 1, 2, 2, r, 64, 64, mirror);
                CHECK(back[0].x == Approx(img.x).margin(1e-3));
                CHECK(back[0].y == Approx(img.y).margin(1e-3));
            }
        }
    }
}

TEST_CASE("mesh: eye ROI from two corners", "[mesh]") {
    std::vector<point3> mesh(mesh_points);
    mesh[left_eye_corner_a] = {100, 100, 0};
    mesh[left_eye_corner_b] = {120, 100, 0};
    mesh[right_eye_corner_a] = {200, 100, 0};
    mesh[right_eye_corner_b] = {220, 120, 0};
    auto l = eye_roi(mesh, left_eye_corner_a, left_eye_corner_b);
    CHECK(l.cx == Approx(110));
    CHECK(l.cy == Approx(100));
    CHECK(l.w == Approx(46));  // long side 20 squared, times 2.3
    CHECK(l.h == Approx(46));
    CHECK(l.angle == Approx(0).margin(1e-7));
    auto r = eye_roi(mesh, right_eye_corner_a, right_eye_corner_b);
    CHECK(r.cx == Approx(210));
    CHECK(r.cy == Approx(110));
    CHECK(r.w == Approx(46));
    CHECK(r.angle == Approx(pi / 4));
    CHECK_THROWS(eye_roi(mesh, 0, mesh_points));
}

TEST_CASE("mesh: re-crop ROI from all mesh points", "[mesh]") {
    std::vector<point3> pts = {{10, 10, 0}, {50, 30, 0}, {30, 90, 0}};
    auto r = roi_from_points(pts, 0, 1, face_roi_scale);
    CHECK(r.cx == Approx(30));
    CHECK(r.cy == Approx(50));
    CHECK(r.w == Approx(120));  // max(40, 80) * 1.5
    CHECK(r.angle == Approx(std::atan2(20.0, 40.0)));
}

TEST_CASE("mesh: matches the Python prototype on a rotated face", "[mesh]") {
    // sample1.jpg, third retinaface face: box, eyes and facemesh's first three raw points
    // (rounded); expected values printed by the prototype (/tmp/meshproto/first3.py).
    const box b{1464.72f, 213.58f, 1680.53f, 432.07f};
    auto r = face_roi(b, {1563.79f, 275.56f}, {1622.97f, 352.55f});
    CHECK(r.cx == Approx(1572.625));
    CHECK(r.cy == Approx(322.825));
    CHECK(r.w == Approx(327.735));
    CHECK(r.h == Approx(327.735));
    CHECK(r.angle == Approx(0.9154523113559256));
    auto m = roi_to_crop(r, mesh_input_size, mesh_input_size, false);
    CHECK(m[0] == Approx(0.35702915275378494));
    CHECK(m[1] == Approx(0.46447574299617905));
    CHECK(m[2] == Approx(-615.4173530821625));
    CHECK(m[3] == Approx(-0.46447574299617905));
    CHECK(m[5] == Approx(711.1882290916255));
    const float raw[9] = {99.19f,   131.24f, -11.882f, 95.286f, 115.611f,
                          -25.474f, 97.221f, 120.195f, -13.265f};
    auto p = crop_to_image(raw, 3, 3, 3, r, mesh_input_size, mesh_input_size, false);
    CHECK(p[0].x == Approx(1528.2518415546149));
    CHECK(p[0].y == Approx(363.8013296614649));
    CHECK(p[0].z == Approx(-20.282017031249996));
    CHECK(p[1].x == Approx(1545.3419372907547));
    CHECK(p[1].y == Approx(342.25948909814105));
    CHECK(p[1].z == Approx(-43.482923906249994));
    CHECK(p[2].x == Approx(1541.1511627235689));
    CHECK(p[2].y == Approx(349.64680424827304));
    CHECK(p[2].z == Approx(-22.642733203125));
    // its right eye ROI, mirrored for the iris model
    rotated_rect e{1615.3530209703017f, 338.1083967099087f, 66.02996964790029f, 66.02996964790029f,
                   0.7064351069728755f};
    auto em = roi_to_crop(e, iris_input_size, iris_input_size, true);
    CHECK(em[0] == Approx(-0.7372950424673679));
    CHECK(em[1] == Approx(-0.6291699693067787));
    CHECK(em[2] == Approx(1435.719423776427));
    CHECK(em[3] == Approx(-0.6291699693067787));
    CHECK(em[4] == Approx(0.7372950424673679));
    CHECK(em[5] == Approx(799.0459659126911));
}

TEST_CASE("mesh: index tables are disjoint and inside the mesh", "[mesh]") {
    std::set<int> all;
    for (int i : lips_mesh_index) all.insert(i);
    for (int i : left_eye_mesh_index) all.insert(i);
    for (int i : right_eye_mesh_index) all.insert(i);
    CHECK(all.size() == 80 + 71 + 71);
    CHECK(*all.begin() >= 0);
    CHECK(*all.rbegin() < mesh_points);
    CHECK(left_eye_mesh_index[0] == left_eye_corner_a);
    CHECK(left_eye_mesh_index[8] == left_eye_corner_b);
    CHECK(right_eye_mesh_index[0] == right_eye_corner_b);
    CHECK(right_eye_mesh_index[8] == right_eye_corner_a);
}

TEST_CASE("mesh: iris refinement replaces eye points and appends irises", "[mesh]") {
    std::vector<point3> mesh(mesh_points);
    for (int i = 0; i < mesh_points; ++i) mesh[i] = {float(i), float(-i), float(2 * i)};
    std::vector<point3> le(eye_contour_points), re(eye_contour_points), li(iris_points),
        ri(iris_points);
    for (int i = 0; i < eye_contour_points; ++i)
        le[i] = {1000.f + i, 1, 5}, re[i] = {2000.f + i, 2, 6};
    for (int i = 0; i < iris_points; ++i) li[i] = {3000.f + i, 3, 7}, ri[i] = {4000.f + i, 4, 8};
    auto out = refine_with_iris(mesh, le, li, re, ri);
    REQUIRE(out.size() == refined_points);
    CHECK(out[33].x == 1000);  // left eye point 0
    CHECK(out[33].z == 5);     // z replaced too
    CHECK(out[193].x == 1070);
    CHECK(out[263].x == 2000);
    CHECK(out[0].x == 0);  // not an eye point
    CHECK(out[1].z == 2);
    CHECK(out[468].x == 3000);
    CHECK(out[472].x == 3004);
    CHECK(out[473].x == 4000);
    CHECK(out[477].z == 8);
    CHECK_THROWS(refine_with_iris(mesh, le, li, re, std::vector<point3>(4)));
    // keep_mesh_z: x, y from the iris model, z from the mesh; irises at the mean lid z
    auto k = refine_with_iris(mesh, le, li, re, ri, true);
    CHECK(k[33].x == 1000);
    CHECK(k[33].z == 66);
    CHECK(k[263].z == 526);
    CHECK(k[468].x == 3000);
    CHECK(k[468].z == Approx(2 * 2301.0 / 16));  // lid indices as in the attention case below
    CHECK(k[477].z == Approx(2 * 5948.0 / 16));
}

TEST_CASE("mesh: attention refinement keeps mesh z and averages iris z", "[mesh]") {
    std::vector<point3> mesh(mesh_points);
    for (int i = 0; i < mesh_points; ++i) mesh[i] = {float(i), float(-i), float(i)};
    std::vector<point3> lips(lips_points), le(eye_contour_points), re(eye_contour_points),
        li(iris_points), ri(iris_points);
    for (int i = 0; i < lips_points; ++i) lips[i] = {500.f + i, 1, 0};
    for (int i = 0; i < eye_contour_points; ++i)
        le[i] = {1000.f + i, 2, 0}, re[i] = {2000.f + i, 3, 0};
    for (int i = 0; i < iris_points; ++i) li[i] = {3000.f + i, 4, 0}, ri[i] = {4000.f + i, 5, 0};
    auto out = refine_with_attention(mesh, lips, le, re, li, ri);
    REQUIRE(out.size() == refined_points);
    CHECK(out[61].x == 500);  // lips point 0
    CHECK(out[61].y == 1);
    CHECK(out[61].z == 61);  // mesh z kept
    CHECK(out[407].x == 579);
    CHECK(out[33].x == 1000);
    CHECK(out[33].z == 33);
    CHECK(out[263].x == 2000);
    CHECK(out[417].x == 2070);
    CHECK(out[1].x == 1);  // untouched
    // z of mesh indices 33, 7, 163, 144, 145, 153, 154, 155, 133, 246, 161, 160, 159, 158, 157,
    // 173: sum 2301 / 16
    CHECK(out[468].x == 3000);
    CHECK(out[468].z == Approx(2301.0 / 16));
    CHECK(out[472].z == Approx(2301.0 / 16));
    // 263, 249, 390, 373, 374, 380, 381, 382, 362, 466, 388, 387, 386, 385, 384, 398: 5948 / 16
    CHECK(out[473].x == 4000);
    CHECK(out[477].z == Approx(5948.0 / 16));
    CHECK_THROWS(refine_with_attention(mesh, lips, le, re, li, std::vector<point3>(6)));
}
