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

#include "vfm/face_embed.h"
#include "vfm/face_family.h"
#include "vfm/npy.h"

TEST_CASE("blazeface anchors: 896 for the front model, centres per cell", "[face]") {
    auto a = blazeface_anchors(128, 128, {8, 16}, {2, 6});
    REQUIRE(a.size() == 896);
    CHECK(a[0].cx == Approx(0.5 / 16));  // cell (0,0) of the 16x16 grid, twice
    CHECK(a[1].cx == Approx(0.5 / 16));
    CHECK(a[2].cx == Approx(1.5 / 16));   // next cell
    CHECK(a[32].cy == Approx(1.5 / 16));  // second row: 16 cells x 2 anchors later
    CHECK(a[512].cx == Approx(0.5 / 8));  // first stride-16 anchor
    CHECK(a[517].cx == Approx(0.5 / 8));  // six per cell
    CHECK(a[518].cx == Approx(1.5 / 8));
    // the back model (256, strides 16/32) has the same normalised centres
    auto b = blazeface_anchors(256, 256, {16, 32}, {2, 6});
    REQUIRE(b.size() == 896);
    CHECK(b[700].cx == Approx(a[700].cx));
    CHECK(b[700].cy == Approx(a[700].cy));
}

TEST_CASE("blazeface row decode: offsets in input pixels around the anchor", "[face]") {
    float reg[16] = {4, -8, 32, 16, -10, 0, 10, 0, 0, 5, 0, 12, -20, 0, 20, 0};
    anchor a{0.25f, 0.5f};
    scored_face f = decode_blazeface_row(reg, 0.f, a, 128, 128, 6);
    // centre (32 + 4, 64 - 8) = (36, 56), size 32 x 16
    CHECK(f.b.x1 == Approx(20));
    CHECK(f.b.x2 == Approx(52));
    CHECK(f.b.y1 == Approx(48));
    CHECK(f.b.y2 == Approx(64));
    CHECK(f.score == Approx(0.5));
    REQUIRE(f.points.size() == 6);
    CHECK(f.points[0].x == Approx(22));
    CHECK(f.points[0].y == Approx(64));
    CHECK(f.points[3].y == Approx(76));
    CHECK(decode_blazeface_row(reg, 1000.f, a, 128, 128, 6).score ==
          Approx(1 / (1 + std::exp(-100.0))));
    CHECK(decode_blazeface_row(reg, std::log(3.f), a, 128, 128, 6).score == Approx(0.75));
}

TEST_CASE("blazeface five points: mouth corners along the eye line", "[face]") {
    std::vector<point2> kp = {{10, 10}, {30, 10}, {20, 20}, {20, 30}, {0, 15}, {40, 15}};
    auto p = blazeface_five_points(kp);
    REQUIRE(p.size() == 5);
    const double half = 20 * (70.7299 - 41.5493) / (73.5318 - 38.2946) / 2;
    CHECK(p[3].x == Approx(20 - half));
    CHECK(p[4].x == Approx(20 + half));
    CHECK(p[3].y == Approx(30));
    CHECK(p[2].x == 20);
}

TEST_CASE("embedding template scaled to the crop", "[face]") {
    auto t = arcface_template_112();
    auto same = scale_template(t, 112, 112);
    CHECK(same[0].x == Approx(38.2946));
    auto mfn = scale_template(t, 96, 112);  // insightface's 112x96: x - 8
    CHECK(mfn[0].x == Approx(30.2946));
    CHECK(mfn[4].y == Approx(92.2041));
    auto big = scale_template(t, 150, 150);
    CHECK(big[2].x == Approx((56.0252 - 56) * 150 / 112 + 75));
    CHECK(big[2].y == Approx(71.7366 * 150 / 112));
}

TEST_CASE("gallery matching: best embedding per identity, sorted, top-k", "[face]") {
    face_gallery g;
    g.identities = {"ann", "bob"};
    g.dim = 2;
    // ann: (1,0) and (0,1); bob: (0.6,0.8)
    g.owner = {0, 0, 1};
    g.emb = {1, 0, 0, 1, 0.6f, 0.8f};
    float e[2] = {0.8f, 0.6f};
    auto m = match_gallery(e, g, 0);
    REQUIRE(m.size() == 2);
    CHECK(m[0].identity == 1);
    CHECK(m[0].similarity == Approx(0.96));
    CHECK(m[1].identity == 0);
    CHECK(m[1].similarity == Approx(0.8));
    CHECK(match_gallery(e, g, 1).size() == 1);
    float v[3] = {3, 0, 4};
    l2_normalize(v, 3);
    CHECK(v[0] == Approx(0.6));
    CHECK(v[2] == Approx(0.8));
}

TEST_CASE("average-linkage clustering on cosine similarity", "[face]") {
    // two tight pairs far apart, and one outlier
    auto unit = [](float deg) {
        float r = deg * 3.14159265f / 180;
        return std::vector<float>{std::cos(r), std::sin(r)};
    };
    std::vector<float> e;
    for (float deg : {0.f, 100.f, 5.f, 103.f, 200.f}) {
        auto u = unit(deg);
        e.insert(e.end(), u.begin(), u.end());
    }
    auto c = cluster_faces(e, 5, 2, 0.9f);
    CHECK(c == std::vector<int>{0, 1, 0, 1, 2});
    CHECK(cluster_faces(e, 5, 2, 0.9f, 2) == std::vector<int>{0, 1, 0, 1, -1});
    // a low threshold merges everything: average similarity across clusters still counts
    auto all = cluster_faces(e, 5, 2, -1.f);
    CHECK(all == std::vector<int>{0, 0, 0, 0, 0});
    CHECK(cluster_faces({}, 0, 2, 0.5f).empty());
    CHECK(cluster_faces({1, 0}, 1, 2, 0.5f) == std::vector<int>{0});
}

TEST_CASE("npy bytes: header, padding and round trip", "[face]") {
    std::vector<float> d = {1, 2, 3, 4, 5, 6};
    std::string b = npy_bytes({2, 3}, d.data());
    CHECK(b.substr(0, 6) == "\x93NUMPY");
    CHECK((b.size() - 24) % 64 == 0);  // header padded to 64 bytes, then 24 data bytes
    CHECK(b.find("'shape': (2, 3), }") != std::string::npos);
    auto a = parse_npy(b);
    CHECK(a.shape == std::vector<int64_t>{2, 3});
    CHECK(a.data == d);
    CHECK(npy_bytes({3}, d.data()).find("'shape': (3,), }") != std::string::npos);
    auto z = parse_npy(npy_bytes({0, 128}, nullptr));
    CHECK(z.shape == std::vector<int64_t>{0, 128});
    CHECK_THROWS(parse_npy(b.substr(0, b.size() - 4)));
    CHECK_THROWS(parse_npy("hello"));
}
