// Input expansion: files, folders (recursive), glob patterns, @list.txt and "-" (stdin),
// into a sorted, de-duplicated list with the path each output mirrors; plus sharding.
#pragma once
#include <iosfwd>
#include <string>
#include <vector>

namespace vfm {

struct input_item {
    std::string path;   // as it will be opened
    std::string rel;    // relative to its input root; outputs mirror it
    int64_t index = 0;  // position in the full sorted list (stable across shards)
};

struct expand_result {
    std::vector<input_item> items;
    std::vector<std::string> errors;    // inputs that cannot run: missing, clashing ("path: what")
    std::vector<std::string> warnings;  // non-images skipped while walking folders
};

bool has_image_extension(const std::string& path);

// `stdin_stream` is read for "-" entries.
expand_result expand_inputs(const std::vector<std::string>& args, std::istream& stdin_stream);

// "K/N" with 1 <= K <= N. Throws fatal_error on a malformed spec.
struct shard_spec {
    int k = 1, n = 1;
};
shard_spec parse_shard(const std::string& s);
// Deterministic: item i of the sorted list goes to shard (i mod N) + 1, so shards stay
// balanced even when neighbouring files differ in size.
std::vector<input_item> take_shard(const std::vector<input_item>& items, shard_spec s);

// Output path: <out>/<dir>/<rel without extension><suffix>; dir may be empty.
std::string output_path(const std::string& out_dir, const std::string& dir, const std::string& rel,
                        const std::string& suffix);

}  // namespace vfm
