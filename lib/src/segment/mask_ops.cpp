// RLE, mask measurements and SAM's resize transforms. See vfm/mask_ops.h for the upstream
// each function follows: pycocotools cocodataset/cocoapi common/maskApi.c and
// facebookresearch/segment-anything segment_anything/utils/{amg,transforms}.py, modeling/sam.py.
#include <algorithm>
#include <cmath>
#include <limits>
#include <opencv2/imgproc.hpp>
#include <stdexcept>
#include <utility>

#include "vfm/mask_ops.h"

namespace vfm {

namespace {

void check_mask(const cv::Mat& m, const char* fn) {
    if (!m.empty() && m.type() != CV_8UC1)
        throw std::invalid_argument(std::string(fn) + ": expected a CV_8UC1 mask");
}

void check_counts(const rle& r, const char* fn) {
    if (r.h < 0 || r.w < 0) throw std::invalid_argument(std::string(fn) + ": negative size");
    uint64_t sum = 0;
    for (uint32_t c : r.counts) sum += c;
    if (sum != static_cast<uint64_t>(r.h) * static_cast<uint64_t>(r.w))
        throw std::invalid_argument(std::string(fn) + ": counts add up to " + std::to_string(sum) +
                                    ", not h * w = " + std::to_string(int64_t(r.h) * r.w));
}

// One axis of F.interpolate(mode="bilinear", align_corners=False) from `in` to `out` samples,
// for the first n outputs. As torch's CPU kernel does (measured on torch 1.13 by
// tests/unit/gen_mask_ops_expected.py): scale = float(in) / out, the source position
// max(scale * (k + 0.5) - 0.5, 0) kept in double, float weights. cv::resize INTER_LINEAR rounds
// that position to float first, which moves results by up to ~5e-3 on N(0, 10) data at
// non-integer scales (and flips a few mask pixels); this stays within float rounding of torch
// (<= 2.3e-5 on N(0, 30) logits through the whole of sam_upscale_logits).
struct lerp_axis {
    std::vector<int> i0, i1;
    std::vector<float> w1;  // weight of i1; i0 gets 1 - w1
};

lerp_axis torch_linear_axis(int in, int out, int n) {
    lerp_axis a;
    const double scale = double(float(in) / float(out));
    for (int k = 0; k < n; ++k) {
        const double x = std::max(scale * (k + 0.5) - 0.5, 0.0);
        const int i = std::min(int(x), in - 1);  // x >= 0: truncation is floor
        a.i0.push_back(i);
        a.i1.push_back(std::min(i + 1, in - 1));
        a.w1.push_back(std::min(std::max(float(x - i), 0.f), 1.f));
    }
    return a;
}

// Separable bilinear of a CV_32F image: along rows first, then between the two source rows.
cv::Mat torch_bilinear(const cv::Mat& src, const lerp_axis& ax, const lerp_axis& ay) {
    const int ow = int(ax.i0.size()), oh = int(ay.i0.size());
    cv::Mat rows(src.rows, ow, CV_32F), dst(oh, ow, CV_32F);
    for (int y = 0; y < src.rows; ++y) {
        const float* s = src.ptr<float>(y);
        float* d = rows.ptr<float>(y);
        for (int k = 0; k < ow; ++k) d[k] = (1.f - ax.w1[k]) * s[ax.i0[k]] + ax.w1[k] * s[ax.i1[k]];
    }
    for (int j = 0; j < oh; ++j) {
        const float *r0 = rows.ptr<float>(ay.i0[j]), *r1 = rows.ptr<float>(ay.i1[j]);
        const float b = ay.w1[j], a = 1.f - b;
        float* d = dst.ptr<float>(j);
        for (int k = 0; k < ow; ++k) d[k] = a * r0[k] + b * r1[k];
    }
    return dst;
}

}  // namespace

// --- RLE (maskApi.c)

rle rle_encode(const cv::Mat& mask) {
    check_mask(mask, "rle_encode");
    rle r;
    r.h = mask.rows;
    r.w = mask.cols;
    // Transposed, a row-major scan is the column-major (Fortran) order pycocotools encodes.
    cv::Mat t;
    if (!mask.empty()) cv::transpose(mask, t);
    uint8_t prev = 0;  // counts start with a run of zeros, possibly empty
    uint32_t run = 0;
    for (int y = 0; y < t.rows; ++y) {
        const uint8_t* p = t.ptr<uint8_t>(y);
        for (int x = 0; x < t.cols; ++x) {
            const uint8_t v = p[x] != 0;
            if (v != prev) r.counts.push_back(run), run = 0, prev = v;
            ++run;
        }
    }
    r.counts.push_back(run);  // an empty mask gives {0}, as rleEncode
    return r;
}

cv::Mat rle_decode(const rle& r) {
    check_counts(r, "rle_decode");
    if (r.h == 0 || r.w == 0) return cv::Mat(r.h, r.w, CV_8U);
    cv::Mat t(r.w, r.h, CV_8U);  // one row per image column
    uint8_t* p = t.data;
    uint8_t v = 0;
    for (uint32_t c : r.counts) std::fill(p, p + c, v), p += c, v ^= 1;
    return t.t();
}

std::string rle_to_string(const rle& r) {
    std::string s;
    for (size_t i = 0; i < r.counts.size(); ++i) {
        int64_t x = r.counts[i];
        if (i > 2) x -= r.counts[i - 2];  // maskApi.c: delta from two back, only past index 2
        // 5 bits per char, low bits first; 0x20 = more follows; 0x10 of the last = sign.
        for (bool more = true; more;) {
            char c = static_cast<char>(x & 0x1f);
            x >>= 5;  // arithmetic shift: a negative value ends at -1
            more = (c & 0x10) ? x != -1 : x != 0;
            if (more) c |= 0x20;
            s.push_back(static_cast<char>(c + 48));
        }
    }
    return s;
}

rle rle_from_string(const std::string& s, int h, int w) {
    auto bad = [](const std::string& why) {
        return std::invalid_argument("rle_from_string: " + why);
    };
    rle r;
    r.h = h;
    r.w = w;
    size_t p = 0;
    while (p < s.size()) {
        int64_t x = 0;
        int k = 0;
        for (bool more = true; more; ++p, ++k) {
            if (p >= s.size()) throw bad("the last value is cut off");
            const int c = s[p] - 48;
            if (c < 0 || c > 63) throw bad("character outside '0'..'o' at " + std::to_string(p));
            if (k >= 8) throw bad("value longer than 8 characters at " + std::to_string(p));
            x |= static_cast<int64_t>(c & 0x1f) << (5 * k);
            more = (c & 0x20) != 0;
            if (!more && (c & 0x10)) x |= -(int64_t(1) << (5 * (k + 1)));  // sign-extend
        }
        const size_t m = r.counts.size();
        if (m > 2) x += r.counts[m - 2];
        if (x < 0 || x > int64_t(std::numeric_limits<uint32_t>::max()))
            throw bad("run " + std::to_string(m) + " out of range");
        r.counts.push_back(static_cast<uint32_t>(x));
    }
    check_counts(r, "rle_from_string");
    return r;
}

int64_t rle_area(const rle& r) {
    int64_t a = 0;
    for (size_t j = 1; j < r.counts.size(); j += 2) a += r.counts[j];
    return a;
}

box rle_bbox(const rle& r) {
    const size_t m = r.counts.size() / 2 * 2;  // a trailing run of zeros changes nothing
    if (m == 0 || r.h <= 0) return {};
    const int64_t h = r.h;
    int64_t xs = r.w, ys = h, xe = 0, ye = 0, xp = 0, cc = 0;
    for (size_t j = 0; j < m; ++j) {
        cc += r.counts[j];
        const int64_t t = cc - int64_t(j % 2);  // first pixel of a run of ones, or its last
        const int64_t y = t % h, x = t / h;
        if (j % 2 == 0)
            xp = x;
        else if (xp < x)  // the run goes on into the next column: full height, as rleToBbox
            ys = 0, ye = h - 1;
        xs = std::min(xs, x), xe = std::max(xe, x), ys = std::min(ys, y), ye = std::max(ye, y);
    }
    return box{float(xs), float(ys), float(xe + 1), float(ye + 1)};
}

// --- masks (amg.py)

box mask_bbox(const cv::Mat& mask) {
    check_mask(mask, "mask_bbox");
    int x1 = mask.cols, y1 = mask.rows, x2 = -1, y2 = -1;
    for (int y = 0; y < mask.rows; ++y) {
        const uint8_t* p = mask.ptr<uint8_t>(y);
        for (int x = 0; x < mask.cols; ++x)
            if (p[x]) x1 = std::min(x1, x), x2 = std::max(x2, x), y1 = std::min(y1, y), y2 = y;
    }
    if (x2 < 0) return {};  // empty, as batched_mask_to_box
    return box{float(x1), float(y1), float(x2), float(y2)};
}

float stability_score(const cv::Mat& logits, float mask_threshold, float offset) {
    if (logits.type() != CV_32FC1)
        throw std::invalid_argument("stability_score: expected CV_32FC1 logits");
    // torch compares a float32 tensor with a Python float in float32.
    const float hi = float(double(mask_threshold) + offset);
    const float lo = float(double(mask_threshold) - offset);
    int64_t inter = 0, uni = 0;
    for (int y = 0; y < logits.rows; ++y) {
        const float* p = logits.ptr<float>(y);
        for (int x = 0; x < logits.cols; ++x) inter += p[x] > hi, uni += p[x] > lo;
    }
    if (uni == 0) return std::numeric_limits<float>::quiet_NaN();  // torch's 0 / 0
    return float(inter) / float(uni);  // int / int true division gives float32 in torch
}

bool remove_small_regions(cv::Mat& mask, double area_thresh, bool holes) {
    check_mask(mask, "remove_small_regions");
    if (mask.empty()) return false;
    // Components of the background (holes) or of the foreground (islands); label 0 is the rest.
    cv::Mat work = holes ? (mask == 0) : (mask != 0), labels, stats, centroids;
    const int n = cv::connectedComponentsWithStats(work, labels, stats, centroids, 8, CV_32S);
    auto area = [&](int i) { return stats.at<int>(i, cv::CC_STAT_AREA); };
    std::vector<char> small(n, 0), inside(n, 0);  // inside: labels that end up in the mask
    bool any_small = false;
    for (int i = 1; i < n; ++i) small[i] = area(i) < area_thresh, any_small |= small[i] != 0;
    if (!any_small) return false;
    if (holes) {
        inside[0] = 1;                                     // the mask itself
        for (int i = 1; i < n; ++i) inside[i] = small[i];  // and its small holes
    } else {
        bool any = false;
        for (int i = 1; i < n; ++i) inside[i] = !small[i], any |= !small[i];
        if (!any) {  // every island small: upstream keeps the largest (first of equals, argmax)
            int best = 1;
            for (int i = 2; i < n; ++i)
                if (area(i) > area(best)) best = i;
            inside[best] = 1;
        }
    }
    for (int y = 0; y < mask.rows; ++y) {
        const int* l = labels.ptr<int>(y);
        uint8_t* p = mask.ptr<uint8_t>(y);
        for (int x = 0; x < mask.cols; ++x) p[x] = inside[l[x]];
    }
    return true;  // upstream's "changed", even when the all-small rule kept the mask as it was
}

std::vector<std::vector<cv::Point>> mask_polygons(const cv::Mat& mask, double epsilon) {
    check_mask(mask, "mask_polygons");
    if (mask.empty()) return {};
    std::vector<std::vector<cv::Point>> contours;
    cv::findContours(mask, contours, cv::RETR_EXTERNAL, cv::CHAIN_APPROX_SIMPLE);
    std::vector<std::pair<double, std::vector<cv::Point>>> polys;
    for (auto& c : contours) {
        if (epsilon > 0) {
            std::vector<cv::Point> a;
            cv::approxPolyDP(c, a, epsilon, true);
            c.swap(a);
        }
        if (c.size() >= 3) polys.emplace_back(std::fabs(cv::contourArea(c)), std::move(c));
    }
    std::stable_sort(polys.begin(), polys.end(),
                     [](const auto& a, const auto& b) { return a.first > b.first; });
    std::vector<std::vector<cv::Point>> out;
    for (auto& p : polys) out.push_back(std::move(p.second));
    return out;
}

// --- SAM transforms (transforms.py ResizeLongestSide, sam.py postprocess_masks)

sam_resize sam_preprocess_shape(int w, int h, int long_side) {
    if (w <= 0 || h <= 0 || long_side <= 0)
        throw std::invalid_argument("sam_preprocess_shape: sizes must be positive");
    const double scale = long_side * 1.0 / std::max(w, h);
    return {int(w * scale + 0.5), int(h * scale + 0.5)};
}

cv::Point2f sam_apply_coords(cv::Point2f p, int w, int h, int long_side) {
    const sam_resize s = sam_preprocess_shape(w, h, long_side);
    // apply_coords multiplies by the ratio (new / old) in double.
    return {float(p.x * (double(s.new_w) / w)), float(p.y * (double(s.new_h) / h))};
}

cv::Point2f sam_unapply_coords(cv::Point2f p, int w, int h, int long_side) {
    const sam_resize s = sam_preprocess_shape(w, h, long_side);
    return {float(p.x * (double(w) / s.new_w)), float(p.y * (double(h) / s.new_h))};
}

box sam_apply_box(const box& b, int w, int h, int long_side) {
    const cv::Point2f a = sam_apply_coords({b.x1, b.y1}, w, h, long_side);
    const cv::Point2f c = sam_apply_coords({b.x2, b.y2}, w, h, long_side);
    return box{a.x, a.y, c.x, c.y};
}

cv::Mat sam_upscale_logits(const cv::Mat& low_res, int w, int h, int long_side) {
    if (low_res.empty() || low_res.type() != CV_32FC1)
        throw std::invalid_argument("sam_upscale_logits: expected non-empty CV_32FC1 logits");
    const sam_resize s = sam_preprocess_shape(w, h, long_side);
    // Only the top-left new_h x new_w of the long_side square survives the crop.
    cv::Mat crop = torch_bilinear(low_res, torch_linear_axis(low_res.cols, long_side, s.new_w),
                                  torch_linear_axis(low_res.rows, long_side, s.new_h));
    return torch_bilinear(crop, torch_linear_axis(s.new_w, w, w), torch_linear_axis(s.new_h, h, h));
}

}  // namespace vfm
