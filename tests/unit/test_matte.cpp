// matte's pure pieces (vfm/matte.h): network outputs -> alpha, MODNet's input size, writers.
#include <catch2/catch.hpp>
#include <opencv2/imgproc.hpp>

#include "vfm/error.h"
#include "vfm/matte.h"

using namespace vfm;

TEST_CASE("modnet_input_size follows MODNet's reference-size rule", "[matte]") {
    // both sides under 512: the short side becomes 512, then multiples of 32 (down)
    auto s = modnet_input_size(400, 300, 512, 32);
    CHECK(s.w == 672);  // int(400 / 300 * 512) = 682 -> 672
    CHECK(s.h == 512);
    // both over: the same rule (portrait)
    s = modnet_input_size(1000, 2000, 512, 32);
    CHECK(s.w == 512);
    CHECK(s.h == 1024);
    // one side on each side of 512: size kept, rounded down
    s = modnet_input_size(1000, 300, 512, 32);
    CHECK(s.w == 992);
    CHECK(s.h == 288);
    // tiny: at least one multiple
    s = modnet_input_size(1, 1, 512, 32);
    CHECK(s.w == 512);
    CHECK(s.h == 512);
    s = modnet_input_size(600, 20, 512, 32);
    CHECK(s.w == 576);
    CHECK(s.h == 32);
}

namespace {

// One-image output tensor [1, 1, h, w] (or NHWC [1, h, w, 1]) with values f(x, y).
tensor map_tensor(int w, int h, float (*f)(int, int), bool nhwc = false) {
    tensor t;
    t.shape = nhwc ? std::vector<int64_t>{1, h, w, 1} : std::vector<int64_t>{1, 1, h, w};
    for (int y = 0; y < h; ++y)
        for (int x = 0; x < w; ++x) t.data.push_back(f(x, y));
    return t;
}

}  // namespace

TEST_CASE("network_alpha undoes the letterbox and resizes to the original", "[matte]") {
    // a 100x50 image letterboxed into 100x100 (pad 25 top and bottom); the model says 1 in the
    // image's top half (rows 25..49), 0 elsewhere
    tensor o = map_tensor(100, 100, [](int, int y) { return y >= 25 && y < 50 ? 1.f : 0.f; });
    input_transform t;
    t.lb = compute_letterbox(100, 50, 100, 100, true);
    REQUIRE(t.lb.pad_top == 25);
    alpha_output_params p;
    cv::Mat a = network_alpha({o}, 0, t, 100, 100, 100, 50, p);
    REQUIRE(a.size() == cv::Size(100, 50));
    CHECK(a.at<float>(10, 50) == Approx(1));
    CHECK(a.at<float>(40, 50) == Approx(0));
    // twice the size: the same picture upsampled
    a = network_alpha({o}, 0, t, 100, 100, 200, 100, p);
    CHECK(a.at<float>(20, 100) == Approx(1));
    CHECK(a.at<float>(80, 100) == Approx(0));
}

TEST_CASE("network_alpha: sigmoid, min-max, clamping, NHWC and contract errors", "[matte]") {
    input_transform t;
    t.lb = compute_letterbox(4, 4, 4, 4, true);
    alpha_output_params p;
    tensor logits = map_tensor(4, 4, [](int x, int) { return x == 0 ? 0.f : 50.f; });
    p.sigmoid = true;
    cv::Mat a = network_alpha({logits}, 0, t, 4, 4, 4, 4, p);
    CHECK(a.at<float>(0, 0) == Approx(0.5));
    CHECK(a.at<float>(0, 3) == Approx(1));
    p = {};
    tensor raw = map_tensor(
        4, 4, [](int x, int) { return 1.f + 3.f * x; }, true);  // 1..10
    p.nhwc = true;
    p.minmax = true;
    a = network_alpha({raw}, 0, t, 4, 4, 4, 4, p);
    CHECK(a.at<float>(1, 0) == Approx(0));
    CHECK(a.at<float>(1, 3) == Approx(1));
    CHECK(a.at<float>(1, 1) == Approx(1.0 / 3));
    p.minmax = false;
    a = network_alpha({raw}, 0, t, 4, 4, 4, 4, p);  // clamped to [0, 1]
    CHECK(a.at<float>(1, 0) == Approx(1));
    // two channels: not an alpha
    tensor two;
    two.shape = {1, 2, 4, 4};
    two.data.assign(32, 0.f);
    p = {};
    CHECK_THROWS_AS(network_alpha({two}, 0, t, 4, 4, 4, 4, p), fatal_error);
    p.output = 3;
    CHECK_THROWS_AS(network_alpha({raw}, 0, t, 4, 4, 4, 4, p), fatal_error);
    // NaN: an input error (that image fails)
    tensor nan = map_tensor(4, 4, [](int, int) { return std::nanf(""); });
    p = {};
    CHECK_THROWS_AS(network_alpha({nan}, 0, t, 4, 4, 4, 4, p), input_error);
}

TEST_CASE("network_foreground reads RGB to BGR at the original size", "[matte]") {
    tensor f;
    f.shape = {1, 3, 2, 2};
    f.data = {0.1f, 0.1f, 0.1f, 0.1f, 0.5f, 0.5f, 0.5f, 0.5f, 0.9f, 0.9f, 0.9f, 0.9f};
    input_transform t;
    t.lb = compute_letterbox(2, 2, 2, 2, true);
    alpha_output_params p;
    p.foreground_output = 0;
    cv::Mat fg = network_foreground({f}, 0, t, 2, 2, 4, 4, p);
    REQUIRE(fg.type() == CV_32FC3);
    CHECK(fg.at<cv::Vec3f>(3, 3)[0] == Approx(0.9));  // B from the third channel
    CHECK(fg.at<cv::Vec3f>(3, 3)[2] == Approx(0.1));  // R from the first
}

TEST_CASE("alpha_image, rgba_cutout and composite_over", "[matte]") {
    cv::Mat alpha = (cv::Mat_<float>(1, 3) << 0.f, 0.5f, 1.f);
    cv::Mat a8 = alpha_image(alpha, 8), a16 = alpha_image(alpha, 16);
    CHECK(a8.at<uchar>(0, 1) == 128);  // round(127.5)
    CHECK(a16.type() == CV_16U);
    CHECK(a16.at<uint16_t>(0, 1) == 32768);  // round(32767.5)
    CHECK(a16.at<uint16_t>(0, 2) == 65535);
    cv::Mat img(1, 3, CV_8UC3, cv::Scalar(10, 20, 30));
    cv::Mat c = rgba_cutout(img, cv::Mat(), alpha, 8);
    REQUIRE(c.type() == CV_8UC4);
    CHECK(c.at<cv::Vec4b>(0, 1) == cv::Vec4b(10, 20, 30, 128));
    cv::Mat fg(1, 3, CV_32FC3, cv::Scalar(1.f, 0.f, 0.f));  // decontaminated: pure blue
    c = rgba_cutout(img, fg, alpha, 16);
    CHECK(c.type() == CV_16UC4);
    CHECK(c.at<cv::Vec4w>(0, 2) == cv::Vec4w(65535, 0, 0, 65535));
    cv::Mat bg(1, 3, CV_8UC3, cv::Scalar(0, 255, 0));
    cv::Mat comp = composite_over(img, fg, alpha, bg);
    CHECK(comp.at<cv::Vec3b>(0, 0) == cv::Vec3b(0, 255, 0));
    CHECK(comp.at<cv::Vec3b>(0, 1) == cv::Vec3b(128, 128, 0));
    CHECK(comp.at<cv::Vec3b>(0, 2) == cv::Vec3b(255, 0, 0));
}

TEST_CASE("cover_resize fills the frame and centre-crops", "[matte]") {
    cv::Mat bg(10, 40, CV_8UC3, cv::Scalar(0, 0, 0));
    bg(cv::Rect(15, 0, 10, 10)).setTo(cv::Scalar(255, 255, 255));  // a white centre band
    cv::Mat r = cover_resize(bg, 20, 20);  // scale 2 -> 80x20, crop x 30..49
    REQUIRE(r.size() == cv::Size(20, 20));
    CHECK(r.at<cv::Vec3b>(10, 10)[0] == 255);
    CHECK(r.at<cv::Vec3b>(10, 2)[0] == 255);  // x 32 of 80 lies in the band 30..49
}

TEST_CASE("summarize_alpha: coverage, fraction and bbox", "[matte]") {
    cv::Mat a(10, 20, CV_32F, cv::Scalar(0));
    a(cv::Rect(4, 2, 6, 3)).setTo(1.f);
    a.at<float>(9, 19) = 0.4f;  // under the threshold: not in the bbox
    alpha_summary s = summarize_alpha(a, 0.5f);
    CHECK_FALSE(s.empty);
    CHECK(s.x == 4);
    CHECK(s.y == 2);
    CHECK(s.w == 6);
    CHECK(s.h == 3);
    CHECK(s.coverage == Approx((18 + 0.4) / 200));
    CHECK(s.foreground_fraction == Approx(18.0 / 200));
    s = summarize_alpha(cv::Mat(4, 4, CV_32F, cv::Scalar(0.2)), 0.5f);
    CHECK(s.empty);
    CHECK(s.coverage == Approx(0.2));
}

TEST_CASE("union_mask joins masks of the image's size", "[matte]") {
    cv::Mat a(4, 4, CV_8U, cv::Scalar(0)), b(4, 4, CV_8U, cv::Scalar(0));
    a.at<uchar>(0, 0) = 1;
    b.at<uchar>(3, 3) = 255;
    cv::Mat u = union_mask({a, b, cv::Mat(2, 2, CV_8U, cv::Scalar(1))}, 4, 4);
    CHECK(cv::countNonZero(u) == 2);
    CHECK(u.at<uchar>(3, 3) == 1);
}
