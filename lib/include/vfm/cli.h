// The options every binary shares, declared once (llama.cpp common/arg.cpp style).
#pragma once
#include <string>
#include <vector>

#include "vfm/config.h"
#include "vfm/task.h"

namespace vfm {

enum class progress_mode { auto_, bar, plain, none };

struct cli_args {
    std::vector<std::string> inputs;
    config_request cfg;
    std::string output = "out";
    std::string device = "cpu";
    int threads = 0;    // 0: from config, else all cores
    int batch = 0;      // 0: from config
    std::string shard;  // "K/N"
    bool resume = false, overwrite = false, dry_run = false, print_config = false;
    bool version = false;
    progress_mode progress = progress_mode::auto_;
    int verbosity = 1;  // 0 quiet, 1 normal, 2 verbose
};

// Returns -1 when the run should go on, else the exit code (0 for --help, 2 for usage errors).
// `extra`: the task's own options, each turned into a --set (or a stage) before the user's --set
// entries, so an explicit --set still wins.
int parse_cli(int argc, char** argv, const std::string& tool, const std::string& description,
              const std::string& default_config, cli_args& out,
              const std::vector<task_option>& extra = {});

}  // namespace vfm
