#include <opencv2/imgproc.hpp>

#include "vfm/error.h"
#include "vfm/face_stages.h"

namespace vfm {

mesher::mesher(std::unique_ptr<model> mesh, std::unique_ptr<model> iris, mesh_settings s)
    : mesh_(std::move(mesh)), iris_(std::move(iris)), s_(s) {
    serial_ = mesh_->backend() != "torchscript" || (iris_ && iris_->backend() != "torchscript");
}

std::vector<tensor> mesher::forward(model& m, const std::vector<cv::Mat>& crops, int size) const {
    if (!one_by_one_ || crops.size() <= 1) return forward_batch(m, crops, size);
    std::vector<tensor> all;
    for (const auto& c : crops) {
        auto o = forward_batch(m, {c}, size);
        if (all.empty()) {
            all = std::move(o);
            continue;
        }
        for (size_t k = 0; k < all.size() && k < o.size(); ++k) {
            all[k].shape[0] += o[k].shape[0];
            all[k].data.insert(all[k].data.end(), o[k].data.begin(), o[k].data.end());
        }
    }
    return all;
}

std::vector<tensor> mesher::forward_batch(model& m, const std::vector<cv::Mat>& crops,
                                          int size) const {
    preprocess_options p;
    p.in_w = p.in_h = size;
    p.letterbox = false;
    p.rgb = true;
    for (int c = 0; c < 3; ++c) p.mean[c] = 0, p.std[c] = 255;
    const size_t row = static_cast<size_t>(size) * size * 3;
    tensor in;
    in.shape = {static_cast<int64_t>(crops.size()), 3, size, size};
    in.mem = layout::nhwc;
    in.data.resize(crops.size() * row);
    for (size_t i = 0; i < crops.size(); ++i) prepare_input(crops[i], p, in.data.data() + i * row);
    if (serial_) {
        std::lock_guard<std::mutex> l(mu_);
        return m.forward(in);
    }
    return m.forward(in);
}

// Eye contours and irises read back from the 478 refined points, so they carry the same
// coordinates (and z) as the mesh.
static void eyes_from_refined(face_mesh& m) {
    for (int e = 0; e < 2; ++e) {
        const auto& idx = e == 0 ? left_eye_mesh_index : right_eye_mesh_index;
        for (int k = 0; k < eye_contour_points; ++k) m.eye[e][k] = m.points[idx[k]];
        for (int k = 0; k < iris_points; ++k)
            m.iris[e][k] = m.points[mesh_points + e * iris_points + k];
    }
    m.has_iris = true;
}

static std::string shapes(const std::vector<tensor>& outs) {
    std::string s;
    for (const auto& t : outs) s += (s.empty() ? "" : ", ") + shape_str(t.shape);
    return s;
}

void mesher::check() {
    cv::Mat zero(mesh_input_size, mesh_input_size, CV_8UC3, cv::Scalar::all(0));
    auto outs = forward(*mesh_, {zero}, mesh_input_size);
    // batches of two work, or the models run one crop at a time
    try {
        auto two = forward_batch(*mesh_, {zero, zero}, mesh_input_size);
        for (const auto& t : two)
            if (t.shape.empty() || t.shape[0] != 2) one_by_one_ = true;
        if (iris_) {
            cv::Mat eye(iris_input_size, iris_input_size, CV_8UC3, cv::Scalar::all(0));
            auto i2 = forward_batch(*iris_, {eye, eye}, iris_input_size);
            for (const auto& t : i2)
                if (t.shape.empty() || t.shape[0] != 2) one_by_one_ = true;
        }
    } catch (const std::exception&) {
        one_by_one_ = true;
    }
    auto per_row = [](const tensor& t) { return t.shape.empty() ? 0 : t.numel() / t.shape[0]; };
    if (outs.size() == 3 && per_row(outs[0]) == mesh_points * 3 && per_row(outs[1]) == 1) {
        attention_ = false;
    } else if (outs.size() == 7 && per_row(outs[attention_outputs::face_flag]) == 1 &&
               per_row(outs[attention_outputs::mesh]) == mesh_points * 3 &&
               per_row(outs[attention_outputs::lips]) == lips_points * 2 &&
               per_row(outs[attention_outputs::left_eye]) == eye_contour_points * 2 &&
               per_row(outs[attention_outputs::right_eye]) == eye_contour_points * 2 &&
               per_row(outs[attention_outputs::left_iris]) == iris_points * 2 &&
               per_row(outs[attention_outputs::right_iris]) == iris_points * 2) {
        attention_ = true;
    } else {
        throw fatal_error(
            "mesh model: expected MediaPipe face mesh outputs (mesh [B, 1404], "
            "flag [B, 1], contours) or attention mesh outputs (7 heads), got " +
            shapes(outs));
    }
    if (iris_ && !attention_) {
        cv::Mat eye(iris_input_size, iris_input_size, CV_8UC3, cv::Scalar::all(0));
        auto io = forward(*iris_, {eye}, iris_input_size);
        if (io.empty() || per_row(io[0]) != (eye_contour_points + iris_points) * 3)
            throw fatal_error(
                "iris model: expected an output [B, 228] (71 eye contour and 5 "
                "iris points, x y z), got " +
                shapes(io));
    }
}

std::vector<face_mesh> mesher::run(const cv::Mat& bgr, const std::vector<box>& boxes,
                                   const std::vector<std::pair<point2, point2>>& eyes) const {
    const size_t n = boxes.size();
    std::vector<face_mesh> out(n);
    if (!n) return out;
    auto warp = [&](const rotated_rect& r, int size, bool mirror) {
        auto a = roi_to_crop(r, size, size, mirror);
        cv::Mat M = (cv::Mat_<double>(2, 3) << a[0], a[1], a[2], a[3], a[4], a[5]);
        cv::Mat crop;
        cv::warpAffine(bgr, crop, M, cv::Size(size, size), cv::INTER_LINEAR, cv::BORDER_REPLICATE);
        return crop;
    };
    std::vector<rotated_rect> rois(n);
    std::vector<cv::Mat> crops(n);
    for (size_t i = 0; i < n; ++i) {
        rotated_rect r = roi_from_keypoints(boxes[i], eyes[i].first, eyes[i].second, 0.f,
                                            s_.face_scale, s_.face_scale, true);
        rois[i] = r;
        crops[i] = warp(r, mesh_input_size, false);
    }
    auto mo = forward(*mesh_, crops, mesh_input_size);
    const int S = mesh_input_size;
    auto row = [](const tensor& t, size_t i) {
        return t.data.data() + i * static_cast<size_t>(t.numel() / t.shape[0]);
    };
    std::vector<size_t> need_iris;
    for (size_t i = 0; i < n; ++i) {
        face_mesh& m = out[i];
        const tensor& flag = mo[attention_ ? attention_outputs::face_flag : 1];
        m.score = row(flag, i)[0];
        if (m.score < s_.min_score) continue;
        m.ok = true;
        const tensor& mesh = mo[attention_ ? attention_outputs::mesh : 0];
        m.points = crop_to_image(row(mesh, i), mesh_points, 3, 3, rois[i], S, S, false);
        if (attention_) {
            auto pts = [&](int k, int count) {
                return crop_to_image(row(mo[k], i), count, 2, 2, rois[i], S, S, false);
            };
            auto lips = pts(attention_outputs::lips, lips_points);
            m.eye[0] = pts(attention_outputs::left_eye, eye_contour_points);
            m.eye[1] = pts(attention_outputs::right_eye, eye_contour_points);
            m.iris[0] = pts(attention_outputs::left_iris, iris_points);
            m.iris[1] = pts(attention_outputs::right_iris, iris_points);
            m.points =
                refine_with_attention(m.points, lips, m.eye[0], m.eye[1], m.iris[0], m.iris[1]);
            eyes_from_refined(m);  // the refined points carry the z the heads lack
        } else if (iris_) {
            need_iris.push_back(i);
        }
    }
    if (!need_iris.empty()) {
        std::vector<cv::Mat> eye_crops;
        std::vector<rotated_rect> eye_rois;
        for (size_t i : need_iris) {
            rotated_rect l =
                eye_roi(out[i].points, left_eye_corner_a, left_eye_corner_b, s_.eye_scale);
            rotated_rect r =
                eye_roi(out[i].points, right_eye_corner_a, right_eye_corner_b, s_.eye_scale);
            eye_rois.push_back(l), eye_rois.push_back(r);
            eye_crops.push_back(warp(l, iris_input_size, false));
            eye_crops.push_back(warp(r, iris_input_size, true));
        }
        auto io = forward(*iris_, eye_crops, iris_input_size);
        const int E = iris_input_size;
        for (size_t k = 0; k < need_iris.size(); ++k) {
            face_mesh& m = out[need_iris[k]];
            for (int e = 0; e < 2; ++e) {
                const float* v = row(io[0], 2 * k + e);
                const bool mirror = e == 1;
                m.eye[e] =
                    crop_to_image(v, eye_contour_points, 3, 3, eye_rois[2 * k + e], E, E, mirror);
                m.iris[e] = crop_to_image(v + eye_contour_points * 3, iris_points, 3, 3,
                                          eye_rois[2 * k + e], E, E, mirror);
            }
            // the iris model's z has its own origin: keep the mesh's (see face_mesh.h)
            m.points = refine_with_iris(m.points, m.eye[0], m.iris[0], m.eye[1], m.iris[1], true);
            eyes_from_refined(m);
        }
    }
    return out;
}

}  // namespace vfm
