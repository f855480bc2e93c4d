// detect: object detection over images and folders. All logic lives in lib/ (detect_task).
#include "vfm/detect_task.h"

int main(int argc, char** argv) {
    return vfm::run_app(argc, argv, vfm::make_detect_task());
}
