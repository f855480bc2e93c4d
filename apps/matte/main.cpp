// matte: alpha mattes from matting networks, prompts and trimaps. Logic lives in lib/
// (matte_task).
#include "vfm/matte.h"

int main(int argc, char** argv) {
    return vfm::run_app(argc, argv, vfm::make_matte_task());
}
