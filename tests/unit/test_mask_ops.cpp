#include <catch2/catch.hpp>
#include <cmath>
#include <opencv2/imgproc.hpp>
#include <stdexcept>
#include <string>
#include <vector>

#include "vfm/mask_ops.h"

using namespace vfm;

namespace {

// '#' = inside, anything else outside; one string per row.
cv::Mat from_rows(const std::vector<std::string>& rows) {
    cv::Mat m(int(rows.size()), int(rows[0].size()), CV_8U);
    for (int y = 0; y < m.rows; ++y)
        for (int x = 0; x < m.cols; ++x) m.at<uint8_t>(y, x) = rows[y][x] == '#';
    return m;
}

std::vector<std::string> to_rows(const cv::Mat& m) {
    std::vector<std::string> rows;
    for (int y = 0; y < m.rows; ++y) {
        std::string r;
        for (int x = 0; x < m.cols; ++x) r += m.at<uint8_t>(y, x) ? '#' : '.';
        rows.push_back(r);
    }
    return rows;
}

bool same(const cv::Mat& a, const cv::Mat& b) {
    return a.size() == b.size() && (a.empty() || cv::countNonZero((a != 0) != (b != 0)) == 0);
}

// The logits gen_mask_ops_expected.py's pattern() builds (exact in float).
cv::Mat pattern(int h, int w) {
    cv::Mat m(h, w, CV_32F);
    for (int y = 0; y < h; ++y)
        for (int x = 0; x < w; ++x)
            m.at<float>(y, x) = float((x * 31 + y * 17 + x * y) % 23 - 11) / 4.f;
    return m;
}

void check_box(const box& b, float x1, float y1, float x2, float y2) {
    CHECK(b.x1 == x1);
    CHECK(b.y1 == y1);
    CHECK(b.x2 == x2);
    CHECK(b.y2 == y2);
}

}  // namespace

TEST_CASE("rle: column-major counts of a hand-made mask", "[mask]") {
    // Columns top to bottom: 001 111 100 001 -> 0 0 | 1 1 1 1 1 | 0 0 0 0 | 1.
    // (Row-major would be 1,2,2,1,2,2,1,1; segment-anything amg.mask_to_rle_pytorch gives
    // counts [2, 5, 4, 1] for this mask.)
    cv::Mat m = from_rows({".##.", ".#..", "##.#"});
    rle r = rle_encode(m);
    CHECK(r.h == 3);
    CHECK(r.w == 4);
    CHECK(r.counts == std::vector<uint32_t>{2, 5, 4, 1});
    CHECK(rle_area(r) == 6);
    CHECK(same(rle_decode(r), m));
    check_box(rle_bbox(r), 0, 0, 4, 3);
    // Starting inside: a leading empty run of zeros.
    r = rle_encode(from_rows({"#.", "#."}));
    CHECK(r.counts == std::vector<uint32_t>{0, 2, 2});
}

TEST_CASE("rle: round trip on random masks of odd sizes", "[mask]") {
    cv::RNG rng(12345);
    const std::vector<cv::Size> sizes = {{0, 0},   {1, 1},   {7, 1},    {1, 7},  {5, 3},
                                         {13, 17}, {33, 64}, {57, 101}, {200, 3}};
    for (const cv::Size& s : sizes) {
        for (int kind = 0; kind < 5; ++kind) {
            INFO(s.width << "x" << s.height << " kind " << kind);
            cv::Mat m = cv::Mat::zeros(s, CV_8U);
            if (kind == 1) m.setTo(1);
            if (kind >= 2 && !m.empty()) {
                cv::Mat u(s, CV_8U);
                rng.fill(u, cv::RNG::UNIFORM, 0, 256);
                const int cut = kind == 2 ? 128 : kind == 3 ? 30 : 220;       // dense and sparse
                m = u > cut;                                                  // 0/255
                m.at<uint8_t>(0, 0) = kind == 4 ? 255 : m.at<uint8_t>(0, 0);  // starts inside
            }
            const rle r = rle_encode(m);
            uint64_t sum = 0;
            for (uint32_t c : r.counts) sum += c;
            CHECK(sum == uint64_t(s.area()));
            CHECK(rle_area(r) == (m.empty() ? 0 : cv::countNonZero(m)));
            if (!m.empty()) CHECK((r.counts[0] == 0) == (m.at<uint8_t>(0, 0) != 0));
            for (size_t i = 1; i < r.counts.size(); ++i) CHECK(r.counts[i] > 0);
            cv::Mat d = rle_decode(r);
            CHECK(d.type() == CV_8U);
            CHECK(same(d, m));
            if (!d.empty()) CHECK(cv::countNonZero(d > 1) == 0);  // 0/1
            const rle back = rle_from_string(rle_to_string(r), r.h, r.w);
            CHECK(back.counts == r.counts);
        }
    }
    const rle e = rle_encode(cv::Mat());
    CHECK(e.counts == std::vector<uint32_t>{0});  // as maskApi.c rleEncode
    CHECK(rle_to_string(e) == "0");
}

TEST_CASE("rle: compressed strings as pycocotools rleToString", "[mask]") {
    // Expected strings, boxes and areas: cocodataset/cocoapi common/maskApi.c rleToString,
    // rleToBbox, rleArea built and run on these counts (pycocotools is not installed here).
    struct known {
        int h, w;
        std::vector<uint32_t> counts;
        std::string s;
        float x, y, bw, bh;
        int64_t area;
    };
    const std::vector<known> cases = {
        {3, 4, {2, 5, 4, 1}, "254L", 0, 0, 4, 3, 6},  // 1 - 5 = -4: one char, sign bit set
        {1, 1, {0, 1}, "01", 0, 0, 1, 1, 1},
        {1, 1, {1}, "1", 0, 0, 0, 0, 0},
        {0, 0, {0}, "0", 0, 0, 0, 0, 0},
        {5, 7, {3, 30, 1, 1}, "3n01SO", 0, 0, 7, 5, 31},  // 30 needs two chars; 1 - 30 = -29
        {5, 7, {0, 2, 3, 2, 28}, "0230i0", 0, 0, 2, 2, 4},
        // counts > 32 and > 1000; counts[3], counts[4] stored as deltas (-500, 57)
        {40, 50, {37, 1200, 3, 700, 60}, R"(U1`U13\@i1)", 0, 0, 49, 40, 1900},
        {1500, 1000, {1000000, 400000, 100000}, "Pb`n0PdV<PeQ3", 666, 0, 268, 1500, 400000},
    };
    for (const known& k : cases) {
        INFO(k.s);
        rle r;
        r.h = k.h, r.w = k.w, r.counts = k.counts;
        CHECK(rle_to_string(r) == k.s);
        const rle back = rle_from_string(k.s, k.h, k.w);
        CHECK(back.h == k.h);
        CHECK(back.w == k.w);
        CHECK(back.counts == k.counts);
        check_box(rle_bbox(r), k.x, k.y, k.x + k.bw, k.y + k.bh);
        CHECK(rle_area(r) == k.area);
        CHECK(rle_encode(rle_decode(r)).counts == k.counts);  // through a real mask
    }
    // rleToBbox: a run of ones that stays inside one column keeps its rows.
    rle r = rle_encode(from_rows({"....", "..#.", "..#.", "...."}));
    check_box(rle_bbox(r), 2, 1, 3, 3);
    check_box(rle_bbox(rle_encode(cv::Mat::zeros(3, 3, CV_8U))), 0, 0, 0, 0);
}

TEST_CASE("rle_from_string and rle_decode reject malformed input", "[mask]") {
    CHECK_THROWS_AS(rle_from_string("25 L", 3, 4), std::invalid_argument);  // ' ' < '0'
    CHECK_THROWS_AS(rle_from_string("25pL", 3, 4), std::invalid_argument);  // 'p' > 'o'
    CHECK_THROWS_AS(rle_from_string("254n", 3, 4), std::invalid_argument);  // cut off
    CHECK_THROWS_AS(rle_from_string("254L", 3, 5), std::invalid_argument);  // sums to 12
    CHECK_THROWS_AS(rle_from_string("L", 0, 0), std::invalid_argument);     // run of -4
    CHECK_THROWS_AS(rle_from_string("oooooooooo0", 1, 1), std::invalid_argument);
    CHECK_THROWS_AS(rle_from_string("0", -1, 0), std::invalid_argument);
    CHECK(rle_from_string("", 0, 7).counts.empty());
    rle r;
    r.h = 2, r.w = 2, r.counts = {1, 2};
    CHECK_THROWS_AS(rle_decode(r), std::invalid_argument);
}

TEST_CASE("mask_bbox as batched_mask_to_box: inclusive max index", "[mask]") {
    check_box(mask_bbox(from_rows({"......", "...#..", "......", ".#....", "......"})), 1, 1, 3, 3);
    check_box(mask_bbox(cv::Mat::zeros(4, 5, CV_8U)), 0, 0, 0, 0);
    cv::Mat one = cv::Mat::zeros(6, 5, CV_8U);
    one.at<uint8_t>(4, 3) = 1;
    check_box(mask_bbox(one), 3, 4, 3, 4);
    check_box(mask_bbox(cv::Mat()), 0, 0, 0, 0);
}

TEST_CASE("stability_score as calculate_stability_score", "[mask]") {
    // segment-anything amg.calculate_stability_score on pattern(7, 9): counts 17/39, 21/25, 12/23
    cv::Mat p = pattern(7, 9);
    CHECK(stability_score(p, 0.f, 1.f) == 17.f / 39.f);
    CHECK(stability_score(p, 0.f, 1.f) == Approx(0.43589743971824646).epsilon(1e-7));
    CHECK(stability_score(p, 0.5f, 0.25f) == Approx(0.8399999737739563).epsilon(1e-7));
    CHECK(stability_score(p, 1.f, 0.3f) == Approx(0.52173912525177).epsilon(1e-7));
    CHECK(std::isnan(stability_score(p, 10.f, 1.f)));  // 0 / 0: NaN in torch too
    CHECK(stability_score(cv::Mat(3, 3, CV_32F, cv::Scalar(5)), 0.f, 1.f) == 1.f);
    CHECK_THROWS_AS(stability_score(cv::Mat::zeros(2, 2, CV_8U), 0.f, 1.f), std::invalid_argument);
}

TEST_CASE("remove_small_regions: holes", "[mask]") {
    // Expected: segment-anything amg.remove_small_regions(mask, thr, "holes") on these rows.
    const std::vector<std::string> in = {"##########", "#.######.#", "#.###..###", "######..##",
                                         "##########", "###....###", "###....###", "##########"};
    cv::Mat m = from_rows(in);
    CHECK(remove_small_regions(m, 2, true));  // the 1-pixel hole only
    CHECK(to_rows(m) == std::vector<std::string>{"##########", "#.########", "#.###..###",
                                                 "######..##", "##########", "###....###",
                                                 "###....###", "##########"});
    m = from_rows(in);
    CHECK(remove_small_regions(m, 3, true));  // and the 2-pixel one
    CHECK(to_rows(m) == std::vector<std::string>{"##########", "##########", "#####..###",
                                                 "######..##", "##########", "###....###",
                                                 "###....###", "##########"});
    m = from_rows(in);
    CHECK(remove_small_regions(m, 7, true));  // 4-pixel hole (8-connected) filled, 8 kept
    CHECK(to_rows(m) == std::vector<std::string>{"##########", "##########", "##########",
                                                 "##########", "##########", "###....###",
                                                 "###....###", "##########"});
    m = from_rows(in);
    CHECK_FALSE(remove_small_regions(m, 7, false));  // one big island
    CHECK(to_rows(m) == in);
    // The background of an island mask is one 8-connected region: nothing to fill.
    m = from_rows({"#.....", ".#....", "..#...", "......", "....##", "....##"});
    CHECK_FALSE(remove_small_regions(m, 7, true));
}

TEST_CASE("remove_small_regions: islands, 8-connectivity and the all-small rule", "[mask]") {
    const std::vector<std::string> in = {"##....#...", "##.......#", "......##..", ".....###..",
                                         "#....##...", "..........", "###......#", "###.....##"};
    cv::Mat m = from_rows(in);
    CHECK(remove_small_regions(m, 2, false));  // the three single pixels
    CHECK(to_rows(m) == std::vector<std::string>{"##........", "##........", "......##..",
                                                 ".....###..", ".....##...", "..........",
                                                 "###......#", "###.....##"});
    m = from_rows(in);
    CHECK(remove_small_regions(m, 5, false));  // sizes 4 and 3 go too; 7 and 6 stay
    CHECK(to_rows(m) == std::vector<std::string>{"..........", "..........", "......##..",
                                                 ".....###..", ".....##...", "..........",
                                                 "###.......", "###......."});
    m = from_rows(in);
    CHECK(remove_small_regions(m, 7, false));
    CHECK(to_rows(m) == std::vector<std::string>{"..........", "..........", "......##..",
                                                 ".....###..", ".....##...", "..........",
                                                 "..........", ".........."});
    // Every island small: upstream keeps the largest.
    const std::vector<std::string> small = {"#.........", "..........", ".....##...", "..........",
                                            ".........#"};
    for (double thr : {3.0, 7.0}) {
        m = from_rows(small);
        CHECK(remove_small_regions(m, thr, false));
        CHECK(to_rows(m) == std::vector<std::string>{"..........", "..........", ".....##...",
                                                     "..........", ".........."});
    }
    // A lone small island stays, yet upstream still reports a change.
    m = from_rows({"....", ".#..", "...."});
    CHECK(remove_small_regions(m, 5, false));
    CHECK(to_rows(m) == std::vector<std::string>{"....", ".#..", "...."});
    // Diagonal pixels are one 8-connected island of 3 (three of 1 under 4-connectivity).
    const std::vector<std::string> diag = {"#.....", ".#....", "..#...",
                                           "......", "....##", "....##"};
    m = from_rows(diag);
    CHECK_FALSE(remove_small_regions(m, 3, false));
    CHECK(to_rows(m) == diag);
    CHECK(remove_small_regions(m, 5, false));
    CHECK(to_rows(m) ==
          std::vector<std::string>{"......", "......", "......", "......", "....##", "....##"});
    // 0/255 input comes back 0/1.
    m = from_rows(in) * 255;
    CHECK(remove_small_regions(m, 2, false));
    double mx = 0;
    cv::minMaxLoc(m, nullptr, &mx);
    CHECK(mx == 1);
}

TEST_CASE("mask_polygons: outer contours, largest first", "[mask]") {
    cv::Mat m = cv::Mat::zeros(30, 40, CV_8U);
    cv::rectangle(m, cv::Rect(2, 3, 4, 4), 1, cv::FILLED);     // 4x4: area 9
    cv::rectangle(m, cv::Rect(20, 10, 10, 6), 1, cv::FILLED);  // 10x6: area 45
    cv::rectangle(m, cv::Rect(23, 12, 3, 2), 0, cv::FILLED);   // a hole: not a polygon
    m.at<uint8_t>(25, 5) = 1;                                  // a pixel: 1 point, dropped
    cv::line(m, {10, 25}, {15, 25}, 1);                        // a line: 2 points, dropped
    auto polys = mask_polygons(m);
    REQUIRE(polys.size() == 2);
    CHECK(polys[0].size() == 4);
    CHECK(std::fabs(cv::contourArea(polys[0])) == 45);
    cv::Rect r0 = cv::boundingRect(polys[0]);
    CHECK(r0 == cv::Rect(20, 10, 10, 6));
    CHECK(std::fabs(cv::contourArea(polys[1])) == 9);
    CHECK(cv::boundingRect(polys[1]) == cv::Rect(2, 3, 4, 4));
    CHECK(mask_polygons(cv::Mat::zeros(5, 5, CV_8U)).empty());
    CHECK(mask_polygons(cv::Mat()).empty());

    // A right triangle with a 1:2 hypotenuse (a staircase); epsilon straightens it to 3 corners.
    cv::Mat t = cv::Mat::zeros(30, 30, CV_8U);
    std::vector<cv::Point> tri = {{2, 2}, {22, 2}, {2, 12}};
    cv::fillPoly(t, std::vector<std::vector<cv::Point>>{tri}, 1);
    auto raw = mask_polygons(t);
    REQUIRE(raw.size() == 1);
    CHECK(raw[0].size() > 10);
    auto simple = mask_polygons(t, 1.5);
    REQUIRE(simple.size() == 1);
    REQUIRE(simple[0].size() == 3);
    CHECK(cv::boundingRect(simple[0]) == cv::Rect(2, 2, 21, 11));
}

TEST_CASE("sam_preprocess_shape as ResizeLongestSide.get_preprocess_shape", "[mask]") {
    struct c {
        int w, h, ew, eh;
    };
    // Expected: segment-anything utils/transforms.py get_preprocess_shape(h, w, 1024).
    for (const c& k : std::vector<c>{{640, 480, 1024, 768},
                                     {480, 640, 768, 1024},
                                     {1920, 1080, 1024, 576},
                                     {1, 1, 1024, 1024},
                                     {1000, 3, 1024, 3},
                                     {3, 1000, 3, 1024},
                                     {1024, 1024, 1024, 1024},
                                     {2000, 1500, 1024, 768},
                                     {333, 777, 439, 1024},
                                     {777, 333, 1024, 439}}) {
        INFO(k.w << "x" << k.h);
        const sam_resize s = sam_preprocess_shape(k.w, k.h, 1024);
        CHECK(s.new_w == k.ew);
        CHECK(s.new_h == k.eh);
    }
    CHECK_THROWS_AS(sam_preprocess_shape(0, 10, 1024), std::invalid_argument);
}

TEST_CASE("sam coords and boxes as ResizeLongestSide.apply_coords / apply_boxes", "[mask]") {
    // Expected: segment-anything utils/transforms.py apply_coords / apply_boxes (float64).
    struct c {
        int w, h;
        cv::Point2f p;  // apply_coords of (100.5, 2.25)
        float b[4];     // apply_boxes of (10, 20, 30.5, 40.25)
    };
    for (const c& k : std::vector<c>{
             {640, 480, {160.8f, 3.6f}, {16, 32, 48.8f, 64.4f}},
             {1920, 1080, {53.6f, 1.2f}, {5.333333333f, 10.66666667f, 16.26666667f, 21.46666667f}},
             {1000, 3, {102.912f, 2.25f}, {10.24f, 20, 31.232f, 40.25f}},
             {1, 1, {102912, 2304}, {10240, 20480, 31232, 41216}},
             {333,
              777,
              {132.490991f, 2.96525097f},
              {13.1831832f, 26.3577864f, 40.2087087f, 53.045045f}}}) {
        INFO(k.w << "x" << k.h);
        const cv::Point2f p = sam_apply_coords({100.5f, 2.25f}, k.w, k.h, 1024);
        CHECK(p.x == Approx(k.p.x).epsilon(1e-6));
        CHECK(p.y == Approx(k.p.y).epsilon(1e-6));
        const cv::Point2f q = sam_unapply_coords(p, k.w, k.h, 1024);
        CHECK(q.x == Approx(100.5).epsilon(1e-6));
        CHECK(q.y == Approx(2.25).epsilon(1e-6));
        const box b = sam_apply_box({10, 20, 30.5f, 40.25f}, k.w, k.h, 1024);
        CHECK(b.x1 == Approx(k.b[0]).epsilon(1e-6));
        CHECK(b.y1 == Approx(k.b[1]).epsilon(1e-6));
        CHECK(b.x2 == Approx(k.b[2]).epsilon(1e-6));
        CHECK(b.y2 == Approx(k.b[3]).epsilon(1e-6));
    }
    const cv::Point2f corner = sam_apply_coords({640, 480}, 640, 480, 1024);
    CHECK(corner.x == 1024);
    CHECK(corner.y == 768);
}

TEST_CASE("sam_upscale_logits as Sam.postprocess_masks (torch F.interpolate)", "[mask]") {
    // Expected: segment-anything modeling/sam.py Sam.postprocess_masks on pattern(...) with
    // torch 1.13 (CPU), from gen_mask_ops_expected.py. cv::resize INTER_LINEAR misses the
    // 1900x1000 case by up to 7e-4 (it rounds source positions to float); we stay within 4e-6.
    struct sample {
        int y, x;
        double v;
    };
    auto check = [](const cv::Mat& out, const std::vector<sample>& s) {
        for (const sample& k : s) {
            INFO(k.y << "," << k.x);
            CHECK(out.at<float>(k.y, k.x) == Approx(k.v).margin(1e-5));
        }
    };
    // 256 -> 1024 (x4), crop 1024x768, down to 640x480 (x0.625).
    cv::Mat out = sam_upscale_logits(pattern(256, 256), 640, 480, 1024);
    REQUIRE(out.type() == CV_32F);
    REQUIRE(out.size() == cv::Size(640, 480));
    check(out, {{0, 0, -2.75},
                {0, 639, 1.25},
                {479, 0, -0.47498786449432373},
                {479, 639, -0.3000028431415558},
                {100, 200, -0.2524987757205963},
                {240, 320, 0.6150022149085999},
                {333, 517, -1.176560878753662},
                {17, 3, -0.3249995708465576}});
    // Logits in SAM's range (+-22) to 1900x1000: cv::resize is 7e-4 off at the first three.
    out = sam_upscale_logits(8 * pattern(256, 256), 1900, 1000, 1024);
    REQUIRE(out.size() == cv::Size(1900, 1000));
    check(out, {{946, 1878, 1.9498835802078247},
                {996, 1456, -1.2386850118637085},
                {960, 1772, -5.51179838180542},
                {0, 1899, 10.0},
                {999, 0, -15.75},
                {500, 950, 13.172262191772461},
                {123, 1500, 2.136782646179199}});
    // 16 -> 64, crop 64x43, up to 1500x1000.
    out = sam_upscale_logits(pattern(16, 16), 1500, 1000, 64);
    REQUIRE(out.size() == cv::Size(1500, 1000));
    check(out, {{0, 0, -2.75},
                {999, 1499, -1.7187501192092896},
                {500, 750, -0.30835193395614624},
                {123, 987, 0.5244467854499817},
                {7, 1, -2.75}});
    // 16 -> 64, crop 48x64, down to 30x40.
    out = sam_upscale_logits(pattern(16, 16), 30, 40, 64);
    REQUIRE(out.size() == cv::Size(30, 40));
    check(out, {{0, 0, -2.75},
                {0, 29, 0.8749993443489075},
                {39, 0, -2.25},
                {39, 29, -2.25},
                {1, 1, -2.1164844036102295},
                {20, 13, -0.2425001710653305},
                {37, 28, 0.012498964555561543}});
    // 8 -> 32, crop 32x22, down to 10x7: every value.
    const float all[7][10] = {{-2.6876674f, -1.3464286f, 0.23995543f, 0.1321427f, -2.1896763f,
                               -0.6989117f, 0.89709836f, -0.3761164f, -1.6493301f, -0.27279565f},
                              {0.112276666f, -1.0785714f, -0.51339275f, 0.6678571f, 0.69397306f,
                               -0.61729914f, 0.67946446f, -0.45982173f, -1.5991069f, -0.10747756f},
                              {0.7946429f, 0.30357128f, -0.06250008f, 0.49553585f, 1.7415179f,
                               -0.82187504f, 0.42410734f, -0.558036f, -1.5401783f, 0.08649565f},
                              {-0.34296864f, 1.4187502f, 0.59375f, -0.23124984f, 1.171875f,
                               -1.234375f, 0.16875023f, -0.6562503f, -1.4812497f, 0.28046888f},
                              {-1.062807f, 0.5162947f, -0.2901786f, -0.9580355f, 0.6022322f,
                               -1.6468749f, -0.086606905f, -0.75446457f, -1.4223212f, 0.4744421f},
                              {1.9689728f, 0.75357133f, -1.1741071f, -1.6848212f, 0.032589357f,
                               -2.0593748f, -0.341964f, -0.8526788f, -1.3633926f, 0.6684153f},
                              {1.8068082f, 0.020535812f, -0.31250018f, 0.032142498f, -0.10066963f,
                               0.582812f, 0.4499998f, -0.95089304f, -1.304464f, 0.8623885f}};
    out = sam_upscale_logits(pattern(8, 8), 10, 7, 32);
    REQUIRE(out.size() == cv::Size(10, 7));
    for (int y = 0; y < 7; ++y)
        for (int x = 0; x < 10; ++x) {
            INFO(y << "," << x);
            CHECK(out.at<float>(y, x) == Approx(all[y][x]).margin(1e-5));
        }
    // Same size all the way: torch copies, and so must we.
    cv::Mat p = pattern(32, 32);
    CHECK(cv::norm(sam_upscale_logits(p, 32, 32, 32), p, cv::NORM_INF) == 0);
    CHECK_THROWS_AS(sam_upscale_logits(cv::Mat::zeros(4, 4, CV_8U), 4, 4, 4),
                    std::invalid_argument);
}
