#include <catch2/catch.hpp>
#include <opencv2/imgproc.hpp>

#include "vfm/error.h"
#include "vfm/output_maps.h"
#include "vfm/segment.h"

using namespace vfm;

TEST_CASE("prompts file: boxes first, then the points as one prompt", "[segment]") {
    auto j = nlohmann::json::parse(
        R"({"a/b.jpg": {"points": [[10, 20], [30, 40, 0]], "boxes": [[5, 6, 1, 2], [0, 0, 9, 9]]}})");
    auto m = parse_prompts_file(j, "p.json");
    REQUIRE(m.count("a/b.jpg") == 1);
    const auto& ps = m["a/b.jpg"];
    REQUIRE(ps.size() == 3);
    CHECK(ps[0].has_box);
    CHECK(ps[0].b.x1 == 1);  // corners ordered
    CHECK(ps[0].b.y1 == 2);
    CHECK(ps[0].b.x2 == 5);
    CHECK(ps[0].b.y2 == 6);
    CHECK(ps[2].points.size() == 2);
    CHECK(ps[2].points[0].label == 1);  // [x, y] is a foreground point
    CHECK(ps[2].points[1].label == 0);
    CHECK_THROWS_AS(parse_prompts_file(nlohmann::json::parse(R"({"x": {"point": []}})"), "p"),
                    fatal_error);
    CHECK_THROWS_AS(
        parse_prompts_file(nlohmann::json::parse(R"({"x": {"points": [[1, 2, 3]]}})"), "p"),
        fatal_error);
    CHECK_THROWS_AS(parse_prompts_file(nlohmann::json::parse(R"([1])"), "p"), fatal_error);
}

TEST_CASE("command-line prompts", "[segment]") {
    auto ps = parse_cli_prompts({"1,2", "3.5,4,0"}, {"0,0,10,20"});
    REQUIRE(ps.size() == 2);
    CHECK(ps[0].has_box);
    CHECK(ps[0].b.y2 == 20);
    REQUIRE(ps[1].points.size() == 2);
    CHECK(ps[1].points[1].x == 3.5f);
    CHECK(ps[1].points[1].label == 0);
    CHECK_THROWS_AS(parse_cli_prompts({"1,2,5"}, {}), fatal_error);
    CHECK_THROWS_AS(parse_cli_prompts({"1,x"}, {}), fatal_error);
    CHECK_THROWS_AS(parse_cli_prompts({}, {"1,2,3"}), fatal_error);
    CHECK(parse_cli_prompts({}, {}).empty());
}

TEST_CASE("prompts from detect's JSON: class and score filters", "[segment]") {
    auto rec = nlohmann::ordered_json::parse(R"({"detections": [
        {"box": [1, 2, 3, 4], "score": 0.9, "class_id": 0, "label": "person"},
        {"box": [5, 6, 7, 8], "score": 0.3, "class_id": 0, "label": "person"},
        {"box": [9, 9, 19, 19], "score": 0.8, "class_id": 2, "label": "car"}]})");
    CHECK(prompts_from_detections(rec, {}, 0).size() == 3);
    auto p = prompts_from_detections(rec, {"person"}, 0.5f);
    REQUIRE(p.size() == 1);
    CHECK(p[0].b.x1 == 1);
    CHECK(p[0].label == "person");
    CHECK(p[0].score == Approx(0.9f));
    auto c = prompts_from_detections(rec, {"2"}, 0);  // a class id as text
    REQUIRE(c.size() == 1);
    CHECK(c[0].class_id == 2);
    CHECK(prompts_from_detections(nlohmann::ordered_json::object(), {}, 0).empty());
}

TEST_CASE("clip prompts to the image", "[segment]") {
    std::vector<sam_prompt> ps(2);
    ps[0].points = {{-5, 10, 1}, {50, 120, 1}};
    ps[1].has_box = true;
    ps[1].b = {10, 10, 20, 20};
    CHECK(clip_prompts(ps, 100, 100) == 1);
    CHECK(ps[0].points[0].x == 0);
    CHECK(ps[0].points[1].y == 99);
    CHECK(ps[1].b.x2 == 20);
}

TEST_CASE("decoder inputs: resized frame, box corners 2/3, padding point -1", "[segment]") {
    // 640x480 -> 1024x768: scale 1.6 (segment_anything/utils/transforms.py apply_coords)
    std::vector<sam_prompt> ps(3);
    ps[0].points = {{100, 50, 1}};                     // point only: + padding point
    ps[1].has_box = true, ps[1].b = {10, 20, 30, 40};  // box only: no padding
    ps[2].points = {{1, 2, 0}, {3, 4, 1}};
    ps[2].has_box = true, ps[2].b = {0, 0, 640, 480};
    decoder_prompts d = encode_prompts(ps, 640, 480, 1024);
    REQUIRE(d.coords.shape == std::vector<int64_t>{3, 4, 2});
    REQUIRE(d.labels.shape == std::vector<int64_t>{3, 4});
    const auto& c = d.coords.data;
    const auto& l = d.labels.data;
    CHECK(c[0] == Approx(160));
    CHECK(c[1] == Approx(80));
    CHECK(l[0] == 1);
    CHECK(l[1] == -1);  // padding, coordinates (0, 0)
    CHECK(c[2] == 0);
    CHECK(l[2] == -1);
    CHECK(l[3] == -1);
    // box: corners (16, 32), (48, 64) with labels 2, 3, then padding to N = 4
    CHECK(c[8] == Approx(16));
    CHECK(c[9] == Approx(32));
    CHECK(c[10] == Approx(48));
    CHECK(c[11] == Approx(64));
    CHECK(l[4] == 2);
    CHECK(l[5] == 3);
    CHECK(l[6] == -1);
    CHECK(l[8] == 0);
    CHECK(l[9] == 1);
    CHECK(l[10] == 2);
    CHECK(l[11] == 3);
    CHECK(c[22] == Approx(1024));
    CHECK(c[23] == Approx(768));
}

TEST_CASE("mask choice: multimask picks the best of tokens 1..3", "[segment]") {
    decoder_result r;
    r.batch = 2, r.masks_per_prompt = 4, r.low_h = r.low_w = 1;
    r.iou = {0.99f, 0.5f, 0.7f, 0.6f, 0.1f, 0.2f, 0.2f, 0.9f};
    r.low_res.assign(8, 0.f);
    CHECK(choose_mask(r, 0, false) == 0);
    CHECK(choose_mask(r, 0, true) == 2);
    CHECK(choose_mask(r, 1, true) == 3);
    sam_prompt one, two, boxed;
    one.points = {{1, 1, 1}};
    two.points = {{1, 1, 1}, {2, 2, 0}};
    boxed.points = {{1, 1, 1}};
    boxed.has_box = true;
    CHECK(wants_multimask(one, "auto"));
    CHECK_FALSE(wants_multimask(two, "auto"));
    CHECK_FALSE(wants_multimask(boxed, "auto"));
    CHECK(wants_multimask(two, "always"));
    CHECK_FALSE(wants_multimask(one, "never"));
}

namespace {
// A decoder stand-in: each point yields 4 tokens whose low-res logits are a disc around the
// point (in the 256 frame of a 1024 long side), token k of radius 10 * (k + 1); IoU 0.9 for all.
decoder_result disc_decoder(const std::vector<cv::Point2f>& pts, int cw, int ch) {
    decoder_result r;
    r.batch = static_cast<int>(pts.size()), r.masks_per_prompt = 4, r.low_h = r.low_w = 256;
    r.iou.assign(pts.size() * 4, 0.9f);
    r.low_res.assign(pts.size() * 4 * 256 * 256, -10.f);
    const float s = 256.f / std::max(cw, ch);
    for (size_t b = 0; b < pts.size(); ++b)
        for (int k = 0; k < 4; ++k) {
            cv::Mat m(256, 256, CV_32F, r.low_res.data() + (b * 4 + k) * 256 * 256);
            cv::circle(m, cv::Point(static_cast<int>(pts[b].x * s), static_cast<int>(pts[b].y * s)),
                       10 * (k + 1), cv::Scalar(10), -1);
        }
    return r;
}
}  // namespace

TEST_CASE("everything on one crop: filters, edge rule and NMS", "[segment]") {
    amg_params p;
    p.points_per_batch = 3;
    crop_box full{0, 0, 400, 400, 0};
    auto dec = [](const std::vector<cv::Point2f>& pts) { return disc_decoder(pts, 400, 400); };
    // one grid point in the middle: tokens 1..3 are nested discs; the stability filter keeps
    // them (hard edges), box NMS at 0.7 keeps the discs whose boxes overlap < 0.7
    auto found = everything_crop(dec, {{0.5f, 0.5f}}, full, 400, 400, 1024, p);
    REQUIRE(found.size() == 3);  // radii 20, 30, 40 (x 400/256): IoU 0.44, 0.56 between
    CHECK(found[0].point.x == Approx(200));
    CHECK(found[0].predicted_iou == Approx(0.9f));
    CHECK(found[0].stability_score > 0.95f);  // a +-10 step, blurred by the bilinear upscale
    // the IoU threshold drops everything at 0.95
    p.pred_iou_thresh = 0.95f;
    CHECK(everything_crop(dec, {{0.5f, 0.5f}}, full, 400, 400, 1024, p).empty());
    p.pred_iou_thresh = 0.88f;
    // a crop whose right edge is inside the image: masks touching it are dropped
    crop_box left{0, 0, 200, 400, 1};
    auto dec2 = [](const std::vector<cv::Point2f>& pts) { return disc_decoder(pts, 200, 400); };
    auto edge = everything_crop(dec2, {{0.99f, 0.5f}, {0.3f, 0.5f}}, left, 400, 400, 1024, p);
    for (const auto& m : edge) CHECK(m.bbox.x2 < 200 - 20);
    CHECK(!edge.empty());
    // merge: duplicates across crops keep the smaller crop's mask
    mask_record a, b;
    cv::Mat m(100, 100, CV_8U, cv::Scalar(0));
    m(cv::Rect(10, 10, 50, 50)) = 1;
    a.m = b.m = rle_encode(m);
    a.bbox = b.bbox = mask_bbox(m);
    a.crop = {0, 0, 100, 100, 0};
    b.crop = {0, 0, 60, 60, 1};
    auto merged = merge_crops({a, b}, 2, amg_params{});
    REQUIRE(merged.size() == 1);
    CHECK(merged[0].crop.layer == 1);
}

TEST_CASE("merge: small regions removed, changed masks recomputed", "[segment]") {
    cv::Mat m(50, 50, CV_8U, cv::Scalar(0));
    m(cv::Rect(5, 5, 30, 30)) = 1;
    m.at<uint8_t>(20, 20) = 0;  // a one-pixel hole
    m.at<uint8_t>(45, 45) = 1;  // a one-pixel island
    mask_record r;
    r.m = rle_encode(m);
    r.bbox = mask_bbox(m);
    amg_params p;
    p.min_mask_region_area = 10;
    auto out = merge_crops({r}, 1, p);
    REQUIRE(out.size() == 1);
    CHECK(rle_area(out[0].m) == 900);
    CHECK(out[0].bbox.x2 == 34);
    CHECK(out[0].bbox.y2 == 34);
}

TEST_CASE("semantic label map: letterbox undone, NHWC, gate", "[segment]") {
    // A 2-class 4x4 logit map for an 8x8 input; the image (8x4) fills the top half (letterbox
    // top-left, no centring): class 1 on the left half of the image, 0 on the right.
    tensor o;
    o.shape = {1, 2, 4, 4};
    o.data.assign(32, 0.f);
    for (int y = 0; y < 4; ++y)
        for (int x = 0; x < 4; ++x) {
            bool left = x < 2;
            o.data[y * 4 + x] = left ? 0.f : 5.f;       // class 0
            o.data[16 + y * 4 + x] = left ? 5.f : 0.f;  // class 1
        }
    input_transform t;
    t.lb = compute_letterbox(8, 4, 8, 8, false);
    t.decode_sx = t.decode_sy = 2;  // a 16x8 original decoded at 8x4
    semantic_params p;
    int classes = 0;
    cv::Mat lab = semantic_label_map({o}, 0, t, 8, 8, 16, 8, p, &classes);
    CHECK(classes == 2);
    REQUIRE(lab.size() == cv::Size(16, 8));
    CHECK(lab.at<uint16_t>(0, 0) == 1);
    CHECK(lab.at<uint16_t>(7, 6) == 1);
    CHECK(lab.at<uint16_t>(7, 9) == 0);
    CHECK(lab.at<uint16_t>(3, 15) == 0);
    // NHWC of the same map gives the same labels
    tensor n;
    n.shape = {1, 4, 4, 2};
    for (int i = 0; i < 16; ++i) n.data.push_back(o.data[i]), n.data.push_back(o.data[16 + i]);
    p.nhwc = true;
    cv::Mat lab2 = semantic_label_map({n}, 0, t, 8, 8, 16, 8, p, &classes);
    CHECK(cv::countNonZero(lab != lab2) == 0);
    // one channel through a sigmoid threshold, gated by a second output
    tensor one;
    one.shape = {1, 1, 4, 4};
    one.data.assign(16, -3.f);
    one.data[0] = 3.f;
    semantic_params q;
    q.activation = "sigmoid";
    cv::Mat fg = semantic_label_map({one}, 0, t, 8, 8, 16, 8, q, &classes);
    CHECK(fg.at<uint16_t>(0, 0) == 1);
    CHECK(fg.at<uint16_t>(7, 15) == 0);
    semantic_params g;
    g.gate_output = 1;
    cv::Mat gated = semantic_label_map({o, one}, 0, t, 8, 8, 16, 8, g, &classes);
    CHECK(classes == 3);
    CHECK(gated.at<uint16_t>(0, 0) == 2);  // class 1 + 1 under the gate
    CHECK(gated.at<uint16_t>(0, 9) == 0);  // outside the gate
    tensor bad;
    bad.shape = {1, 2};
    bad.data = {0, 0};
    CHECK_THROWS_AS(semantic_label_map({bad}, 0, t, 8, 8, 16, 8, p, &classes), fatal_error);
}

TEST_CASE("grid_sampler: F.interpolate's bilinear weights, replicated border", "[segment]") {
    // Expected values: torch F.interpolate(mode="bilinear", align_corners=False).
    auto map_for = [](int sw, int sh, int dw, int dh) {
        const double sx = double(sw) / dw, sy = double(sh) / dh;
        return cv::Mat((cv::Mat_<double>(2, 3) << sx, 0, 0.5 * sx - 0.5, 0, sy, 0.5 * sy - 0.5));
    };
    cv::Mat a = (cv::Mat_<float>(2, 2) << 0, 1, 2, 3);
    cv::Mat up = resample_to_original(a, map_for(2, 2, 4, 4), 4, 4);
    const float want_up[4][4] = {{0, 0.25f, 0.75f, 1},
                                 {0.5f, 0.75f, 1.25f, 1.5f},
                                 {1.5f, 1.75f, 2.25f, 2.5f},
                                 {2, 2.25f, 2.75f, 3}};
    for (int y = 0; y < 4; ++y)
        for (int x = 0; x < 4; ++x) CHECK(up.at<float>(y, x) == Approx(want_up[y][x]));
    cv::Mat b(3, 4, CV_32F);
    for (int i = 0; i < 12; ++i) b.at<float>(i / 4, i % 4) = float(i);
    cv::Mat down = resample_to_original(b, map_for(4, 3, 3, 2), 3, 2);
    const float want_down[2][3] = {{1.1667f, 2.5f, 3.8333f}, {7.1667f, 8.5f, 9.8333f}};
    for (int y = 0; y < 2; ++y)
        for (int x = 0; x < 3; ++x)
            CHECK(down.at<float>(y, x) == Approx(want_down[y][x]).margin(1e-4));
    // A strided (NHWC) channel gives the same row as its plane.
    grid_sampler s(map_for(2, 2, 4, 4), 2, 2, 4, 4);
    const float hwc[8] = {0, 9, 1, 9, 2, 9, 3, 9};  // channel 0 of a [2, 2, 2] map is `a`
    float tmp[2], row[4];
    s.row(hwc, 2, 4, 1, tmp, row);
    for (int x = 0; x < 4; ++x) CHECK(row[x] == Approx(want_up[1][x]));
    // Within warpAffine's 1/32-pixel position rounding of the same map, offset included.
    cv::Mat r(5, 7, CV_32F);
    cv::randu(r, 0, 1);
    cv::Mat M = (cv::Mat_<double>(2, 3) << 0.37, 0, 0.9, 0, 0.61, -0.3);
    cv::Mat mine = resample_to_original(r, M, 19, 9), cv_out;
    cv::warpAffine(r, cv_out, M, cv::Size(19, 9), cv::INTER_LINEAR | cv::WARP_INVERSE_MAP,
                   cv::BORDER_REPLICATE);
    CHECK(cv::norm(mine, cv_out, cv::NORM_INF) < 0.05);
}

TEST_CASE("semantic label map: row-wise arg-max equals per-channel resampling", "[segment]") {
    tensor o;
    o.shape = {1, 7, 5, 6};
    o.data.resize(7 * 5 * 6);
    cv::Mat noise(1, int(o.data.size()), CV_32F, o.data.data());
    cv::randn(noise, 0, 1);
    input_transform t;
    t.lb = compute_letterbox(13, 9, 12, 10, true);
    semantic_params p;
    int classes = 0;
    cv::Mat lab = semantic_label_map({o}, 0, t, 12, 10, 13, 9, p, &classes);
    const std::vector<tensor> outs{o};  // output_map points into it
    output_map v = output_map_of(outs, 0, 0, false, "semantic.output");
    cv::Mat M = output_grid_map(v, t, 12, 10);
    cv::Mat best = resample_to_original(v.channel(0), M, 13, 9);
    cv::Mat want(9, 13, CV_16U, cv::Scalar(0));
    for (int k = 1; k < 7; ++k) {
        cv::Mat c = resample_to_original(v.channel(k), M, 13, 9), better = c > best;
        c.copyTo(best, better);
        want.setTo(k, better);
    }
    CHECK(classes == 7);
    CHECK(cv::countNonZero(lab != want) == 0);
    CHECK(cv::countNonZero(want) > 0);
}

TEST_CASE("mask records and output formats", "[segment]") {
    CHECK(palette_color(0) == cv::Vec3b(0, 0, 0));
    CHECK(palette_color(1) == cv::Vec3b(0, 0, 128));  // VOC: (128, 0, 0) RGB
    CHECK(palette_color(2) == cv::Vec3b(0, 128, 0));
    CHECK(palette_color(15) == cv::Vec3b(128, 128, 192));  // person: (192, 128, 128) RGB
    cv::Mat m(6, 8, CV_8U, cv::Scalar(0));
    m(cv::Rect(2, 1, 3, 4)) = 1;
    mask_record r;
    r.m = rle_encode(m);
    r.bbox = mask_bbox(m);
    r.predicted_iou = 0.123456f;
    r.point = {3, 2};
    r.crop = {0, 0, 8, 6, 0};
    r.class_id = 4;
    r.label = "x";
    auto j = mask_json(r);
    CHECK(j["area"] == 12);
    CHECK(j["bbox"].dump() == "[2.0,1.0,2.0,3.0]");  // inclusive max, as amg
    CHECK(j["predicted_iou"] == Approx(0.12346));
    CHECK(j["crop_box"].dump() == "[0,0,8,6]");
    mask_record back = mask_from_json(j);
    CHECK(cv::countNonZero(rle_decode(back.m) != m) == 0);
    CHECK(back.class_id == 4);
    CHECK(back.label == "x");
    // YOLO-seg: the rectangle's corners, normalised
    std::string txt = yolo_seg_txt({{3, m}}, 8, 6);
    CHECK(txt.rfind("3 ", 0) == 0);
    CHECK(txt.find("0.250000 0.166667") != std::string::npos);
    // instance map: the larger mask first, the smaller painted over it
    cv::Mat big(6, 8, CV_8U, cv::Scalar(1));
    cv::Mat ids = instance_map({m, big}, 8, 6);
    CHECK(ids.at<uint16_t>(0, 0) == 2);
    CHECK(ids.at<uint16_t>(2, 3) == 1);
}
