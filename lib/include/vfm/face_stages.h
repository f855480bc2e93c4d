// The face task's second stage: embeddings of aligned crops, and the gallery built from them.
//
// embedder: aligned crop (similarity transform of the landmarks onto the template, Umeyama) ->
//   the embed model (normalisation from the config) -> the chosen output, L2-normalised; with
//   flip, the crop and its mirror image are embedded and their sum normalised (insightface's
//   and AdaFace's evaluation "flip test").
// gallery: one sub-folder per identity, or files named by identity (stem); each image
//   contributes its highest-scoring face. Cached as <out>/gallery.npy + gallery.json, keyed on
//   the models, the settings that change embeddings and the gallery files.
#pragma once
#include <functional>
#include <memory>
#include <mutex>
#include <opencv2/core.hpp>
#include <string>
#include <vector>

#include "vfm/face_embed.h"
#include "vfm/image_io.h"
#include "vfm/model.h"

namespace vfm {

struct embed_settings {
    preprocess_options pre;  // in_w/in_h = the crop size; colour and normalisation
    std::vector<point2> tmpl;
    int output = -1;  // output index; -1: the output with the most values per row
    bool flip = false;
    int dim = 0;  // expected size (0: any)
};

class embedder {
  public:
    embedder(std::unique_ptr<model> m, embed_settings s);
    // Runs zeros through the model and checks the output; returns D. Throws fatal_error.
    int check();
    int dim() const { return dim_; }
    // One row of D floats per face (src landmark sets onto the template; dst: matching
    // template points). Thread-safe.
    std::vector<float> embed(const cv::Mat& bgr, const std::vector<std::vector<point2>>& src,
                             const std::vector<std::vector<point2>>& dst) const;
    const embed_settings& settings() const { return s_; }

  private:
    std::vector<float> run(const std::vector<cv::Mat>& crops) const;
    std::unique_ptr<model> m_;
    embed_settings s_;
    int dim_ = 0;
    bool serial_ = false;  // back-ends that do not allow concurrent calls
    mutable std::mutex mu_;
};

// Gallery images: {identity, path}, sorted; identity = sub-folder name or file stem.
struct gallery_file {
    std::string identity, path;
};
std::vector<gallery_file> list_gallery(const std::string& dir);  // throws fatal_error

// Builds (or loads from the cache in out_dir) the gallery. `face_of` returns the embedding of
// the best face of an image (empty: no face; throws input_error for unreadable files). Warnings
// (no face, unreadable, cache rebuilt) go to `log`.
face_gallery load_gallery(const std::vector<gallery_file>& files, const std::string& out_dir,
                          const std::string& key, int dim,
                          const std::function<std::vector<float>(const std::string&)>& face_of,
                          const std::function<void(const std::string&)>& log);

}  // namespace vfm

#include "vfm/face_mesh.h"

namespace vfm {

// mesher: MediaPipe face mesh on the rotated face crop (face_roi from the eyes, 192x192, RGB in
// [0, 1], replicated border), points back in image pixels; with the iris model, the two eye
// crops (64x64, right eye mirrored) refine the eyes and add the irises (478 points), as
// MediaPipe's iris tracking graph; with the attention mesh, its own lips/eyes/iris heads do
// (tensors_to_face_landmarks_with_attention). See face_mesh.h for every constant.
struct mesh_settings {
    float min_score = face_flag_threshold;  // face flag below: no mesh for that face
    float face_scale = face_roi_scale;
    float eye_scale = eye_roi_scale;
};

struct face_mesh {
    bool ok = false;  // the face flag passed
    float score = 0;
    std::vector<point3> points;  // 468, or 478 with irises
    bool has_iris = false;
    std::vector<point3> eye[2], iris[2];  // [0]: the image-left eye; 71 and 5 points
};

class mesher {
  public:
    mesher(std::unique_ptr<model> mesh, std::unique_ptr<model> iris, mesh_settings s);
    // Zeros through the models: tells facemesh from attention mesh by its outputs. Throws
    // fatal_error on another layout.
    void check();
    bool attention() const { return attention_; }
    // One result per face (box and its image-left / image-right eye). Thread-safe.
    std::vector<face_mesh> run(const cv::Mat& bgr, const std::vector<box>& boxes,
                               const std::vector<std::pair<point2, point2>>& eyes) const;

  private:
    std::vector<tensor> forward(model& m, const std::vector<cv::Mat>& crops, int size) const;
    std::vector<tensor> forward_batch(model& m, const std::vector<cv::Mat>& crops, int size) const;
    std::unique_ptr<model> mesh_, iris_;
    mesh_settings s_;
    bool attention_ = false, serial_ = false;
    bool one_by_one_ = false;  // exports traced with batch 1 (TFJS conversions reshape to [1, ...])
    mutable std::mutex mu_;
};

}  // namespace vfm
