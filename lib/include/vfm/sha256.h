// SHA-256 (FIPS 180-4), for model checksums and config fingerprints.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

namespace vfm {

class sha256 {
  public:
    sha256();
    void update(const void* data, size_t n);
    std::string hex();  // finishes the hash

  private:
    void block(const uint8_t* p);
    uint32_t h_[8];
    uint8_t buf_[64];
    size_t buf_len_ = 0;
    uint64_t total_ = 0;
};

std::string sha256_hex(const std::string& data);
std::string sha256_file(const std::string& path);  // throws std::runtime_error

}  // namespace vfm
