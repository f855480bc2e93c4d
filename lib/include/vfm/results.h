// results.jsonl: one record per input, appended as each finishes (durable across kill -9; a
// torn last line is ignored), compacted at the end of a run to one line per input in input
// order. --resume reads it back to decide what is already done.
#pragma once
#include <cstdio>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <unordered_map>
#include <vector>

#include "vfm/fsutil.h"
#include "vfm/inputs.h"

namespace vfm {

// rel -> byte offset of the latest complete record for it.
std::unordered_map<std::string, long> scan_records(const std::string& path);
nlohmann::ordered_json read_record_at(const std::string& path, long offset);

struct resume_facts {
    std::string config_fp, model_sha;
    file_stamp input;
    std::string out_dir;
};

// True when `rec` shows the input finished with this config and model, the input is unchanged
// and every output it lists still exists.
bool record_is_current(const nlohmann::ordered_json& rec, const resume_facts& f);

class results_writer {
  public:
    results_writer(const std::string& path, bool append);  // throws fatal_error
    ~results_writer();
    void append(const nlohmann::ordered_json& rec);  // one line, flushed

  private:
    FILE* f_ = nullptr;
    std::mutex m_;
};

// Rewrites `path` with the latest record of each item, in item order, then the `extra` records
// (inputs that never became items, e.g. missing paths), atomically; returns the records' count.
// Items without a record are left out.
size_t compact_records(const std::string& path, const std::vector<input_item>& items,
                       const std::vector<nlohmann::ordered_json>& extra = {});

}  // namespace vfm
