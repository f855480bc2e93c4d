#include "vfm/cli.h"

#include <CLI/CLI.hpp>
#include <iostream>
#include <nlohmann/json.hpp>

#include "vfm/error.h"

namespace vfm {

int parse_cli(int argc, char** argv, const std::string& tool, const std::string& description,
              const std::string& default_config, cli_args& a,
              const std::vector<task_option>& extra) {
    CLI::App app{description, tool};
    app.get_formatter()->column_width(34);
    a.cfg.config = default_config;
    std::string progress = "auto";
    bool quiet = false, verbose = false;

    app.add_option("inputs", a.inputs,
                   "images, folders (recursive), glob patterns, @list.txt, or - (paths on stdin)");
    app.add_option("-c,--config", a.cfg.config,
                   "config JSON file, or a name under configs/" + tool + "/")
        ->capture_default_str();
    app.add_option("-m,--model", a.cfg.model,
                   "model file (overrides the config's model.file), or the name of a model fetched "
                   "with scripts/vfm-models (its config is used)");
    // One value per --set, so inputs may follow it on the command line.
    app.add_option("--set", a.cfg.sets, "override a config value: key.path=value (repeatable)")
        ->allow_extra_args(false)
        ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
    app.add_option("-o,--output", a.output, "output folder")->capture_default_str();
    app.add_option("--device", a.device, "cpu, cuda or cuda:N (CUDA needs a CUDA LibTorch)")
        ->capture_default_str();
    app.add_option("--threads", a.threads, "compute threads in all (default: all cores)")
        ->check(CLI::NonNegativeNumber);
    app.add_option("--batch", a.batch, "images per forward pass (default: from the config)")
        ->check(CLI::PositiveNumber);
    app.add_option("--shard", a.shard, "process shard K of N (K/N): a deterministic 1/N of inputs");
    app.add_flag("--resume", a.resume, "skip inputs whose outputs are complete and current");
    app.add_flag("--overwrite", a.overwrite, "replace a previous run in the output folder");
    app.add_flag("--dry-run", a.dry_run, "list the inputs that would be processed, then stop");
    app.add_option("--progress", progress, "auto, bar, plain or none")
        ->check(CLI::IsMember({"auto", "bar", "plain", "none"}))
        ->capture_default_str();
    app.add_flag("-q,--quiet", quiet, "no progress and no summary; errors only");
    app.add_flag("-v,--verbose", verbose, "more diagnostics");
    std::vector<std::string> extra_values(extra.size());
    std::vector<bool> extra_flags(extra.size(), false);
    std::vector<std::vector<std::string>> extra_lists(extra.size());
    for (size_t i = 0; i < extra.size(); ++i) {
        const auto& o = extra[i];
        if (o.kind == task_option::flag) {
            app.add_flag_callback(
                o.name, [&extra_flags, i] { extra_flags[i] = true; }, o.help);
        } else if (o.kind == task_option::multi) {
            // one value per occurrence: "--point 1,2 image.jpg" must leave the image alone
            app.add_option(o.name, extra_lists[i], o.help)
                ->allow_extra_args(false)
                ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
        } else {
            app.add_option(o.name, extra_values[i], o.help);
        }
    }
    app.add_flag("--print-config", a.print_config, "print the resolved config as JSON and stop");
    app.add_flag("--version", a.version, "print the version and stop");
    try {
        app.parse(argc, argv);
    } catch (const CLI::CallForHelp& e) {
        return app.exit(e);
    } catch (const CLI::ParseError& e) {
        std::cerr << "error: " << e.what() << " (see " << tool << " --help)\n";
        return exit_fatal;
    }
    if (a.resume && a.overwrite) {
        std::cerr << "error: --resume and --overwrite exclude each other\n";
        return exit_fatal;
    }
    a.progress = progress == "bar"     ? progress_mode::bar
                 : progress == "plain" ? progress_mode::plain
                 : progress == "none"  ? progress_mode::none
                                       : progress_mode::auto_;
    a.verbosity = quiet ? 0 : verbose ? 2 : 1;
    if (quiet) a.progress = progress_mode::none;
    std::vector<std::string> task_sets;
    for (size_t i = 0; i < extra.size(); ++i) {
        const auto& o = extra[i];
        if (o.kind == task_option::flag && extra_flags[i])
            task_sets.push_back(o.key + "=" + o.flag_value);
        else if (o.kind == task_option::value && !extra_values[i].empty())
            task_sets.push_back(o.key + "=" + extra_values[i]);
        else if (o.kind == task_option::stage && !extra_values[i].empty())
            a.cfg.stages.push_back({o.key, extra_values[i]});
        else if (o.kind == task_option::multi && !extra_lists[i].empty())
            task_sets.push_back(o.key + "=" + nlohmann::json(extra_lists[i]).dump());
    }
    a.cfg.sets.insert(a.cfg.sets.begin(), task_sets.begin(), task_sets.end());
    if (a.threads > 0)
        a.cfg.sets.insert(a.cfg.sets.begin(), "runtime.threads=" + std::to_string(a.threads));
    if (a.batch > 0)
        a.cfg.sets.insert(a.cfg.sets.begin(), "runtime.batch=" + std::to_string(a.batch));
    return -1;
}

}  // namespace vfm
