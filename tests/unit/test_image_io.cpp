#include <catch2/catch.hpp>
#include <opencv2/imgcodecs.hpp>

#include "vfm/error.h"
#include "vfm/image_io.h"

using namespace vfm;

static std::string encode(const cv::Mat& m, const std::string& ext) {
    std::vector<uchar> b;
    REQUIRE(cv::imencode(ext, m, b));
    return std::string(b.begin(), b.end());
}

// A JPEG with an EXIF APP1 segment holding only Orientation = `o`.
static std::string jpeg_with_orientation(const cv::Mat& m, int o) {
    std::string j = encode(m, ".jpg");
    const unsigned char tiff[] = {'I',
                                  'I',
                                  42,
                                  0,
                                  8,
                                  0,
                                  0,
                                  0,  // header, IFD at 8
                                  1,
                                  0,  // one entry
                                  0x12,
                                  0x01,
                                  3,
                                  0,
                                  1,
                                  0,
                                  0,
                                  0,  // Orientation, SHORT, 1
                                  static_cast<unsigned char>(o),
                                  0,
                                  0,
                                  0,
                                  0,
                                  0,
                                  0,
                                  0};  // no next IFD
    std::string payload =
        std::string("Exif\0\0", 6) + std::string(reinterpret_cast<const char*>(tiff), sizeof tiff);
    size_t len = payload.size() + 2;
    std::string app1 = std::string("\xFF\xE1", 2) + char(len >> 8) + char(len & 0xFF) + payload;
    return j.substr(0, 2) + app1 + j.substr(2);
}

TEST_CASE("header probe reads sizes without decoding", "[image]") {
    cv::Mat m(37, 53, CV_8UC3, cv::Scalar(1, 2, 3));
    for (auto ext : {".png", ".jpg", ".bmp", ".webp"}) {
        auto s = probe_image_size(encode(m, ext));
        CHECK(s.w == 53);
        CHECK(s.h == 37);
    }
    CHECK(probe_image_size("hello").w == 0);
}

TEST_CASE("grayscale, 16-bit and alpha inputs become 8-bit BGR", "[image]") {
    decode_options o;
    cv::Mat g(4, 5, CV_8UC1, cv::Scalar(77));
    auto d = decode_image(encode(g, ".png"), o);
    CHECK(d.bgr.type() == CV_8UC3);
    CHECK(d.bgr.at<cv::Vec3b>(1, 1) == cv::Vec3b(77, 77, 77));

    cv::Mat s16(4, 5, CV_16UC1, cv::Scalar(257 * 100));
    d = decode_image(encode(s16, ".png"), o);
    CHECK(d.bgr.at<cv::Vec3b>(0, 0) == cv::Vec3b(100, 100, 100));

    cv::Mat a(1, 3, CV_8UC4);
    a.at<cv::Vec4b>(0, 0) = {10, 20, 30, 255};  // opaque
    a.at<cv::Vec4b>(0, 1) = {10, 20, 30, 0};    // transparent -> background
    a.at<cv::Vec4b>(0, 2) = {0, 0, 0, 51};      // 20% black over white
    o.alpha_background = cv::Scalar(255, 255, 255);
    d = decode_image(encode(a, ".png"), o);
    CHECK(d.bgr.at<cv::Vec3b>(0, 0) == cv::Vec3b(10, 20, 30));
    CHECK(d.bgr.at<cv::Vec3b>(0, 1) == cv::Vec3b(255, 255, 255));
    CHECK(d.bgr.at<cv::Vec3b>(0, 2) == cv::Vec3b(204, 204, 204));
}

TEST_CASE("EXIF orientation is applied to JPEGs", "[image]") {
    cv::Mat m(20, 40, CV_8UC3, cv::Scalar(0, 0, 0));
    m(cv::Rect(0, 0, 10, 20)).setTo(cv::Scalar(255, 255, 255));  // white left band
    decode_options o;
    auto d = decode_image(jpeg_with_orientation(m, 6), o);  // rotate 90 cw
    CHECK(d.bgr.cols == 20);
    CHECK(d.bgr.rows == 40);
    CHECK(d.orig_w == 20);
    CHECK(d.bgr.at<cv::Vec3b>(2, 10)[0] > 200);  // band now on top
    CHECK(d.bgr.at<cv::Vec3b>(37, 10)[0] < 50);
}

TEST_CASE("reduced JPEG decode keeps the original size and the scale", "[image]") {
    cv::Mat m(800, 1200, CV_8UC3, cv::Scalar(90, 90, 90));
    auto bytes = encode(m, ".jpg");
    // letterbox: free while min(in_w / w, in_h / h) * f <= 1
    CHECK(choose_reduction(probe_image_size(bytes), 300, 300, true) == 4);  // scale 1/4
    CHECK(choose_reduction({1920, 1080}, 640, 640, true) == 2);             // scale 1/3
    CHECK(choose_reduction({1920, 1080}, 416, 416, true) == 4);             // scale 0.217
    CHECK(choose_reduction({1280, 720}, 640, 640, true) == 2);              // scale 1/2
    CHECK(choose_reduction({1000, 750}, 640, 640, true) == 1);              // scale 0.64
    CHECK(choose_reduction({0, 0}, 640, 640, true) == 1);                   // size unknown
    // stretch: both sides must stay at least the input size
    CHECK(choose_reduction({1920, 1080}, 640, 640, false) == 1);
    CHECK(choose_reduction({3000, 2000}, 640, 640, false) == 2);
    CHECK(choose_reduction({4000, 3000}, 640, 640, false) == 4);
    decode_options o;
    o.reduce = 2;
    auto d = decode_image(bytes, o);
    CHECK(d.bgr.cols == 600);
    CHECK(d.bgr.rows == 400);
    CHECK(d.orig_w == 1200);
    CHECK(d.orig_h == 800);
    CHECK(d.sx == 2.f);
    CHECK(d.sy == 2.f);
}

TEST_CASE("bad inputs give one-line reasons", "[image]") {
    decode_options o;
    CHECK_THROWS_WITH(decode_image("", o), "empty file");
    CHECK_THROWS_WITH(decode_image("this is text", o),
                      "cannot decode image (corrupt or not an image)");
    cv::Mat m(100, 200, CV_8UC3, cv::Scalar(1, 2, 3));
    o.max_pixels = 10000;
    CHECK_THROWS_WITH(decode_image(encode(m, ".png"), o),
                      "image is 200x100, over the max_pixels limit of 10000");
    std::string j = encode(m, ".jpg");
    o.max_pixels = 100000000;
    CHECK_THROWS_WITH(decode_image(j.substr(0, j.size() / 2), o),
                      "truncated JPEG (no end-of-image marker)");
}

TEST_CASE("prepare_input letterboxes, orders channels and normalises", "[image]") {
    cv::Mat m(100, 200, CV_8UC3, cv::Scalar(30, 60, 90));  // BGR
    preprocess_options p;
    p.in_w = p.in_h = 100;
    p.rgb = true;
    std::vector<float> buf(100 * 100 * 3);
    auto lb = prepare_input(m, p, buf.data());
    CHECK(lb.new_w == 100);
    CHECK(lb.new_h == 50);
    CHECK(lb.pad_top == 25);
    auto px = [&](int y, int x, int c) { return buf[(y * 100 + x) * 3 + c]; };
    CHECK(px(0, 0, 0) == Approx(114 / 255.0));   // padding
    CHECK(px(50, 50, 0) == Approx(90 / 255.0));  // R first
    CHECK(px(50, 50, 2) == Approx(30 / 255.0));
    // per-channel mean/std in BGR order
    p.rgb = false;
    p.mean[0] = 10, p.mean[1] = 20, p.mean[2] = 30;
    p.std[0] = 2, p.std[1] = 4, p.std[2] = 5;
    prepare_input(m, p, buf.data());
    CHECK(px(50, 50, 0) == Approx(10));  // (30 - 10) / 2
    CHECK(px(50, 50, 1) == Approx(10));  // (60 - 20) / 4
    CHECK(px(50, 50, 2) == Approx(12));  // (90 - 30) / 5
}

TEST_CASE("prepare_input pad_mean: top-left letterbox, padding exactly 0 after normalising",
          "[image]") {
    // detectron2's ImageList pads the normalised tensor with 0 bottom/right (OneFormer's input).
    cv::Mat m(100, 200, CV_8UC3, cv::Scalar(30, 60, 90));  // BGR
    preprocess_options p;
    p.in_w = 128, p.in_h = 96;
    p.centre = false;
    p.pad_mean = true;
    p.pad_value = 7;  // unused with pad_mean
    p.mean[0] = 123.675f, p.mean[1] = 116.28f, p.mean[2] = 103.53f;
    p.std[0] = 58.395f, p.std[1] = 57.12f, p.std[2] = 57.375f;
    std::vector<float> buf(128 * 96 * 3, -1.f);
    auto lb = prepare_input(m, p, buf.data());
    CHECK(lb.new_w == 128);
    CHECK(lb.new_h == 64);
    CHECK(lb.pad_top == 0);
    CHECK(lb.pad_left == 0);
    CHECK(lb.pad_bottom == 32);
    auto px = [&](int y, int x, int c) { return buf[(y * 128 + x) * 3 + c]; };
    CHECK(px(63, 127, 0) == Approx((90 - 123.675) / 58.395));  // last image row, R first
    CHECK(px(0, 0, 2) == Approx((30 - 103.53) / 57.375));
    for (int y = 64; y < 96; ++y)
        for (int x = 0; x < 128; ++x)
            for (int c = 0; c < 3; ++c) REQUIRE(px(y, x, c) == 0.f);
    // without pad_mean the 8-bit padding is normalised like the image
    p.pad_mean = false;
    prepare_input(m, p, buf.data());
    CHECK(px(95, 0, 0) == Approx((7 - 123.675) / 58.395));
}
