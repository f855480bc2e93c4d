// TorchScript back-end: the only translation unit (with runtime checks below) that includes
// LibTorch, to keep the build fast on small CI machines.
#include <ATen/Parallel.h>
#include <torch/script.h>
#include <torch/version.h>

#include <algorithm>
#include <chrono>
#include <mutex>
#include <thread>

#include "vfm/error.h"
#include "vfm/model.h"

#if __has_include(<torch/cuda.h>)
#include <torch/cuda.h>
#define VFM_HAVE_TORCH_CUDA_H 1
#endif

namespace vfm {

namespace {

std::string first_line(const std::string& s) {
    auto nl = s.find('\n');
    return nl == std::string::npos ? s : s.substr(0, nl);
}

class torch_model final : public model {
  public:
    torch_model(std::shared_ptr<torch::jit::Module> m, torch::Device dev, bool channels_last,
                bool nhwc_input)
        : module_(std::move(m)),
          device_(dev),
          channels_last_(channels_last),
          nhwc_input_(nhwc_input) {}

    std::vector<tensor> forward(const tensor& in) override {
        c10::InferenceMode guard;
        at::Tensor x;
        auto* data = const_cast<float*>(in.data.data());
        if (nhwc_input_ && in.rank() == 4) {
            const int64_t n = in.shape[0], c = in.shape[1], h = in.shape[2], w = in.shape[3];
            x = in.mem == layout::nhwc ? torch::from_blob(data, {n, h, w, c}, torch::kFloat)
                                       : torch::from_blob(data, {n, c, h, w}, torch::kFloat)
                                             .permute({0, 2, 3, 1})
                                             .contiguous();
        } else if (in.mem == layout::nhwc && in.rank() == 4) {
            const int64_t n = in.shape[0], c = in.shape[1], h = in.shape[2], w = in.shape[3];
            x = torch::from_blob(data, {n, c, h, w}, {h * w * c, 1, w * c, c}, torch::kFloat);
            if (!channels_last_) x = x.contiguous();
        } else {
            x = torch::from_blob(data, in.shape, torch::kFloat);
            if (channels_last_ && in.rank() == 4) x = x.contiguous(at::MemoryFormat::ChannelsLast);
        }
        if (device_.type() != torch::kCPU) x = x.to(device_);
        torch::jit::IValue out = module_->forward({x});
        std::vector<tensor> res;
        collect(out, res);
        return res;
    }

    std::vector<tensor> forward_multi(const std::vector<tensor>& ins) override {
        c10::InferenceMode guard;
        std::vector<torch::jit::IValue> args;
        for (const auto& in : ins) {
            auto x = torch::from_blob(const_cast<float*>(in.data.data()), in.shape, torch::kFloat);
            args.emplace_back(device_.type() != torch::kCPU ? x.to(device_) : x);
        }
        torch::jit::IValue out = module_->forward(args);
        std::vector<tensor> res;
        collect(out, res);
        return res;
    }

    std::unique_ptr<model> clone() override {
        return std::make_unique<torch_model>(module_, device_, channels_last_, nhwc_input_);
    }
    std::string backend() const override { return "torchscript"; }

  private:
    static void collect(const torch::jit::IValue& v, std::vector<tensor>& res) {
        if (v.isTensor()) {
            at::Tensor t = v.toTensor().to(torch::kCPU).to(torch::kFloat).contiguous();
            tensor o;
            o.shape.assign(t.sizes().begin(), t.sizes().end());
            o.data.assign(t.data_ptr<float>(), t.data_ptr<float>() + t.numel());
            res.push_back(std::move(o));
        } else if (v.isTuple()) {
            for (const auto& e : v.toTupleRef().elements()) collect(e, res);
        } else if (v.isList()) {
            for (const auto& e : v.toListRef()) collect(e, res);
        } else {
            throw std::runtime_error("model returned a " + v.tagKind() +
                                     ", expected tensors or a tuple/list of tensors");
        }
    }

    std::shared_ptr<torch::jit::Module> module_;
    torch::Device device_;
    bool channels_last_;
    bool nhwc_input_;
};

torch::Device parse_device(const std::string& d, const std::string& path) {
    if (d == "cpu") return torch::kCPU;
    if (d.rfind("cuda", 0) == 0) {
        if (!cuda_available())
            throw fatal_error("--device " + d + ": this LibTorch has no CUDA support (CPU " +
                              "build); build vfm against a CUDA LibTorch with CMAKE_PREFIX_PATH");
        int idx = 0;
        if (d.size() > 5 && d[4] == ':') idx = std::stoi(d.substr(5));
        return torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(idx));
    }
    throw fatal_error(path + ": --device: expected cpu, cuda or cuda:N, got \"" + d + "\"");
}

}  // namespace

std::unique_ptr<model> load_torchscript(const model_options& o) {
    torch::Device dev = parse_device(o.device, o.path);
    auto m = std::make_shared<torch::jit::Module>();
    try {
        *m = torch::jit::load(o.path, dev);
    } catch (const c10::Error& e) {
        throw fatal_error(o.path + ": not a loadable TorchScript file (" +
                          first_line(e.what_without_backtrace()) + ")");
    } catch (const std::exception& e) {
        throw fatal_error(o.path + ": not a loadable TorchScript file (" + first_line(e.what()) +
                          ")");
    }
    try {
        m->eval();
        if (o.channels_last) {
            // Weights in NHWC order match NHWC activations, avoiding a reorder per conv.
            torch::NoGradGuard ng;
            for (auto p : m->parameters())
                if (p.dim() == 4) p.set_data(p.contiguous(at::MemoryFormat::ChannelsLast));
        }
        if (o.freeze) *m = torch::jit::freeze(*m);
        if (o.optimize_for_inference) *m = torch::jit::optimize_for_inference(*m);
    } catch (const c10::Error& e) {
        throw fatal_error(o.path + ": cannot prepare the module (" +
                          first_line(e.what_without_backtrace()) + ")");
    }
    return std::make_unique<torch_model>(m, dev, o.channels_last, o.nhwc_input);
}

void init_compute(int intra_threads) {
    static std::once_flag once;
    std::call_once(once, [] {
        try {
            at::set_num_interop_threads(1);
        } catch (...) {
        }
    });
    set_thread_compute(intra_threads);
}

void set_thread_compute(int n) {
    at::set_num_threads(std::max(1, n));
}

void run_in_compute_thread(int n, const std::function<void()>& fn) {
    std::exception_ptr err;
    std::thread th([&] {
        try {
            set_thread_compute(n);
            fn();
        } catch (...) {
            err = std::current_exception();
        }
    });
    th.join();
    if (err) std::rethrow_exception(err);
}

int default_threads() {
    return std::max(1u, std::thread::hardware_concurrency());
}

double measure_gemm_gflops() {
    c10::InferenceMode guard;
    const int64_t n = 256;
    auto a = torch::rand({n, n}), b = torch::rand({n, n});
    auto c = torch::mm(a, b);  // warm-up
    double best = 1e9;
    // Best of 3; on a busy machine a slow first look is re-measured before anyone is warned.
    for (int i = 0; i < 24; ++i) {
        auto t0 = std::chrono::steady_clock::now();
        c = torch::mm(a, b);
        double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        best = std::min(best, s);
        if (i >= 2 && 2.0 * n * n * n / best / 1e9 >= 20) break;
    }
    return 2.0 * n * n * n / best / 1e9;
}

bool cuda_available() {
#ifdef VFM_HAVE_TORCH_CUDA_H
    return torch::cuda::is_available();
#else
    return false;
#endif
}

std::string torch_version() {
    return TORCH_VERSION;
}

}  // namespace vfm
