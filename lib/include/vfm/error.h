// Error kinds shared by the library and the apps.
//
// fatal_error: usage, config or model problems; nothing can be processed (exit 2).
// input_error: one input cannot be processed; the run continues (exit 1 at the end).
#pragma once
#include <stdexcept>
#include <string>

namespace vfm {

struct fatal_error : std::runtime_error {
    using std::runtime_error::runtime_error;
};

struct input_error : std::runtime_error {
    using std::runtime_error::runtime_error;
};

enum exit_code : int { exit_ok = 0, exit_some_failed = 1, exit_fatal = 2 };

}  // namespace vfm
