// A plain float tensor that carries model inputs and outputs across the library, so that only
// the model back-ends include LibTorch or OpenCV DNN headers.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace vfm {

enum class layout { nchw, nhwc };

struct tensor {
    std::vector<int64_t> shape;
    std::vector<float> data;
    layout mem = layout::nchw;  // memory order of 4-D image tensors; shape is always logical NCHW

    int64_t numel() const {
        int64_t n = 1;
        for (auto d : shape) n *= d;
        return n;
    }
    int rank() const { return static_cast<int>(shape.size()); }
};

// "[1, 25200, 85]"
std::string shape_str(const std::vector<int64_t>& shape);

}  // namespace vfm
