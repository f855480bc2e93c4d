#include "vfm/config.h"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "vfm/error.h"
#include "vfm/sha256.h"

#ifndef VFM_SOURCE_CONFIG_DIR
#define VFM_SOURCE_CONFIG_DIR ""
#endif

namespace fs = std::filesystem;

namespace vfm {

const char* ftype_name(ftype t) {
    switch (t) {
        case ftype::boolean:
            return "boolean";
        case ftype::integer:
            return "integer";
        case ftype::number:
            return "number";
        case ftype::string:
            return "string";
        case ftype::int_list:
            return "list of integers";
        case ftype::number_list:
            return "list of numbers";
        case ftype::string_list:
            return "list of strings";
        case ftype::labels:
            return "\"coco80\", \"file:PATH\" or a list of strings";
    }
    return "?";
}

std::vector<field> common_fields() {
    using j = json;
    return {
        {"task", ftype::string, nullptr, "task this config is for"},
        {"description", ftype::string, "", "free text"},
        {"model.name", ftype::string, "", "registry name (scripts/vfm-models fetch NAME)"},
        {"model.file", ftype::string, "", "TorchScript (.pt/.torchscript) or ONNX (.onnx) file"},
        {"model.sha256", ftype::string, "", "expected sha256 of the model file (checked if set)"},
        {"model.family", ftype::string, "", "output contract / decoder family"},
        {"model.input_size", ftype::int_list, j::array({640, 640}), "model input [width, height]"},
        {"model.input_layout", ftype::string, "nchw",
         "nchw, or nhwc for models that take [B, H, W, C] (TFJS / TF exports)"},
        {"model.channels_last", ftype::boolean, true, "feed NHWC-strided tensors (conv nets)"},
        {"model.batch", ftype::integer, 0,
         "largest batch the model file takes (a trace that fixed its batch: 1); 0 any"},
        {"model.freeze", ftype::boolean, true, "torch::jit::freeze the module"},
        {"model.optimize_for_inference", ftype::boolean, false,
         "torch::jit::optimize_for_inference (wrong outputs on MobileNetV3: off by default)"},
        {"preprocess.color", ftype::string, "rgb", "channel order the model expects: rgb or bgr"},
        {"preprocess.mean", ftype::number_list, j::array({0, 0, 0}), "subtracted, 0-255 units"},
        {"preprocess.std", ftype::number_list, j::array({255, 255, 255}), "divided, 0-255 units"},
        {"preprocess.resize", ftype::string, "letterbox", "letterbox or stretch"},
        {"preprocess.letterbox_centre", ftype::boolean, true, "centre the letterboxed image"},
        {"preprocess.pad_value", ftype::number, 114, "letterbox padding (0-255)"},
        {"preprocess.letterbox_rounding", ftype::string, "auto",
         "resized size: auto (centred rounds, top-left truncates), nearest or truncate"},
        {"preprocess.pad_mean", ftype::boolean, false,
         "letterbox padding is the mean colour (0 after normalisation; pad_value unused)"},
        {"preprocess.scale_up", ftype::boolean, true,
         "letterbox: enlarge images smaller than the input (false: pad them at their size)"},
        {"preprocess.interpolation", ftype::string, "linear", "linear, cubic, area or nearest"},
        {"input.max_pixels", ftype::integer, 100000000,
         "refuse larger images (decompression bombs)"},
        {"input.reduced_decode", ftype::boolean, true,
         "decode JPEGs at 1/2 or 1/4 size when the model input is that much smaller"},
        {"input.alpha_background", ftype::int_list, j::array({255, 255, 255}),
         "colour transparent pixels are composited onto"},
        {"runtime.threads", ftype::integer, 0, "compute threads in all (0 = all cores)"},
        {"runtime.workers", ftype::integer, 0,
         "inference workers; 0 = one per thread with 1 thread each (best for models < ~150 ms)"},
        {"runtime.memory_mb", ftype::integer, 0,
         "memory the workers' computations may use (0 = 80% of MemAvailable at start); with "
         "runtime.workers 0, fewer workers when one worker's measured need times the count "
         "exceeds it"},
        {"runtime.batch", ftype::integer, 1, "images per forward pass"},
        {"runtime.decode_threads", ftype::integer, 1, "threads decoding ahead of inference"},
        {"runtime.queue", ftype::integer, 0, "decoded images held ahead (0 = 2 x batch x workers)"},
    };
}

const field* schema::find(const std::string& path) const {
    for (const auto& f : fields)
        if (f.path == path) return &f;
    return nullptr;
}

json schema::defaults() const {
    json d = json::object();
    for (const auto& f : fields)
        if (!f.def.is_null()) set_path(d, f.path, f.def);
    return d;
}

static std::string json_type(const json& v) {
    if (v.is_boolean()) return "boolean";
    if (v.is_number_integer()) return "integer";
    if (v.is_number()) return "number";
    return v.type_name();
}

static bool all_of(const json& v, bool (*pred)(const json&)) {
    if (!v.is_array()) return false;
    for (const auto& e : v)
        if (!pred(e)) return false;
    return true;
}

static bool type_ok(const json& v, ftype t) {
    switch (t) {
        case ftype::boolean:
            return v.is_boolean();
        case ftype::integer:
            return v.is_number_integer();
        case ftype::number:
            return v.is_number();
        case ftype::string:
            return v.is_string();
        case ftype::int_list:
            return all_of(v, [](const json& e) { return e.is_number_integer(); });
        case ftype::number_list:
            return all_of(v, [](const json& e) { return e.is_number(); });
        case ftype::string_list:
            return all_of(v, [](const json& e) { return e.is_string(); });
        case ftype::labels:
            return v.is_string() || all_of(v, [](const json& e) { return e.is_string(); });
    }
    return false;
}

static bool is_prefix_of_field(const schema& s, const std::string& path) {
    std::string p = path + ".";
    for (const auto& f : s.fields)
        if (f.path.compare(0, p.size(), p) == 0) return true;
    return false;
}

static void validate_node(const json& node, const schema& s, const std::string& prefix,
                          const std::string& where) {
    for (auto it = node.begin(); it != node.end(); ++it) {
        std::string path = prefix.empty() ? it.key() : prefix + "." + it.key();
        if (const field* f = s.find(path)) {
            if (!type_ok(it.value(), f->type))
                throw fatal_error(where + path + ": expected " + ftype_name(f->type) + ", got " +
                                  json_type(it.value()));
        } else if (is_prefix_of_field(s, path)) {
            if (!it.value().is_object())
                throw fatal_error(where + path + ": expected object, got " + json_type(it.value()));
            validate_node(it.value(), s, path, where);
        } else {
            throw fatal_error(where + path + ": unknown key");
        }
    }
}

void validate_config(const json& cfg, const schema& s, const std::string& where) {
    if (!cfg.is_object()) throw fatal_error(where + "expected a JSON object at the top level");
    validate_node(cfg, s, "", where);
}

void set_path(json& cfg, const std::string& path, const json& value) {
    json* node = &cfg;
    size_t start = 0;
    for (;;) {
        size_t dot = path.find('.', start);
        std::string key =
            path.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
        if (dot == std::string::npos) {
            (*node)[key] = value;
            return;
        }
        if (!(*node)[key].is_object()) (*node)[key] = json::object();
        node = &(*node)[key];
        start = dot + 1;
    }
}

const json& get_path(const json& cfg, const std::string& path) {
    static const json null_value;
    const json* node = &cfg;
    size_t start = 0;
    for (;;) {
        size_t dot = path.find('.', start);
        std::string key =
            path.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
        if (!node->is_object() || !node->contains(key)) return null_value;
        node = &(*node)[key];
        if (dot == std::string::npos) return *node;
        start = dot + 1;
    }
}

static json parse_scalar(const std::string& path, const std::string& text, ftype t) {
    auto bad = [&]() {
        return fatal_error("--set " + path + ": expected " + ftype_name(t) + ", got \"" + text +
                           "\"");
    };
    try {
        switch (t) {
            case ftype::boolean:
                if (text == "true" || text == "1" || text == "yes" || text == "on") return true;
                if (text == "false" || text == "0" || text == "no" || text == "off") return false;
                throw bad();
            case ftype::integer: {
                size_t n = 0;
                long long v = std::stoll(text, &n);
                if (n != text.size()) throw bad();
                return v;
            }
            case ftype::number: {
                size_t n = 0;
                double v = std::stod(text, &n);
                if (n != text.size()) throw bad();
                return v;
            }
            default:
                return text;
        }
    } catch (const fatal_error&) {
        throw;
    } catch (...) {
        throw bad();
    }
}

json parse_set_value(const schema& s, const std::string& assignment, std::string* path_out) {
    auto eq = assignment.find('=');
    if (eq == std::string::npos || eq == 0)
        throw fatal_error("--set: expected key.path=value, got \"" + assignment + "\"");
    std::string path = assignment.substr(0, eq), text = assignment.substr(eq + 1);
    const field* f = s.find(path);
    if (!f) throw fatal_error("--set " + path + ": unknown key");
    if (path_out) *path_out = path;
    bool list = f->type == ftype::int_list || f->type == ftype::number_list ||
                f->type == ftype::string_list || f->type == ftype::labels;
    if (!list) return parse_scalar(path, text, f->type);
    json v;
    if (!text.empty() && text[0] == '[') {
        v = json::parse(text, nullptr, false);
        if (v.is_discarded())
            throw fatal_error("--set " + path + ": invalid JSON list \"" + text + "\"");
    } else if (f->type == ftype::labels && text.find(',') == std::string::npos) {
        v = text;  // "coco80" or "file:..."
    } else {
        ftype et = f->type == ftype::int_list      ? ftype::integer
                   : f->type == ftype::number_list ? ftype::number
                                                   : ftype::string;
        v = json::array();
        std::stringstream ss(text);
        for (std::string item; std::getline(ss, item, ',');)
            if (!item.empty()) v.push_back(parse_scalar(path, item, et));
    }
    if (!type_ok(v, f->type))
        throw fatal_error("--set " + path + ": expected " + ftype_name(f->type) + ", got \"" +
                          text + "\"");
    return v;
}

static void merge_into(json& dst, const json& src) {
    for (auto it = src.begin(); it != src.end(); ++it) {
        if (it.value().is_object() && dst.contains(it.key()) && dst[it.key()].is_object())
            merge_into(dst[it.key()], it.value());
        else
            dst[it.key()] = it.value();
    }
}

std::string find_config_file(const std::string& task, const std::string& name) {
    std::error_code ec;
    if (fs::is_regular_file(name, ec)) return name;
    std::string stem = name;
    if (fs::path(stem).extension() != ".json") stem += ".json";
    std::vector<std::string> roots;
    if (const char* e = std::getenv("VFM_CONFIGS")) roots.push_back(e);
    if (*VFM_SOURCE_CONFIG_DIR) roots.push_back(VFM_SOURCE_CONFIG_DIR);
    for (const auto& r : roots) {
        std::string p = r + "/" + task + "/" + stem;
        if (fs::is_regular_file(p, ec)) return p;
    }
    std::string looked;
    for (const auto& r : roots) looked += " " + r + "/" + task + "/";
    throw fatal_error(name + ": no such config file (also looked in" + looked + ")");
}

// -m NAME (no such file, no '/'): a model fetched by scripts/vfm-models, whose generated config
// $VFM_MODELS/NAME.json names the file and its pre/post-processing. Returns "" for a path.
static std::string registry_config(const std::string& model) {
    std::error_code ec;
    if (model.empty() || model.find('/') != std::string::npos || fs::exists(model, ec)) return "";
    std::string cfg = models_dir() + "/" + model + ".json";
    if (fs::is_regular_file(cfg, ec)) return cfg;
    if (fs::path(model).has_extension()) return "";  // a file name: reported as a missing file
    throw fatal_error(model + ": no such model file, and no fetched model of that name in " +
                      models_dir() + "; fetch it with: scripts/vfm-models fetch " + model);
}

// --embed / --mesh VALUE: a model file replaces SECTION.file; a JSON file or a fetched registry
// name ($VFM_MODELS/NAME.json) supplies the whole SECTION, its file made absolute.
static void apply_stage(json& cfg, const schema& s, const std::string& task,
                        const std::string& section, const std::string& value) {
    std::error_code ec;
    const std::string flag = "--" + section + " " + value;
    std::string cfg_file;
    if (fs::is_regular_file(value, ec)) {
        if (fs::path(value).extension() != ".json") {
            set_path(cfg, section + ".file", fs::absolute(value).string());
            set_path(cfg, section + ".name", "");
            set_path(cfg, section + ".sha256", "");
            return;
        }
        cfg_file = value;
    } else if (value.find('/') == std::string::npos && !fs::path(value).has_extension()) {
        cfg_file = models_dir() + "/" + value + ".json";
        if (!fs::is_regular_file(cfg_file, ec))
            throw fatal_error(flag + ": no such file, and no fetched model of that name in " +
                              models_dir() + "; fetch it with: scripts/vfm-models fetch " + value);
    } else {
        throw fatal_error(flag + ": no such file");
    }
    std::ifstream f(cfg_file);
    json j = json::parse(f, nullptr, false);
    if (j.is_discarded() || !j.is_object()) throw fatal_error(cfg_file + ": not valid JSON");
    if (j.contains("task") && j["task"].is_string() && j["task"] != task)
        throw fatal_error(cfg_file + ": task: this config is for \"" +
                          j["task"].get<std::string>() + "\", not \"" + task + "\"");
    if (!j.contains(section) || !j[section].is_object())
        throw fatal_error(cfg_file + ": has no \"" + section + "\" section (" + flag + ")");
    json part = json::object();
    part[section] = j[section];
    validate_config(part, s, cfg_file + ": ");
    std::string file = part[section].value("file", "");
    if (!file.empty() && !fs::path(file).is_absolute()) {
        std::string beside = (fs::absolute(cfg_file).parent_path() / file).string();
        if (fs::is_regular_file(beside, ec)) part[section]["file"] = beside;
    }
    merge_into(cfg, part);
}

resolved_config resolve_config(const std::string& task, const schema& s, const config_request& r) {
    resolved_config out;
    out.cfg = s.defaults();
    const std::string named = registry_config(r.model);
    const std::string config = named.empty() ? r.config : named;
    if (!config.empty()) {
        out.file = find_config_file(task, config);
        out.base_dir = fs::absolute(out.file).parent_path().string();
        std::ifstream f(out.file);
        if (!f) throw fatal_error(out.file + ": cannot read config");
        json user = json::parse(f, nullptr, false);
        if (user.is_discarded()) throw fatal_error(out.file + ": not valid JSON");
        // The task first: another task's config fails on its keys, which says less.
        if (user.is_object() && user.contains("task") && user["task"].is_string() &&
            user["task"] != task)
            throw fatal_error(out.file + ": task: this config is for \"" +
                              user["task"].get<std::string>() + "\", not \"" + task + "\"");
        validate_config(user, s, out.file + ": ");
        merge_into(out.cfg, user);
    }
    if (!r.model.empty() && named.empty()) {
        set_path(out.cfg, "model.file", fs::absolute(r.model).string());
        set_path(out.cfg, "model.sha256", "");  // a pin belongs to the config's own file
    }
    for (const auto& [section, value] : r.stages) apply_stage(out.cfg, s, task, section, value);
    for (const auto& a : r.sets) {
        std::string path;
        json v = parse_set_value(s, a, &path);
        set_path(out.cfg, path, v);
    }
    out.cfg["task"] = task;
    validate_config(out.cfg, s);
    return out;
}

std::string config_fingerprint(const json& cfg) {
    json c = cfg;
    c.erase("runtime");
    c.erase("description");
    for (auto& [k, v] : c.items())
        if (v.is_object()) {
            v.erase("file");
            v.erase("name");
            v.erase("sha256");
        }
    return sha256_hex(c.dump()).substr(0, 16);
}

std::string models_dir() {
    if (const char* e = std::getenv("VFM_MODELS"); e && *e) return e;
    if (const char* h = std::getenv("HOME"); h && *h) return std::string(h) + "/.cache/vfm/models";
    return ".vfm-models";
}

std::string find_model_file(const json& cfg, const std::string& base_dir) {
    return find_model_file(cfg, base_dir, "model");
}

std::string find_model_file(const json& cfg, const std::string& base_dir,
                            const std::string& section) {
    std::string file = get_path(cfg, section + ".file").get<std::string>();
    std::string name = get_path(cfg, section + ".name").get<std::string>();
    if (file.empty())
        throw fatal_error(section + ".file: no model given" +
                          (section == "model" ? std::string(" (use -m FILE or a config)") : ""));
    std::error_code ec;
    std::vector<std::string> candidates;
    if (fs::path(file).is_absolute()) {
        candidates.push_back(file);
    } else {
        if (!base_dir.empty()) candidates.push_back(base_dir + "/" + file);
        candidates.push_back(file);
        candidates.push_back(models_dir() + "/" + file);
    }
    for (const auto& c : candidates)
        if (fs::is_regular_file(c, ec)) return c;
    std::string msg = file + ": model file not found (looked in";
    for (const auto& c : candidates) msg += " " + c;
    msg += ")";
    if (!name.empty()) msg += "; fetch it with: scripts/vfm-models fetch " + name;
    throw fatal_error(msg);
}

}  // namespace vfm
