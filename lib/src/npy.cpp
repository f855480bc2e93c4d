#include "vfm/npy.h"

#include <cstring>
#include <stdexcept>

namespace vfm {

std::string npy_bytes(const std::vector<int64_t>& shape, const float* data) {
    std::string dims;
    int64_t n = 1;
    for (size_t i = 0; i < shape.size(); ++i) {
        dims += std::to_string(shape[i]);
        if (shape.size() == 1 || i + 1 < shape.size()) dims += ",";
        if (i + 1 < shape.size()) dims += " ";
        n *= shape[i];
    }
    std::string header = "{'descr': '<f4', 'fortran_order': False, 'shape': (" + dims + "), }";
    // magic (6) + version (2) + header length (2) + header + '\n', padded to 64 bytes
    size_t total = 10 + header.size() + 1;
    header.append((64 - total % 64) % 64, ' ');
    header += '\n';
    std::string out("\x93NUMPY\x01\x00", 8);
    uint16_t hl = static_cast<uint16_t>(header.size());
    out += static_cast<char>(hl & 0xff);
    out += static_cast<char>(hl >> 8);
    out += header;
    out.append(reinterpret_cast<const char*>(data), static_cast<size_t>(n) * sizeof(float));
    return out;
}

npy_array parse_npy(const std::string& b) {
    if (b.size() < 10 || b.compare(0, 6, "\x93NUMPY") != 0)
        throw std::runtime_error("not a .npy file");
    size_t hl, off;
    if (b[6] == 1) {
        hl = static_cast<unsigned char>(b[8]) | (static_cast<unsigned char>(b[9]) << 8);
        off = 10;
    } else {
        if (b.size() < 12) throw std::runtime_error("truncated .npy header");
        hl = static_cast<unsigned char>(b[8]) | (static_cast<unsigned char>(b[9]) << 8) |
             (static_cast<size_t>(static_cast<unsigned char>(b[10])) << 16);
        off = 12;
    }
    if (b.size() < off + hl) throw std::runtime_error("truncated .npy header");
    std::string h = b.substr(off, hl);
    if (h.find("'<f4'") == std::string::npos)
        throw std::runtime_error(".npy is not little-endian float32");
    if (h.find("'fortran_order': False") == std::string::npos)
        throw std::runtime_error(".npy is in Fortran order");
    auto p = h.find("'shape': (");
    if (p == std::string::npos) throw std::runtime_error(".npy header has no shape");
    auto e = h.find(')', p);
    npy_array a;
    int64_t n = 1;
    std::string dims = h.substr(p + 10, e - p - 10);
    for (size_t i = 0; i < dims.size();) {
        while (i < dims.size() && (dims[i] == ' ' || dims[i] == ',')) ++i;
        if (i >= dims.size()) break;
        size_t j = i;
        while (j < dims.size() && dims[j] >= '0' && dims[j] <= '9') ++j;
        if (j == i) throw std::runtime_error(".npy shape is malformed");
        a.shape.push_back(std::stoll(dims.substr(i, j - i)));
        n *= a.shape.back();
        i = j;
    }
    size_t need = off + hl + static_cast<size_t>(n) * sizeof(float);
    if (b.size() != need)
        throw std::runtime_error(".npy holds " + std::to_string(b.size()) +
                                 " bytes, its shape needs " + std::to_string(need));
    a.data.resize(static_cast<size_t>(n));
    if (n) std::memcpy(a.data.data(), b.data() + off + hl, static_cast<size_t>(n) * sizeof(float));
    return a;
}

}  // namespace vfm
