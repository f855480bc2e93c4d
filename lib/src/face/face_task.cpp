#include "vfm/face_task.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "vfm/error.h"
#include "vfm/face_family.h"
#include "vfm/face_stages.h"
#include "vfm/fsutil.h"
#include "vfm/nms.h"
#include "vfm/npy.h"
#include "vfm/sha256.h"

namespace vfm {

schema face_schema() {
    using j = nlohmann::ordered_json;
    schema s{common_fields()};
    std::vector<field> own = {
        {"model.min_sizes", ftype::int_list, j::array({10, 20, 32, 64, 128, 256}),
         "prior sizes, model.priors_per_level per stride (retinaface)"},
        {"model.priors_per_level", ftype::integer, 2, "prior sizes per stride"},
        {"model.steps", ftype::int_list, j::array({8, 16, 32}), "prior / grid strides"},
        {"model.variances", ftype::number_list, j::array({0.1, 0.2}), "box decode variances"},
        {"model.anchor_strides", ftype::int_list, j::array({8, 16}),
         "anchor grid strides (blazeface; back model: [16, 32])"},
        {"model.anchors_per_cell", ftype::int_list, j::array({2, 6}),
         "anchors per grid cell for each stride (blazeface)"},
        {"postprocess.conf", ftype::number, 0.5, "minimum face score"},
        {"postprocess.iou", ftype::number, 0.4, "NMS IoU threshold"},
        {"postprocess.max_faces", ftype::integer, 0, "faces kept per image (0: all)"},
        {"postprocess.min_face", ftype::number, 0, "drop faces whose shorter side is below (px)"},
        {"outputs.json", ftype::boolean, true, "per-image JSON <out>/<rel>.json"},
        {"outputs.preview", ftype::boolean, false, "annotated image <out>/preview/<rel>.jpg"},
        {"outputs.anonymize", ftype::string, "none", "none, blur, pixelate or fill"},
        {"outputs.anonymize_margin", ftype::number, 0.2, "grow each face box by this fraction"},
        {"outputs.aligned", ftype::boolean, false, "aligned crops <out>/aligned/<rel>/<n>.png"},
        {"outputs.embeddings", ftype::boolean, false,
         "per-image <out>/embeddings/<rel>.npy (faces x D) and the run's embeddings.npy + "
         "embeddings.csv"},
        {"embed.name", ftype::string, "", "embedder registry name"},
        {"embed.file", ftype::string, "", "embedder model file (TorchScript or ONNX)"},
        {"embed.sha256", ftype::string, "", "expected sha256 of embed.file (checked if set)"},
        {"embed.input_size", ftype::int_list, j::array({112, 112}), "aligned crop [width, height]"},
        {"embed.input_layout", ftype::string, "nchw", "nchw or nhwc (TFJS/TF exports)"},
        {"embed.color", ftype::string, "rgb", "rgb or bgr"},
        {"embed.mean", ftype::number_list, j::array({127.5, 127.5, 127.5}), "subtracted (0-255)"},
        {"embed.std", ftype::number_list, j::array({127.5, 127.5, 127.5}), "divided (0-255)"},
        {"embed.template", ftype::number_list, j::array(),
         "5 points (x, y) in the crop; empty: ArcFace's, scaled to the crop height and centred"},
        {"embed.output", ftype::integer, -1, "output index (-1: the output with most values)"},
        {"embed.flip", ftype::boolean, false, "average with the mirrored crop's embedding"},
        {"embed.dim", ftype::integer, 0, "expected embedding size (0: any)"},
        {"embed.threshold", ftype::number, 0.4,
         "cosine similarity below which a face is \"unknown\" (depends on the embedder)"},
        {"embed.cluster_threshold", ftype::number, 0.5,
         "average cosine similarity at which --cluster stops merging (depends on the embedder)"},
        {"mesh.name", ftype::string, "", "face mesh registry name (facemesh, facemesh-attention)"},
        {"mesh.file", ftype::string, "", "face mesh model: MediaPipe face mesh or attention mesh"},
        {"mesh.sha256", ftype::string, "", "expected sha256 of mesh.file (checked if set)"},
        {"mesh.input_layout", ftype::string, "nhwc", "nchw or nhwc"},
        {"mesh.min_score", ftype::number, 0.5, "face flag below which a face gets no mesh"},
        {"mesh.roi_scale", ftype::number, 1.5, "face crop: detection box grown by this"},
        {"iris.name", ftype::string, "", "iris registry name"},
        {"iris.file", ftype::string, "",
         "MediaPipe iris model, run on the eye crops of a face mesh (not needed with the "
         "attention mesh, which has iris heads)"},
        {"iris.sha256", ftype::string, "", "expected sha256 of iris.file (checked if set)"},
        {"iris.input_layout", ftype::string, "nhwc", "nchw or nhwc"},
        {"iris.roi_scale", ftype::number, 2.3, "eye crop: eye corners' box grown by this"},
        {"identify.gallery", ftype::string, "",
         "gallery folder: one sub-folder per identity, or images named by identity"},
        {"identify.top_k", ftype::integer, 1, "matches listed per face (best first)"},
        {"cluster.enabled", ftype::boolean, false, "group the run's faces into identities"},
        {"cluster.min_size", ftype::integer, 1, "smaller clusters get cluster id -1"},
        {"align.size", ftype::int_list, j::array({112, 112}), "aligned crop [width, height]"},
        {"align.template", ftype::number_list,
         j::array({38.2946, 51.6963, 73.5318, 51.5014, 56.0252, 71.7366, 41.5493, 92.3655, 70.7299,
                   92.2041}),
         "5 template points (x, y) in the crop; default: insightface's ArcFace 112x112"},
    };
    s.fields.insert(s.fields.end(), own.begin(), own.end());
    return s;
}

void anonymize_faces(cv::Mat& img, const std::vector<box>& boxes, const std::string& mode,
                     float margin) {
    for (const auto& b : boxes) {
        float mx = b.width() * margin / 2, my = b.height() * margin / 2;
        cv::Rect r(cv::Point(static_cast<int>(std::floor(b.x1 - mx)),
                             static_cast<int>(std::floor(b.y1 - my))),
                   cv::Point(static_cast<int>(std::ceil(b.x2 + mx)),
                             static_cast<int>(std::ceil(b.y2 + my))));
        r &= cv::Rect(0, 0, img.cols, img.rows);
        if (r.area() <= 0) continue;
        cv::Mat roi = img(r);
        if (mode == "fill") {
            roi.setTo(cv::Scalar::all(0));
        } else if (mode == "pixelate") {
            cv::Mat small;
            int bw = std::max(1, std::min(8, r.width)),
                bh = std::max(1, (bw * r.height) / std::max(1, r.width));
            cv::resize(roi, small, cv::Size(bw, bh), 0, 0, cv::INTER_AREA);
            cv::resize(small, roi, roi.size(), 0, 0, cv::INTER_NEAREST);
        } else if (mode == "blur") {
            int k = std::max(3, (std::max(r.width, r.height) / 2) | 1);
            cv::GaussianBlur(roi, roi, cv::Size(k, k), 0);
        }
    }
}

namespace {

double r2(double v) {
    return std::round(v * 100) / 100;
}

std::vector<float> numbers(const json& cfg, const std::string& key) {
    return get_path(cfg, key).get<std::vector<float>>();
}

class face_task final : public task {
  public:
    std::string name() const override { return "face"; }
    std::string description() const override {
        return "face: face detection with landmarks, embeddings, identification against a "
               "gallery, clustering, anonymisation and aligned crops";
    }
    std::string default_config() const override { return "retinaface-mnet025"; }
    schema config_schema() const override { return face_schema(); }
    std::vector<task_option> options() const override {
        return {
            {"--gallery", "identify.gallery",
             "identify faces against this folder (a sub-folder per identity)"},
            {"--cluster", "cluster.enabled", "group the run's faces into identities",
             task_option::flag},
            {"--embeddings", "outputs.embeddings", "write embeddings (.npy per image and per run)",
             task_option::flag},
            {"--embed", "embed",
             "embedder: a model file, a config JSON with an \"embed\" section, or a fetched name",
             task_option::stage},
            {"--anonymize", "outputs.anonymize", "write anonymised copies: blur, pixelate or fill"},
            {"--preview", "outputs.preview", "write annotated previews", task_option::flag},
            {"--mesh", "mesh",
             "face mesh: a model file, a config JSON with a \"mesh\" section, or a fetched name "
             "(facemesh, facemesh-attention)",
             task_option::stage},
            {"--iris", "iris",
             "iris model for the face mesh: a model file, a config JSON with an \"iris\" "
             "section, or a fetched name (iris)",
             task_option::stage},
        };
    }

    void configure(const resolved_config& rc) override {
        const auto& c = rc.cfg;
        pre_ = preprocess_from_config(c);
        family_ = make_face_family(get_path(c, "model.family").get<std::string>());
        family_->configure(c, pre_.in_w, pre_.in_h);
        conf_ = get_path(c, "postprocess.conf").get<float>();
        iou_ = get_path(c, "postprocess.iou").get<float>();
        max_faces_ = get_path(c, "postprocess.max_faces").get<int>();
        min_face_ = get_path(c, "postprocess.min_face").get<float>();
        out_json_ = get_path(c, "outputs.json").get<bool>();
        out_preview_ = get_path(c, "outputs.preview").get<bool>();
        anonymize_ = get_path(c, "outputs.anonymize").get<std::string>();
        if (anonymize_ != "none" && anonymize_ != "blur" && anonymize_ != "pixelate" &&
            anonymize_ != "fill")
            throw fatal_error("outputs.anonymize: expected none, blur, pixelate or fill, got \"" +
                              anonymize_ + "\"");
        margin_ = get_path(c, "outputs.anonymize_margin").get<float>();
        out_aligned_ = get_path(c, "outputs.aligned").get<bool>();
        auto asz = get_path(c, "align.size").get<std::vector<int>>();
        auto tpl = numbers(c, "align.template");
        if (asz.size() != 2 || asz[0] <= 0 || asz[1] <= 0)
            throw fatal_error("align.size: expected [width, height]");
        if (tpl.size() != 10) throw fatal_error("align.template: expected 10 numbers (5 points)");
        align_w_ = asz[0], align_h_ = asz[1];
        for (int i = 0; i < 5; ++i) template_.push_back({tpl[2 * i], tpl[2 * i + 1]});

        // Second stage: embeddings, when anything asks for them.
        out_embeddings_ = get_path(c, "outputs.embeddings").get<bool>();
        gallery_dir_ = get_path(c, "identify.gallery").get<std::string>();
        cluster_ = get_path(c, "cluster.enabled").get<bool>();
        need_embed_ = out_embeddings_ || cluster_ || !gallery_dir_.empty();
        use_mesh_ = !get_path(c, "mesh.file").get<std::string>().empty();
        use_iris_ = !get_path(c, "iris.file").get<std::string>().empty();
        if (use_iris_ && !use_mesh_)
            throw fatal_error(
                "iris.file: the iris model runs on the eyes of a face mesh; give "
                "one too (--mesh facemesh)");
        mesh_settings_.min_score = get_path(c, "mesh.min_score").get<float>();
        mesh_settings_.face_scale = get_path(c, "mesh.roi_scale").get<float>();
        mesh_settings_.eye_scale = get_path(c, "iris.roi_scale").get<float>();
        top_k_ = std::max(1, get_path(c, "identify.top_k").get<int>());
        cluster_min_size_ = std::max(1, get_path(c, "cluster.min_size").get<int>());
        threshold_ = get_path(c, "embed.threshold").get<float>();
        cluster_threshold_ = get_path(c, "embed.cluster_threshold").get<float>();
        if (need_embed_) {
            if (get_path(c, "embed.file").get<std::string>().empty())
                throw fatal_error(
                    "embed.file: embeddings, --gallery and --cluster need an embedder "
                    "(--embed NAME|FILE, e.g. --embed faceapi-recognition after "
                    "scripts/vfm-models fetch faceapi-recognition)");
            embed_settings es;
            json ec = c;
            set_path(ec, "model.input_size", get_path(c, "embed.input_size"));
            set_path(ec, "preprocess.color", get_path(c, "embed.color"));
            set_path(ec, "preprocess.mean", get_path(c, "embed.mean"));
            set_path(ec, "preprocess.std", get_path(c, "embed.std"));
            set_path(ec, "preprocess.resize", "stretch");
            try {
                es.pre = preprocess_from_config(ec);
            } catch (const fatal_error& e) {
                std::string m = e.what();
                throw fatal_error("embed." + m.substr(m.find('.') + 1));
            }
            auto et = numbers(c, "embed.template");
            if (et.empty()) {
                es.tmpl = scale_template(arcface_template_112(), es.pre.in_w, es.pre.in_h);
            } else {
                if (et.size() != 10)
                    throw fatal_error("embed.template: expected 10 numbers (5 points) or none");
                for (int i = 0; i < 5; ++i) es.tmpl.push_back({et[2 * i], et[2 * i + 1]});
            }
            es.output = get_path(c, "embed.output").get<int>();
            es.flip = get_path(c, "embed.flip").get<bool>();
            es.dim = get_path(c, "embed.dim").get<int>();
            embed_settings_ = es;
            const std::string lay = get_path(c, "embed.input_layout").get<std::string>();
            if (lay != "nchw" && lay != "nhwc")
                throw fatal_error("embed.input_layout: expected nchw or nhwc, got \"" + lay + "\"");
            // what changes gallery embeddings: detector and embedder settings
            json k = json::object();
            for (const char* sec : {"model", "preprocess", "postprocess", "embed"}) k[sec] = c[sec];
            for (const char* sec : {"model", "embed"})
                for (const char* f : {"file", "name", "sha256"}) k[sec].erase(f);
            settings_key_ = sha256_hex(k.dump());
        }
        if (!gallery_dir_.empty()) {
            gallery_files_ = list_gallery(gallery_dir_);
            std::string all = gallery_dir_;
            for (const auto& f : gallery_files_) {
                file_stamp st = stamp_of(f.path);
                all += "|" + f.identity + "|" + f.path + "|" + std::to_string(st.size) + "|" +
                       std::to_string(st.mtime_ns);
            }
            gallery_fp_ = sha256_hex(all);
        }
    }

    std::vector<std::string> stage_sections() const override {
        std::vector<std::string> s;
        if (need_embed_) s.push_back("embed");
        if (use_mesh_) s.push_back("mesh");
        if (use_mesh_ && use_iris_) s.push_back("iris");
        return s;
    }
    void attach_stage(const std::string& section, std::unique_ptr<model> m) override {
        if (section == "embed") {
            embedder_ = std::make_unique<embedder>(std::move(m), embed_settings_);
            embedder_->check();
        } else if (section == "mesh") {
            mesh_model_ = std::move(m);
        } else if (section == "iris") {
            iris_model_ = std::move(m);
        }
    }
    std::string fingerprint_extra() const override { return gallery_fp_; }

    void start(const run_context& ctx) override {
        if (mesh_model_) {
            mesher_ = std::make_unique<mesher>(std::move(mesh_model_), std::move(iris_model_),
                                               mesh_settings_);
            mesher_->check();
        }
        if (gallery_dir_.empty()) return;
        auto face_of = [&](const std::string& path) -> std::vector<float> {
            work_item w;
            w.img = decode_image(read_file(path), ctx.decode);
            // Gallery images are often tight face crops: enlarged to the input they would
            // outgrow the detector's largest prior, so they are only ever padded.
            preprocess_options gp = pre_;
            gp.scale_up = false;
            w.data.resize(static_cast<size_t>(pre_.in_w) * pre_.in_h * 3);
            input_transform t;
            t.lb = prepare_input(w.img.bgr, gp, w.data.data());
            w.rows = {t};
            tensor in;
            in.shape = {1, 3, pre_.in_h, pre_.in_w};
            in.mem = layout::nhwc;
            in.data = std::move(w.data);
            auto outs = ctx.main->forward(in);
            std::vector<face_found> faces = detect(w, outs, 0);
            if (faces.empty()) return {};
            // the best-scoring face stands for the image
            auto best = std::max_element(
                faces.begin(), faces.end(),
                [](const face_found& a, const face_found& b) { return a.f.score < b.f.score; });
            return embed_faces(w.img.bgr, {*best});
        };
        const std::string key = sha256_hex(ctx.models_fingerprint + "|" + settings_key_);
        gallery_ =
            load_gallery(gallery_files_, ctx.out_dir, key, embedder_->dim(), face_of, ctx.log);
        if (ctx.verbosity > 1)
            ctx.log("face: gallery of " + std::to_string(gallery_.size()) + " faces, " +
                    std::to_string(gallery_.identities.size()) + " identities");
    }

    int input_w() const override { return pre_.in_w; }
    int input_h() const override { return pre_.in_h; }
    bool keeps_image() const override {
        return out_preview_ || out_aligned_ || anonymize_ != "none" || need_embed_ || use_mesh_;
    }
    int reduction_for(image_size s) const override {
        // anonymised copies, aligned crops and embeddings need every original pixel
        if (out_aligned_ || anonymize_ != "none" || need_embed_ || use_mesh_) return 1;
        return choose_reduction(s, pre_.in_w, pre_.in_h, pre_.letterbox);
    }

    void prepare(work_item& w) const override { prepare_whole_image(w, pre_); }

    void check_outputs(const std::vector<tensor>& outs) const override { family_->check(outs); }

    void postprocess(work_item& w, const std::vector<tensor>& outs, int first_row) const override {
        std::vector<face_found> faces = detect(w, outs, first_row);
        std::vector<float> emb;
        if (embedder_) emb = embed_faces(w.img.bgr, faces);
        const int d = embedder_ ? embedder_->dim() : 0;
        std::vector<face_mesh> meshes;
        if (mesher_) {
            std::vector<box> boxes;
            std::vector<std::pair<point2, point2>> eyes;
            for (const auto& f : faces)
                boxes.push_back(f.f.b), eyes.push_back({f.five[0], f.five[1]});
            meshes = mesher_->run(w.img.bgr, boxes, eyes);
        }
        json arr = json::array();
        for (size_t i = 0; i < faces.size(); ++i) {
            const auto& f = faces[i];
            json lm = json::array();
            for (const auto& p : f.five) lm.push_back({r2(p.x), r2(p.y)});
            json o = {{"box", {r2(f.f.b.x1), r2(f.f.b.y1), r2(f.f.b.x2), r2(f.f.b.y2)}},
                      {"score", std::round(f.f.score * 1e5) / 1e5},
                      {"landmarks", lm}};
            if (f.f.points.size() == 6) {
                json kp = json::array();
                for (const auto& p : f.f.points) kp.push_back({r2(p.x), r2(p.y)});
                o["keypoints"] = kp;  // right eye, left eye, nose, mouth, right ear, left ear
                o["landmarks_estimated"] = {3, 4};
            }
            if (!gallery_dir_.empty()) {
                auto m = match_gallery(emb.data() + i * d, gallery_, top_k_);
                const bool known = !m.empty() && m[0].similarity >= threshold_;
                o["identity"] = known ? gallery_.identities[m[0].identity] : "unknown";
                o["similarity"] = m.empty() ? 0.0 : std::round(m[0].similarity * 1e4) / 1e4;
                if (top_k_ > 1) {
                    json ms = json::array();
                    for (const auto& x : m)
                        ms.push_back({{"identity", gallery_.identities[x.identity]},
                                      {"similarity", std::round(x.similarity * 1e4) / 1e4}});
                    o["matches"] = ms;
                }
            }
            if (mesher_) {
                const auto& m = meshes[i];
                o["mesh_score"] = std::round(m.score * 1e4) / 1e4;
                auto pts = [](const std::vector<point3>& v) {
                    json a = json::array();
                    for (const auto& p : v) a.push_back({r2(p.x), r2(p.y), r2(p.z)});
                    return a;
                };
                if (m.ok) o["mesh"] = pts(m.points);
                if (m.ok && m.has_iris)
                    o["iris"] = {{"left", {{"iris", pts(m.iris[0])}, {"contour", pts(m.eye[0])}}},
                                 {"right", {{"iris", pts(m.iris[1])}, {"contour", pts(m.eye[1])}}}};
            }
            arr.push_back(o);
        }
        w.result = {
            {"image", w.in.rel}, {"width", w.img.orig_w}, {"height", w.img.orig_h}, {"faces", arr}};
        w.aux = std::move(emb);
    }

    std::vector<std::string> write_outputs(const work_item& w,
                                           const output_context& ctx) const override;
    std::vector<std::string> finish(
        const output_context& ctx, const std::string& suffix,
        const std::function<void(const record_visitor&)>& each) const override;

    json run_info() const override {
        json j = json::object();
        if (embedder_) j["embedding_dim"] = embedder_->dim();
        if (!gallery_dir_.empty())
            j["gallery"] = {{"folder", gallery_dir_},
                            {"faces", gallery_.size()},
                            {"identities", gallery_.identities}};
        return j;
    }

  private:
    struct face_found {
        scored_face f;             // box and the family's keypoints, original pixels
        std::vector<point2> five;  // eyes, nose, mouth corners
    };

    // Decode, map to original pixels, min_face, NMS (weighted for MediaPipe's detectors).
    std::vector<face_found> detect(const work_item& w, const std::vector<tensor>& outs,
                                   int row) const {
        auto faces = family_->decode(outs, row, conf_);
        const auto& t = w.rows[0];
        const float W = static_cast<float>(w.img.orig_w), H = static_cast<float>(w.img.orig_h);
        std::vector<scored_face> kept;
        for (auto& f : faces) {
            f.b = to_original(f.b, t);
            for (auto& p : f.points) {
                box q = to_original({p.x, p.y, p.x, p.y}, t);
                p = {q.x1, q.y1};
            }
            kept.push_back(std::move(f));
        }
        std::vector<scored_face> chosen;
        if (family_->weighted_nms()) {
            chosen = weighted_nms(std::move(kept), iou_);
        } else {
            std::vector<box> boxes;
            std::vector<float> scores;
            for (const auto& f : kept) boxes.push_back(f.b), scores.push_back(f.score);
            for (size_t i : nms_keep(boxes, scores, iou_, 0)) chosen.push_back(kept[i]);
        }
        std::vector<face_found> out;
        for (auto& f : chosen) {
            f.b = clip(f.b, W, H);
            if (f.b.area() <= 0 || std::min(f.b.width(), f.b.height()) < min_face_) continue;
            face_found ff{f, f.points.size() == 6 ? blazeface_five_points(f.points) : f.points};
            out.push_back(std::move(ff));
            if (max_faces_ > 0 && out.size() >= static_cast<size_t>(max_faces_)) break;
        }
        return out;
    }

    // Landmarks onto the template: BlazeFace's measured mouth centre stands against the middle
    // of the template's mouth corners rather than the estimated corners.
    void align_pair(const face_found& f, const std::vector<point2>& tmpl, std::vector<point2>& src,
                    std::vector<point2>& dst) const {
        if (f.f.points.size() == 6) {
            src = {f.f.points[0], f.f.points[1], f.f.points[2], f.f.points[3]};
            dst = {tmpl[0],
                   tmpl[1],
                   tmpl[2],
                   {(tmpl[3].x + tmpl[4].x) / 2, (tmpl[3].y + tmpl[4].y) / 2}};
        } else {
            src = f.five, dst = tmpl;
        }
    }

    std::vector<float> embed_faces(const cv::Mat& bgr, const std::vector<face_found>& faces) const {
        std::vector<std::vector<point2>> src(faces.size()), dst(faces.size());
        for (size_t i = 0; i < faces.size(); ++i)
            align_pair(faces[i], embedder_->settings().tmpl, src[i], dst[i]);
        return embedder_->embed(bgr, src, dst);
    }

    preprocess_options pre_;
    std::unique_ptr<face_family> family_;
    float conf_ = 0.5f, iou_ = 0.4f, min_face_ = 0, margin_ = 0.2f;
    int max_faces_ = 0, align_w_ = 112, align_h_ = 112;
    bool out_json_ = true, out_preview_ = false, out_aligned_ = false;
    std::string anonymize_ = "none";
    std::vector<point2> template_;
    // second stage
    bool out_embeddings_ = false, cluster_ = false, need_embed_ = false;
    int top_k_ = 1, cluster_min_size_ = 1;
    float threshold_ = 0.4f, cluster_threshold_ = 0.5f;
    embed_settings embed_settings_;
    bool use_mesh_ = false, use_iris_ = false;
    mesh_settings mesh_settings_;
    std::unique_ptr<model> mesh_model_, iris_model_;
    std::unique_ptr<mesher> mesher_;
    std::unique_ptr<embedder> embedder_;
    std::string settings_key_, gallery_dir_, gallery_fp_;
    std::vector<gallery_file> gallery_files_;
    face_gallery gallery_;
};

std::vector<std::string> face_task::write_outputs(const work_item& w,
                                                  const output_context& ctx) const {
    std::vector<std::string> written;
    auto put = [&](const std::string& rel_out, const std::string& data) {
        write_file_atomic(ctx.out_dir + "/" + rel_out, data);
        written.push_back(rel_out);
    };
    const json& faces = w.result["faces"];
    if (out_json_) put(output_path("", "", w.in.rel, ".json"), w.result.dump() + "\n");
    if (embedder_ && (out_embeddings_ || cluster_)) {
        const int64_t n = static_cast<int64_t>(faces.size()), d = embedder_->dim();
        put(output_path("", "embeddings", w.in.rel, ".npy"), npy_bytes({n, d}, w.aux.data()));
    }
    // boxes and points in decoded-image pixels (a reduced decode only happens without
    // anonymise, align and embeddings)
    std::vector<box> boxes;
    std::vector<std::vector<point2>> points;
    std::vector<face_found> found;
    for (const auto& f : faces) {
        const auto& b = f["box"];
        boxes.push_back({b[0].get<float>() / w.img.sx, b[1].get<float>() / w.img.sy,
                         b[2].get<float>() / w.img.sx, b[3].get<float>() / w.img.sy});
        auto pts_of = [&](const json& a) {
            std::vector<point2> pts;
            for (const auto& p : a)
                pts.push_back({p[0].get<float>() / w.img.sx, p[1].get<float>() / w.img.sy});
            return pts;
        };
        face_found ff;
        ff.five = pts_of(f["landmarks"]);
        ff.f.points = f.contains("keypoints") ? pts_of(f["keypoints"]) : ff.five;
        points.push_back(ff.f.points);
        found.push_back(ff);
    }
    if (out_preview_) {
        cv::Mat img = w.img.bgr.clone();
        int thick = std::max(1, static_cast<int>(std::lround((img.cols + img.rows) / 600.0)));
        const cv::Scalar colours[6] = {{255, 0, 0},   {0, 0, 255},   {0, 255, 0},
                                       {255, 0, 255}, {0, 255, 255}, {255, 255, 0}};
        for (size_t i = 0; i < boxes.size(); ++i) {
            cv::rectangle(img, cv::Point2f(boxes[i].x1, boxes[i].y1),
                          cv::Point2f(boxes[i].x2, boxes[i].y2), cv::Scalar(0, 200, 0), thick,
                          cv::LINE_AA);
            for (size_t k = 0; k < points[i].size(); ++k)
                cv::circle(img, cv::Point2f(points[i][k].x, points[i][k].y), thick + 1,
                           colours[k % 6], cv::FILLED, cv::LINE_AA);
            const int dot = std::max(1, thick / 2);
            if (faces[i].contains("mesh"))
                for (const auto& p : faces[i]["mesh"])
                    cv::circle(
                        img,
                        cv::Point2f(p[0].get<float>() / w.img.sx, p[1].get<float>() / w.img.sy), 1,
                        cv::Scalar(255, 255, 255), cv::FILLED, cv::LINE_AA);
            if (faces[i].contains("iris"))
                for (const char* side : {"left", "right"}) {
                    const auto& ir = faces[i]["iris"][side]["iris"];
                    cv::Point2f c(ir[0][0].get<float>() / w.img.sx,
                                  ir[0][1].get<float>() / w.img.sy);
                    float rad = 0;
                    for (size_t k = 1; k < ir.size(); ++k)
                        rad += std::hypot(ir[k][0].get<float>() / w.img.sx - c.x,
                                          ir[k][1].get<float>() / w.img.sy - c.y);
                    rad /= std::max<size_t>(1, ir.size() - 1);
                    cv::circle(img, c, std::max(1, static_cast<int>(std::lround(rad))),
                               cv::Scalar(0, 215, 255), dot, cv::LINE_AA);
                    cv::circle(img, c, dot, cv::Scalar(0, 0, 255), cv::FILLED, cv::LINE_AA);
                }
            if (faces[i].contains("identity")) {
                char label[160];
                std::snprintf(label, sizeof label, "%s %.2f",
                              faces[i]["identity"].get<std::string>().c_str(),
                              faces[i]["similarity"].get<double>());
                double fs = std::max(0.4, thick * 0.45);
                cv::putText(img, label, cv::Point2f(boxes[i].x1, std::max(10.f, boxes[i].y1 - 4)),
                            cv::FONT_HERSHEY_SIMPLEX, fs, cv::Scalar(0, 200, 0), thick,
                            cv::LINE_AA);
            }
        }
        put(output_path("", "preview", w.in.rel, ".jpg"), encode_image(img, ".jpg"));
    }
    if (anonymize_ != "none") {
        cv::Mat img = w.img.bgr.clone();
        anonymize_faces(img, boxes, anonymize_, margin_);
        std::string ext = std::filesystem::path(w.in.rel).extension().string();
        for (auto& ch : ext) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
        put(output_path("", "anonymized", w.in.rel, ext), encode_image(img, ext));
    }
    if (out_aligned_) {
        for (size_t i = 0; i < found.size(); ++i) {
            std::vector<point2> src, dst;
            align_pair(found[i], template_, src, dst);
            auto m = umeyama(src, dst);
            cv::Mat M = (cv::Mat_<double>(2, 3) << m[0], m[1], m[2], m[3], m[4], m[5]);
            cv::Mat crop;
            cv::warpAffine(w.img.bgr, crop, M, cv::Size(align_w_, align_h_), cv::INTER_LINEAR,
                           cv::BORDER_CONSTANT);
            put(output_path("", "aligned", w.in.rel, "/" + std::to_string(i) + ".png"),
                encode_image(crop, ".png"));
        }
    }
    return written;
}

// The run's embedding matrix and its index from the per-image .npy files (resumed images
// included), then clusters over it.
std::vector<std::string> face_task::finish(
    const output_context& ctx, const std::string& suffix,
    const std::function<void(const record_visitor&)>& each) const {
    if (!embedder_ || !(out_embeddings_ || cluster_)) return {};
    const int d = embedder_->dim();
    std::vector<float> all;
    struct row {
        std::string image, json_rel;
        int face;
        json box;
        double score;
        std::string identity;
    };
    std::vector<row> rows;
    each([&](const json& rec) {
        const json& res = rec["result"];
        if (!res.is_object() || res["faces"].empty()) return;
        const std::string rel = rec["rel"];
        npy_array a = parse_npy(read_file(output_path(ctx.out_dir, "embeddings", rel, ".npy")));
        if (a.shape.size() != 2 || a.shape[0] != static_cast<int64_t>(res["faces"].size()) ||
            a.shape[1] != d)
            throw std::runtime_error(output_path(ctx.out_dir, "embeddings", rel, ".npy") +
                                     ": does not match its record's faces");
        all.insert(all.end(), a.data.begin(), a.data.end());
        int k = 0;
        for (const auto& f : res["faces"])
            rows.push_back({res["image"], rel, k++, f["box"], f["score"].get<double>(),
                            f.value("identity", "")});
    });
    std::vector<int> cluster(rows.size(), -1);
    if (cluster_)
        cluster = cluster_faces(all, static_cast<int>(rows.size()), d, cluster_threshold_,
                                cluster_min_size_);
    std::vector<std::string> written;
    write_file_atomic(ctx.out_dir + "/embeddings" + suffix + ".npy",
                      npy_bytes({static_cast<int64_t>(rows.size()), d}, all.data()));
    written.push_back("embeddings" + suffix + ".npy");
    std::string csv = "row,image,face,x1,y1,x2,y2,score";
    if (!gallery_dir_.empty()) csv += ",identity";
    if (cluster_) csv += ",cluster";
    csv += "\n";
    auto quote = [](const std::string& v) {
        if (v.find_first_of(",\"\n") == std::string::npos) return v;
        std::string q = "\"";
        for (char c : v) q += c == '"' ? std::string("\"\"") : std::string(1, c);
        return q + "\"";
    };
    for (size_t i = 0; i < rows.size(); ++i) {
        const auto& r = rows[i];
        char buf[256];
        std::snprintf(buf, sizeof buf, ",%d,%g,%g,%g,%g,%g", r.face, r.box[0].get<double>(),
                      r.box[1].get<double>(), r.box[2].get<double>(), r.box[3].get<double>(),
                      r.score);
        csv += std::to_string(i) + "," + quote(r.image) + buf;
        if (!gallery_dir_.empty()) csv += "," + quote(r.identity);
        if (cluster_) csv += "," + std::to_string(cluster[i]);
        csv += "\n";
    }
    write_file_atomic(ctx.out_dir + "/embeddings" + suffix + ".csv", csv);
    written.push_back("embeddings" + suffix + ".csv");
    if (cluster_) {
        // cluster ids into the per-image JSON files, and one summary
        std::map<int, json> members;
        for (size_t i = 0; i < rows.size(); ++i)
            if (cluster[i] >= 0)
                members[cluster[i]].push_back({{"image", rows[i].image}, {"face", rows[i].face}});
        json cl = json::array();
        for (auto& [id, m] : members) cl.push_back({{"id", id}, {"size", m.size()}, {"faces", m}});
        json summary = {
            {"threshold", cluster_threshold_}, {"faces", rows.size()}, {"clusters", cl}};
        write_file_atomic(ctx.out_dir + "/clusters" + suffix + ".json", summary.dump(1) + "\n");
        written.push_back("clusters" + suffix + ".json");
        if (out_json_) {
            for (size_t i = 0; i < rows.size();) {
                const std::string path = output_path(ctx.out_dir, "", rows[i].json_rel, ".json");
                json j = json::parse(read_file(path));
                size_t k = i;
                for (; k < rows.size() && rows[k].json_rel == rows[i].json_rel; ++k)
                    j["faces"][rows[k].face]["cluster"] = cluster[k];
                write_file_atomic(path, j.dump() + "\n");
                i = k;
            }
        }
    }
    return written;
}

}  // namespace

std::unique_ptr<task> make_face_task() {
    return std::make_unique<face_task>();
}

}  // namespace vfm
