// ONNX back-end through OpenCV DNN. OpenCV 4.6 imports e.g. YOLOX and YuNet, but not
// YOLOv8's full head, Depth Anything or TinyViT: those must be converted to TorchScript.
#include <opencv2/dnn.hpp>

#include "vfm/error.h"
#include "vfm/model.h"

namespace vfm {

namespace {

class onnx_model final : public model {
  public:
    onnx_model(std::string path, bool nhwc) : path_(std::move(path)), nhwc_(nhwc) {
        try {
            net_ = cv::dnn::readNetFromONNX(path_);
        } catch (const cv::Exception& e) {
            // e.err holds OpenCV's nested messages; the node name comes first.
            std::string why = e.err.substr(0, e.err.find(" parse error"));
            why = why.substr(0, why.find('\n'));
            if (why.rfind("> ", 0) == 0) why = why.substr(2);
            throw fatal_error(path_ + ": OpenCV DNN " + CV_VERSION + " cannot import this ONNX " +
                              "graph (" + why + "); export the model to TorchScript instead");
        }
        if (net_.empty()) throw fatal_error(path_ + ": OpenCV DNN could not read this ONNX file");
        net_.setPreferableBackend(cv::dnn::DNN_BACKEND_OPENCV);
        net_.setPreferableTarget(cv::dnn::DNN_TARGET_CPU);
        out_names_ = net_.getUnconnectedOutLayersNames();
    }

    std::vector<tensor> forward(const tensor& in) override {
        if (in.rank() != 4) throw std::runtime_error("ONNX back-end expects a 4-D image batch");
        const int n = static_cast<int>(in.shape[0]), c = static_cast<int>(in.shape[1]),
                  h = static_cast<int>(in.shape[2]), w = static_cast<int>(in.shape[3]);
        std::vector<tensor> res;
        // One image at a time: exported ONNX graphs often fix the batch at 1.
        for (int b = 0; b < n; ++b) {
            int dims[4] = {1, c, h, w};
            if (nhwc_) dims[1] = h, dims[2] = w, dims[3] = c;
            cv::Mat blob(4, dims, CV_32F);
            float* dst = blob.ptr<float>();
            const float* src = in.data.data() + static_cast<size_t>(b) * c * h * w;
            if (nhwc_ != (in.mem == layout::nhwc)) {
                if (nhwc_)  // NCHW data -> NHWC blob
                    for (int k = 0; k < c; ++k)
                        for (int i = 0; i < h * w; ++i)
                            dst[static_cast<size_t>(i) * c + k] =
                                src[static_cast<size_t>(k) * h * w + i];
                else  // NHWC data -> NCHW blob
                    for (int y = 0; y < h; ++y)
                        for (int x = 0; x < w; ++x)
                            for (int k = 0; k < c; ++k)
                                dst[(static_cast<size_t>(k) * h + y) * w + x] =
                                    src[(static_cast<size_t>(y) * w + x) * c + k];
            } else {
                std::copy(src, src + static_cast<size_t>(c) * h * w, dst);
            }
            net_.setInput(blob);
            std::vector<cv::Mat> outs;
            try {
                net_.forward(outs, out_names_);
            } catch (const cv::Exception& e) {
                throw std::runtime_error("OpenCV DNN forward failed: " + e.err);
            }
            if (res.empty()) res.resize(outs.size());
            for (size_t i = 0; i < outs.size(); ++i) append(res[i], outs[i], n);
        }
        return res;
    }

    std::unique_ptr<model> clone() override { return std::make_unique<onnx_model>(path_, nhwc_); }
    std::string backend() const override { return "opencv-dnn"; }

  private:
    static void append(tensor& t, const cv::Mat& m, int batch) {
        cv::Mat c = m.isContinuous() ? m : m.clone();
        if (t.shape.empty()) {
            for (int d = 0; d < c.dims; ++d) t.shape.push_back(c.size[d]);
            if (t.shape.empty()) t.shape = {1};
            t.shape[0] *= batch;  // filled image by image
            t.data.reserve(static_cast<size_t>(t.numel()));
        }
        const float* p = c.ptr<float>();
        t.data.insert(t.data.end(), p, p + c.total());
    }

    std::string path_;
    bool nhwc_ = false;
    cv::dnn::Net net_;
    std::vector<std::string> out_names_;
};

}  // namespace

std::unique_ptr<model> load_onnx(const model_options& o) {
    return std::make_unique<onnx_model>(o.path, o.nhwc_input);
}

}  // namespace vfm
