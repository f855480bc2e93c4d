// Class label sets: COCO-80 built in, or any list from the config (inline or a file).
#pragma once
#include <string>
#include <vector>

namespace vfm {

struct label_set {
    std::string name;                // "coco80" or "custom"
    std::vector<std::string> names;  // index = class id
    std::vector<int> category_ids;   // COCO category id per class (coco80: the 91-id scheme)
};

const label_set& coco80();
// From a config value: "coco80", "file:path/to/labels.txt" (one name a line; relative to
// base_dir) or an explicit list. Throws fatal_error.
label_set load_labels(const std::string& spec, const std::string& base_dir);
label_set make_labels(const std::vector<std::string>& names);

}  // namespace vfm
