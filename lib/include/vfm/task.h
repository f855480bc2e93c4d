// The seam between the shared runner and a task (detect, and later depth, face, ...).
//
// The runner owns inputs, decoding, batching, threads, resume, results.jsonl and run.json; a
// task owns its config schema, the model contract, pre/post-processing and its output files.
#pragma once
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "vfm/config.h"
#include "vfm/geometry.h"
#include "vfm/image_io.h"
#include "vfm/inputs.h"
#include "vfm/tensor.h"

namespace vfm {

// One image on its way through the pipeline.
struct work_item {
    input_item in;
    decoded_image img;
    std::vector<input_transform> rows;  // one per model input row (several when tiled)
    std::vector<float> data;            // rows x in_h x in_w x 3, HWC per row
    // This item's model input size; 0: the task's input_w()/input_h(). Tasks whose input size
    // follows the image (depth's aspect-keeping resize) set it in prepare(); the runner batches
    // only rows of the same size together.
    int in_w = 0, in_h = 0;
    nlohmann::ordered_json result;  // the task's per-image record
    std::string error;              // non-empty: this input failed
    std::vector<float> aux;  // task payload for write_outputs (face: embeddings; depth: the map)
    double ms_decode = 0, ms_pre = 0, ms_infer = 0, ms_post = 0, ms_write = 0;
};

// A task's own command-line option, a shorthand for a config value; declared with the task and
// parsed with the shared options (lib/src/cli.cpp).
struct task_option {
    // multi: repeatable; the values become a JSON list of strings at `key` (a string_list).
    enum kind_t { value, flag, stage, multi };
    std::string name;  // "--gallery"
    std::string key;   // config path ("identify.gallery"); for a stage, its section ("embed")
    std::string help;
    kind_t kind = value;
    std::string flag_value = "true";  // what a flag sets
};

class model;

// What a task's start() gets: the loaded main model and run facts.
struct run_context {
    std::string out_dir;
    std::string device;  // --device, for models a task loads itself
    model* main = nullptr;
    std::string main_sha256;         // the main model file's checksum
    std::string models_fingerprint;  // main + stage models + fingerprint_extra()
    decode_options decode;
    std::function<void(const std::string&)> log;  // one diagnostic line to stderr
    int verbosity = 1;
};

// Context the task's writers get.
struct output_context {
    std::string out_dir;
};

// A finished record read back from results.jsonl (latest per input, sorted by index).
using record_visitor = std::function<void(const nlohmann::ordered_json& record)>;

class task {
  public:
    virtual ~task() = default;
    virtual std::string name() const = 0;
    virtual std::string description() const = 0;
    virtual std::string default_config() const = 0;  // name under configs/<task>/
    virtual schema config_schema() const = 0;

    // Called once with the resolved config before anything runs; throws fatal_error.
    virtual void configure(const resolved_config& rc) = 0;
    virtual int input_w() const = 0;
    virtual int input_h() const = 0;
    // Whether write_outputs needs the decoded image (previews, crops).
    virtual bool keeps_image() const = 0;
    // Largest JPEG reduction the task accepts for an image of this size.
    virtual int reduction_for(image_size s) const = 0;

    // Fills w.rows and w.data from w.img. Throws input_error.
    virtual void prepare(work_item& w) const = 0;
    // Model-contract check on the warm-up outputs; throws fatal_error.
    virtual void check_outputs(const std::vector<tensor>& outs) const = 0;
    // Rows [first_row, first_row + w.rows.size()) of outs belong to w; sets w.result.
    virtual void postprocess(work_item& w, const std::vector<tensor>& outs,
                             int first_row) const = 0;
    // Writes per-image files atomically; returns their paths relative to the output folder.
    virtual std::vector<std::string> write_outputs(const work_item& w,
                                                   const output_context& ctx) const = 0;
    // Per-run files (e.g. COCO) from every finished record; returns paths written.
    virtual std::vector<std::string> finish(
        const output_context& ctx, const std::string& suffix,
        const std::function<void(const record_visitor&)>& each) const = 0;
    // False: the task runs no main model over the runner (matte's solver and the networks it
    // feeds itself as stages); prepare() must then leave w.rows empty and postprocess() gets no
    // outputs. Called after configure().
    virtual bool uses_main_model() const { return true; }
    // Command-line options of this task (face: --gallery, --cluster, --embed, ...).
    virtual std::vector<task_option> options() const { return {}; }
    // Config sections naming further models run inside postprocess (face: "embed", "mesh");
    // the runner resolves SECTION.file like model.file, checks SECTION.sha256, fingerprints and
    // loads them (SECTION.input_layout nchw|nhwc), then hands each to attach_stage().
    virtual std::vector<std::string> stage_sections() const { return {}; }
    virtual void attach_stage(const std::string& section, std::unique_ptr<model> m) {}
    // What else decides the outputs besides the config and the models (face: the gallery's
    // files), folded into the fingerprint that --resume compares. Called after configure().
    virtual std::string fingerprint_extra() const { return ""; }
    // Once, after the models are loaded and before any input runs (face: the gallery).
    // Throws fatal_error.
    virtual void start(const run_context& ctx) {}
    // Memory one worker needs beyond the main model's forward pass (which the runner measures
    // on its warm-up), in MB: segment-everything's decoder batches. 0: nothing notable. The
    // runner sizes its default worker count by the sum (runtime.memory_mb).
    virtual double worker_extra_memory_mb() const { return 0; }
    // Extra facts for run.json (labels, ...).
    virtual nlohmann::ordered_json run_info() const { return nlohmann::ordered_json::object(); }
};

// preprocess_options from a config's model.input_size and preprocess.* keys; throws
// fatal_error naming the key.
preprocess_options preprocess_from_config(const json& cfg);
// Only model.input_size, preprocess.color, mean, std and interpolation (tasks with their own
// resize rules: depth); throws fatal_error naming the key.
preprocess_options pixel_options_from_config(const json& cfg);
// One model-input row of the whole decoded image with `o` (its size, letterbox or stretch,
// normalisation): fills w.data, w.rows and, when o's size differs from the task's, w.in_w/in_h.
void prepare_whole_image(work_item& w, const preprocess_options& o, bool own_size = false);
// cv::INTER_* for preprocess.interpolation (linear, cubic, area, nearest); throws fatal_error.
int interpolation_of(const std::string& name);

class model;
// The warm-up the runner and embedded tasks run before any input: `passes` forward passes of a
// zero [1, 3, input_h, input_w] image (TorchScript's profiling executor optimises its graph
// after the first), then the task's output-contract check. Throws fatal_error: "MODEL_PATH:
// forward pass on a [1, 3, H, W] input failed: ..." or the check's own.
void warm_up(model& m, const task& t, const std::string& model_path, int passes);

// Runs a task's binary: the whole CLI, runner and exit code. Apps' main() call this.
int run_app(int argc, char** argv, std::unique_ptr<task> t);

}  // namespace vfm
