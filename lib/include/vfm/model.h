// One class owns a loaded model. TorchScript files run on LibTorch (eval, inference mode,
// frozen where safe); .onnx files run on OpenCV DNN where OpenCV 4.6 can import the graph.
// Only model_torch.cpp and model_onnx.cpp include the back-ends' headers.
#pragma once
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "vfm/tensor.h"

namespace vfm {

struct model_options {
    std::string path;
    std::string device = "cpu";  // cpu, cuda, cuda:N
    bool channels_last = true;
    bool freeze = true;
    bool optimize_for_inference = false;
    bool nhwc_input = false;  // the model takes [B, H, W, C] (TFJS / TF exports)
};

class model {
  public:
    virtual ~model() = default;
    // Input: a float image batch [B, C, H, W] (memory NCHW or NHWC). Outputs in the model's
    // order, always NCHW-contiguous on the CPU. Throws std::runtime_error.
    virtual std::vector<tensor> forward(const tensor& input) = 0;
    // Several inputs of any rank, passed as they are (no layout handling): prompt decoders
    // (SAM's six inputs). Back-ends that cannot do it throw std::runtime_error.
    virtual std::vector<tensor> forward_multi(const std::vector<tensor>& inputs) {
        throw std::runtime_error(backend() + " models take one input");
    }
    // An instance for another worker thread: shares weights where the back-end allows
    // concurrent calls (TorchScript), loads another copy where it does not (OpenCV DNN).
    virtual std::unique_ptr<model> clone() = 0;
    virtual std::string backend() const = 0;
};

// Picks the back-end by file extension. Throws fatal_error naming the file.
std::unique_ptr<model> load_model(const model_options& o);

std::unique_ptr<model> load_torchscript(const model_options& o);
std::unique_ptr<model> load_onnx(const model_options& o);

// Compute threads: process-wide setup once (inter-op 1, intra-op n), then per worker thread.
void init_compute(int intra_threads);
void set_thread_compute(int n);  // call in each worker thread
// Runs fn on a new thread with n compute threads, joins it and rethrows what fn threw. For
// compute outside the workers (warm-up, checks, task start-up): libgomp keeps an OpenMP thread
// team for every thread that ran a parallel region, and with a team idle on the main thread
// the threads outnumber the cores, so libgomp stops spinning between the workers' parallel
// regions and sleeps instead (Depth Anything V2 at 1 worker x 2 threads ran at half speed with
// 100x the context switches). A team made here ends with its thread.
void run_in_compute_thread(int n, const std::function<void()>& fn);
int default_threads();  // all cores

// A short timed fp32 GEMM through LibTorch: GFLOP/s with the current threads. Below ~20 the
// selected libblas.so.3 is the reference BLAS.
double measure_gemm_gflops();
bool cuda_available();
std::string torch_version();

}  // namespace vfm
