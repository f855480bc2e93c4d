// segment: SAM prompts and segment-everything, semantic label maps. Logic lives in lib/
// (segment_task).
#include "vfm/segment.h"

int main(int argc, char** argv) {
    return vfm::run_app(argc, argv, vfm::make_segment_task());
}
