// The runner every binary shares: CLI -> config -> inputs -> (resume, shard) -> model ->
// decode threads -> bounded queue -> batched inference workers -> writer thread ->
// results.jsonl, run.json and the task's per-run files.
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <opencv2/core.hpp>
#include <opencv2/core/utils/logger.hpp>
#include <thread>

#include "vfm/cli.h"
#include "vfm/error.h"
#include "vfm/model.h"
#include "vfm/pipeline.h"
#include "vfm/results.h"
#include "vfm/runtime.h"
#include "vfm/sha256.h"
#include "vfm/task.h"

namespace fs = std::filesystem;
using json = nlohmann::ordered_json;

namespace vfm {

namespace {

using clock_t_ = std::chrono::steady_clock;
double ms_since(clock_t_::time_point t0) {
    return std::chrono::duration<double, std::milli>(clock_t_::now() - t0).count();
}
double round3(double v) {
    return std::round(v * 1000) / 1000;
}

struct run_settings {
    int threads = 1, workers = 1, per_worker = 1, batch = 1, decode_threads = 1;
    bool workers_auto = true;  // runtime.workers 0: the runner may lower it to fit memory
    size_t queue = 2;
};

run_settings settings_from(const json& cfg) {
    run_settings s;
    int t = get_path(cfg, "runtime.threads").get<int>();
    s.threads = t > 0 ? t : default_threads();
    int w = get_path(cfg, "runtime.workers").get<int>();
    s.workers = w > 0 ? w : s.threads;
    s.workers_auto = w <= 0;
    s.per_worker = std::max(1, s.threads / s.workers);
    s.batch = std::max(1, get_path(cfg, "runtime.batch").get<int>());
    int model_batch = get_path(cfg, "model.batch").get<int>();
    if (model_batch > 0 && s.batch > model_batch)
        throw fatal_error("runtime.batch " + std::to_string(s.batch) + ": this model file takes " +
                          "at most " + std::to_string(model_batch) + " image(s) per forward pass " +
                          "(model.batch)");
    s.decode_threads = std::max(1, get_path(cfg, "runtime.decode_threads").get<int>());
    int q = get_path(cfg, "runtime.queue").get<int>();
    s.queue = q > 0 ? static_cast<size_t>(q) : static_cast<size_t>(2 * s.batch * s.workers);
    return s;
}

// Concatenate per-chunk outputs along dim 0.
std::vector<tensor> concat_rows(std::vector<std::vector<tensor>>& parts) {
    if (parts.size() == 1) return std::move(parts[0]);
    std::vector<tensor> out = std::move(parts[0]);
    for (size_t p = 1; p < parts.size(); ++p)
        for (size_t i = 0; i < out.size() && i < parts[p].size(); ++i) {
            out[i].shape[0] += parts[p][i].shape[0];
            out[i].data.insert(out[i].data.end(), parts[p][i].data.begin(), parts[p][i].data.end());
        }
    return out;
}

struct stderr_log {
    std::mutex m;
    bool bar = false;
    void line(const std::string& s) {
        std::lock_guard<std::mutex> l(m);
        if (bar) std::fputs("\r\033[K", stderr);
        std::fputs((s + "\n").c_str(), stderr);
        std::fflush(stderr);
    }
};

}  // namespace

int run_app(int argc, char** argv, std::unique_ptr<task> t) {
    tune_malloc();
    cli_args args;
    int rc =
        parse_cli(argc, argv, t->name(), t->description(), t->default_config(), args, t->options());
    if (rc >= 0) return rc;
    if (args.version) {
        std::printf("%s (vfm %s, git %s, LibTorch %s, OpenCV %s)\n", t->name().c_str(),
                    vfm_version().c_str(), git_revision().c_str(), torch_version().c_str(),
                    CV_VERSION);
        return exit_ok;
    }
    // OpenCV's own log lines would duplicate our one-line errors.
    cv::utils::logging::setLogLevel(args.verbosity > 1 ? cv::utils::logging::LOG_LEVEL_WARNING
                                                       : cv::utils::logging::LOG_LEVEL_SILENT);
    stderr_log log;
    auto t_start = clock_t_::now();
    std::string started = iso_time_now();
    try {
        const schema sch = t->config_schema();
        resolved_config rc_ = resolve_config(t->name(), sch, args.cfg);
        const json& cfg = rc_.cfg;
        if (args.print_config) {
            std::cout << cfg.dump(2) << "\n";
            return exit_ok;
        }
        t->configure(rc_);
        run_settings rs = settings_from(cfg);

        // Inputs.
        if (args.inputs.empty())
            throw fatal_error("no inputs given (see " + t->name() + " --help)");
        expand_result ex = expand_inputs(args.inputs, std::cin);
        for (const auto& w : ex.warnings)
            if (args.verbosity > 0) log.line("warning: " + w);
        std::vector<input_item> items = ex.items;
        std::string suffix;  // per-shard run files, so shards may share one output folder
        if (!args.shard.empty()) {
            shard_spec sp = parse_shard(args.shard);
            items = take_shard(items, sp);
            if (sp.n > 1) suffix = ".shard-" + std::to_string(sp.k) + "-of-" + std::to_string(sp.n);
        }

        // Model file and fingerprints. A task without a main model (matte's solver, networks
        // it feeds itself) does its work in postprocess with stage models.
        const bool has_main = t->uses_main_model();
        std::string model_path, model_sha;
        if (has_main) {
            model_path = find_model_file(cfg, rc_.base_dir);
            try {
                model_sha = sha256_file(model_path);
            } catch (const std::exception& e) {
                throw fatal_error(model_path + ": " + e.what());
            }
            std::string pinned = get_path(cfg, "model.sha256").get<std::string>();
            if (!pinned.empty() && pinned != model_sha)
                throw fatal_error(model_path + ": sha256 " + model_sha +
                                  " does not match the config's " + "model.sha256 " + pinned);
        }
        // Stage models (face: embedder, mesh): resolved, pinned and fingerprinted like the
        // main one; with the task's own extra facts they make up the models' fingerprint.
        struct stage_file {
            std::string section, path, sha;
        };
        std::vector<stage_file> stage_files;
        for (const auto& sec : t->stage_sections()) {
            stage_file sf{sec, find_model_file(cfg, rc_.base_dir, sec), ""};
            try {
                sf.sha = sha256_file(sf.path);
            } catch (const std::exception& e) {
                throw fatal_error(sf.path + ": " + e.what());
            }
            std::string pin = get_path(cfg, sec + ".sha256").is_string()
                                  ? get_path(cfg, sec + ".sha256").get<std::string>()
                                  : "";
            if (!pin.empty() && pin != sf.sha)
                throw fatal_error(sf.path + ": sha256 " + sf.sha + " does not match the config's " +
                                  sec + ".sha256 " + pin);
            stage_files.push_back(sf);
        }
        std::string models_fp = model_sha;
        const std::string extra_fp = t->fingerprint_extra();
        if (!stage_files.empty() || !extra_fp.empty() || !has_main) {
            std::string all = model_sha;
            for (const auto& sf : stage_files) all += "|" + sf.section + "=" + sf.sha;
            all += "|" + extra_fp;
            models_fp = sha256_hex(all);
        }
        const std::string config_fp = config_fingerprint(cfg);
        const std::string out_dir = args.output;
        const std::string results_path = out_dir + "/results" + suffix + ".jsonl";
        const std::string run_path = out_dir + "/run" + suffix + ".json";

        // A previous run in the output folder with another config or model.
        if (stamp_of(run_path).exists() && !args.overwrite && !args.resume) {
            json prev = json::parse(read_file(run_path), nullptr, false);
            std::string pfp = prev.is_object() ? prev.value("config_fingerprint", "") : "";
            std::string psha = prev.is_object() ? prev["model"].value("fingerprint", "") : "";
            if (pfp != config_fp || psha != models_fp)
                throw fatal_error(out_dir + ": holds a run with another config or model; use " +
                                  "--resume to redo what changed, --overwrite to replace it, or " +
                                  "another -o");
        }

        // Resume: decide per input.
        std::vector<input_item> todo;
        std::vector<json> carried;  // records of inputs that are already done
        if (args.resume) {
            auto off = scan_records(results_path);
            for (const auto& it : items) {
                auto o = off.find(it.rel);
                if (o != off.end()) {
                    json rec = read_record_at(results_path, o->second);
                    resume_facts f{config_fp, models_fp, stamp_of(it.path), out_dir};
                    if (record_is_current(rec, f)) {
                        rec["status"] = "skipped";
                        rec["message"] = "already done (--resume)";
                        rec["ms"] = json::object();
                        carried.push_back(std::move(rec));
                        continue;
                    }
                }
                todo.push_back(it);
            }
        } else {
            todo = items;
        }

        if (args.dry_run) {
            for (const auto& it : todo) std::cout << it.path << "\n";
            for (const auto& e : ex.errors) log.line("error: " + e);
            if (args.verbosity > 0)
                log.line(t->name() + ": dry run: " + std::to_string(todo.size()) + " to process, " +
                         std::to_string(carried.size()) + " already done");
            return ex.errors.empty() ? exit_ok : exit_some_failed;
        }

        // Model, threads, contract check. The main thread itself computes on one thread only
        // (run_in_compute_thread says why).
        init_compute(1);
        cv::setNumThreads(rs.per_worker);
        model_options mo;
        mo.path = model_path;
        mo.device = args.device;
        mo.channels_last = get_path(cfg, "model.channels_last").get<bool>();
        mo.freeze = get_path(cfg, "model.freeze").get<bool>();
        mo.optimize_for_inference = get_path(cfg, "model.optimize_for_inference").get<bool>();
        const std::string in_layout = get_path(cfg, "model.input_layout").get<std::string>();
        if (in_layout != "nchw" && in_layout != "nhwc")
            throw fatal_error("model.input_layout: expected nchw or nhwc, got \"" + in_layout +
                              "\"");
        mo.nhwc_input = in_layout == "nhwc";
        std::vector<std::unique_ptr<model>> models;
        if (has_main) models.push_back(load_model(mo));
        if (has_main && models[0]->backend() == "torchscript") {
            double g = 0;
            run_in_compute_thread(rs.per_worker, [&] { g = measure_gemm_gflops(); });
            if (g < 20)
                log.line("warning: fp32 matrix products run at " + std::to_string(int(g)) +
                         " GFLOP/s: libblas.so.3 is probably the reference BLAS; select OpenBLAS " +
                         "(libopenblas0-openmp, see scripts/setup.sh)");
        }
        double forward_mb = 0;
        if (has_main) {
            const long rss_before = peak_rss_kb();
            // Twice: the first images should not pay for TorchScript's graph optimisation.
            run_in_compute_thread(rs.per_worker, [&] { warm_up(*models[0], *t, model_path, 2); });
            forward_mb = static_cast<double>(peak_rss_kb() - rss_before) / 1024.0;
        }
        // Workers by memory: each runs its own forward pass (and the task's extra, e.g. a SAM
        // decoder batch) at once, so N workers need about N times one's peak.
        const double extra_mb = t->worker_extra_memory_mb();
        json memory_info = {{"forward_mb", std::round(forward_mb)},
                            {"task_extra_mb", std::round(extra_mb)}};
        if (rs.workers_auto && rs.workers > 1) {
            const double per = forward_mb + extra_mb;
            const int cfg_mb = get_path(cfg, "runtime.memory_mb").get<int>();
            const double budget =
                cfg_mb > 0 ? cfg_mb : 0.8 * static_cast<double>(mem_available_kb()) / 1024.0;
            memory_info["budget_mb"] = std::round(budget);
            const int fit = budget > 0 ? workers_within(rs.workers, per, budget) : rs.workers;
            if (fit < rs.workers) {
                log.line("note: " + std::to_string(fit) + " worker(s) instead of " +
                         std::to_string(rs.workers) + ": each needs about " +
                         std::to_string(std::lround(per)) + " MB and " +
                         std::to_string(std::lround(budget)) +
                         " MB are available to them (runtime.memory_mb)");
                rs.workers = fit;
                rs.per_worker = std::max(1, rs.threads / rs.workers);  // set by each worker
                cv::setNumThreads(rs.per_worker);
            }
        }
        if (has_main)
            for (int w = 1; w < rs.workers; ++w) models.push_back(models[0]->clone());
        else
            models.resize(std::max(rs.workers, 1));  // workers only run postprocess
        json stages_info = json::array();
        for (const auto& sf : stage_files) {
            model_options so = mo;
            so.path = sf.path;
            const json& lay = get_path(cfg, sf.section + ".input_layout");
            so.nhwc_input = lay.is_string() && lay.get<std::string>() == "nhwc";
            auto sm = load_model(so);
            stages_info.push_back({{"section", sf.section},
                                   {"path", fs::absolute(sf.path).string()},
                                   {"sha256", sf.sha},
                                   {"backend", sm->backend()}});
            t->attach_stage(sf.section, std::move(sm));
        }

        // Output folder, run.json (running), results.jsonl.
        std::error_code ec;
        fs::create_directories(out_dir, ec);
        if (ec) throw fatal_error(out_dir + ": cannot create output folder: " + ec.message());
        remove_stale_temps(out_dir);
        json run;
        run["tool"] = t->name();
        run["version"] = vfm_version();
        run["git"] = git_revision();
        if (has_main)
            run["model"] = {{"path", fs::absolute(model_path).string()},
                            {"sha256", model_sha},
                            {"backend", models[0]->backend()},
                            {"fingerprint", models_fp}};
        else
            run["model"] = {{"path", nullptr}, {"fingerprint", models_fp}};
        if (!stages_info.empty()) run["stage_models"] = stages_info;
        run["config_file"] = rc_.file;
        run["config"] = cfg;
        run["config_fingerprint"] = config_fp;
        run["device"] = args.device;
        run["threads"] = rs.threads;
        run["workers"] = rs.workers;
        run["threads_per_worker"] = rs.per_worker;
        run["memory"] = memory_info;
        run["batch"] = rs.batch;
        run["shard"] = args.shard;
        run["started"] = started;
        run["status"] = "running";
        run["info"] = t->run_info();
        const bool reduced = get_path(cfg, "input.reduced_decode").get<bool>();
        decode_options dopt;
        dopt.max_pixels = get_path(cfg, "input.max_pixels").get<long long>();
        auto bg = get_path(cfg, "input.alpha_background");
        if (bg.size() == 3)
            dopt.alpha_background =
                cv::Scalar(bg[2].get<int>(), bg[1].get<int>(), bg[0].get<int>());
        {
            run_context ctx;
            ctx.out_dir = out_dir;
            ctx.device = args.device;
            ctx.main = models[0].get();
            ctx.main_sha256 = model_sha;
            ctx.models_fingerprint = models_fp;
            ctx.decode = dopt;
            ctx.log = [&log](const std::string& l) { log.line(l); };
            ctx.verbosity = args.verbosity;
            run_in_compute_thread(rs.per_worker, [&] { t->start(ctx); });
        }
        write_file_atomic(run_path, run.dump(2) + "\n");
        auto results = std::make_unique<results_writer>(results_path, args.resume);
        for (const auto& rec : carried) results->append(rec);

        // Pipeline.
        progress::style ps = progress::style::none;
        bool tty = isatty(STDERR_FILENO);
        if (args.progress == progress_mode::bar || (args.progress == progress_mode::auto_ && tty))
            ps = progress::style::bar;
        else if (args.progress == progress_mode::plain ||
                 (args.progress == progress_mode::auto_ && !tty))
            ps = progress::style::plain;
        log.bar = ps == progress::style::bar;
        progress prog(ps, todo.size(), t->name());

        using item_ptr = std::unique_ptr<work_item>;
        bounded_queue<item_ptr> decoded(rs.queue), finished(rs.queue + 2);
        std::atomic<size_t> next{0};

        auto decode_fn = [&]() {
            for (size_t i; (i = next++) < todo.size();) {
                auto w = std::make_unique<work_item>();
                w->in = todo[i];
                try {
                    auto t0 = clock_t_::now();
                    std::string bytes;
                    try {
                        bytes = read_file(w->in.path);
                    } catch (const std::exception& e) {
                        throw input_error("cannot read file");
                    }
                    decode_options o = dopt;
                    if (reduced) o.reduce = t->reduction_for(probe_image_size(bytes));
                    w->img = decode_image(bytes, o);
                    w->ms_decode = ms_since(t0);
                    t0 = clock_t_::now();
                    t->prepare(*w);
                    if (!t->keeps_image()) w->img.bgr.release();
                    w->ms_pre = ms_since(t0);
                } catch (const std::exception& e) {
                    w->error = e.what();
                }
                decoded.push(std::move(w));
            }
        };
        auto infer_fn = [&](model* m) {
            set_thread_compute(rs.per_worker);
            for (;;) {
                std::vector<item_ptr> batch;
                size_t rows = 0;
                while (rows < static_cast<size_t>(rs.batch)) {
                    auto w = decoded.pop();
                    if (!w) break;
                    if (!(*w)->error.empty()) {
                        finished.push(std::move(*w));
                        continue;
                    }
                    if ((*w)->rows.empty()) {
                        // Nothing for the main model (SAM with a saved image embedding): only
                        // the task's own stages run.
                        auto t1 = clock_t_::now();
                        try {
                            t->postprocess(**w, {}, 0);
                        } catch (const std::exception& e) {
                            (*w)->error = e.what();
                        }
                        (*w)->ms_post = ms_since(t1);
                        finished.push(std::move(*w));
                        continue;
                    }
                    rows += (*w)->rows.size();
                    batch.push_back(std::move(*w));
                }
                if (batch.empty()) break;
                auto t0 = clock_t_::now();
                std::vector<std::vector<tensor>> parts;
                std::vector<std::pair<int, int>> part_size;  // input (w, h) of each part
                std::vector<int> part_rows;
                std::string err;
                try {
                    // Gather every row, then run in chunks of at most `batch` rows of one size.
                    struct row_ref {
                        const float* p;
                        int w, h;
                    };
                    std::vector<row_ref> src;
                    for (auto& w : batch) {
                        int iw = w->in_w ? w->in_w : t->input_w();
                        int ih = w->in_h ? w->in_h : t->input_h();
                        size_t row_floats = static_cast<size_t>(iw) * ih * 3;
                        for (size_t r = 0; r < w->rows.size(); ++r)
                            src.push_back({w->data.data() + r * row_floats, iw, ih});
                    }
                    for (size_t s = 0; s < src.size();) {
                        size_t n = 1;
                        while (s + n < src.size() && n < static_cast<size_t>(rs.batch) &&
                               src[s + n].w == src[s].w && src[s + n].h == src[s].h)
                            ++n;
                        const size_t row_floats = static_cast<size_t>(src[s].w) * src[s].h * 3;
                        tensor in;
                        in.shape = {static_cast<int64_t>(n), 3, src[s].h, src[s].w};
                        in.mem = layout::nhwc;
                        if (n == 1 && batch.size() == 1 && batch[0]->rows.size() == 1) {
                            in.data = std::move(batch[0]->data);
                        } else {
                            in.data.resize(n * row_floats);
                            for (size_t k = 0; k < n; ++k)
                                std::copy(src[s + k].p, src[s + k].p + row_floats,
                                          in.data.data() + k * row_floats);
                        }
                        parts.push_back(m->forward(in));
                        part_size.push_back({src[s].w, src[s].h});
                        part_rows.push_back(static_cast<int>(n));
                        s += n;
                    }
                } catch (const std::exception& e) {
                    err = e.what();
                    err = "inference failed: " + err.substr(0, err.find('\n'));
                }
                double ms = ms_since(t0) / batch.size();
                // Consecutive parts of one input size are joined; an item's rows lie in one
                // such group (its rows share its size).
                std::vector<std::vector<tensor>> groups;
                std::vector<int> group_rows;
                for (size_t p = 0; err.empty() && p < parts.size();) {
                    size_t q = p + 1;
                    while (q < parts.size() && part_size[q] == part_size[p]) ++q;
                    std::vector<std::vector<tensor>> run(
                        std::make_move_iterator(parts.begin() + p),
                        std::make_move_iterator(parts.begin() + q));
                    groups.push_back(concat_rows(run));
                    group_rows.push_back(0);
                    for (size_t k = p; k < q; ++k) group_rows.back() += part_rows[k];
                    p = q;
                }
                size_t g = 0;
                int first = 0;
                for (auto& w : batch) {
                    w->data.clear();
                    w->data.shrink_to_fit();
                    w->ms_infer = ms;
                    if (!err.empty()) {
                        w->error = err;
                    } else {
                        if (first >= group_rows[g]) ++g, first = 0;
                        const std::vector<tensor>& outs = groups[g];
                        auto t1 = clock_t_::now();
                        try {
                            t->postprocess(*w, outs, first);
                        } catch (const std::exception& e) {
                            w->error = e.what();
                        }
                        w->ms_post = ms_since(t1);
                    }
                    first += static_cast<int>(w->rows.size());
                    finished.push(std::move(w));
                }
            }
        };

        size_t n_ok = 0, n_failed = 0;
        double sum_decode = 0, sum_pre = 0, sum_infer = 0, sum_post = 0, sum_write = 0;
        output_context octx{out_dir};
        auto write_fn = [&]() {
            size_t done = 0;
            while (auto wp = finished.pop()) {
                work_item& w = **wp;
                json outputs = json::array();
                if (w.error.empty()) {
                    auto t0 = clock_t_::now();
                    try {
                        for (auto& p : t->write_outputs(w, octx)) outputs.push_back(p);
                    } catch (const std::exception& e) {
                        w.error = std::string("cannot write outputs: ") + e.what();
                    }
                    w.ms_write = ms_since(t0);
                }
                file_stamp st = stamp_of(w.in.path);
                json rec = {{"path", w.in.path},
                            {"rel", w.in.rel},
                            {"index", w.in.index},
                            {"status", w.error.empty() ? "ok" : "error"},
                            {"message", w.error},
                            {"input", {{"size", st.size}, {"mtime_ns", st.mtime_ns}}},
                            {"config", config_fp},
                            {"model", models_fp},
                            {"outputs", outputs},
                            {"ms",
                             {{"decode", round3(w.ms_decode)},
                              {"preprocess", round3(w.ms_pre)},
                              {"infer", round3(w.ms_infer)},
                              {"postprocess", round3(w.ms_post)},
                              {"write", round3(w.ms_write)}}}};
                if (w.error.empty()) {
                    rec["result"] = w.result;
                    ++n_ok;
                    sum_decode += w.ms_decode, sum_pre += w.ms_pre, sum_infer += w.ms_infer;
                    sum_post += w.ms_post, sum_write += w.ms_write;
                } else {
                    ++n_failed;
                    log.line("error: " + w.in.path + ": " + w.error);
                }
                results->append(rec);
                prog.update(++done, n_failed);
            }
        };

        std::vector<std::thread> decoders, workers;
        for (int i = 0; i < rs.decode_threads; ++i) decoders.emplace_back(decode_fn);
        for (int i = 0; i < rs.workers; ++i) workers.emplace_back(infer_fn, models[i].get());
        std::thread writer(write_fn);
        for (auto& d : decoders) d.join();
        decoded.close();
        for (auto& w : workers) w.join();
        finished.close();
        writer.join();
        prog.finish();
        results.reset();

        // Named inputs that do not exist.
        std::vector<json> missing;
        for (const auto& e : ex.errors) {
            log.line("error: " + e);
            auto colon = e.find(": ");
            missing.push_back({{"path", e.substr(0, colon)},
                               {"rel", e.substr(0, colon)},
                               {"index", -1},
                               {"status", "error"},
                               {"message", e.substr(colon + 2)},
                               {"outputs", json::array()}});
        }

        // Compact results, per-run task outputs, run.json.
        compact_records(results_path, items, missing);
        auto each = [&](const record_visitor& v) {
            std::ifstream f(results_path);
            for (std::string line; std::getline(f, line);) {
                json rec = json::parse(line, nullptr, false);
                if (rec.is_object() && (rec["status"] == "ok" || rec["status"] == "skipped"))
                    v(rec);
            }
        };
        std::vector<std::string> run_outputs = t->finish(octx, suffix, each);

        size_t n_failed_all = n_failed + missing.size();
        double secs = ms_since(t_start) / 1000;
        run["finished"] = iso_time_now();
        run["status"] = "complete";
        run["seconds"] = round3(secs);
        run["counts"] = {{"inputs", items.size() + missing.size()},
                         {"ok", n_ok},
                         {"skipped", carried.size()},
                         {"failed", n_failed_all}};
        double k = n_ok ? 1.0 / n_ok : 0;
        run["mean_ms"] = {{"decode", round3(sum_decode * k)},
                          {"preprocess", round3(sum_pre * k)},
                          {"infer", round3(sum_infer * k)},
                          {"postprocess", round3(sum_post * k)},
                          {"write", round3(sum_write * k)}};
        run["peak_rss_kb"] = peak_rss_kb();
        run["outputs"] = run_outputs;
        write_file_atomic(run_path, run.dump(2) + "\n");

        if (args.verbosity > 0) {
            char buf[512];
            std::snprintf(buf, sizeof buf,
                          "%s: %zu inputs: %zu ok, %zu skipped, %zu failed in %.1f s (%.1f img/s); "
                          "outputs in %s",
                          t->name().c_str(), items.size() + missing.size(), n_ok, carried.size(),
                          n_failed_all, secs, secs > 0 ? n_ok / secs : 0.0, out_dir.c_str());
            log.line(buf);
            if (args.verbosity > 1)
                log.line("mean ms per image: " + run["mean_ms"].dump() + ", peak RSS " +
                         std::to_string(peak_rss_kb() / 1024) + " MB");
        }
        return n_failed_all ? exit_some_failed : exit_ok;
    } catch (const fatal_error& e) {
        log.line(std::string("error: ") + e.what());
        return exit_fatal;
    } catch (const std::exception& e) {
        log.line(std::string("error: ") + e.what());
        return exit_fatal;
    }
}

}  // namespace vfm
