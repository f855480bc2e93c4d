#include <catch2/catch.hpp>
#include <cmath>

#include "vfm/face_geometry.h"

using namespace vfm;

TEST_CASE("retinaface priors: order, count and values", "[face]") {
    // 64x32 input, steps 8/16/32 -> maps 8x4, 4x2, 2x1; two sizes per level
    auto p = retinaface_priors(64, 32, {{10, 20}, {32, 64}, {128, 256}}, {8, 16, 32});
    REQUIRE(p.size() == (32 + 8 + 2) * 2);
    CHECK(p[0].cx == Approx(4.0 / 64));  // (0 + 0.5) * 8 / 64
    CHECK(p[0].cy == Approx(4.0 / 32));
    CHECK(p[0].w == Approx(10.0 / 64));
    CHECK(p[1].w == Approx(20.0 / 64));   // second min size, same cell
    CHECK(p[2].cx == Approx(12.0 / 64));  // next column
    CHECK(p[64].cx == Approx(8.0 / 64));  // first stride-16 prior: (0.5) * 16 / 64
    CHECK(p[64].h == Approx(32.0 / 32));
    // odd sizes round the feature maps up, as prior_box.py's ceil
    CHECK(retinaface_priors(65, 33, {{16}}, {8}).size() == 9 * 5);
    auto c = retinaface_priors(64, 32, {{128}}, {32}, true);
    CHECK(c[0].w == 1.0f);
}

TEST_CASE("prior decode with variances", "[face]") {
    prior p{0.5f, 0.25f, 0.1f, 0.2f};
    const float loc[4] = {1.0f, -0.5f, 0.0f, std::log(2.f) / 0.2f};
    box b = decode_prior_box(loc, p, 0.1f, 0.2f, 200, 100);
    // cx = 0.5 + 0.1*0.1 = 0.51, cy = 0.25 - 0.05*0.2 = 0.24, w = 0.1, h = 0.4
    CHECK(b.x1 == Approx((0.51 - 0.05) * 200));
    CHECK(b.x2 == Approx((0.51 + 0.05) * 200));
    CHECK(b.y1 == Approx((0.24 - 0.2) * 100));
    CHECK(b.y2 == Approx((0.24 + 0.2) * 100));
    const float lm[4] = {2.0f, 0.0f, 0.0f, -1.0f};
    auto pts = decode_prior_points(lm, 2, p, 0.1f, 200, 100);
    CHECK(pts[0].x == Approx((0.5 + 0.02) * 200));
    CHECK(pts[1].y == Approx((0.25 - 0.02) * 100));
}

TEST_CASE("weighted NMS blends each cluster by score", "[face]") {
    std::vector<scored_face> f = {
        {{0, 0, 10, 10}, 0.6f, {{2, 2}}},
        {{2, 0, 12, 10}, 0.2f, {{4, 2}}},  // IoU 8/12 with the first: same cluster
        {{50, 50, 60, 60}, 0.5f, {{55, 55}}},
    };
    auto k = weighted_nms(f, 0.3f);
    REQUIRE(k.size() == 2);
    CHECK(k[0].score == 0.6f);
    CHECK(k[0].b.x1 == Approx(0.5));  // (0.6*0 + 0.2*2) / 0.8
    CHECK(k[0].b.x2 == Approx(10.5));
    CHECK(k[0].points[0].x == Approx(2.5));
    CHECK(k[1].b.x1 == 50);
}

TEST_CASE("umeyama recovers a known similarity exactly", "[face]") {
    // rotate by 30 degrees, scale 2, translate (5, -3)
    const double th = M_PI / 6, s = 2;
    std::vector<point2> src = {{0, 0}, {10, 0}, {0, 10}, {7, 3}, {-4, 6}}, dst;
    for (auto& p : src)
        dst.push_back({static_cast<float>(s * (std::cos(th) * p.x - std::sin(th) * p.y) + 5),
                       static_cast<float>(s * (std::sin(th) * p.x + std::cos(th) * p.y) - 3)});
    auto m = umeyama(src, dst);
    CHECK(m[0] == Approx(s * std::cos(th)).epsilon(1e-6));
    CHECK(m[1] == Approx(-s * std::sin(th)).epsilon(1e-6));
    CHECK(m[2] == Approx(5).epsilon(1e-6));
    CHECK(m[3] == Approx(s * std::sin(th)).epsilon(1e-6));
    CHECK(m[5] == Approx(-3).epsilon(1e-6));
    // the template onto itself is the identity
    auto t = arcface_template_112();
    auto id = umeyama(t, t);
    CHECK(id[0] == Approx(1));
    CHECK(id[1] == Approx(0).margin(1e-9));
    CHECK(id[2] == Approx(0).margin(1e-4));
    // a pure translation: hand-computed
    auto tr = umeyama({{0, 0}, {2, 0}}, {{1, 1}, {3, 1}});
    CHECK(tr[0] == Approx(1));
    CHECK(tr[2] == Approx(1));
    CHECK(tr[5] == Approx(1));
}
