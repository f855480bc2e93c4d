// segment: SAM-family prompts and segment-everything, semantic label maps (issue 6).
//
// Pure pieces (prompts, decoder inputs, the automatic mask generator's filtering, label maps,
// output formats) are declared here and unit-tested; the task (lib/src/segment/segment_task.cpp)
// wires them to the runner. Mask and geometry primitives live in vfm/mask_ops.h.
#pragma once
#include <functional>
#include <map>
#include <memory>
#include <opencv2/core.hpp>
#include <string>
#include <vector>

#include "vfm/config.h"
#include "vfm/geometry.h"
#include "vfm/labels.h"
#include "vfm/mask_ops.h"
#include "vfm/nms.h"
#include "vfm/task.h"
#include "vfm/tensor.h"

namespace vfm {

// ---- Prompts ----------------------------------------------------------------------------------

// One SAM prompt: points and/or a box in original-image pixels; one mask comes back per prompt.
// Labels as SAM's prompt encoder: 1 foreground, 0 background.
struct sam_point {
    float x = 0, y = 0;
    int label = 1;
};
struct sam_prompt {
    std::vector<sam_point> points;
    bool has_box = false;
    box b;
    // Where it came from, carried into the mask's record: a detector's class and score.
    std::string label;
    int class_id = -1;
    float score = -1;
};

// A prompts file: {"rel/path.jpg": {"points": [[x, y, label], ...], "boxes": [[x1, y1, x2, y2],
// ...]}, ...}. Each box is one prompt; the points together are one more (after the boxes).
// [x, y] without a label is a foreground point. Throws fatal_error naming the file and key.
std::map<std::string, std::vector<sam_prompt>> parse_prompts_file(const nlohmann::json& j,
                                                                  const std::string& file);
// A prompts file read and parsed, with the sha256 of its bytes (for --resume fingerprints).
// Throws fatal_error naming the file.
struct prompts_file {
    std::map<std::string, std::vector<sam_prompt>> by_image;
    std::string sha256;
};
prompts_file load_prompts_file(const std::string& path);
// The same layout for one image's entry.
std::vector<sam_prompt> parse_image_prompts(const nlohmann::json& entry, const std::string& where);
// --point "x,y[,label]" and --box "x1,y1,x2,y2" strings (applied to every image). Throws
// fatal_error naming the option.
std::vector<sam_prompt> parse_cli_prompts(const std::vector<std::string>& points,
                                          const std::vector<std::string>& boxes);
// A detect per-image JSON record ({"detections": [{"box", "score", "class_id", "label"}]}) ->
// one box prompt per detection whose label (or class id as text) is in `classes` (empty: all)
// and whose score >= min_score.
std::vector<sam_prompt> prompts_from_detections(const nlohmann::ordered_json& record,
                                                const std::vector<std::string>& classes,
                                                float min_score);
// Clips points and boxes into [0, w-1] x [0, h-1] (boxes to [0, w] x [0, h]); returns how many
// prompts were changed. A box that ends up empty stays (its mask will be empty).
int clip_prompts(std::vector<sam_prompt>& ps, int w, int h);

// ---- SAM decoder ------------------------------------------------------------------------------

// Decoder inputs for prompts in one batch, as segment_anything/utils/onnx.py SamOnnxModel takes
// them: point_coords [B, N, 2] in the resized (long side = long_side) frame, point_labels [B, N]
// (box corners as labels 2 and 3 after the points). A prompt without a box gets one padding
// point (0, 0, -1) as SamPredictor's prompt encoder adds (prompt_encoder.py _embed_points,
// pad = boxes is None; and the ONNX example notebook). Prompts with fewer points are padded
// with more -1 points to the batch's N.
struct decoder_prompts {
    tensor coords, labels;
};
decoder_prompts encode_prompts(const std::vector<sam_prompt>& ps, int w, int h, int long_side);

// A SAM-style encoder's contract: outs[0] is an embedding [B, C, h, w]; returns its shape.
// Throws fatal_error starting with `what` ("sam encoder").
std::vector<int64_t> check_embedding_output(const std::vector<tensor>& outs,
                                            const std::string& what);

// SAM's preprocessing of one crop (original-image pixels) of a decoded image into a long_side
// square, HWC floats at dst: resize the long side (INTER_AREA when shrinking if
// area_when_shrinking, else bilinear), RGB, (x - mean) / std, zero padding bottom/right
// (segment_anything/predictor.py set_image + modeling/sam.py preprocess).
void sam_prepare_input(const decoded_image& img, const crop_box& cb, int long_side,
                       bool area_when_shrinking, const preprocess_options& pre, float* dst);

// The decoder's outputs for B prompts: 4 mask tokens each (index 0: the single-mask output,
// 1..3: the multimask outputs).
struct decoder_result {
    int batch = 0, masks_per_prompt = 0, low_h = 0, low_w = 0;
    std::vector<float> iou;      // [B, K]
    std::vector<float> low_res;  // [B, K, low_h, low_w] logits
    const float* logits(int b, int k) const {
        return low_res.data() + (static_cast<size_t>(b) * masks_per_prompt + k) * low_h * low_w;
    }
};

// Which token answers a prompt: multimask picks the best predicted IoU of 1..3, else 0
// (SamPredictor.predict(multimask_output) and its notebooks' choice of the best score).
int choose_mask(const decoder_result& r, int b, bool multimask);
// "auto": multimask for a prompt of one point and no box (ambiguous), as upstream's
// predictor notebooks and SamOnnxModel.select_masks; "always"; "never".
bool wants_multimask(const sam_prompt& p, const std::string& mode);

// ---- Segment everything (upstream automatic_mask_generator.py) --------------------------------

struct amg_params {
    int points_per_side = 32;
    int points_per_batch = 64;
    float pred_iou_thresh = 0.88f;
    float stability_score_thresh = 0.95f;
    float stability_score_offset = 1.0f;
    float box_nms_thresh = 0.7f;
    int crop_n_layers = 0;
    float crop_nms_thresh = 0.7f;
    float crop_overlap_ratio = 512.f / 1500.f;
    int crop_n_points_downscale_factor = 1;
    double min_mask_region_area = 0;
    float mask_threshold = 0;
};

// One mask of the result, in original-image pixels.
struct mask_record {
    rle m;
    box bbox;            // mask_bbox (inclusive max pixel), as upstream
    bool scored = true;  // sam masks: predicted_iou, stability_score, crop_box are meaningful
    float predicted_iou = 0, stability_score = 0;
    cv::Point2f point{-1, -1};  // everything mode: the grid point
    crop_box crop;
    int prompt = -1;  // prompt mode: index of the prompt
    std::string label;
    int class_id = -1;
    float score = -1;
};

// Decodes `points` (crop pixels) with the decoder in batches: (points [B, 2]) -> result.
using point_decoder = std::function<decoder_result(const std::vector<cv::Point2f>& pts)>;

// One crop of segment-everything: grid points -> batches -> filter by predicted IoU and
// stability, threshold, drop boxes touching a crop edge that is not an image edge, box NMS
// (box_nms_thresh) -> masks in original-image pixels. crop_w/h: the crop's size.
std::vector<mask_record> everything_crop(const point_decoder& dec,
                                         const std::vector<cv::Point2f>& grid01,
                                         const crop_box& crop, int orig_w, int orig_h,
                                         int long_side, const amg_params& p);
// Across crops: NMS by crop_nms_thresh preferring masks from smaller crops (when there is more
// than one crop); then, with min_mask_region_area > 0, small holes and islands removed and NMS
// again preferring unchanged masks (upstream postprocess_small_regions).
std::vector<mask_record> merge_crops(std::vector<mask_record> all, int n_crops,
                                     const amg_params& p);

// ---- Semantic label maps ----------------------------------------------------------------------

struct semantic_params {
    int output = 0;                   // which model output holds the logits
    bool nhwc = false;                // output layout [B, h, w, C] (TF exports)
    std::string activation = "none";  // none, softmax, sigmoid (for the score map)
    float threshold = 0.5f;           // one-channel outputs: foreground where p >= threshold
    int gate_output = -1;             // a one-channel sigmoid output masking the label map
    float gate_threshold = 0.5f;      // (BodyPix: person mask over the part map)
    bool gate_offset = true;          // labels shift by one under a gate (0 = background)
};
// One image's label map at the original size from its row of the outputs: the logits of the
// region the image covers in the model input (letterbox undone), resized bilinearly to
// orig_w x orig_h, argmax (one channel: threshold). Returns CV_16U labels; *classes receives
// the number of classes the map can hold. Throws fatal_error for a layout that does not fit.
cv::Mat semantic_label_map(const std::vector<tensor>& outs, int row, const input_transform& t,
                           int in_w, int in_h, int orig_w, int orig_h, const semantic_params& p,
                           int* classes);

// ---- yolov8-seg (Ultralytics segmentation export) ---------------------------------------------

struct yolov8_seg_params {
    int num_classes = 80;
    float conf = 0.25f;
    nms_params nms;
    float mask_threshold = 0.5f;
};
// Throws fatal_error naming the layout: outputs [B, 4+nc+nm, N] and prototypes [B, nm, h, w].
void yolov8_seg_check(const std::vector<tensor>& outs, const yolov8_seg_params& p);
// One image's instances: boxes (original pixels, after NMS) with their masks; `bbox` is the
// detector's box, as Ultralytics reports it.
std::vector<mask_record> yolov8_seg_masks(const std::vector<tensor>& outs, int row,
                                          const input_transform& t, int in_w, int in_h, int orig_w,
                                          int orig_h, const yolov8_seg_params& p,
                                          const label_set& labels);

// ---- Outputs ----------------------------------------------------------------------------------

// A colour per class / instance (BGR): index 0 black, then the PASCAL VOC colour map
// (bit-interleaved, as the VOC devkit's labelcolormap / torchvision's and Detectron's palettes).
cv::Vec3b palette_color(int i);
// {"segmentation": {"size": [h, w], "counts": "..."}, "area", "bbox": [x, y, w, h],
//  "predicted_iou", "stability_score", "point_coords": [[x, y]], "crop_box": [x, y, w, h], ...}
// as amg.py's metadata; values rounded for stable files.
nlohmann::ordered_json mask_json(const mask_record& r);
mask_record mask_from_json(const nlohmann::ordered_json& j);
// YOLO segmentation labels: one line per polygon "class x1 y1 x2 y2 ..." normalised, 6 decimals;
// each mask's largest outer polygon (approxPolyDP with epsilon 1 px).
std::string yolo_seg_txt(const std::vector<std::pair<int, cv::Mat>>& class_masks, int w, int h);
// Instance ids (1..n, 0 background) painted largest mask first, so small masks stay visible.
cv::Mat instance_map(const std::vector<cv::Mat>& masks, int w, int h);
// The image with each mask (or label, for a label map) blended in its colour and outlined.
cv::Mat overlay_masks(const cv::Mat& bgr, const std::vector<cv::Mat>& masks, float alpha);
// Pixels of class `background` are left as they are.
cv::Mat overlay_labels(const cv::Mat& bgr, const cv::Mat& labels16, float alpha, int background);
// Label map -> 8-bit PNG with each label in its palette colour (BGR).
cv::Mat colorize_labels(const cv::Mat& labels16);

// ---- Task ---------------------------------------------------------------------------------------

std::unique_ptr<task> make_segment_task();

}  // namespace vfm
