// Boxes and the letterbox transform shared by every detector family.
//
// letterbox: scale the image to fit the model input keeping aspect ratio, pad the rest.
// Matches Ultralytics ultralytics/data/augment.py LetterBox (centred, rounding of the padding
// by -0.1/+0.1) when centre = true, and YOLOX yolox/data/data_augment.py preproc (top-left,
// no centring) when centre = false.
#pragma once
#include <vector>

namespace vfm {

struct box {
    float x1 = 0, y1 = 0, x2 = 0, y2 = 0;
    float width() const { return x2 - x1; }
    float height() const { return y2 - y1; }
    float area() const { return (x2 > x1 && y2 > y1) ? (x2 - x1) * (y2 - y1) : 0.f; }
};

float iou(const box& a, const box& b);
box clip(const box& b, float w, float h);

// How an image (after any reduced decode and tiling) maps into the model's input.
struct letterbox_params {
    float sx = 1, sy = 1;      // input pixels per image pixel (equal unless stretched)
    int new_w = 0, new_h = 0;  // size of the resized image inside the input
    int pad_left = 0, pad_top = 0, pad_right = 0, pad_bottom = 0;
};

// How the resized size is rounded: by default as the references of each placement do (centred:
// Ultralytics rounds; top-left: YOLOX truncates); `nearest` as detectron2's ResizeShortestEdge
// (int(x + 0.5)), `truncate` as int(x).
enum class size_rounding { by_placement, nearest, truncate };

letterbox_params compute_letterbox(int img_w, int img_h, int in_w, int in_h, bool centre,
                                   bool scale_up = true,
                                   size_rounding rounding = size_rounding::by_placement);

// Where the model-input crop sits in original-image pixels: model px -> original px.
struct input_transform {
    letterbox_params lb;
    float offset_x = 0, offset_y = 0;    // tile origin in decoded-image pixels
    float decode_sx = 1, decode_sy = 1;  // original px per decoded px (reduced JPEG decode)
};

box to_original(const box& b, const input_transform& t);
box to_input(const box& b, const input_transform& t);  // inverse, for tests and tiling

// Tiles covering a w x h image with square tiles of `size` overlapping by `overlap` (0..0.9).
// Tiles at the right/bottom edges are shifted inwards so every tile lies inside the image.
struct tile_rect {
    int x = 0, y = 0, w = 0, h = 0;
};
std::vector<tile_rect> make_tiles(int img_w, int img_h, int size, float overlap);

}  // namespace vfm
