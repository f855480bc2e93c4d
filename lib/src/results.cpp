#include "vfm/results.h"

#include <filesystem>
#include <fstream>

#include "vfm/error.h"

namespace vfm {

std::unordered_map<std::string, long> scan_records(const std::string& path) {
    std::unordered_map<std::string, long> off;
    std::ifstream f(path, std::ios::binary);
    if (!f) return off;
    std::string line;
    long pos = 0;
    while (std::getline(f, line)) {
        long start = pos;
        pos = static_cast<long>(f.tellg());
        if (f.eof() || pos < 0) break;  // no newline: torn last line from a killed run
        auto j = nlohmann::ordered_json::parse(line, nullptr, false);
        if (j.is_discarded() || !j.is_object() || !j.contains("rel")) continue;
        off[j["rel"].get<std::string>()] = start;
    }
    return off;
}

nlohmann::ordered_json read_record_at(const std::string& path, long offset) {
    std::ifstream f(path, std::ios::binary);
    f.seekg(offset);
    std::string line;
    std::getline(f, line);
    return nlohmann::ordered_json::parse(line, nullptr, false);
}

bool record_is_current(const nlohmann::ordered_json& rec, const resume_facts& f) {
    if (!rec.is_object()) return false;
    std::string st = rec.value("status", "");
    if (st != "ok" && st != "skipped") return false;
    if (rec.value("config", "") != f.config_fp || rec.value("model", "") != f.model_sha)
        return false;
    const auto& in = rec.value("input", nlohmann::ordered_json::object());
    if (in.value("size", -1LL) != f.input.size || in.value("mtime_ns", 0LL) != f.input.mtime_ns)
        return false;
    for (const auto& o : rec.value("outputs", nlohmann::ordered_json::array()))
        if (!stamp_of(f.out_dir + "/" + o.get<std::string>()).exists()) return false;
    return true;
}

results_writer::results_writer(const std::string& path, bool append) {
    std::error_code ec;
    std::filesystem::create_directories(std::filesystem::path(path).parent_path(), ec);
    f_ = std::fopen(path.c_str(), append ? "ab" : "wb");
    if (!f_) throw fatal_error(path + ": cannot open for writing");
}

results_writer::~results_writer() {
    if (f_) std::fclose(f_);
}

void results_writer::append(const nlohmann::ordered_json& rec) {
    std::string s =
        rec.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace) + "\n";
    std::lock_guard<std::mutex> l(m_);
    std::fwrite(s.data(), 1, s.size(), f_);
    std::fflush(f_);
}

size_t compact_records(const std::string& path, const std::vector<input_item>& items,
                       const std::vector<nlohmann::ordered_json>& extra) {
    auto off = scan_records(path);
    std::ifstream f(path, std::ios::binary);
    std::string out, line;
    size_t n = 0;
    for (const auto& it : items) {
        auto o = off.find(it.rel);
        if (o == off.end()) continue;
        f.clear();
        f.seekg(o->second);
        std::getline(f, line);
        out += line + "\n";
        ++n;
    }
    for (const auto& e : extra) out += e.dump() + "\n", ++n;
    write_file_atomic(path, out);
    return n;
}

}  // namespace vfm
