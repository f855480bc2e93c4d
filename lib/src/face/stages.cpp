#include <algorithm>
#include <filesystem>
#include <opencv2/imgproc.hpp>

#include "vfm/config.h"
#include "vfm/error.h"
#include "vfm/face_stages.h"
#include "vfm/fsutil.h"
#include "vfm/npy.h"
#include "vfm/sha256.h"

namespace fs = std::filesystem;

namespace vfm {

embedder::embedder(std::unique_ptr<model> m, embed_settings s) : m_(std::move(m)), s_(s) {
    serial_ = m_->backend() != "torchscript";
}

std::vector<float> embedder::run(const std::vector<cv::Mat>& crops) const {
    const int w = s_.pre.in_w, h = s_.pre.in_h;
    const size_t row = static_cast<size_t>(w) * h * 3;
    tensor in;
    in.shape = {static_cast<int64_t>(crops.size()), 3, h, w};
    in.mem = layout::nhwc;
    in.data.resize(crops.size() * row);
    for (size_t i = 0; i < crops.size(); ++i)
        prepare_input(crops[i], s_.pre, in.data.data() + i * row);
    std::vector<tensor> outs;
    if (serial_) {
        std::lock_guard<std::mutex> l(mu_);
        outs = m_->forward(in);
    } else {
        outs = m_->forward(in);
    }
    int k = s_.output;
    if (k < 0) {
        int64_t best = -1;
        for (size_t i = 0; i < outs.size(); ++i)
            if (outs[i].numel() > best) best = outs[i].numel(), k = static_cast<int>(i);
    }
    if (k < 0 || k >= static_cast<int>(outs.size()))
        throw fatal_error("embed.output: the model has " + std::to_string(outs.size()) +
                          " outputs, no output " + std::to_string(s_.output));
    const tensor& o = outs[k];
    const int64_t b = static_cast<int64_t>(crops.size());
    if (o.rank() < 2 || o.shape[0] != b)
        throw fatal_error("embed model: expected an output [B, D], got " + shape_str(o.shape));
    return o.data;
}

int embedder::check() {
    cv::Mat zero(s_.pre.in_h, s_.pre.in_w, CV_8UC3, cv::Scalar::all(0));
    std::vector<float> out;
    try {
        out = run({zero});
    } catch (const fatal_error&) {
        throw;
    } catch (const std::exception& e) {
        std::string m = e.what();
        throw fatal_error("embed model: forward pass on a [1, 3, " + std::to_string(s_.pre.in_h) +
                          ", " + std::to_string(s_.pre.in_w) +
                          "] crop failed: " + m.substr(0, m.find('\n')));
    }
    dim_ = static_cast<int>(out.size());
    if (s_.dim > 0 && dim_ != s_.dim)
        throw fatal_error("embed.dim: the model gives " + std::to_string(dim_) +
                          "-dim embeddings, the config expects " + std::to_string(s_.dim));
    return dim_;
}

std::vector<float> embedder::embed(const cv::Mat& bgr, const std::vector<std::vector<point2>>& src,
                                   const std::vector<std::vector<point2>>& dst) const {
    std::vector<cv::Mat> crops;
    for (size_t i = 0; i < src.size(); ++i) {
        auto m = umeyama(src[i], dst[i]);
        cv::Mat M = (cv::Mat_<double>(2, 3) << m[0], m[1], m[2], m[3], m[4], m[5]);
        cv::Mat crop;
        cv::warpAffine(bgr, crop, M, cv::Size(s_.pre.in_w, s_.pre.in_h), cv::INTER_LINEAR,
                       cv::BORDER_CONSTANT);
        crops.push_back(crop);
        if (s_.flip) {
            cv::Mat f;
            cv::flip(crop, f, 1);
            crops.push_back(f);
        }
    }
    std::vector<float> out;
    if (crops.empty()) return out;
    std::vector<float> raw = run(crops);
    const int d = dim_;
    const size_t per = s_.flip ? 2 : 1;
    out.assign(src.size() * d, 0.f);
    for (size_t i = 0; i < src.size(); ++i) {
        float* e = out.data() + i * d;
        for (size_t k = 0; k < per; ++k) {
            // each view normalised first, so both count equally
            float* v = raw.data() + (i * per + k) * d;
            l2_normalize(v, d);
            for (int j = 0; j < d; ++j) e[j] += v[j];
        }
        l2_normalize(e, d);
    }
    return out;
}

static bool is_image_file(const fs::path& p) {
    std::string e = p.extension().string();
    std::transform(e.begin(), e.end(), e.begin(), [](unsigned char c) { return std::tolower(c); });
    return e == ".jpg" || e == ".jpeg" || e == ".png" || e == ".bmp" || e == ".webp" ||
           e == ".tif" || e == ".tiff";
}

std::vector<gallery_file> list_gallery(const std::string& dir) {
    std::error_code ec;
    if (!fs::is_directory(dir, ec)) throw fatal_error("identify.gallery " + dir + ": not a folder");
    std::vector<gallery_file> out;
    for (const auto& e : fs::directory_iterator(dir, ec)) {
        if (e.is_directory()) {
            for (const auto& f : fs::recursive_directory_iterator(e.path(), ec))
                if (f.is_regular_file() && is_image_file(f.path()))
                    out.push_back({e.path().filename().string(), f.path().string()});
        } else if (e.is_regular_file() && is_image_file(e.path())) {
            out.push_back({e.path().stem().string(), e.path().string()});
        }
    }
    if (out.empty())
        throw fatal_error("identify.gallery " + dir +
                          ": no images (expected one sub-folder of images per identity, or "
                          "images named by identity)");
    std::sort(out.begin(), out.end(), [](const gallery_file& a, const gallery_file& b) {
        return a.identity != b.identity ? a.identity < b.identity : a.path < b.path;
    });
    return out;
}

face_gallery load_gallery(const std::vector<gallery_file>& files, const std::string& out_dir,
                          const std::string& key, int dim,
                          const std::function<std::vector<float>(const std::string&)>& face_of,
                          const std::function<void(const std::string&)>& log) {
    const std::string npy_path = out_dir + "/gallery.npy", idx_path = out_dir + "/gallery.json";
    face_gallery g;
    g.dim = dim;
    // The cache: used whole when its key matches and its embeddings have the model's size.
    std::error_code ec;
    if (fs::exists(idx_path, ec) && fs::exists(npy_path, ec)) {
        try {
            json idx = json::parse(read_file(idx_path));
            npy_array a = parse_npy(read_file(npy_path));
            const int64_t cdim = a.shape.size() == 2 ? a.shape[1] : -1;
            if (cdim != dim) {
                log("warning: gallery cache " + npy_path + ": holds " + std::to_string(cdim) +
                    "-dim embeddings, the embed model gives " + std::to_string(dim) +
                    ": rebuilding it");
            } else if (idx.value("key", "") == key &&
                       a.shape[0] == static_cast<int64_t>(idx["rows"].size())) {
                for (const auto& r : idx["rows"]) {
                    std::string id = r["identity"];
                    auto it = std::find(g.identities.begin(), g.identities.end(), id);
                    if (it == g.identities.end()) it = g.identities.insert(g.identities.end(), id);
                    g.owner.push_back(static_cast<int>(it - g.identities.begin()));
                    g.files.push_back(r["file"]);
                }
                g.emb = std::move(a.data);
                return g;
            }
        } catch (const std::exception& e) {
            log("warning: gallery cache " + idx_path + ": unreadable (" + e.what() +
                "): rebuilding it");
        }
    }
    json rows = json::array();
    for (const auto& f : files) {
        std::vector<float> e;
        try {
            e = face_of(f.path);
        } catch (const fatal_error&) {
            throw;
        } catch (const std::exception& ex) {
            log("warning: gallery image " + f.path + ": " + ex.what() + "; skipped");
            continue;
        }
        if (e.empty()) {
            log("warning: gallery image " + f.path + ": no face found; skipped");
            continue;
        }
        auto it = std::find(g.identities.begin(), g.identities.end(), f.identity);
        if (it == g.identities.end()) it = g.identities.insert(g.identities.end(), f.identity);
        g.owner.push_back(static_cast<int>(it - g.identities.begin()));
        g.files.push_back(f.path);
        g.emb.insert(g.emb.end(), e.begin(), e.end());
        rows.push_back({{"identity", f.identity}, {"file", f.path}});
    }
    if (g.owner.empty())
        throw fatal_error("identify.gallery: no face found in any of its " +
                          std::to_string(files.size()) + " images");
    write_file_atomic(npy_path,
                      npy_bytes({static_cast<int64_t>(g.owner.size()), dim}, g.emb.data()));
    json idx = {{"key", key}, {"dim", dim}, {"identities", g.identities}, {"rows", rows}};
    write_file_atomic(idx_path, idx.dump(1) + "\n");
    return g;
}

}  // namespace vfm
