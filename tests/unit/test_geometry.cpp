#include <catch2/catch.hpp>

#include "vfm/geometry.h"
#include "vfm/nms.h"

using namespace vfm;

TEST_CASE("letterbox size rounding: top-left truncates by default, nearest as detectron2",
          "[geometry]") {
    // 640x480 into 704x512: scale 512/480, width 682.67. YOLOX truncates to 682; detectron2's
    // ResizeShortestEdge (transforms/augmentation_impl.py) rounds int(x + 0.5) to 683.
    auto t = compute_letterbox(640, 480, 704, 512, false);
    CHECK(t.new_w == 682);
    CHECK(t.pad_right == 22);
    auto n = compute_letterbox(640, 480, 704, 512, false, true, size_rounding::nearest);
    CHECK(n.new_w == 683);
    CHECK(n.new_h == 512);
    CHECK(n.pad_left == 0);
    CHECK(n.pad_right == 21);
    auto c = compute_letterbox(640, 480, 704, 512, true, true, size_rounding::truncate);
    CHECK(c.new_w == 682);
    CHECK(c.pad_left == 11);
}

TEST_CASE("letterbox matches Ultralytics LetterBox (centred)", "[geometry]") {
    auto p = compute_letterbox(1280, 720, 640, 640, true);
    CHECK(p.sx == 0.5f);
    CHECK(p.new_w == 640);
    CHECK(p.new_h == 360);
    CHECK(p.pad_top == 140);
    CHECK(p.pad_bottom == 140);
    CHECK(p.pad_left == 0);
    CHECK(p.pad_right == 0);

    // odd padding: 213 rows split 106 above, 107 below (round(dh/2 -+ 0.1))
    auto q = compute_letterbox(640, 427, 640, 640, true);
    CHECK(q.new_h == 427);
    CHECK(q.pad_top == 106);
    CHECK(q.pad_bottom == 107);

    // upscaling a small image
    auto u = compute_letterbox(500, 333, 640, 640, true);
    CHECK(u.sx == Approx(1.28f));
    CHECK(u.new_w == 640);
    CHECK(u.new_h == 426);
    CHECK(u.pad_top == 107);
    CHECK(u.pad_bottom == 107);
}

TEST_CASE("letterbox matches YOLOX preproc (top-left)", "[geometry]") {
    auto p = compute_letterbox(1280, 720, 416, 416, false);
    CHECK(p.sx == Approx(0.325f));
    CHECK(p.new_w == 416);
    CHECK(p.new_h == 234);
    CHECK(p.pad_left == 0);
    CHECK(p.pad_top == 0);
    CHECK(p.pad_right == 0);
    CHECK(p.pad_bottom == 182);
}

TEST_CASE("letterbox round trip is exact", "[geometry]") {
    input_transform t;
    t.lb = compute_letterbox(1280, 720, 640, 640, true);
    box in{200, 240, 400, 400};
    box o = to_original(in, t);
    CHECK(o.x1 == 400);
    CHECK(o.y1 == 200);
    CHECK(o.x2 == 800);
    CHECK(o.y2 == 520);
    box back = to_input(o, t);
    CHECK(back.x1 == in.x1);
    CHECK(back.y2 == in.y2);

    // tile offset and reduced decode (original = 2 x decoded)
    t.offset_x = 100, t.offset_y = 50, t.decode_sx = 2, t.decode_sy = 2;
    box o2 = to_original(in, t);
    CHECK(o2.x1 == (400 + 100) * 2);
    CHECK(o2.y1 == (200 + 50) * 2);
    box b2 = to_input(o2, t);
    CHECK(b2.x1 == Approx(in.x1));
    CHECK(b2.y1 == Approx(in.y1));
}

TEST_CASE("iou and clip", "[geometry]") {
    CHECK(iou({0, 0, 10, 10}, {5, 0, 15, 10}) == Approx(1.0 / 3.0));
    CHECK(iou({0, 0, 10, 10}, {20, 20, 30, 30}) == 0);
    CHECK(iou({0, 0, 10, 10}, {0, 0, 10, 10}) == 1);
    box c = clip({-5, -1, 700, 300}, 640, 480);
    CHECK(c.x1 == 0);
    CHECK(c.y1 == 0);
    CHECK(c.x2 == 640);
    CHECK(c.y2 == 300);
}

TEST_CASE("tiles cover the image with the requested overlap", "[geometry]") {
    auto t = make_tiles(2000, 1000, 640, 0.2f);
    REQUIRE(t.size() == 8);
    std::vector<int> xs, ys;
    for (auto& r : t) {
        if (r.y == 0) xs.push_back(r.x);
        if (r.x == 0) ys.push_back(r.y);
        CHECK(r.w == 640);
        CHECK(r.h == 640);
        CHECK(r.x + r.w <= 2000);
        CHECK(r.y + r.h <= 1000);
    }
    CHECK(xs == std::vector<int>{0, 512, 1024, 1360});
    CHECK(ys == std::vector<int>{0, 360});
    // an image smaller than a tile is one tile of its own size
    auto s = make_tiles(300, 200, 640, 0.2f);
    REQUIRE(s.size() == 1);
    CHECK(s[0].w == 300);
    CHECK(s[0].h == 200);
}

TEST_CASE("nms: class-aware, agnostic, max_det", "[nms]") {
    std::vector<detection> d = {
        {{0, 0, 100, 100}, 0.8f, 0},
        {{2, 0, 102, 100}, 0.9f, 0},  // best of class 0
        {{0, 0, 100, 100}, 0.7f, 1},  // other class, same place
        {{200, 200, 300, 300}, 0.6f, 0},
        {{50, 0, 150, 100}, 0.5f, 0},  // IoU 1/3 with the best: kept at 0.45
    };
    auto k = nms(d, {0.45f, false, 300});
    REQUIRE(k.size() == 4);
    CHECK(k[0].score == 0.9f);
    CHECK(k[1].score == 0.7f);
    CHECK(k[1].class_id == 1);
    CHECK(k[2].score == 0.6f);
    CHECK(k[3].score == 0.5f);

    auto a = nms(d, {0.45f, true, 300});
    REQUIRE(a.size() == 3);
    CHECK(a[0].score == 0.9f);
    CHECK(a[1].score == 0.6f);
    CHECK(a[2].score == 0.5f);

    auto m = nms(d, {0.45f, false, 2});
    REQUIRE(m.size() == 2);
    CHECK(m[1].score == 0.7f);

    auto strict = nms(d, {0.3f, true, 300});
    CHECK(strict.size() == 2);
}
