#include <catch2/catch.hpp>
#include <cmath>

#include "vfm/detect_family.h"
#include "vfm/error.h"

using namespace vfm;

TEST_CASE("yolov8 decoder: best class, conf, cxcywh -> xyxy", "[detect][yolov8]") {
    // nc = 2, N = 3 anchors, B = 2; layout [B, 4+nc, N]
    tensor t;
    t.shape = {2, 6, 3};
    t.data.assign(2 * 6 * 3, 0.f);
    auto at = [&](int b, int r, int n) -> float& { return t.data[(b * 6 + r) * 3 + n]; };
    // batch 1, anchor 2: box (100, 50, 40, 20), class 1 score 0.6 (class 0: 0.3)
    at(1, 0, 2) = 100, at(1, 1, 2) = 50, at(1, 2, 2) = 40, at(1, 3, 2) = 20;
    at(1, 4, 2) = 0.3f, at(1, 5, 2) = 0.6f;
    // batch 1, anchor 0: below conf
    at(1, 4, 0) = 0.2f;
    decode_params p;
    p.num_classes = 2;
    p.conf = 0.25f;
    REQUIRE_NOTHROW(yolov8_family.check({t}, p));
    auto d = yolov8_family.decode({t}, 1, p);
    REQUIRE(d.size() == 1);
    CHECK(d[0].class_id == 1);
    CHECK(d[0].score == 0.6f);
    CHECK(d[0].b.x1 == 80);
    CHECK(d[0].b.y1 == 40);
    CHECK(d[0].b.x2 == 120);
    CHECK(d[0].b.y2 == 60);
    CHECK(yolov8_family.decode({t}, 0, p).empty());
}

TEST_CASE("contract errors name the layout and the shape", "[detect]") {
    tensor t;
    t.shape = {1, 25200, 85};
    decode_params p;
    p.num_classes = 80;
    p.in_w = p.in_h = 640;
    try {
        yolov8_family.check({t}, p);
        FAIL("no error");
    } catch (const fatal_error& e) {
        CHECK(std::string(e.what()) ==
              "yolov8 export: expected output [B, 4+nc, N] with nc=80, got [1, 25200, 85]");
    }
    REQUIRE_NOTHROW(yolov5_family.check({t}, p));
    CHECK_THROWS_WITH(yolox_family.check({t}, p),
                      "yolox export: expected output [B, 8400, 85] for input 640x640 (strides "
                      "8/16/32, nc=80), got [1, 25200, 85]");
}

TEST_CASE("yolov5 decoder: score = obj * cls, obj gate", "[detect][yolov5]") {
    tensor t;
    t.shape = {1, 2, 7};                        // nc = 2
    t.data = {10, 20, 4, 8, 0.5f, 0.2f, 0.9f,   // obj 0.5 * cls1 0.9 = 0.45
              0,  0,  1, 1, 0.2f, 1.0f, 0.0f};  // obj below conf
    decode_params p;
    p.num_classes = 2;
    p.conf = 0.25f;
    auto d = yolov5_family.decode({t}, 0, p);
    REQUIRE(d.size() == 1);
    CHECK(d[0].class_id == 1);
    CHECK(d[0].score == Approx(0.45f));
    CHECK(d[0].b.x1 == 8);
    CHECK(d[0].b.y1 == 16);
    CHECK(d[0].b.x2 == 12);
    CHECK(d[0].b.y2 == 24);
}

TEST_CASE("yolox decoder: grid and stride decode", "[detect][yolox]") {
    // 64x64 input: 8x8 + 4x4 + 2x2 = 84 cells; nc = 1
    decode_params p;
    p.in_w = p.in_h = 64;
    p.num_classes = 1;
    p.conf = 0.25f;
    tensor t;
    t.shape = {1, 84, 6};
    t.data.assign(84 * 6, 0.f);
    // stride 16 level starts at cell 64; cell (gx=2, gy=1) -> 64 + 1*4 + 2 = 70
    float* r = &t.data[70 * 6];
    r[0] = 0.5f, r[1] = 0.25f, r[2] = std::log(2.f), r[3] = 0.f, r[4] = 0.8f, r[5] = 0.5f;
    REQUIRE_NOTHROW(yolox_family.check({t}, p));
    auto d = yolox_family.decode({t}, 0, p);
    REQUIRE(d.size() == 1);
    // cx = (0.5 + 2) * 16 = 40, cy = (0.25 + 1) * 16 = 20, w = 2 * 16 = 32, h = 16
    CHECK(d[0].b.x1 == Approx(24));
    CHECK(d[0].b.x2 == Approx(56));
    CHECK(d[0].b.y1 == Approx(12));
    CHECK(d[0].b.y2 == Approx(28));
    CHECK(d[0].score == Approx(0.4f));
}

TEST_CASE("family registry", "[detect]") {
    CHECK(find_detect_family("yolov8") == &yolov8_family);
    CHECK(find_detect_family("yolo11") == &yolov8_family);
    CHECK(find_detect_family("ssd") == nullptr);
    CHECK(detect_family_names() ==
          std::vector<std::string>{"yolov8", "yolov5", "yolox", "centernet", "nanodet"});
}

TEST_CASE("centernet decoder: decoded rows, conf and class range", "[detect][centernet]") {
    tensor t;
    t.shape = {1, 3, 6};
    t.data = {10, 20, 110, 220, 0.8f, 2,   // kept
              0,  0,  5,   5,   0.1f, 0,   // below conf
              1,  1,  9,   9,   0.9f, 7};  // class id out of range (nc = 3)
    decode_params p;
    p.num_classes = 3;
    p.conf = 0.25f;
    REQUIRE_NOTHROW(centernet_family.check({t}, p));
    auto d = centernet_family.decode({t}, 0, p);
    REQUIRE(d.size() == 1);
    CHECK(d[0].class_id == 2);
    CHECK(d[0].b.x2 == 110);
    CHECK(d[0].b.y2 == 220);
    tensor bad;
    bad.shape = {1, 100, 5};
    CHECK_THROWS_WITH(centernet_family.check({bad}, p),
                      "centernet export: expected output [B, K, 6] (x1, y1, x2, y2, score, class), "
                      "got [1, 100, 5]");
}

TEST_CASE("nanodet decoder: GFL distributions, centres, outputs matched by shape",
          "[detect][nanodet]") {
    // 32x32 input, strides 16 and 32: 4 + 1 cells; nc = 2, reg_max = 1 (2 bins per side)
    decode_params p;
    p.in_w = p.in_h = 32;
    p.num_classes = 2;
    p.conf = 0.25f;
    p.strides = {16, 32};
    p.reg_max = 1;
    tensor cls16{{1, 4, 2}, std::vector<float>(8, 0.f)},
        reg16{{1, 4, 8}, std::vector<float>(32, 0.f)};
    tensor cls32{{1, 1, 2}, {0.f, 0.f}}, reg32{{1, 1, 8}, std::vector<float>(8, 0.f)};
    // stride 16, cell (x=1, y=0): centre (24, 8); class 1 score 0.6
    cls16.data[1 * 2 + 1] = 0.6f;
    float* r = &reg16.data[1 * 8];
    // left: bins (0, big) -> expectation 1 -> 16 px; top: equal bins -> 0.5 -> 8 px
    r[0] = -50, r[1] = 50, r[2] = 0, r[3] = 0, r[4] = 50, r[5] = -50, r[6] = -50, r[7] = 50;
    std::vector<tensor> outs = {reg32, cls16, cls32, reg16};  // any order
    REQUIRE_NOTHROW(nanodet_family.check(outs, p));
    auto d = nanodet_family.decode(outs, 0, p);
    REQUIRE(d.size() == 1);
    CHECK(d[0].class_id == 1);
    CHECK(d[0].b.x1 == Approx(8));   // 24 - 16
    CHECK(d[0].b.y1 == Approx(0));   // 8 - 8
    CHECK(d[0].b.x2 == Approx(24));  // right: expectation 0
    CHECK(d[0].b.y2 == Approx(24));  // bottom: expectation 1 -> 16
    CHECK_THROWS_WITH(
        nanodet_family.check({cls16, reg16}, p),
        "nanodet export: expected for stride 32 a [B, 1, 2] score output and a [B, 1, 8] "
        "box-distribution output, got [1, 4, 2], [1, 4, 8]");
}
