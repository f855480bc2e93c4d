#include "vfm/model.h"

#include <filesystem>
#include <sstream>

#include "vfm/error.h"

namespace vfm {

std::string shape_str(const std::vector<int64_t>& shape) {
    std::ostringstream ss;
    ss << "[";
    for (size_t i = 0; i < shape.size(); ++i) ss << (i ? ", " : "") << shape[i];
    ss << "]";
    return ss.str();
}

std::unique_ptr<model> load_model(const model_options& o) {
    std::string ext = std::filesystem::path(o.path).extension().string();
    for (auto& c : ext) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (ext == ".onnx") {
        if (o.device != "cpu")
            throw fatal_error(o.path +
                              ": ONNX models run on the CPU through OpenCV DNN; convert "
                              "to TorchScript to use --device " +
                              o.device);
        return load_onnx(o);
    }
    return load_torchscript(o);
}

}  // namespace vfm
