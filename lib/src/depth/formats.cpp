// PFM and PLY writers and pinhole back-projection (vfm/depth.h).
//
// PFM: the Portable Float Map as the Middlebury stereo pages define it ("Pf" = one channel, a
// negative scale = little-endian, scanlines bottom to top). PLY: Greg Turk's polygon file format
// 1.0 (binary_little_endian), vertex element with float x, y, z and uchar red, green, blue as
// Open3D / MeshLab read it. Back-projection: Depth-Anything-V2
// metric_depth/depth_to_pointcloud.py (x = (u - W/2) / fx * z, principal point at W/2, H/2).
#include <cmath>
#include <cstring>
#include <limits>

#include "vfm/depth.h"
#include "vfm/error.h"

namespace vfm {

namespace {

void put_f32le(std::string& s, float v) {
    uint32_t u;
    std::memcpy(&u, &v, 4);
    for (int i = 0; i < 4; ++i) s.push_back(static_cast<char>((u >> (8 * i)) & 0xff));
}

}  // namespace

std::string pfm_bytes(const float* data, int w, int h) {
    std::string s = "Pf\n" + std::to_string(w) + " " + std::to_string(h) + "\n-1\n";
    s.reserve(s.size() + static_cast<size_t>(w) * h * 4);
    for (int y = h - 1; y >= 0; --y)
        for (int x = 0; x < w; ++x) put_f32le(s, data[static_cast<size_t>(y) * w + x]);
    return s;
}

pinhole make_pinhole(int w, int h, double fx, double fy, double cx, double cy, double fov_deg) {
    pinhole k;
    if (std::isfinite(fx) || std::isfinite(fy)) {
        k.fx = std::isfinite(fx) ? fx : fy;
        k.fy = std::isfinite(fy) ? fy : fx;
        if (!(k.fx > 0) || !(k.fy > 0))
            throw fatal_error("camera.fx/fy: focal lengths must be positive (pixels)");
    } else if (std::isfinite(fov_deg)) {
        if (!(fov_deg > 0 && fov_deg < 180))
            throw fatal_error(
                "camera.fov: expected a horizontal field of view in (0, 180) degrees");
        constexpr double pi = 3.14159265358979323846;
        k.fx = k.fy = (w / 2.0) / std::tan(fov_deg * pi / 360.0);
    } else {
        throw fatal_error(
            "camera: a point cloud needs camera.fx (and camera.fy) in pixels, or camera.fov in "
            "degrees");
    }
    k.cx = std::isfinite(cx) ? cx : w / 2.0;
    k.cy = std::isfinite(cy) ? cy : h / 2.0;
    return k;
}

point3 back_project(double u, double v, double z, const pinhole& k) {
    return {static_cast<float>((u - k.cx) / k.fx * z), static_cast<float>((v - k.cy) / k.fy * z),
            static_cast<float>(z)};
}

std::vector<colored_point> depth_to_points(const float* depth, int w, int h, const pinhole& k,
                                           const cv::Mat& bgr, int stride) {
    stride = std::max(1, stride);
    const bool colour = !bgr.empty() && bgr.cols == w && bgr.rows == h && bgr.type() == CV_8UC3;
    std::vector<colored_point> pts;
    pts.reserve(static_cast<size_t>((w + stride - 1) / stride) * ((h + stride - 1) / stride));
    for (int v = 0; v < h; v += stride) {
        for (int u = 0; u < w; u += stride) {
            float z = depth[static_cast<size_t>(v) * w + u];
            if (!(z > 0) || !std::isfinite(z)) continue;
            colored_point p;
            p.p = back_project(u, v, z, k);
            if (colour) {
                const auto& c = bgr.at<cv::Vec3b>(v, u);
                p.r = c[2], p.g = c[1], p.b = c[0];
            } else {
                p.r = p.g = p.b = 128;
            }
            pts.push_back(p);
        }
    }
    return pts;
}

std::string ply_bytes(const std::vector<colored_point>& pts) {
    std::string s =
        "ply\n"
        "format binary_little_endian 1.0\n"
        "comment vfm depth: metres, camera frame x right, y down, z forward\n"
        "element vertex " +
        std::to_string(pts.size()) +
        "\n"
        "property float x\n"
        "property float y\n"
        "property float z\n"
        "property uchar red\n"
        "property uchar green\n"
        "property uchar blue\n"
        "end_header\n";
    s.reserve(s.size() + pts.size() * 15);
    for (const auto& p : pts) {
        put_f32le(s, p.p.x), put_f32le(s, p.p.y), put_f32le(s, p.p.z);
        s.push_back(static_cast<char>(p.r));
        s.push_back(static_cast<char>(p.g));
        s.push_back(static_cast<char>(p.b));
    }
    return s;
}

}  // namespace vfm
