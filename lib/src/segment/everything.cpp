// Segment everything: the steps of segment_anything/automatic_mask_generator.py
// (SamAutomaticMaskGenerator._process_crop, _process_batch, generate, postprocess_small_regions)
// over vfm's decoder seam. One difference, for speed only: a mask is upscaled to full resolution
// after the predicted-IoU filter (upstream upscales every mask first); the kept masks are the
// same because the IoU filter does not look at the mask.
#include <algorithm>

#include "vfm/nms.h"
#include "vfm/segment.h"

namespace vfm {

std::vector<mask_record> everything_crop(const point_decoder& dec,
                                         const std::vector<cv::Point2f>& grid01,
                                         const crop_box& crop, int orig_w, int orig_h,
                                         int long_side, const amg_params& p) {
    const int cw = crop.x1 - crop.x0, ch = crop.y1 - crop.y0;
    // Grid points in crop pixels (upstream: point_grids[layer] * cropped_im_size[::-1]).
    std::vector<cv::Point2f> pts;
    pts.reserve(grid01.size());
    for (const auto& g : grid01) pts.push_back({g.x * cw, g.y * ch});

    std::vector<mask_record> found;
    std::vector<box> local_boxes;
    const size_t step = static_cast<size_t>(std::max(1, p.points_per_batch));
    for (size_t s = 0; s < pts.size(); s += step) {
        std::vector<cv::Point2f> batch(pts.begin() + s,
                                       pts.begin() + std::min(pts.size(), s + step));
        decoder_result r = dec(batch);
        // multimask_output=True: tokens 1..3 (a one-token decoder: token 0)
        const int k0 = r.masks_per_prompt > 1 ? 1 : 0;
        for (int b = 0; b < r.batch; ++b) {
            for (int k = k0; k < r.masks_per_prompt; ++k) {
                float iou = r.iou[static_cast<size_t>(b) * r.masks_per_prompt + k];
                if (p.pred_iou_thresh > 0 && !(iou > p.pred_iou_thresh)) continue;
                cv::Mat low(r.low_h, r.low_w, CV_32F, const_cast<float*>(r.logits(b, k)));
                cv::Mat logits = sam_upscale_logits(low, cw, ch, long_side);
                float stab = stability_score(logits, p.mask_threshold, p.stability_score_offset);
                if (p.stability_score_thresh > 0 && !(stab >= p.stability_score_thresh)) continue;
                cv::Mat mask = logits > p.mask_threshold;
                mask &= 1;
                box bb = mask_bbox(mask);
                if (box_near_crop_edge(bb, crop, orig_w, orig_h)) continue;
                mask_record m;
                m.m = rle_encode(uncrop_mask(mask, crop, orig_w, orig_h));
                m.bbox = uncrop_box(bb, crop);
                m.predicted_iou = iou;
                m.stability_score = stab;
                m.point = uncrop_point(batch[b], crop);
                m.crop = crop;
                found.push_back(std::move(m));
                local_boxes.push_back(bb);
            }
        }
    }
    // Duplicates within the crop: box NMS by predicted IoU (upstream batched_nms, one class).
    std::vector<float> scores;
    for (const auto& m : found) scores.push_back(m.predicted_iou);
    std::vector<mask_record> kept;
    for (size_t i : nms_keep(local_boxes, scores, p.box_nms_thresh))
        kept.push_back(std::move(found[i]));
    return kept;
}

std::vector<mask_record> merge_crops(std::vector<mask_record> all, int n_crops,
                                     const amg_params& p) {
    if (n_crops > 1 && !all.empty()) {
        // Prefer masks from smaller crops (upstream: scores = 1 / box_area(crop_boxes)).
        std::vector<box> boxes;
        std::vector<float> scores;
        for (const auto& m : all) {
            boxes.push_back(m.bbox);
            double a = static_cast<double>(m.crop.x1 - m.crop.x0) * (m.crop.y1 - m.crop.y0);
            scores.push_back(static_cast<float>(1.0 / std::max(1.0, a)));
        }
        std::vector<mask_record> kept;
        for (size_t i : nms_keep(boxes, scores, p.crop_nms_thresh))
            kept.push_back(std::move(all[i]));
        all = std::move(kept);
    }
    if (p.min_mask_region_area <= 0 || all.empty()) return all;
    // Small holes, then small islands; changed masks lose ties to unchanged ones in the NMS
    // that follows (upstream postprocess_small_regions).
    std::vector<cv::Mat> masks;
    std::vector<box> boxes;
    std::vector<float> scores;
    for (const auto& m : all) {
        cv::Mat mask = rle_decode(m.m);
        bool changed = remove_small_regions(mask, p.min_mask_region_area, true);
        changed = remove_small_regions(mask, p.min_mask_region_area, false) || changed;
        scores.push_back(changed ? 0.f : 1.f);
        boxes.push_back(mask_bbox(mask));
        masks.push_back(changed ? mask : cv::Mat());
    }
    std::vector<mask_record> kept;
    for (size_t i : nms_keep(boxes, scores, p.box_nms_thresh)) {
        if (!masks[i].empty()) {
            all[i].m = rle_encode(masks[i]);
            all[i].bbox = boxes[i];
        }
        kept.push_back(std::move(all[i]));
    }
    return kept;
}

}  // namespace vfm
