#include "sam.h"

#include <algorithm>
#include <cmath>
#include <opencv2/imgproc.hpp>

#include "vfm/error.h"

namespace vfm {

sam_decoder::sam_decoder(std::unique_ptr<model> m, sam_settings s)
    : m_(std::move(m)), s_(std::move(s)) {}

decoder_result sam_decoder::decode(const tensor& emb, const decoder_prompts& p, int w,
                                   int h) const {
    tensor size;
    size.shape = {2};
    size.data = {static_cast<float>(h), static_cast<float>(w)};
    std::vector<tensor> outs =
        m_->forward_multi({emb, p.coords, p.labels, no_mask_, has_mask_, size});
    const int n = static_cast<int>(outs.size());
    if (s_.iou_output >= n || s_.masks_output >= n)
        throw fatal_error(
            "decoder: returned " + std::to_string(n) +
            " outputs; decoder.outputs.iou_predictions / low_res_masks point past them");
    tensor& iou = outs[s_.iou_output];
    tensor& low = outs[s_.masks_output];
    const int64_t B = p.coords.shape[0];
    if (iou.rank() != 2 || iou.shape[0] != B || low.rank() != 4 || low.shape[0] != B ||
        low.shape[1] != iou.shape[1])
        throw fatal_error(
            "decoder: expected iou_predictions [B, K] and low-res masks [B, K, h, w] "
            "for B = " +
            std::to_string(B) + " prompts, got " + shape_str(iou.shape) + " and " +
            shape_str(low.shape));
    decoder_result r;
    r.batch = static_cast<int>(B);
    r.masks_per_prompt = static_cast<int>(iou.shape[1]);
    r.low_h = static_cast<int>(low.shape[2]);
    r.low_w = static_cast<int>(low.shape[3]);
    r.iou = std::move(iou.data);
    r.low_res = std::move(low.data);
    return r;
}

void sam_decoder::check(const std::vector<int64_t>& es) {
    if (es.size() != 4 || es[0] < 1)
        throw fatal_error("sam encoder: expected an embedding [B, C, h, w], got " + shape_str(es));
    // No previous mask: SamOnnxModel's has_mask_input = 0 path (mask_input is ignored). Made
    // once here, before any decode().
    no_mask_.shape = {1, 1, 4 * es[2], 4 * es[3]};
    no_mask_.data.assign(static_cast<size_t>(no_mask_.numel()), 0.f);
    has_mask_.shape = {1};
    has_mask_.data = {0.f};
    tensor emb;
    emb.shape = {1, es[1], es[2], es[3]};
    emb.data.assign(static_cast<size_t>(emb.numel()), 0.f);
    sam_prompt p;
    p.points = {{10, 10, 1}};
    decoder_result r;
    try {
        r = decode(emb, encode_prompts({p}, s_.long_side, s_.long_side, s_.long_side), s_.long_side,
                   s_.long_side);
    } catch (const fatal_error&) {
        throw;
    } catch (const std::exception& e) {
        std::string m = e.what();
        throw fatal_error("decoder: does not accept the encoder's embedding " +
                          shape_str(emb.shape) +
                          " with one point prompt: " + m.substr(0, m.find('\n')));
    }
    // The low-res masks cover the padded long_side square at 4x the embedding grid.
    if (r.low_h != 4 * es[2] || r.low_w != 4 * es[3])
        throw fatal_error("decoder: low-res masks are " + std::to_string(r.low_h) + "x" +
                          std::to_string(r.low_w) + ", expected " + std::to_string(4 * es[2]) +
                          "x" + std::to_string(4 * es[3]) + " (4x the encoder's " +
                          std::to_string(es[2]) + "x" + std::to_string(es[3]) + " embedding)");
}

std::vector<mask_record> sam_decoder::prompt_masks(const tensor& emb,
                                                   const std::vector<sam_prompt>& ps, int w,
                                                   int h) const {
    std::vector<mask_record> out;
    for (size_t i = 0; i < ps.size(); ++i) {
        // One prompt per call: padding a batch to a common point count would add
        // not-a-point tokens and change the answer.
        decoder_result r = decode(emb, encode_prompts({ps[i]}, w, h, s_.long_side), w, h);
        const int k = choose_mask(r, 0, wants_multimask(ps[i], s_.multimask));
        cv::Mat low(r.low_h, r.low_w, CV_32F, const_cast<float*>(r.logits(0, k)));
        cv::Mat logits = sam_upscale_logits(low, w, h, s_.long_side);
        cv::Mat mask = logits > s_.amg.mask_threshold;
        mask &= 1;
        mask_record m;
        m.m = rle_encode(mask);
        m.bbox = mask_bbox(mask);
        m.predicted_iou = r.iou[static_cast<size_t>(k)];
        m.stability_score =
            stability_score(logits, s_.amg.mask_threshold, s_.amg.stability_score_offset);
        m.crop = {0, 0, w, h, 0};
        m.prompt = static_cast<int>(i);
        m.label = ps[i].label;
        m.class_id = ps[i].class_id;
        m.score = ps[i].score;
        if (ps[i].points.size() == 1) m.point = {ps[i].points[0].x, ps[i].points[0].y};
        out.push_back(std::move(m));
    }
    return out;
}

std::vector<mask_record> sam_decoder::everything(const std::vector<tensor>& embs,
                                                 const std::vector<crop_box>& crops, int w,
                                                 int h) const {
    const amg_params& a = s_.amg;
    auto grids = build_all_layer_point_grids(a.points_per_side, a.crop_n_layers,
                                             a.crop_n_points_downscale_factor);
    std::vector<mask_record> all;
    for (size_t c = 0; c < crops.size(); ++c) {
        const crop_box& cb = crops[c];
        const int cw = cb.x1 - cb.x0, ch = cb.y1 - cb.y0;
        point_decoder dec = [&](const std::vector<cv::Point2f>& pts) {
            std::vector<sam_prompt> ps(pts.size());
            for (size_t i = 0; i < pts.size(); ++i) ps[i].points = {{pts[i].x, pts[i].y, 1}};
            return decode(embs[c], encode_prompts(ps, cw, ch, s_.long_side), cw, ch);
        };
        auto found = everything_crop(dec, grids.at(cb.layer), cb, w, h, s_.long_side, a);
        std::move(found.begin(), found.end(), std::back_inserter(all));
    }
    return merge_crops(std::move(all), static_cast<int>(crops.size()), a);
}

std::vector<int64_t> check_embedding_output(const std::vector<tensor>& outs,
                                            const std::string& what) {
    if (outs.empty() || outs[0].rank() != 4)
        throw fatal_error(what + ": expected an embedding [B, C, h, w], got " +
                          (outs.empty() ? std::string("no output") : shape_str(outs[0].shape)));
    return outs[0].shape;
}

// (see vfm/segment.h)
void sam_prepare_input(const decoded_image& img, const crop_box& cb, int long_side,
                       bool area_when_shrinking, const preprocess_options& pre, float* dst) {
    const int L = long_side;
    cv::Rect r(static_cast<int>(std::floor(cb.x0 / img.sx)),
               static_cast<int>(std::floor(cb.y0 / img.sy)), 0, 0);
    r.width = std::max(1, static_cast<int>(std::lround(cb.x1 / img.sx)) - r.x);
    r.height = std::max(1, static_cast<int>(std::lround(cb.y1 / img.sy)) - r.y);
    r &= cv::Rect(0, 0, img.bgr.cols, img.bgr.rows);
    sam_resize s = sam_preprocess_shape(cb.x1 - cb.x0, cb.y1 - cb.y0, L);
    cv::Mat resized;
    const bool down = s.new_w < r.width;
    cv::resize(img.bgr(r), resized, {s.new_w, s.new_h}, 0, 0,
               down && area_when_shrinking ? cv::INTER_AREA : cv::INTER_LINEAR);
    // Normalised, then zero padding bottom/right (upstream pads the normalised tensor).
    cv::Mat out(L, L, CV_32FC3, dst);
    out.setTo(cv::Scalar::all(0));
    normalise_into(resized, pre, out(cv::Rect(0, 0, s.new_w, s.new_h)));
}

}  // namespace vfm
