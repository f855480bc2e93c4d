#include "vfm/image_io.h"

#include <cstring>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "vfm/error.h"

namespace vfm {

static int be16(const unsigned char* p) {
    return (p[0] << 8) | p[1];
}
static long be32(const unsigned char* p) {
    return (long(p[0]) << 24) | (long(p[1]) << 16) | (long(p[2]) << 8) | long(p[3]);
}
static long le32(const unsigned char* p) {
    return long(p[0]) | (long(p[1]) << 8) | (long(p[2]) << 16) | (long(p[3]) << 24);
}

image_size probe_image_size(const std::string& bytes) {
    const auto* d = reinterpret_cast<const unsigned char*>(bytes.data());
    size_t n = bytes.size();
    if (n >= 24 && std::memcmp(d, "\x89PNG\r\n\x1a\n", 8) == 0)
        return {static_cast<int>(be32(d + 16)), static_cast<int>(be32(d + 20))};
    if (n >= 26 && d[0] == 'B' && d[1] == 'M') {
        long w = le32(d + 18), h = le32(d + 22);
        return {static_cast<int>(w), static_cast<int>(h < 0 ? -h : h)};
    }
    if (n >= 30 && std::memcmp(d, "RIFF", 4) == 0 && std::memcmp(d + 8, "WEBP", 4) == 0) {
        if (std::memcmp(d + 12, "VP8X", 4) == 0)
            return {1 + int(d[24] | (d[25] << 8) | (d[26] << 16)),
                    1 + int(d[27] | (d[28] << 8) | (d[29] << 16))};
        if (std::memcmp(d + 12, "VP8 ", 4) == 0)
            return {int((d[26] | (d[27] << 8)) & 0x3fff), int((d[28] | (d[29] << 8)) & 0x3fff)};
        if (std::memcmp(d + 12, "VP8L", 4) == 0 && n >= 25) {
            unsigned b = d[21] | (d[22] << 8) | (d[23] << 16) | (unsigned(d[24]) << 24);
            return {int(1 + (b & 0x3fff)), int(1 + ((b >> 14) & 0x3fff))};
        }
    }
    if (n >= 4 && d[0] == 0xFF && d[1] == 0xD8) {
        size_t i = 2;
        while (i + 9 < n) {
            if (d[i] != 0xFF) return {};
            unsigned char m = d[i + 1];
            if (m == 0xFF) {
                ++i;
                continue;
            }
            if (m == 0xD8 || m == 0x01 || (m >= 0xD0 && m <= 0xD7)) {
                i += 2;
                continue;
            }
            int len = be16(d + i + 2);
            // SOF0..SOF15 except DHT (C4), JPG (C8), DAC (CC)
            if (m >= 0xC0 && m <= 0xCF && m != 0xC4 && m != 0xC8 && m != 0xCC)
                return {be16(d + i + 7), be16(d + i + 5)};
            i += 2 + static_cast<size_t>(len);
        }
    }
    return {};
}

int choose_reduction(image_size img, int in_w, int in_h, bool letterbox) {
    if (img.w <= 0 || img.h <= 0) return 1;
    int r = 1;
    for (int f : {2, 4}) {
        bool free = letterbox ? std::min(static_cast<double>(in_w) / img.w,
                                         static_cast<double>(in_h) / img.h) *
                                        f <=
                                    1.0
                              : img.w / f >= in_w && img.h / f >= in_h;
        if (free) r = f;
    }
    return r;
}

static bool is_jpeg(const std::string& b) {
    return b.size() >= 3 && static_cast<unsigned char>(b[0]) == 0xFF &&
           static_cast<unsigned char>(b[1]) == 0xD8;
}

// libjpeg decodes a truncated file into a grey-filled image with only a warning; the scan data
// byte-stuffs 0xFF, so the end-of-image marker 0xFFD9 near the end tells a whole file.
static bool jpeg_has_end(const std::string& b) {
    size_t from = b.size() > 4096 ? b.size() - 4096 : 2;
    return b.find("\xFF\xD9", from) != std::string::npos;
}

decoded_image decode_image(const std::string& bytes, const decode_options& o) {
    if (bytes.empty()) throw input_error("empty file");
    if (is_jpeg(bytes) && !jpeg_has_end(bytes))
        throw input_error("truncated JPEG (no end-of-image marker)");
    image_size probed = probe_image_size(bytes);
    if (probed.w > 0 && static_cast<long long>(probed.w) * probed.h > o.max_pixels)
        throw input_error("image is " + std::to_string(probed.w) + "x" + std::to_string(probed.h) +
                          ", over the max_pixels limit of " + std::to_string(o.max_pixels));
    cv::Mat buf(1, static_cast<int>(bytes.size()), CV_8U, const_cast<char*>(bytes.data()));
    decoded_image out;
    cv::Mat img;
    try {
        if (is_jpeg(bytes)) {
            // imdecode applies EXIF orientation for these flags (not for IMREAD_UNCHANGED).
            int flags = o.reduce >= 4   ? cv::IMREAD_REDUCED_COLOR_4
                        : o.reduce >= 2 ? cv::IMREAD_REDUCED_COLOR_2
                                        : cv::IMREAD_COLOR;
            img = cv::imdecode(buf, flags);
        } else {
            img = cv::imdecode(buf, cv::IMREAD_UNCHANGED);
        }
    } catch (const cv::Exception& e) {
        throw input_error(std::string("cannot decode image: ") + e.err);
    }
    if (img.empty()) throw input_error("cannot decode image (corrupt or not an image)");
    if (static_cast<long long>(img.cols) * img.rows > o.max_pixels)
        throw input_error("image is " + std::to_string(img.cols) + "x" + std::to_string(img.rows) +
                          ", over the max_pixels limit of " + std::to_string(o.max_pixels));

    if (img.depth() == CV_16U)
        img.convertTo(img, CV_8U, 1.0 / 257.0);
    else if (img.depth() == CV_32F)
        img.convertTo(img, CV_8U, 255.0);
    else if (img.depth() != CV_8U)
        img.convertTo(img, CV_8U);

    if (img.channels() == 1) {
        cv::cvtColor(img, out.bgr, cv::COLOR_GRAY2BGR);
    } else if (img.channels() == 4) {
        // Composite onto the background: out = a * fg + (1 - a) * bg.
        cv::Mat fg, a;
        cv::cvtColor(img, fg, cv::COLOR_BGRA2BGR);
        cv::extractChannel(img, a, 3);
        cv::Mat a3, fgf, bgf;
        cv::cvtColor(a, a3, cv::COLOR_GRAY2BGR);
        a3.convertTo(a3, CV_32FC3, 1.0 / 255);
        fg.convertTo(fgf, CV_32FC3);
        bgf = cv::Mat(fg.size(), CV_32FC3, o.alpha_background);
        cv::Mat res = fgf.mul(a3) + bgf.mul(cv::Scalar::all(1.0) - a3);
        res.convertTo(out.bgr, CV_8UC3);
    } else if (img.channels() == 3) {
        out.bgr = img;
    } else {
        throw input_error("unsupported channel count " + std::to_string(img.channels()));
    }

    out.orig_w = out.bgr.cols;
    out.orig_h = out.bgr.rows;
    if (is_jpeg(bytes) && o.reduce > 1 && probed.w > 0) {
        // The probe reads the stored size; EXIF may have rotated the decoded image.
        bool stored_landscape = probed.w >= probed.h,
             decoded_landscape = out.bgr.cols >= out.bgr.rows;
        bool swapped = stored_landscape != decoded_landscape && probed.w != probed.h;
        out.orig_w = swapped ? probed.h : probed.w;
        out.orig_h = swapped ? probed.w : probed.h;
        out.sx = static_cast<float>(out.orig_w) / out.bgr.cols;
        out.sy = static_cast<float>(out.orig_h) / out.bgr.rows;
    }
    return out;
}

void normalise_into(const cv::Mat& bgr8, const preprocess_options& o, cv::Mat out) {
    cv::Mat src = bgr8;
    if (o.rgb) cv::cvtColor(bgr8, src, cv::COLOR_BGR2RGB);
    bool uniform = o.mean[0] == o.mean[1] && o.mean[1] == o.mean[2] && o.std[0] == o.std[1] &&
                   o.std[1] == o.std[2];
    if (uniform) {
        src.convertTo(out, CV_32FC3, 1.0 / o.std[0], -o.mean[0] / o.std[0]);
    } else {
        src.convertTo(out, CV_32FC3);
        cv::subtract(out, cv::Scalar(o.mean[0], o.mean[1], o.mean[2]), out);
        cv::multiply(out, cv::Scalar(1.0 / o.std[0], 1.0 / o.std[1], 1.0 / o.std[2]), out);
    }
}

letterbox_params prepare_input(const cv::Mat& bgr, const preprocess_options& o, float* dst) {
    letterbox_params lb;
    cv::Mat resized;
    if (o.letterbox) {
        lb =
            compute_letterbox(bgr.cols, bgr.rows, o.in_w, o.in_h, o.centre, o.scale_up, o.rounding);
    } else {
        lb.new_w = o.in_w, lb.new_h = o.in_h;
        lb.sx = static_cast<float>(o.in_w) / bgr.cols;
        lb.sy = static_cast<float>(o.in_h) / bgr.rows;
    }
    if (bgr.cols == lb.new_w && bgr.rows == lb.new_h)
        resized = bgr;
    else
        cv::resize(bgr, resized, cv::Size(lb.new_w, lb.new_h), 0, 0, o.interpolation);

    cv::Mat out(o.in_h, o.in_w, CV_32FC3, dst);
    if (o.pad_mean) {
        // Normalise the image into its place; the padding is 0 after normalisation.
        out.setTo(cv::Scalar::all(0));
        cv::Mat region = out(cv::Rect(lb.pad_left, lb.pad_top, lb.new_w, lb.new_h));
        normalise_into(resized, o, region);
        return lb;
    }
    // Pad in 8-bit, then one conversion pass into the destination buffer.
    cv::Mat padded;
    if (lb.pad_left || lb.pad_right || lb.pad_top || lb.pad_bottom)
        cv::copyMakeBorder(resized, padded, lb.pad_top, lb.pad_bottom, lb.pad_left, lb.pad_right,
                           cv::BORDER_CONSTANT, cv::Scalar::all(o.pad_value));
    else
        padded = resized;
    normalise_into(padded, o, out);
    return lb;
}

std::string encode_image(const cv::Mat& m, const std::string& ext, const std::vector<int>& params) {
    std::vector<uchar> buf;
    if (!cv::imencode(ext, m, buf, params)) throw std::runtime_error("cannot encode " + ext);
    return std::string(buf.begin(), buf.end());
}

}  // namespace vfm
