#include <catch2/catch.hpp>
#include <stdexcept>
#include <vector>

#include "vfm/mask_ops.h"

using namespace vfm;

// Expected values in this file: facebookresearch/segment-anything segment_anything/utils/amg.py
// run on the same arguments (tests/unit/gen_mask_ops_expected.py).

namespace {

struct cb {
    int x0, y0, x1, y1, layer;
};

void check_crops(const std::vector<crop_box>& got, const std::vector<cb>& want) {
    REQUIRE(got.size() == want.size());
    for (size_t i = 0; i < got.size(); ++i) {
        INFO("crop " << i);
        CHECK(got[i].x0 == want[i].x0);
        CHECK(got[i].y0 == want[i].y0);
        CHECK(got[i].x1 == want[i].x1);
        CHECK(got[i].y1 == want[i].y1);
        CHECK(got[i].layer == want[i].layer);
    }
}

}  // namespace

TEST_CASE("build_point_grid: offset 1/(2n), x varies fastest", "[amg]") {
    auto g = build_point_grid(1);
    REQUIRE(g.size() == 1);
    CHECK(g[0] == cv::Point2f(0.5f, 0.5f));
    g = build_point_grid(2);
    CHECK(g ==
          std::vector<cv::Point2f>{{0.25f, 0.25f}, {0.75f, 0.25f}, {0.25f, 0.75f}, {0.75f, 0.75f}});
    g = build_point_grid(32);
    REQUIRE(g.size() == 1024);
    CHECK(g[0] == cv::Point2f(0.015625f, 0.015625f));
    CHECK(g[1] == cv::Point2f(0.046875f, 0.015625f));
    CHECK(g[32] == cv::Point2f(0.015625f, 0.046875f));
    CHECK(g[1023] == cv::Point2f(0.984375f, 0.984375f));
    g = build_point_grid(3);  // np.linspace(1/6, 5/6, 3)
    CHECK(g[1].x == Approx(0.5).epsilon(1e-7));
    CHECK(g[2].x == float(1 - 1 / 6.0));
    CHECK_THROWS_AS(build_point_grid(0), std::invalid_argument);
}

TEST_CASE("build_all_layer_point_grids: int(n / scale^i) points per side", "[amg]") {
    auto sizes = [](int n, int layers, int scale) {
        std::vector<size_t> s;
        for (const auto& g : build_all_layer_point_grids(n, layers, scale)) s.push_back(g.size());
        return s;
    };
    CHECK(sizes(32, 2, 2) == std::vector<size_t>{1024, 256, 64});
    CHECK(sizes(5, 2, 2) == std::vector<size_t>{25, 4, 1});
    CHECK(sizes(16, 1, 1) == std::vector<size_t>{256, 256});
    CHECK(sizes(32, 0, 2) == std::vector<size_t>{1024});
    CHECK(build_all_layer_point_grids(32, 1, 2)[1][0] == cv::Point2f(0.03125f, 0.03125f));
    CHECK_THROWS_AS(build_all_layer_point_grids(2, 2, 2), std::invalid_argument);  // 0 points
}

TEST_CASE("generate_crop_boxes as upstream", "[amg]") {
    const float r = 512 / 1500.f;  // SamAutomaticMaskGenerator's default crop_overlap_ratio
    check_crops(generate_crop_boxes(640, 480, 0, r), {{0, 0, 640, 480, 0}});
    check_crops(generate_crop_boxes(640, 480, 1, r), {{0, 0, 640, 480, 0},
                                                      {0, 0, 402, 322, 1},
                                                      {0, 159, 402, 480, 1},
                                                      {239, 0, 640, 322, 1},
                                                      {239, 159, 640, 480, 1}});
    check_crops(generate_crop_boxes(640, 480, 2, r),
                {{0, 0, 640, 480, 0},     {0, 0, 402, 322, 1},     {0, 159, 402, 480, 1},
                 {239, 0, 640, 322, 1},   {239, 159, 640, 480, 1}, {0, 0, 221, 181, 2},
                 {0, 100, 221, 281, 2},   {0, 200, 221, 381, 2},   {0, 300, 221, 480, 2},
                 {140, 0, 361, 181, 2},   {140, 100, 361, 281, 2}, {140, 200, 361, 381, 2},
                 {140, 300, 361, 480, 2}, {280, 0, 501, 181, 2},   {280, 100, 501, 281, 2},
                 {280, 200, 501, 381, 2}, {280, 300, 501, 480, 2}, {420, 0, 640, 181, 2},
                 {420, 100, 640, 281, 2}, {420, 200, 640, 381, 2}, {420, 300, 640, 480, 2}});
    check_crops(generate_crop_boxes(1920, 1080, 1, 0.25f), {{0, 0, 1920, 1080, 0},
                                                            {0, 0, 1095, 675, 1},
                                                            {0, 405, 1095, 1080, 1},
                                                            {825, 0, 1920, 675, 1},
                                                            {825, 405, 1920, 1080, 1}});
}

TEST_CASE("box_near_crop_edge as is_box_near_crop_edge", "[amg]") {
    const crop_box tl{0, 0, 402, 322, 1}, br{239, 159, 640, 480, 1};
    CHECK_FALSE(box_near_crop_edge({10, 10, 100, 100}, tl, 640, 480));
    CHECK(box_near_crop_edge({10, 10, 390, 100}, tl, 640, 480));        // right edge 12 away
    CHECK(box_near_crop_edge({10, 10, 100, 305}, tl, 640, 480));        // bottom edge 17 away
    CHECK_FALSE(box_near_crop_edge({10, 10, 381, 301}, tl, 640, 480));  // 21 away
    CHECK(box_near_crop_edge({10, 10, 382, 100}, tl, 640, 480));        // exactly atol
    CHECK(box_near_crop_edge({300, 200, 402, 322}, tl, 640, 480));
    CHECK(box_near_crop_edge({0, 0, 50, 50}, br, 640, 480));  // the crop's left/top edges
    CHECK_FALSE(box_near_crop_edge({25, 25, 50, 50}, br, 640, 480));
    CHECK_FALSE(box_near_crop_edge({21, 100, 50, 120}, br, 640, 480));
    CHECK(box_near_crop_edge({20, 100, 50, 120}, br, 640, 480));
    // On the crop's right/bottom edges, but those are the image's edges too.
    CHECK_FALSE(box_near_crop_edge({100, 100, 401, 321}, br, 640, 480));
    CHECK_FALSE(box_near_crop_edge({0, 0, 640, 480}, {0, 0, 640, 480, 0}, 640, 480));
    CHECK(box_near_crop_edge({25, 25, 50, 50}, br, 640, 480, 30.f));  // atol
}

TEST_CASE("uncrop boxes, points and masks", "[amg]") {
    const crop_box c{239, 159, 640, 480, 1};
    const box b = uncrop_box({1, 2, 3.5f, 4}, c);
    CHECK(b.x1 == 240);
    CHECK(b.y1 == 161);
    CHECK(b.x2 == 242.5f);
    CHECK(b.y2 == 163);
    CHECK(uncrop_point({0.5f, 1}, c) == cv::Point2f(239.5f, 160));

    cv::Mat m = cv::Mat::ones(2, 3, CV_8U);
    m.at<uint8_t>(1, 2) = 0;
    cv::Mat u = uncrop_mask(m, {4, 1, 7, 3, 1}, 8, 5);
    REQUIRE(u.size() == cv::Size(8, 5));
    CHECK(u.type() == CV_8U);
    CHECK(cv::countNonZero(u) == 5);
    CHECK(cv::countNonZero(u(cv::Rect(4, 1, 3, 2)) != m) == 0);
    CHECK(u.at<uint8_t>(2, 6) == 0);
    cv::Mat full = uncrop_mask(m, {0, 0, 3, 2, 0}, 3, 2);
    CHECK(cv::countNonZero(full != m) == 0);
    CHECK_THROWS_AS(uncrop_mask(m, {4, 1, 8, 3, 1}, 8, 5), std::invalid_argument);  // 4 wide
    CHECK_THROWS_AS(uncrop_mask(m, {6, 1, 9, 3, 1}, 8, 5), std::invalid_argument);  // outside
}
