#include <catch2/catch.hpp>
#include <cmath>
#include <cstring>
#include <opencv2/imgproc.hpp>

#include "vfm/depth.h"
#include "vfm/error.h"

using namespace vfm;

namespace {

struct size_case {
    int w, h, ew, eh;
};

void check_sizes(depth_resize m, const std::vector<size_case>& cases) {
    for (const auto& c : cases) {
        INFO(c.w << "x" << c.h);
        depth_size s = depth_input_size(c.w, c.h, 518, 518, 14, m);
        CHECK(s.w == c.ew);
        CHECK(s.h == c.eh);
    }
}

}  // namespace

// Expected sizes: Depth-Anything-V2 util/transform.py Resize(518, 518, keep_aspect_ratio=True,
// ensure_multiple_of=14, resize_method=...).get_size(w, h) run on these shapes.
TEST_CASE("depth input size: lower_bound as Depth Anything V2 image2tensor", "[depth]") {
    check_sizes(depth_resize::lower_bound, {{640, 480, 686, 518},
                                            {480, 640, 518, 686},
                                            {1920, 1080, 924, 518},
                                            {1080, 1920, 518, 924},
                                            {1280, 720, 924, 518},
                                            {500, 500, 518, 518},
                                            {518, 518, 518, 518},
                                            {519, 518, 518, 518},
                                            {37, 37, 518, 518},
                                            {1, 1, 518, 518},
                                            {1000, 100, 5180, 518},
                                            {741, 500, 770, 518},
                                            {4032, 3024, 686, 518},
                                            {3, 1000, 518, 172662}});
}

TEST_CASE("depth input size: upper_bound and minimal", "[depth]") {
    check_sizes(depth_resize::upper_bound, {{640, 480, 518, 392},
                                            {480, 640, 392, 518},
                                            {1920, 1080, 518, 294},
                                            {1000, 100, 518, 56},
                                            {741, 500, 518, 350},
                                            {1, 1, 518, 518},
                                            {3, 1000, 14, 518}});  // upstream: 0 x 518
    check_sizes(depth_resize::minimal, {{640, 480, 686, 518},
                                        {1920, 1080, 924, 518},
                                        {1000, 100, 518, 56},
                                        {3, 1000, 14, 518}});  // upstream: 0 x 518
    depth_size s = depth_input_size(1920, 1080, 640, 448, 32, depth_resize::upper_bound);
    CHECK(s.w == 640);
    CHECK(s.h == 352);
    s = depth_input_size(1920, 1080, 640, 448, 1, depth_resize::stretch);
    CHECK(s.w == 640);
    CHECK(s.h == 448);
    CHECK(parse_depth_resize("stretch") == depth_resize::stretch);
    CHECK_THROWS_AS(parse_depth_resize("letterbox"), fatal_error);
}

TEST_CASE("checked input size: refuses inputs over 64 times the target area", "[depth]") {
    // 1000x10 under lower_bound at 100x100: 10000x100 = 100 times the area.
    CHECK_THROWS_AS(checked_input_size(1000, 10, 100, 100, 1, depth_resize::lower_bound,
                                       "letterbox or stretch"),
                    input_error);
    try {
        checked_input_size(1000, 10, 100, 100, 1, depth_resize::lower_bound, "upper_bound");
    } catch (const input_error& e) {
        CHECK(std::string(e.what()) ==
              "model input 10000x100 for this aspect ratio is over 64 times model.input_size; "
              "use preprocess.resize upper_bound");
    }
    // 640x10 -> 6400x100: 64 times exactly, allowed
    depth_size s = checked_input_size(640, 10, 100, 100, 1, depth_resize::lower_bound, "x");
    CHECK(s.w == 6400);
    CHECK(s.h == 100);
    s = checked_input_size(1000, 10, 100, 100, 1, depth_resize::upper_bound, "x");
    CHECK(s.w == 100);
}

TEST_CASE("depth input: float resize then ImageNet normalisation", "[depth]") {
    cv::Mat img(3, 4, CV_8UC3, cv::Scalar(50, 100, 200));  // BGR
    const float mean[3] = {123.675f, 116.28f, 103.53f}, stdv[3] = {58.395f, 57.12f, 57.375f};
    std::vector<float> out(8 * 6 * 3);
    depth_prepare_input(img, 8, 6, cv::INTER_CUBIC, true, mean, stdv, out.data());
    for (size_t i = 0; i < out.size(); i += 3) {
        CHECK(out[i] == Approx((200 / 255.0 - 0.485) / 0.229).epsilon(1e-6));  // R first
        CHECK(out[i + 1] == Approx((100 / 255.0 - 0.456) / 0.224).epsilon(1e-6));
        CHECK(out[i + 2] == Approx((50 / 255.0 - 0.406) / 0.225).epsilon(1e-6));
    }
    // cubic overshoot survives (resizing in float, as upstream): a 0/255 step
    cv::Mat step(1, 4, CV_8UC3, cv::Scalar::all(0));
    step(cv::Rect(2, 0, 2, 1)).setTo(cv::Scalar::all(255));
    const float zero[3] = {0, 0, 0}, one[3] = {1, 1, 1};
    std::vector<float> s(8 * 1 * 3);
    depth_prepare_input(step, 8, 1, cv::INTER_CUBIC, true, zero, one, s.data());
    float lo = *std::min_element(s.begin(), s.end()), hi = *std::max_element(s.begin(), s.end());
    CHECK(lo < 0);
    CHECK(hi > 255);
}

TEST_CASE("bilinear resize: align_corners true and false as torch", "[depth]") {
    const float src[2] = {0, 1};
    std::vector<float> d(5);
    resize_bilinear(src, 2, 1, d.data(), 5, 1, true);
    CHECK(d == std::vector<float>{0, 0.25f, 0.5f, 0.75f, 1});
    std::vector<float> e(4);
    resize_bilinear(src, 2, 1, e.data(), 4, 1, false);  // torch: [0, 0.25, 0.75, 1]
    CHECK(e == std::vector<float>{0, 0.25f, 0.75f, 1});
    // 2x2 -> 3x3 with corners kept: the centre is the mean
    const float sq[4] = {0, 2, 4, 6};
    std::vector<float> f(9);
    resize_bilinear(sq, 2, 2, f.data(), 3, 3, true);
    CHECK(f == std::vector<float>{0, 1, 2, 2, 3, 4, 4, 5, 6});
    // to and from one pixel
    float one = 7, many[6];
    resize_bilinear(&one, 1, 1, many, 3, 2, true);
    for (float v : many) CHECK(v == 7);
    float pick = 0;
    resize_bilinear(sq, 2, 2, &pick, 1, 1, true);
    CHECK(pick == 0);
    // a linear ramp stays linear (what the CLI fixture relies on)
    std::vector<float> ramp(7 * 5), big(20 * 13);
    for (int y = 0; y < 5; ++y)
        for (int x = 0; x < 7; ++x) ramp[y * 7 + x] = 3 + 2 * x / 6.f + y / 4.f;
    resize_bilinear(ramp.data(), 7, 5, big.data(), 20, 13, true);
    for (int y = 0; y < 13; ++y)
        for (int x = 0; x < 20; ++x)
            CHECK(big[y * 20 + x] == Approx(3 + 2 * x / 19.0 + y / 12.0).margin(1e-5));
    // numpy.percentile (linear) of [4, 1, 3, 2, 10]: 0 -> 1, 50 -> 3, 90 -> 7.6, 100 -> 10
    const float pv[5] = {4, 1, 3, 2, 10};
    CHECK(percentile(pv, 5, 0) == 1);
    CHECK(percentile(pv, 5, 50) == 3);
    CHECK(percentile(pv, 5, 90) == Approx(7.6));
    CHECK(percentile(pv, 5, 100) == 10);
    CHECK(percentile(pv, 1, 37) == 4);
    const float bad[4] = {1, NAN, INFINITY, -INFINITY};
    CHECK(count_non_finite(bad, 4) == 3);
}

TEST_CASE("16-bit encode/decode round trip within half a step", "[depth]") {
    png16_mapping m{2.5, 9.75};
    CHECK(encode16(2.5f, m) == 0);
    CHECK(encode16(9.75f, m) == 65535);
    CHECK(encode16(6.125f, m) == 32768);  // 32767.5 rounds up
    CHECK(encode16(1.0f, m) == 0);        // clamped
    CHECK(encode16(20.0f, m) == 65535);
    CHECK(encode16(NAN, m) == 0);
    CHECK(decode16(65535, m) == 9.75);
    CHECK(decode16(0, m) == 2.5);
    const double step = (m.hi - m.lo) / 65535;
    double worst = 0;
    for (int i = 0; i <= 100000; ++i) {
        float v = static_cast<float>(m.lo + (m.hi - m.lo) * i / 100000.0);
        worst = std::max(worst, std::abs(decode16(encode16(v, m), m) - v));
    }
    CHECK(worst <= step / 2 + 1e-9);
    CHECK(worst > step / 2 * 0.9);  // and the bound is tight
    // metric_mm: millimetres
    png16_mapping mm{0.0, 65.535};
    CHECK(encode16(1.5f, mm) == 1500);
    CHECK(encode16(0.001f, mm) == 1);
    CHECK(encode16(70.0f, mm) == 65535);
    CHECK(decode16(1500, mm) == Approx(1.5).epsilon(1e-12));
    // a flat map: everything 0, decodes to lo
    png16_mapping flat{4.0, 4.0};
    CHECK(encode16(4.0f, flat) == 0);
    CHECK(decode16(0, flat) == 4.0);
    const float px[3] = {2.5f, 6.125f, 9.75f};
    cv::Mat img = encode16_image(px, 3, 1, m);
    CHECK(img.type() == CV_16UC1);
    CHECK(img.at<uint16_t>(0, 0) == 0);
    CHECK(img.at<uint16_t>(0, 1) == 32768);
    CHECK(img.at<uint16_t>(0, 2) == 65535);
    CHECK(parse_png16_normalize("metric_mm") == png16_normalize::metric_mm);
    CHECK_THROWS_AS(parse_png16_normalize("minmax"), fatal_error);
}

TEST_CASE("colour maps: ends and ColorBrewer anchors, index 255 warm", "[depth]") {
    auto at = [](colormap c, int i) {
        cv::Vec3b v = colormap_table(c).at<cv::Vec3b>(i, 0);
        return std::vector<int>{v[0], v[1], v[2]};  // BGR
    };
    // OpenCV 4.6 applyColorMap tables
    CHECK(at(colormap::turbo, 0) == std::vector<int>{59, 18, 48});
    CHECK(at(colormap::turbo, 255) == std::vector<int>{3, 4, 122});
    CHECK(at(colormap::inferno, 0) == std::vector<int>{4, 0, 0});
    CHECK(at(colormap::inferno, 255) == std::vector<int>{164, 255, 252});
    CHECK(at(colormap::magma, 255) == std::vector<int>{191, 253, 252});
    CHECK(at(colormap::viridis, 0) == std::vector<int>{84, 1, 68});
    CHECK(at(colormap::viridis, 255) == std::vector<int>{37, 231, 253});
    // Spectral reversed: #5e4fa2 at 0, #9e0142 at 255, anchors every 25.5 entries
    CHECK(at(colormap::spectral, 0) == std::vector<int>{0xa2, 0x4f, 0x5e});
    CHECK(at(colormap::spectral, 51) == std::vector<int>{0xa5, 0xc2, 0x66});
    CHECK(at(colormap::spectral, 102) == std::vector<int>{0x98, 0xf5, 0xe6});
    CHECK(at(colormap::spectral, 153) == std::vector<int>{0x8b, 0xe0, 0xfe});
    CHECK(at(colormap::spectral, 204) == std::vector<int>{0x43, 0x6d, 0xf4});
    CHECK(at(colormap::spectral, 255) == std::vector<int>{0x42, 0x01, 0x9e});
    CHECK_THROWS_AS(parse_colormap("jet"), fatal_error);

    // near = warm: disparity (warm_high) puts the largest value on index 255
    const float v[3] = {1, 2, 3};
    cv::Mat a = colorize(v, 3, 1, 1, 3, true, colormap::turbo);
    cv::Mat t = colormap_table(colormap::turbo);
    CHECK(a.at<cv::Vec3b>(0, 0) == t.at<cv::Vec3b>(0, 0));
    CHECK(a.at<cv::Vec3b>(0, 1) == t.at<cv::Vec3b>(128, 0));
    CHECK(a.at<cv::Vec3b>(0, 2) == t.at<cv::Vec3b>(255, 0));
    cv::Mat b = colorize(v, 3, 1, 1, 3, false, colormap::turbo);  // depth: nearest = smallest
    CHECK(b.at<cv::Vec3b>(0, 0) == t.at<cv::Vec3b>(255, 0));
    CHECK(b.at<cv::Vec3b>(0, 2) == t.at<cv::Vec3b>(0, 0));
    cv::Mat flat = colorize(v, 3, 1, 2, 2, true, colormap::turbo);  // hi == lo
    CHECK(flat.at<cv::Vec3b>(0, 2) == t.at<cv::Vec3b>(0, 0));
}

TEST_CASE("PFM bytes: header and bottom-up little-endian rows", "[depth]") {
    const float d[4] = {1, 2, 3, 4};  // rows (1, 2), (3, 4)
    std::string s = pfm_bytes(d, 2, 2);
    const std::string head = "Pf\n2 2\n-1\n";
    REQUIRE(s.size() == head.size() + 16);
    CHECK(s.substr(0, head.size()) == head);
    float got[4];
    std::memcpy(got, s.data() + head.size(), 16);
    CHECK(got[0] == 3);
    CHECK(got[1] == 4);
    CHECK(got[2] == 1);
    CHECK(got[3] == 2);
    CHECK(static_cast<unsigned char>(s[head.size() + 3]) == 0x40);  // 3.0f = 0x40400000, LE
}

TEST_CASE("pinhole back-projection and PLY bytes", "[depth]") {
    pinhole k = make_pinhole(640, 480, 100, 200, 50, 40, NAN);
    point3 p = back_project(150, 40, 2, k);
    CHECK(p.x == 2);
    CHECK(p.y == 0);
    CHECK(p.z == 2);
    pinhole f = make_pinhole(640, 480, NAN, NAN, NAN, NAN, 90);
    CHECK(f.fx == Approx(320));
    CHECK(f.fy == Approx(320));
    CHECK(f.cx == 320);
    CHECK(f.cy == 240);
    pinhole g = make_pinhole(640, 480, 500, NAN, NAN, NAN, NAN);
    CHECK(g.fy == 500);
    CHECK_THROWS_AS(make_pinhole(640, 480, NAN, NAN, NAN, NAN, NAN), fatal_error);
    CHECK_THROWS_AS(make_pinhole(640, 480, NAN, NAN, NAN, NAN, 180), fatal_error);

    // 2x2 map, one invalid pixel; fx = fy = 1, principal point (1, 1) (w / 2, h / 2)
    const float depth[4] = {1, 2, 0, 4};
    cv::Mat bgr(2, 2, CV_8UC3, cv::Scalar(10, 20, 30));
    auto pts = depth_to_points(depth, 2, 2, make_pinhole(2, 2, 1, 1, NAN, NAN, NAN), bgr, 1);
    REQUIRE(pts.size() == 3);
    CHECK(pts[0].p.x == -1);
    CHECK(pts[0].p.y == -1);
    CHECK(pts[0].p.z == 1);
    CHECK(pts[1].p.x == 0);
    CHECK(pts[1].p.y == -2);
    CHECK(pts[2].p.x == 0);
    CHECK(pts[2].p.y == 0);
    CHECK(pts[2].p.z == 4);
    CHECK((pts[0].r == 30 && pts[0].g == 20 && pts[0].b == 10));
    CHECK(depth_to_points(depth, 2, 2, make_pinhole(2, 2, 1, 1, NAN, NAN, NAN), bgr, 2).size() ==
          1);

    std::string s = ply_bytes({pts[0]});
    const std::string head =
        "ply\nformat binary_little_endian 1.0\n"
        "comment vfm depth: metres, camera frame x right, y down, z forward\n"
        "element vertex 1\nproperty float x\nproperty float y\nproperty float z\n"
        "property uchar red\nproperty uchar green\nproperty uchar blue\nend_header\n";
    REQUIRE(s.size() == head.size() + 15);
    CHECK(s.substr(0, head.size()) == head);
    const unsigned char want[15] = {0x00, 0x00, 0x80, 0xbf,  // -1.0f
                                    0x00, 0x00, 0x80, 0xbf,  // -1.0f
                                    0x00, 0x00, 0x80, 0x3f,  // 1.0f
                                    30,   20,   10};
    CHECK(std::memcmp(s.data() + head.size(), want, 15) == 0);
    CHECK(ply_bytes({}).find("element vertex 0\n") != std::string::npos);
}
