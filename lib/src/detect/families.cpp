#include "vfm/detect_family.h"

namespace vfm {

static const detect_family* const all_families[] = {&yolov8_family, &yolov5_family, &yolox_family,
                                                    &centernet_family};

const detect_family* find_detect_family(const std::string& name) {
    if (name == "yolo11") return &yolov8_family;  // YOLO11 exports the YOLOv8 head
    for (auto* f : all_families)
        if (name == f->name) return f;
    return nullptr;
}

std::vector<std::string> detect_family_names() {
    std::vector<std::string> n;
    for (auto* f : all_families) n.push_back(f->name);
    return n;
}

}  // namespace vfm
