// depth: monocular depth maps (Depth Anything V2 / DPT, PyDNet). Logic lives in lib/ (depth_task).
#include "vfm/depth.h"

int main(int argc, char** argv) {
    return vfm::run_app(argc, argv, vfm::make_depth_task());
}
