#include "vfm/detect_family.h"
#include "vfm/error.h"

namespace vfm {

static const detect_family* const all_families[] = {&yolov8_family, &yolov5_family, &yolox_family,
                                                    &centernet_family, &nanodet_family};

const detect_family* find_detect_family(const std::string& name) {
    if (name == "yolo11") return &yolov8_family;  // YOLO11 exports the YOLOv8 head
    for (auto* f : all_families)
        if (name == f->name) return f;
    return nullptr;
}

const tensor& family_output(const char* family, const std::vector<tensor>& outs,
                            const decode_params& p) {
    if (p.output_index < 0 || p.output_index >= static_cast<int>(outs.size()))
        throw fatal_error(std::string(family) + " export: the model returned " +
                          std::to_string(outs.size()) + " output(s); model.output_index is " +
                          std::to_string(p.output_index));
    return outs[static_cast<size_t>(p.output_index)];
}

std::vector<std::string> detect_family_names() {
    std::vector<std::string> n;
    for (auto* f : all_families) n.push_back(f->name);
    return n;
}

}  // namespace vfm
