// Trimaps from binary masks, soft alphas and user files. See vfm/matting.h; trimap_from_alpha
// follows rembg's alpha_matting_cutout (danielgatis/rembg, rembg/bg.py), normalize_trimap
// pymatting's trimap_split thresholds (pymatting/pymatting, pymatting/util/util.py).
#include <opencv2/imgproc.hpp>
#include <stdexcept>

#include "vfm/matting.h"

namespace vfm {

namespace {

cv::Mat ellipse_element(int r) {
    return cv::getStructuringElement(cv::MORPH_ELLIPSE, cv::Size(2 * r + 1, 2 * r + 1));
}

}  // namespace

cv::Mat trimap_from_mask(const cv::Mat& mask, int erode, int dilate) {
    if (!mask.empty() && mask.type() != CV_8UC1)
        throw std::invalid_argument("trimap_from_mask: expected a CV_8UC1 mask");
    if (erode < 0 || dilate < 0)
        throw std::invalid_argument("trimap_from_mask: negative erode or dilate");
    if (mask.empty()) return cv::Mat();
    const cv::Mat inside = mask != 0;
    // OpenCV's default border for erode/dilate is neutral (+inf / -inf): a subject touching the
    // image edge keeps its foreground there instead of getting an unknown strip along the edge.
    cv::Mat fg, grown;
    if (erode > 0)
        cv::erode(inside, fg, ellipse_element(erode));
    else
        fg = inside;
    if (dilate > 0)
        cv::dilate(inside, grown, ellipse_element(dilate));
    else
        grown = inside;
    cv::Mat trimap(mask.size(), CV_8U, cv::Scalar(trimap_unknown));
    trimap.setTo(trimap_bg, grown == 0);
    trimap.setTo(trimap_fg, fg);
    return trimap;
}

cv::Mat trimap_from_alpha(const cv::Mat& alpha, int fg_threshold, int bg_threshold, int erode) {
    if (!alpha.empty() && alpha.type() != CV_32FC1)
        throw std::invalid_argument("trimap_from_alpha: expected a CV_32FC1 alpha");
    if (alpha.empty()) return cv::Mat();
    // rembg thresholds the 8-bit mask; quantising first keeps 240/255 from landing on 240.00002.
    cv::Mat a8;
    alpha.convertTo(a8, CV_8U, 255.0);  // saturating, rounded
    cv::Mat fg = a8 > fg_threshold, bg = a8 < bg_threshold;
    // rembg: a size x size square of ones, or scipy.ndimage's default structure (the 3x3 cross)
    // when the size is 0. The anchor at size/2 matches scipy's origin 0 for even sizes too.
    const cv::Mat element = erode > 0 ? cv::Mat(erode, erode, CV_8U, cv::Scalar(1))
                                      : cv::getStructuringElement(cv::MORPH_CROSS, cv::Size(3, 3));
    // rembg erodes the foreground with scipy's default border_value=0 (the image edge eats into
    // it) and the background with border_value=1 (OpenCV's default: the edge is neutral).
    cv::erode(fg, fg, element, cv::Point(-1, -1), 1, cv::BORDER_CONSTANT, cv::Scalar(0));
    cv::erode(bg, bg, element);
    cv::Mat trimap(alpha.size(), CV_8U, cv::Scalar(trimap_unknown));
    trimap.setTo(trimap_fg, fg);
    trimap.setTo(trimap_bg, bg);
    return trimap;
}

cv::Mat normalize_trimap(const cv::Mat& trimap) {
    if (trimap.empty()) return cv::Mat();
    const int depth = trimap.depth();
    if (trimap.channels() > 4 ||
        (depth != CV_8U && depth != CV_16U && depth != CV_32F && depth != CV_64F))
        throw std::invalid_argument(
            "normalize_trimap: expected an 8 or 16-bit (or 0..1 float) image of 1 to 4 channels");
    cv::Mat first;
    cv::extractChannel(trimap, first, 0);
    cv::Mat out(trimap.size(), CV_8U);
    if (depth == CV_8U || depth == CV_16U) {
        // pymatting scales to 0..1 and splits at >= 0.9 and <= 0.1; in integers, v*10 >= 9*max
        // and v*10 <= max are exact: 8-bit >= 230 and <= 25, 16-bit >= 58982 and <= 6553.
        const int max = depth == CV_8U ? 255 : 65535;
        cv::Mat v;
        first.convertTo(v, CV_32S);
        for (int y = 0; y < v.rows; ++y) {
            const int* s = v.ptr<int>(y);
            unsigned char* d = out.ptr<unsigned char>(y);
            for (int x = 0; x < v.cols; ++x) {
                const long t = long(s[x]) * 10;
                d[x] = t >= 9L * max ? trimap_fg : t <= max ? trimap_bg : trimap_unknown;
            }
        }
    } else if (depth == CV_32F) {
        // In float, as numpy compares a float32 trimap with 0.9 and 0.1: 0.1f counts as 0.1.
        for (int y = 0; y < first.rows; ++y) {
            const float* s = first.ptr<float>(y);
            unsigned char* d = out.ptr<unsigned char>(y);
            for (int x = 0; x < first.cols; ++x)
                d[x] = s[x] >= 0.9f ? trimap_fg : s[x] <= 0.1f ? trimap_bg : trimap_unknown;
        }
    } else {
        for (int y = 0; y < first.rows; ++y) {
            const double* s = first.ptr<double>(y);
            unsigned char* d = out.ptr<unsigned char>(y);
            for (int x = 0; x < first.cols; ++x)
                d[x] = s[x] >= 0.9 ? trimap_fg : s[x] <= 0.1 ? trimap_bg : trimap_unknown;
        }
    }
    return out;
}

}  // namespace vfm
