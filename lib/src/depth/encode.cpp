// 16-bit PNG mapping and colour maps for depth maps (vfm/depth.h).
//
// Colour tables: turbo, inferno, magma, viridis read from OpenCV 4.6's cv::applyColorMap
// (modules/imgproc/src/colormap.cpp) over a 0..255 ramp; spectral built here from the 11
// ColorBrewer "Spectral" anchors (colorbrewer2.org; matplotlib _cm.py _Spectral_data holds the
// same values), linear in RGB, reversed so index 255 is the warm (red) end like the others.
#include <algorithm>
#include <cmath>
#include <opencv2/imgproc.hpp>

#include "vfm/depth.h"
#include "vfm/error.h"

namespace vfm {

png16_normalize parse_png16_normalize(const std::string& s) {
    if (s == "per_image") return png16_normalize::per_image;
    if (s == "fixed") return png16_normalize::fixed;
    if (s == "metric_mm") return png16_normalize::metric_mm;
    throw fatal_error("outputs.normalize: expected per_image, fixed or metric_mm, got \"" + s +
                      "\"");
}

const char* png16_normalize_name(png16_normalize n) {
    switch (n) {
        case png16_normalize::per_image:
            return "per_image";
        case png16_normalize::fixed:
            return "fixed";
        default:
            return "metric_mm";
    }
}

uint16_t encode16(float v, const png16_mapping& m) {
    if (!(m.hi > m.lo)) return 0;
    double q = (static_cast<double>(v) - m.lo) * (65535.0 / (m.hi - m.lo));
    if (!(q > 0)) return 0;  // also NaN
    if (q >= 65535) return 65535;
    return static_cast<uint16_t>(std::floor(q + 0.5));
}

double decode16(uint16_t q, const png16_mapping& m) {
    return m.lo + static_cast<double>(q) * (m.hi - m.lo) / 65535.0;
}

cv::Mat encode16_image(const float* data, int w, int h, const png16_mapping& m) {
    cv::Mat out(h, w, CV_16UC1);
    for (int y = 0; y < h; ++y) {
        auto* row = out.ptr<uint16_t>(y);
        const float* src = data + static_cast<size_t>(y) * w;
        for (int x = 0; x < w; ++x) row[x] = encode16(src[x], m);
    }
    return out;
}

colormap parse_colormap(const std::string& s) {
    if (s == "turbo") return colormap::turbo;
    if (s == "inferno") return colormap::inferno;
    if (s == "magma") return colormap::magma;
    if (s == "viridis") return colormap::viridis;
    if (s == "spectral") return colormap::spectral;
    throw fatal_error(
        "outputs.colormap: expected turbo, inferno, magma, viridis or spectral, got \"" + s + "\"");
}

cv::Mat colormap_table(colormap c) {
    cv::Mat table(256, 1, CV_8UC3);
    if (c == colormap::spectral) {
        // ColorBrewer Spectral, 11 classes, from its red end (position 0) to its purple end (1).
        static const unsigned char anchors[11][3] = {
            {0x9e, 0x01, 0x42}, {0xd5, 0x3e, 0x4f}, {0xf4, 0x6d, 0x43}, {0xfd, 0xae, 0x61},
            {0xfe, 0xe0, 0x8b}, {0xff, 0xff, 0xbf}, {0xe6, 0xf5, 0x98}, {0xab, 0xdd, 0xa4},
            {0x66, 0xc2, 0xa5}, {0x32, 0x88, 0xbd}, {0x5e, 0x4f, 0xa2}};
        for (int i = 0; i < 256; ++i) {
            double x = (255 - i) / 255.0 * 10;  // reversed: index 255 = position 0 (red)
            int k = std::min(9, static_cast<int>(x));
            double f = x - k;
            auto& px = table.at<cv::Vec3b>(i, 0);
            for (int ch = 0; ch < 3; ++ch) {
                double v = anchors[k][ch] + f * (anchors[k + 1][ch] - anchors[k][ch]);
                px[2 - ch] = static_cast<uchar>(std::lround(v));  // RGB anchors -> BGR
            }
        }
        return table;
    }
    cv::Mat ramp(256, 1, CV_8UC1);
    for (int i = 0; i < 256; ++i) ramp.at<uchar>(i, 0) = static_cast<uchar>(i);
    int code = c == colormap::turbo     ? cv::COLORMAP_TURBO
               : c == colormap::inferno ? cv::COLORMAP_INFERNO
               : c == colormap::magma   ? cv::COLORMAP_MAGMA
                                        : cv::COLORMAP_VIRIDIS;
    cv::applyColorMap(ramp, table, code);
    return table;
}

cv::Mat colorize(const float* data, int w, int h, double lo, double hi, bool warm_high,
                 colormap c) {
    cv::Mat table = colormap_table(c);
    const auto* lut = table.ptr<cv::Vec3b>(0);
    cv::Mat out(h, w, CV_8UC3);
    const double k = hi > lo ? 1.0 / (hi - lo) : 0.0;
    for (int y = 0; y < h; ++y) {
        auto* row = out.ptr<cv::Vec3b>(y);
        const float* src = data + static_cast<size_t>(y) * w;
        for (int x = 0; x < w; ++x) {
            double t = (src[x] - lo) * k;
            t = t > 0 ? (t < 1 ? t : 1) : 0;  // NaN -> 0
            if (!warm_high) t = 1 - t;
            row[x] = lut[static_cast<int>(t * 255 + 0.5)];
        }
    }
    return out;
}

}  // namespace vfm
