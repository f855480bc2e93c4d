// Configs: one JSON file per model, validated against a schema declared once per task.
//
// Precedence: --set > -m > config file > schema defaults. An unknown key or a wrong type is a
// fatal_error naming its JSON path ("postprocess.iou: expected number, got string").
#pragma once
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace vfm {

using json = nlohmann::ordered_json;  // keeps keys in the order written

enum class ftype { boolean, integer, number, string, int_list, number_list, string_list, labels };

struct field {
    std::string path;  // "postprocess.iou"
    ftype type;
    json def;  // default value (null: unset)
    std::string help;
};

struct schema {
    std::vector<field> fields;
    const field* find(const std::string& path) const;
    json defaults() const;
};

// Fields every task has (model, preprocess, input, runtime).
std::vector<field> common_fields();

const char* ftype_name(ftype t);

// Throws fatal_error with the JSON path of the first problem. `where` prefixes messages
// (the config file name).
void validate_config(const json& cfg, const schema& s, const std::string& where = "");

// "key.path=value" typed by the schema.
json parse_set_value(const schema& s, const std::string& assignment, std::string* path_out);
void set_path(json& cfg, const std::string& path, const json& value);
const json& get_path(const json& cfg, const std::string& path);  // null when absent

struct config_request {
    std::string config;             // path or name under configs/<task>/ (may be empty)
    std::string model;              // -m: replaces model.file
    std::vector<std::string> sets;  // --set entries, in order
    // Stage models picked on the command line (face: --embed, --mesh): {section, value}, value a
    // model file, a config JSON holding that section, or a fetched registry name.
    std::vector<std::pair<std::string, std::string>> stages;
};

struct resolved_config {
    json cfg;              // fully resolved (defaults filled)
    std::string file;      // the config file used ("" for none)
    std::string base_dir;  // folder of the config file, for relative paths in it
};

// Looks a config name up in $VFM_CONFIGS, then the configs folder of the source tree.
std::string find_config_file(const std::string& task, const std::string& name);
resolved_config resolve_config(const std::string& task, const schema& s, const config_request& r);

// Fingerprint of what decides the outputs (runtime.* and model paths are left out: models are
// fingerprinted by their sha256).
std::string config_fingerprint(const json& cfg);

// Folders searched for model files: $VFM_MODELS, else ~/.cache/vfm/models.
std::string models_dir();
// Resolves model.file: absolute, relative to the config folder, to the working folder, or in
// models_dir(). Throws fatal_error listing where it looked.
std::string find_model_file(const json& cfg, const std::string& base_dir);
// The same for a stage section's file ("embed" -> embed.file, embed.name).
std::string find_model_file(const json& cfg, const std::string& base_dir,
                            const std::string& section);

}  // namespace vfm
