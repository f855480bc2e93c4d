// NumPy .npy files (format version 1.0, little-endian float32, C order): the form embeddings and
// raw depth maps are written in, loadable with numpy.load.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace vfm {

// The bytes of a .npy file holding `data` with `shape` (product of shape == data.size()).
std::string npy_bytes(const std::vector<int64_t>& shape, const float* data);

struct npy_array {
    std::vector<int64_t> shape;
    std::vector<float> data;
};

// Parses a float32 little-endian C-order .npy; throws std::runtime_error saying what is wrong.
npy_array parse_npy(const std::string& bytes);

}  // namespace vfm
