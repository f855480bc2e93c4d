#include "vfm/labels.h"

#include <fstream>

#include "vfm/error.h"

namespace vfm {

const label_set& coco80() {
    static const label_set s = [] {
        label_set l;
        l.name = "coco80";
        l.names = {"person",        "bicycle",      "car",
                   "motorcycle",    "airplane",     "bus",
                   "train",         "truck",        "boat",
                   "traffic light", "fire hydrant", "stop sign",
                   "parking meter", "bench",        "bird",
                   "cat",           "dog",          "horse",
                   "sheep",         "cow",          "elephant",
                   "bear",          "zebra",        "giraffe",
                   "backpack",      "umbrella",     "handbag",
                   "tie",           "suitcase",     "frisbee",
                   "skis",          "snowboard",    "sports ball",
                   "kite",          "baseball bat", "baseball glove",
                   "skateboard",    "surfboard",    "tennis racket",
                   "bottle",        "wine glass",   "cup",
                   "fork",          "knife",        "spoon",
                   "bowl",          "banana",       "apple",
                   "sandwich",      "orange",       "broccoli",
                   "carrot",        "hot dog",      "pizza",
                   "donut",         "cake",         "chair",
                   "couch",         "potted plant", "bed",
                   "dining table",  "toilet",       "tv",
                   "laptop",        "mouse",        "remote",
                   "keyboard",      "cell phone",   "microwave",
                   "oven",          "toaster",      "sink",
                   "refrigerator",  "book",         "clock",
                   "vase",          "scissors",     "teddy bear",
                   "hair drier",    "toothbrush"};
        // COCO 2017 category ids of the 80 classes (the 91-id scheme with gaps), as in
        // ultralytics/data/converter.py coco80_to_coco91_class.
        l.category_ids = {1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11, 13, 14, 15, 16, 17,
                          18, 19, 20, 21, 22, 23, 24, 25, 27, 28, 31, 32, 33, 34, 35, 36,
                          37, 38, 39, 40, 41, 42, 43, 44, 46, 47, 48, 49, 50, 51, 52, 53,
                          54, 55, 56, 57, 58, 59, 60, 61, 62, 63, 64, 65, 67, 70, 72, 73,
                          74, 75, 76, 77, 78, 79, 80, 81, 82, 84, 85, 86, 87, 88, 89, 90};
        return l;
    }();
    return s;
}

label_set make_labels(const std::vector<std::string>& names) {
    label_set l;
    l.name = "custom";
    l.names = names;
    for (size_t i = 0; i < names.size(); ++i) l.category_ids.push_back(static_cast<int>(i) + 1);
    return l;
}

label_set load_labels(const std::string& spec, const std::string& base_dir) {
    if (spec == "coco80") return coco80();
    if (spec.rfind("file:", 0) == 0) {
        std::string path = spec.substr(5);
        if (!path.empty() && path[0] != '/' && !base_dir.empty()) path = base_dir + "/" + path;
        std::ifstream f(path);
        if (!f) throw fatal_error("labels: cannot read " + path);
        std::vector<std::string> names;
        for (std::string line; std::getline(f, line);) {
            while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
            if (!line.empty()) names.push_back(line);
        }
        if (names.empty()) throw fatal_error("labels: " + path + " has no names");
        return make_labels(names);
    }
    throw fatal_error("labels: expected \"coco80\", \"file:PATH\" or a list of names, got \"" +
                      spec + "\"");
}

}  // namespace vfm
