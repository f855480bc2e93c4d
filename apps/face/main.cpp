// face: face detection, landmarks, anonymisation and aligned crops. Logic lives in lib/
// (face_task).
#include "vfm/face_task.h"

int main(int argc, char** argv) {
    return vfm::run_app(argc, argv, vfm::make_face_task());
}
