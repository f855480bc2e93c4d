// The sam family's decoder stage: prompts -> masks and segment-everything for one image, over a
// decoder with the inputs of segment_anything/utils/onnx.py SamOnnxModel
// (image_embeddings, point_coords, point_labels, mask_input, has_mask_input, orig_im_size) and
// outputs that include iou_predictions [B, K] and low-res mask logits [B, K, h, w].
#pragma once
#include <memory>

#include "vfm/model.h"
#include "vfm/segment.h"

namespace vfm {

struct sam_settings {
    int long_side = 1024;  // encoder input side
    int iou_output = 0, masks_output = 1;
    std::string multimask = "auto";
    amg_params amg;
};

class sam_decoder {
  public:
    sam_decoder(std::unique_ptr<model> m, sam_settings s);
    // Runs the decoder once on a zero embedding of the encoder's shape; throws fatal_error
    // naming the contract when the two do not fit together.
    void check(const std::vector<int64_t>& embedding_shape);  // call before decode()
    // emb: one image's embedding [1, C, h, w]; w, h: the image (or crop) size in pixels.
    decoder_result decode(const tensor& emb, const decoder_prompts& p, int w, int h) const;
    // One mask per prompt, in prompt order, at w x h.
    std::vector<mask_record> prompt_masks(const tensor& emb, const std::vector<sam_prompt>& ps,
                                          int w, int h) const;
    // Every crop's embedding (crops[i] <-> embs[i]) -> the merged masks of the image.
    std::vector<mask_record> everything(const std::vector<tensor>& embs,
                                        const std::vector<crop_box>& crops, int w, int h) const;
    const sam_settings& settings() const { return s_; }

  private:
    std::unique_ptr<model> m_;
    sam_settings s_;
    tensor no_mask_, has_mask_;  // mask_input, has_mask_input = 0: no previous mask
};

}  // namespace vfm
