#include <catch2/catch.hpp>
#include <cmath>
#include <cstdio>
#include <opencv2/imgproc.hpp>
#include <stdexcept>
#include <vector>

#include "vfm/matting.h"

using namespace vfm;

namespace {

int count_value(const cv::Mat& trimap, unsigned char v) {
    return cv::countNonZero(trimap == v);
}

// A w x h mask with a filled rectangle.
cv::Mat rect_mask(int w, int h, cv::Rect r) {
    cv::Mat m(h, w, CV_8U, cv::Scalar(0));
    m(r).setTo(1);
    return m;
}

// 8-bit composite alpha*F + (1-alpha)*B of CV_32FC3 colours in 0..1.
cv::Mat composite(const cv::Mat& alpha, const cv::Mat& fg, const cv::Mat& bg) {
    cv::Mat a3, out;
    cv::merge(std::vector<cv::Mat>{alpha, alpha, alpha}, a3);
    cv::Mat mix = fg.mul(a3) + bg.mul(cv::Scalar(1, 1, 1) - a3);
    mix.convertTo(out, CV_8UC3, 255.0);
    return out;
}

// A soft disc: a hard disc blurred, as a segmentation edge with some motion or defocus.
cv::Mat soft_disc(int size, int radius, double sigma) {
    cv::Mat m(size, size, CV_32F, cv::Scalar(0));
    cv::circle(m, cv::Point(size / 2, size / 2), radius, cv::Scalar(1), cv::FILLED, cv::LINE_AA);
    cv::GaussianBlur(m, m, cv::Size(0, 0), sigma);
    return m;
}

// Unknown around 0 < alpha < 1 (with 2 px of margin), known elsewhere: the trimap a user would
// draw for this alpha.
cv::Mat trimap_around(const cv::Mat& alpha) {
    cv::Mat soft = (alpha > 0.002f) & (alpha < 0.998f);
    cv::dilate(soft, soft, cv::getStructuringElement(cv::MORPH_ELLIPSE, cv::Size(5, 5)));
    cv::Mat t(alpha.size(), CV_8U, cv::Scalar(trimap_bg));
    t.setTo(trimap_fg, alpha >= 0.5f);
    t.setTo(trimap_unknown, soft);
    return t;
}

struct errors {
    double sad = 0;    // sum |a - a_true| over the image
    double mse_u = 0;  // mean squared error over the trimap's unknown pixels
};

errors measure(const cv::Mat& a, const cv::Mat& truth, const cv::Mat& trimap) {
    cv::Mat d;
    cv::absdiff(a, truth, d);
    errors e;
    e.sad = cv::sum(d)[0];
    const cv::Mat unknown = trimap == trimap_unknown;
    cv::Mat sq = d.mul(d);
    sq.setTo(0, ~unknown);
    e.mse_u = cv::sum(sq)[0] / std::max(1, cv::countNonZero(unknown));
    return e;
}

// Closed form against the binary mask alpha_true > 0.5, printed for the record.
void compare_with_binary(const char* name, const cv::Mat& image, const cv::Mat& truth) {
    const cv::Mat trimap = trimap_around(truth);
    closed_form_stats st;
    const cv::Mat a = closed_form_alpha(image, trimap, {}, &st);
    cv::Mat binary;
    cv::Mat(truth > 0.5f).convertTo(binary, CV_32F, 1.0 / 255);
    const errors cf = measure(a, truth, trimap), bin = measure(binary, truth, trimap);
    std::printf(
        "[matting] %s %dx%d, %d unknown: closed form SAD %.2f (%.4fk) MSE %.2e in %d CG "
        "iterations; binary mask SAD %.2f (%.4fk) MSE %.2e\n",
        name, image.cols, image.rows, st.unknown, cf.sad, cf.sad / 1000, cf.mse_u, st.iterations,
        bin.sad, bin.sad / 1000, bin.mse_u);
    INFO(name << ": closed form SAD " << cf.sad << " MSE " << cf.mse_u << ", binary SAD " << bin.sad
              << " MSE " << bin.mse_u);
    CHECK(st.residual <= 1e-7);
    REQUIRE(cf.sad <= 0.5 * bin.sad);
    REQUIRE(cf.mse_u <= 0.25 * bin.mse_u);
}

}  // namespace

// ---- trimaps ----------------------------------------------------------------------------------

TEST_CASE("trimap_from_mask: exact counts around a square", "[matting]") {
    // 20x20 square in 40x40 (1600 px). OpenCV's elliptic elements: r=1 is the 3x3 cross, r=2 is
    // the 5x5 block less the four corner pairs (rows ..#.. / ##### x3 / ..#..), r=3 reaches 3 px
    // along the axes.
    const cv::Mat m = rect_mask(40, 40, cv::Rect(10, 10, 20, 20));
    cv::Mat t = trimap_from_mask(m, 2, 2);
    REQUIRE(t.type() == CV_8UC1);
    REQUIRE(t.size() == m.size());
    // Eroded by 2 along both axes: 16x16. Dilated: rows 9..30 span x 8..31 (22 x 24), rows 8
    // and 31 only x 10..29 (2 x 20): 568.
    CHECK(count_value(t, trimap_fg) == 256);
    CHECK(count_value(t, trimap_unknown) == 568 - 256);
    CHECK(count_value(t, trimap_bg) == 1600 - 568);
    CHECK(t.at<unsigned char>(20, 20) == trimap_fg);
    CHECK(t.at<unsigned char>(10, 10) == trimap_unknown);
    CHECK(t.at<unsigned char>(8, 9) == trimap_bg);  // outside the dilated corner
    CHECK(t.at<unsigned char>(8, 10) == trimap_unknown);

    t = trimap_from_mask(m, 1, 1);  // cross: 18x18 inside, 22x22 less 4 corners outside
    CHECK(count_value(t, trimap_fg) == 324);
    CHECK(count_value(t, trimap_unknown) == 480 - 324);
    CHECK(count_value(t, trimap_bg) == 1600 - 480);

    t = trimap_from_mask(m, 3, 0);  // the outer edge stays: background is the mask's outside
    CHECK(count_value(t, trimap_fg) == 14 * 14);
    CHECK(count_value(t, trimap_unknown) == 400 - 196);
    CHECK(count_value(t, trimap_bg) == 1200);

    t = trimap_from_mask(m * 255, 0, 0);  // no band: the mask itself, any non-zero value
    CHECK(count_value(t, trimap_fg) == 400);
    CHECK(count_value(t, trimap_bg) == 1200);
    CHECK(count_value(t, trimap_unknown) == 0);
}

TEST_CASE("trimap_from_mask: the image edge is not a subject edge", "[matting]") {
    // Left half of 40x10: eroding must not eat the rows along the top, bottom and left edges.
    const cv::Mat m = rect_mask(40, 10, cv::Rect(0, 0, 20, 10));
    const cv::Mat t = trimap_from_mask(m, 2, 2);
    CHECK(count_value(t, trimap_fg) == 18 * 10);
    CHECK(count_value(t, trimap_unknown) == 4 * 10);
    CHECK(count_value(t, trimap_bg) == 18 * 10);
    CHECK(trimap_from_mask(cv::Mat(), 1, 1).empty());
    CHECK_THROWS_AS(trimap_from_mask(cv::Mat(4, 4, CV_32F, cv::Scalar(0)), 1, 1),
                    std::invalid_argument);
    CHECK_THROWS_AS(trimap_from_mask(m, -1, 1), std::invalid_argument);
}

TEST_CASE("trimap_from_alpha: rembg thresholds and square erosion", "[matting]") {
    // Thresholds are strict (> fg, < bg) on the 8-bit alpha; a 1x1 element erodes nothing.
    cv::Mat a = (cv::Mat_<float>(1, 5) << 240 / 255.f, 241 / 255.f, 10 / 255.f, 9 / 255.f, 0.5f);
    cv::Mat t = trimap_from_alpha(a, 240, 10, 1);
    CHECK(t.at<unsigned char>(0, 0) == trimap_unknown);
    CHECK(t.at<unsigned char>(0, 1) == trimap_fg);
    CHECK(t.at<unsigned char>(0, 2) == trimap_unknown);
    CHECK(t.at<unsigned char>(0, 3) == trimap_bg);
    CHECK(t.at<unsigned char>(0, 4) == trimap_unknown);

    // A 10x10 opaque block in 20x20 zeros (400 px).
    a = cv::Mat(20, 20, CV_32F, cv::Scalar(0));
    a(cv::Rect(5, 5, 10, 10)).setTo(1);
    t = trimap_from_alpha(a, 240, 10, 3);  // 3x3 square: 8x8 inside; outside less a 12x12 block
    CHECK(count_value(t, trimap_fg) == 64);
    CHECK(count_value(t, trimap_bg) == 400 - 144);
    CHECK(count_value(t, trimap_unknown) == 144 - 64);
    t = trimap_from_alpha(a, 240, 10, 0);  // rembg's size 0: scipy's default 3x3 cross
    CHECK(count_value(t, trimap_fg) == 64);
    CHECK(count_value(t, trimap_bg) == 400 - 140);
    t = trimap_from_alpha(a, 240, 10, 2);  // 2x2, anchor at (1, 1): offsets -1..0 -> 9x9 inside
    CHECK(count_value(t, trimap_fg) == 81);
    CHECK(count_value(t, trimap_bg) == 400 - 121);

    // Foreground eroded from the image edge (scipy border_value 0), background not (1).
    t = trimap_from_alpha(cv::Mat(10, 10, CV_32F, cv::Scalar(1)), 240, 10, 3);
    CHECK(count_value(t, trimap_fg) == 64);
    CHECK(count_value(t, trimap_unknown) == 36);
    t = trimap_from_alpha(cv::Mat(10, 10, CV_32F, cv::Scalar(0)), 240, 10, 3);
    CHECK(count_value(t, trimap_bg) == 100);
    CHECK_THROWS_AS(trimap_from_alpha(cv::Mat(4, 4, CV_8U, cv::Scalar(0)), 240, 10, 3),
                    std::invalid_argument);
}

TEST_CASE("normalize_trimap: pymatting's 0.9 and 0.1 thresholds", "[matting]") {
    const cv::Mat t8 = (cv::Mat_<unsigned char>(1, 7) << 0, 25, 26, 128, 229, 230, 255);
    const cv::Mat n8 = normalize_trimap(t8);
    REQUIRE(n8.type() == CV_8UC1);
    const unsigned char want8[] = {0, 0, 128, 128, 128, 255, 255};
    for (int i = 0; i < 7; ++i) CHECK(int(n8.at<unsigned char>(0, i)) == int(want8[i]));

    const cv::Mat t16 = (cv::Mat_<unsigned short>(1, 6) << 0, 6553, 6554, 58981, 58982, 65535);
    const cv::Mat n16 = normalize_trimap(t16);
    const unsigned char want16[] = {0, 0, 128, 128, 255, 255};
    for (int i = 0; i < 6; ++i) CHECK(int(n16.at<unsigned char>(0, i)) == int(want16[i]));

    // First channel only (B of a BGR image, the first of BGRA).
    cv::Mat bgr(1, 2, CV_8UC3);
    bgr.at<cv::Vec3b>(0, 0) = {255, 0, 0};
    bgr.at<cv::Vec3b>(0, 1) = {0, 255, 255};
    const cv::Mat nb = normalize_trimap(bgr);
    CHECK(nb.at<unsigned char>(0, 0) == trimap_fg);
    CHECK(nb.at<unsigned char>(0, 1) == trimap_bg);
    cv::Mat bgra(1, 1, CV_16UC4, cv::Scalar(30000, 65535, 65535, 65535));
    CHECK(normalize_trimap(bgra).at<unsigned char>(0, 0) == trimap_unknown);
    const cv::Mat f = (cv::Mat_<float>(1, 3) << 0.1f, 0.5f, 0.9f);
    const cv::Mat nf = normalize_trimap(f);
    CHECK(nf.at<unsigned char>(0, 0) == trimap_bg);
    CHECK(nf.at<unsigned char>(0, 1) == trimap_unknown);
    CHECK(nf.at<unsigned char>(0, 2) == trimap_fg);
    CHECK_THROWS_AS(normalize_trimap(cv::Mat(2, 2, CV_16S, cv::Scalar(0))), std::invalid_argument);
}

// ---- closed form ------------------------------------------------------------------------------

TEST_CASE("closed_form_alpha: two-colour ramp recovered exactly", "[matting]") {
    // F and B constant, alpha = clamp((x - 1) / 50): the image is B + alpha (F - B), alpha an
    // affine function of the colour everywhere, so it is in the Laplacian's null space (up to
    // eps). F - B = (200, 150, -150) makes every pixel an exact 8-bit value.
    const int w = 53, h = 8;
    cv::Mat image(h, w, CV_8UC3), trimap(h, w, CV_8U), truth(h, w, CV_32F);
    for (int y = 0; y < h; ++y)
        for (int x = 0; x < w; ++x) {
            const int k = std::min(50, std::max(0, x - 1));  // alpha = k / 50
            image.at<cv::Vec3b>(y, x) = cv::Vec3b(20 + 4 * k, 60 + 3 * k, 200 - 3 * k);
            truth.at<float>(y, x) = k / 50.f;
            trimap.at<unsigned char>(y, x) = x <= 1 ? trimap_bg : x >= 51 ? trimap_fg : 128;
        }
    for (int radius : {1, 2}) {
        closed_form_params p;
        p.radius = radius;
        closed_form_stats st;
        const cv::Mat a = closed_form_alpha(image, trimap, p, &st);
        REQUIRE(a.type() == CV_32FC1);
        CHECK(st.unknown == 49 * h);
        CHECK(st.iterations > 0);
        CHECK(st.residual <= 1e-7);
        double max_err = 0;
        for (int y = 0; y < h; ++y)
            for (int x = 0; x < w; ++x)
                max_err =
                    std::max(max_err, double(std::abs(a.at<float>(y, x) - truth.at<float>(y, x))));
        std::printf(
            "[matting] two-colour ramp, radius %d: max |alpha - alpha_true| %.1e, %d CG "
            "iterations\n",
            radius, max_err, st.iterations);
        INFO("radius " << radius << " max error " << max_err);
        CHECK(max_err < 1e-3);
    }
}

TEST_CASE("closed_form_alpha: soft disc composites beat the binary mask", "[matting]") {
    const int size = 96;
    const cv::Mat truth = soft_disc(size, 30, 2.5);
    cv::Mat fg(size, size, CV_32FC3), bg(size, size, CV_32FC3);
    cv::Mat fg_tex(size, size, CV_32FC3), bg_tex(size, size, CV_32FC3);
    cv::RNG rng(7);
    for (int y = 0; y < size; ++y)
        for (int x = 0; x < size; ++x) {
            // Smooth: an orange-to-red foreground over a blue-green gradient.
            fg.at<cv::Vec3f>(y, x) = cv::Vec3f(0.15f, 0.45f + 0.002f * y, 0.9f - 0.002f * x);
            bg.at<cv::Vec3f>(y, x) = cv::Vec3f(0.7f - 0.003f * y, 0.55f, 0.2f + 0.003f * x);
            // Textured: the same plus stripes and noise of a few percent.
            const float s = 0.06f * float(std::sin(x * 0.7) * std::cos(y * 0.45));
            const float n1 = float(rng.uniform(-0.03, 0.03)), n2 = float(rng.uniform(-0.03, 0.03));
            fg_tex.at<cv::Vec3f>(y, x) = fg.at<cv::Vec3f>(y, x) + cv::Vec3f(s + n1, n1, -s);
            bg_tex.at<cv::Vec3f>(y, x) = bg.at<cv::Vec3f>(y, x) + cv::Vec3f(n2, s - n2, s);
        }
    compare_with_binary("smooth disc", composite(truth, fg, bg), truth);
    compare_with_binary("textured disc", composite(truth, fg_tex, bg_tex), truth);
}

TEST_CASE("closed_form_alpha: preconditioners agree and threads do not matter", "[matting]") {
    // Large enough (> 4096 unknowns) for the factorisation to split around a separator.
    const int size = 200;
    const cv::Mat truth = soft_disc(size, 70, 2.5);
    cv::Mat fg(size, size, CV_32FC3), bg(size, size, CV_32FC3);
    for (int y = 0; y < size; ++y)
        for (int x = 0; x < size; ++x) {
            fg.at<cv::Vec3f>(y, x) = cv::Vec3f(0.2f, 0.3f + 0.002f * y, 0.85f - 0.002f * x);
            bg.at<cv::Vec3f>(y, x) = cv::Vec3f(0.75f - 0.002f * y, 0.5f, 0.15f + 0.002f * x);
        }
    const cv::Mat image = composite(truth, fg, bg), trimap = trimap_around(truth);
    // The default thread count, then one thread (OpenCV's TBB backend ignores raising it again
    // within the process, so one thread comes last and the default is restored after).
    const int threads = cv::getNumThreads();
    closed_form_stats st1, st4, stj;
    const cv::Mat a4 = closed_form_alpha(image, trimap, {}, &st4);
    cv::setNumThreads(1);
    const cv::Mat a1 = closed_form_alpha(image, trimap, {}, &st1);
    cv::setNumThreads(threads);
    REQUIRE(st1.unknown > 4096);
    CHECK(st1.iterations == st4.iterations);
    CHECK(cv::countNonZero(a1 != a4) == 0);  // bit for bit
    closed_form_params pj;
    pj.preconditioner = cf_preconditioner::jacobi;
    const cv::Mat aj = closed_form_alpha(image, trimap, pj, &stj);
    std::printf("[matting] %d unknown: incomplete Cholesky %d iterations, Jacobi %d\n", st1.unknown,
                st1.iterations, stj.iterations);
    CHECK(st1.iterations < 20);
    CHECK(stj.iterations > 5 * st1.iterations);
    CHECK(stj.residual <= 1e-7);
    CHECK(cv::norm(a1, aj, cv::NORM_INF) < 1e-3);
    cv::Mat binary;
    cv::Mat(truth > 0.5f).convertTo(binary, CV_32F, 1.0 / 255);
    CHECK(measure(a1, truth, trimap).sad < 0.5 * measure(binary, truth, trimap).sad);

    // The iteration cap is not an error: what was reached comes back, clipped.
    pj.max_iter = 3;
    const cv::Mat a3 = closed_form_alpha(image, trimap, pj, &stj);
    CHECK(stj.iterations == 3);
    CHECK(stj.residual > 1e-7);
    double lo = 0, hi = 0;
    cv::minMaxLoc(a3, &lo, &hi);
    CHECK(lo >= 0);
    CHECK(hi <= 1);
}

TEST_CASE("closed_form_alpha: degenerate trimaps and tiny images", "[matting]") {
    const cv::Mat image(6, 7, CV_8UC3, cv::Scalar(10, 200, 30));
    // No unknown pixel: the trimap itself.
    cv::Mat trimap(6, 7, CV_8U, cv::Scalar(trimap_bg));
    trimap(cv::Rect(0, 0, 3, 6)).setTo(trimap_fg);
    closed_form_stats st;
    cv::Mat a = closed_form_alpha(image, trimap, {}, &st);
    CHECK(st.unknown == 0);
    CHECK(cv::countNonZero(a == 1.f) == 18);
    CHECK(cv::countNonZero(a == 0.f) == 24);
    // All unknown: no constraint, every constant is a solution; documented as 0.5.
    a = closed_form_alpha(image, cv::Mat(6, 7, CV_8U, cv::Scalar(128)), {}, &st);
    CHECK(st.unknown == 42);
    CHECK(cv::countNonZero(a == 0.5f) == 42);
    // Unknown pixels next to background only: 0 exactly.
    trimap.setTo(trimap_bg);
    trimap(cv::Rect(2, 2, 2, 2)).setTo(trimap_unknown);
    a = closed_form_alpha(image, trimap, {}, &st);
    CHECK(st.unknown == 4);
    CHECK(cv::countNonZero(a) == 0);

    // 1x1.
    const cv::Mat one(1, 1, CV_8UC3, cv::Scalar(1, 2, 3));
    CHECK(closed_form_alpha(one, cv::Mat(1, 1, CV_8U, cv::Scalar(128))).at<float>(0, 0) == 0.5f);
    CHECK(closed_form_alpha(one, cv::Mat(1, 1, CV_8U, cv::Scalar(255))).at<float>(0, 0) == 1.f);
    // 2x2, smaller than a 3x3 window: one 2x2 window. Grey levels 0, 255, 255 known as 0, 1, 1:
    // alpha affine in the colour gives 102 / 255 = 0.4 for the unknown grey.
    cv::Mat img2(2, 2, CV_8UC3);
    img2.at<cv::Vec3b>(0, 0) = {0, 0, 0};
    img2.at<cv::Vec3b>(0, 1) = {255, 255, 255};
    img2.at<cv::Vec3b>(1, 0) = {255, 255, 255};
    img2.at<cv::Vec3b>(1, 1) = {102, 102, 102};
    const cv::Mat tri2 = (cv::Mat_<unsigned char>(2, 2) << 0, 255, 255, 128);
    a = closed_form_alpha(img2, tri2, {}, &st);
    CHECK(st.unknown == 1);
    CHECK(a.at<float>(1, 1) == Approx(0.4).margin(1e-3));
    // 1x6 row: 1x3 windows along it, a grey ramp between a known black and white end.
    cv::Mat row(1, 6, CV_8UC3), tri_row(1, 6, CV_8U, cv::Scalar(128));
    for (int x = 0; x < 6; ++x) row.at<cv::Vec3b>(0, x) = cv::Vec3b::all(uchar(51 * x));
    tri_row.at<unsigned char>(0, 0) = trimap_bg;
    tri_row.at<unsigned char>(0, 5) = trimap_fg;
    a = closed_form_alpha(row, tri_row, {}, &st);
    for (int x = 1; x < 5; ++x) CHECK(a.at<float>(0, x) == Approx(0.2 * x).margin(1e-3));

    CHECK(closed_form_alpha(cv::Mat(0, 0, CV_8UC3), cv::Mat(0, 0, CV_8U)).empty());
    CHECK_THROWS_AS(closed_form_alpha(image, cv::Mat(6, 6, CV_8U, cv::Scalar(0))),
                    std::invalid_argument);
    CHECK_THROWS_AS(closed_form_alpha(cv::Mat(6, 7, CV_8UC1, cv::Scalar(0)), trimap),
                    std::invalid_argument);
    CHECK_THROWS_AS(closed_form_alpha(image, cv::Mat(6, 7, CV_32F, cv::Scalar(0))),
                    std::invalid_argument);
    closed_form_params bad;
    bad.radius = 0;
    CHECK_THROWS_AS(closed_form_alpha(image, trimap, bad), std::invalid_argument);
    bad.radius = 1;
    bad.eps = 0;
    CHECK_THROWS_AS(closed_form_alpha(image, trimap, bad), std::invalid_argument);
}

// ---- foreground -------------------------------------------------------------------------------

TEST_CASE("estimate_foreground_ml: decontaminates the soft edge", "[matting]") {
    const int size = 80;
    const cv::Mat alpha = soft_disc(size, 25, 3.0);
    cv::Mat fg(size, size, CV_32FC3), bg(size, size, CV_32FC3);
    for (int y = 0; y < size; ++y)
        for (int x = 0; x < size; ++x) {
            fg.at<cv::Vec3f>(y, x) = cv::Vec3f(0.1f + 0.004f * x, 0.8f, 0.3f + 0.003f * y);
            bg.at<cv::Vec3f>(y, x) = cv::Vec3f(0.9f, 0.15f + 0.005f * y, 0.6f);
        }
    const cv::Mat image = composite(alpha, fg, bg);
    cv::Mat b_est;
    const cv::Mat f_est = estimate_foreground_ml(image, alpha, {}, &b_est);
    REQUIRE(f_est.type() == CV_32FC3);
    REQUIRE(b_est.type() == CV_32FC3);
    REQUIRE(f_est.size() == image.size());

    cv::Mat image_f;
    image.convertTo(image_f, CV_32FC3, 1.0 / 255);
    // Where the foreground is visible but mixed (0.1 <= alpha < 0.99): distance to the true F of
    // the estimate and of the raw image (the colour a plain cutout would keep).
    double err_est = 0, err_raw = 0, err_comp = 0;
    int n = 0;
    for (int y = 0; y < size; ++y)
        for (int x = 0; x < size; ++x) {
            const float a = alpha.at<float>(y, x);
            const cv::Vec3f f = f_est.at<cv::Vec3f>(y, x), t = fg.at<cv::Vec3f>(y, x);
            const cv::Vec3f i = image_f.at<cv::Vec3f>(y, x);
            const cv::Vec3f c = f * a + b_est.at<cv::Vec3f>(y, x) * (1 - a);
            err_comp = std::max(err_comp, cv::norm(c - i, cv::NORM_INF));
            if (a < 0.1f || a >= 0.99f) continue;
            err_est += cv::norm(f - t, cv::NORM_L1) / 3;
            err_raw += cv::norm(i - t, cv::NORM_L1) / 3;
            ++n;
        }
    REQUIRE(n > 200);
    err_est /= n;
    err_raw /= n;
    std::printf(
        "[matting] foreground %dx%d, %d mixed pixels: mean |F - F_true| %.4f (raw image %.4f), "
        "max |alpha F + (1 - alpha) B - I| %.4f\n",
        size, size, n, err_est, err_raw, err_comp);
    INFO("F error " << err_est << " raw " << err_raw << " composite " << err_comp);
    REQUIRE(err_est <= 0.25 * err_raw);
    REQUIRE(err_comp < 0.02);
    // Fully opaque pixels keep their colour.
    const cv::Vec3f centre = f_est.at<cv::Vec3f>(size / 2, size / 2);
    const cv::Vec3f centre_i = image_f.at<cv::Vec3f>(size / 2, size / 2);
    CHECK(cv::norm(centre - centre_i, cv::NORM_INF) < 0.01);
}

TEST_CASE("estimate_foreground_ml: tiny images and validation", "[matting]") {
    const cv::Mat one(1, 1, CV_8UC3, cv::Scalar(51, 102, 204));
    cv::Mat b;
    const cv::Mat f = estimate_foreground_ml(one, cv::Mat(1, 1, CV_32F, cv::Scalar(1)), {}, &b);
    REQUIRE(f.size() == cv::Size(1, 1));
    CHECK(f.at<cv::Vec3f>(0, 0)[0] == Approx(0.2).margin(1e-4));
    CHECK(f.at<cv::Vec3f>(0, 0)[2] == Approx(0.8).margin(1e-4));
    const cv::Mat two(2, 3, CV_8UC3, cv::Scalar(0, 255, 0));
    CHECK(estimate_foreground_ml(two, cv::Mat(2, 3, CV_32F, cv::Scalar(0.5))).size() ==
          cv::Size(3, 2));
    CHECK(estimate_foreground_ml(cv::Mat(0, 0, CV_8UC3), cv::Mat(0, 0, CV_32F)).empty());
    CHECK_THROWS_AS(estimate_foreground_ml(two, cv::Mat(3, 2, CV_32F, cv::Scalar(0))),
                    std::invalid_argument);
    CHECK_THROWS_AS(estimate_foreground_ml(two, cv::Mat(2, 3, CV_8U, cv::Scalar(0))),
                    std::invalid_argument);
}
