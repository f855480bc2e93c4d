// Closed-form matting benchmark: seconds per megapixel of vfm::closed_form_alpha on realistic
// trimaps (an unknown band of B px around a subject), and the CG iterations it took.
// scripts/bench/bench_matting.sh runs it and explains the cases; `bench_closed_form --help`.
//
// Cases:
//   --synthetic WxH   a subject silhouette (torso, head, arms as soft-edged shapes, ground truth
//                     alpha known) composited from two photos (--textures FG,BG, resized to
//                     cover) or procedural colour noise: reports SAD/MSE too
//   --coco DIR        COCO images (DIR/images/*.jpg) with semantic masks (DIR/masks-semantic,
//                     class id + 1; --class, default 0 = person) covering >= --min-fraction of
//                     the image, --limit of them, scaled by --scale
// Per case and band B (--bands, default 10,20): trimap_from_mask(mask, B/2, B - B/2), the best
// of --repeat runs of closed_form_alpha (--precond ichol|jacobi, --ichol-threshold, --eps,
// --radius, --tol set its parameters), then of estimate_foreground_ml on that alpha ("fg s").
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <opencv2/core/utility.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "vfm/matting.h"

namespace fs = std::filesystem;

namespace {

struct options {
    std::vector<cv::Size> synthetic;
    std::string fg_texture, bg_texture, coco;
    std::vector<int> bands{10, 20};
    int limit = 8, repeat = 3, threads = -1, cls = 0;
    double scale = 1, min_fraction = 0.05;
    vfm::closed_form_params params;
};

struct bench_case {
    std::string name;
    cv::Mat image, mask, truth;  // truth empty for real images
};

struct totals {
    double seconds = 0, mp = 0;
    long iterations = 0;
    int runs = 0;
};

[[noreturn]] void usage(int rc) {
    std::fprintf(rc ? stderr : stdout,
                 "usage: bench_closed_form [--synthetic WxH]... [--textures FG,BG] [--coco DIR]\n"
                 "       [--class N] [--min-fraction F] [--limit N] [--scale S] [--bands B,...]\n"
                 "       [--repeat R] [--threads T] [--eps E] [--radius R] [--tol T]\n");
    std::exit(rc);
}

std::vector<std::string> split(const std::string& s, char sep) {
    std::vector<std::string> out;
    std::stringstream ss(s);
    for (std::string item; std::getline(ss, item, sep);) out.push_back(item);
    return out;
}

options parse(int argc, char** argv) {
    options o;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        if (a == "-h" || a == "--help") usage(0);
        if (i + 1 >= argc) usage(2);
        const std::string v = argv[++i];
        if (a == "--synthetic") {
            int w = 0, h = 0;
            if (std::sscanf(v.c_str(), "%dx%d", &w, &h) != 2 || w < 8 || h < 8) usage(2);
            o.synthetic.emplace_back(w, h);
        } else if (a == "--textures") {
            const auto parts = split(v, ',');
            if (parts.size() != 2) usage(2);
            o.fg_texture = parts[0], o.bg_texture = parts[1];
        } else if (a == "--coco") {
            o.coco = v;
        } else if (a == "--bands") {
            o.bands.clear();
            for (const auto& b : split(v, ',')) o.bands.push_back(std::stoi(b));
        } else if (a == "--limit") {
            o.limit = std::stoi(v);
        } else if (a == "--repeat") {
            o.repeat = std::max(1, std::stoi(v));
        } else if (a == "--threads") {
            o.threads = std::stoi(v);
        } else if (a == "--class") {
            o.cls = std::stoi(v);
        } else if (a == "--scale") {
            o.scale = std::stod(v);
        } else if (a == "--min-fraction") {
            o.min_fraction = std::stod(v);
        } else if (a == "--eps") {
            o.params.eps = std::stod(v);
        } else if (a == "--radius") {
            o.params.radius = std::stoi(v);
        } else if (a == "--precond") {
            if (v != "jacobi" && v != "ichol") usage(2);
            o.params.preconditioner =
                v == "jacobi" ? vfm::cf_preconditioner::jacobi : vfm::cf_preconditioner::ichol;
        } else if (a == "--ichol-threshold") {
            o.params.ichol_threshold = std::stod(v);
        } else if (a == "--tol") {
            o.params.tol = std::stod(v);
        } else {
            usage(2);
        }
    }
    return o;
}

// A photo resized to cover w x h (centre crop), as CV_32FC3 0..1.
cv::Mat texture(const std::string& path, cv::Size size, int seed) {
    cv::Mat img;
    if (!path.empty()) img = cv::imread(path, cv::IMREAD_COLOR);
    if (img.empty()) {
        // Procedural: colour noise at three scales, smooth enough to look like surfaces.
        cv::Mat acc(size, CV_32FC3, cv::Scalar::all(0));
        cv::RNG rng(seed);
        for (double sigma : {24.0, 6.0, 1.5}) {
            cv::Mat n(size, CV_32FC3);
            rng.fill(n, cv::RNG::UNIFORM, -1, 1);
            cv::GaussianBlur(n, n, cv::Size(0, 0), sigma);
            cv::normalize(n, n, -0.2, 0.2, cv::NORM_MINMAX);
            acc += n;
        }
        acc += cv::Scalar(0.3 + 0.4 * (seed & 1), 0.5, 0.7 - 0.4 * (seed & 1));
        return cv::min(cv::max(acc, 0.0), 1.0);
    }
    const double s = std::max(double(size.width) / img.cols, double(size.height) / img.rows);
    cv::resize(img, img, cv::Size(), s, s, s < 1 ? cv::INTER_AREA : cv::INTER_CUBIC);
    img = img(cv::Rect((img.cols - size.width) / 2, (img.rows - size.height) / 2, size.width,
                       size.height))
              .clone();
    img.convertTo(img, CV_32FC3, 1.0 / 255);
    return img;
}

// A person-like silhouette with a soft (about 3 px) edge, drawn at the image's scale.
cv::Mat silhouette(cv::Size size) {
    cv::Mat m(size, CV_32F, cv::Scalar(0));
    const double w = size.width, h = size.height, s = std::min(w, h);
    const auto pt = [&](double x, double y) { return cv::Point(int(x * w), int(y * h)); };
    cv::ellipse(m, pt(0.5, 0.68), cv::Size(int(0.2 * s), int(0.3 * h)), 0, 0, 360, 1.0, cv::FILLED,
                cv::LINE_AA);
    cv::circle(m, pt(0.5, 0.27), int(0.11 * s), 1.0, cv::FILLED, cv::LINE_AA);
    cv::line(m, pt(0.38, 0.5), pt(0.2, 0.75), 1.0, std::max(2, int(0.045 * s)), cv::LINE_AA);
    cv::line(m, pt(0.62, 0.5), pt(0.82, 0.4), 1.0, std::max(2, int(0.045 * s)), cv::LINE_AA);
    cv::line(m, pt(0.82, 0.4), pt(0.86, 0.2), 1.0, std::max(2, int(0.035 * s)), cv::LINE_AA);
    cv::GaussianBlur(m, m, cv::Size(0, 0), 1.0);
    return m;
}

bench_case synthetic_case(cv::Size size, const options& o) {
    bench_case c;
    c.name = "synthetic";
    c.truth = silhouette(size);
    const cv::Mat fg = texture(o.fg_texture, size, 1), bg = texture(o.bg_texture, size, 2);
    cv::Mat a3, mix;
    cv::merge(std::vector<cv::Mat>{c.truth, c.truth, c.truth}, a3);
    mix = fg.mul(a3) + bg.mul(cv::Scalar::all(1) - a3);
    mix.convertTo(c.image, CV_8UC3, 255.0);
    c.mask = c.truth > 0.5f;
    return c;
}

std::vector<bench_case> coco_cases(const options& o) {
    std::vector<bench_case> out;
    std::vector<fs::path> masks;
    const fs::path dir(o.coco);
    if (!fs::is_directory(dir / "masks-semantic")) {
        std::fprintf(stderr, "bench_closed_form: %s/masks-semantic not found\n", o.coco.c_str());
        return out;
    }
    for (const auto& e : fs::directory_iterator(dir / "masks-semantic"))
        if (e.path().extension() == ".png") masks.push_back(e.path());
    std::sort(masks.begin(), masks.end());
    for (const auto& mp : masks) {
        if (int(out.size()) >= o.limit) break;
        const cv::Mat labels = cv::imread(mp.string(), cv::IMREAD_GRAYSCALE);
        const fs::path ip = dir / "images" / (mp.stem().string() + ".jpg");
        if (labels.empty() || !fs::exists(ip)) continue;
        cv::Mat mask = labels == o.cls + 1;
        if (cv::countNonZero(mask) < o.min_fraction * labels.total()) continue;
        bench_case c;
        c.name = "coco/" + mp.stem().string();
        c.image = cv::imread(ip.string(), cv::IMREAD_COLOR);
        if (c.image.size() != mask.size()) continue;
        if (o.scale != 1) {
            cv::resize(c.image, c.image, cv::Size(), o.scale, o.scale, cv::INTER_CUBIC);
            cv::resize(mask, mask, c.image.size(), 0, 0, cv::INTER_LINEAR);
            mask = mask > 127;
        }
        c.mask = mask;
        out.push_back(c);
    }
    return out;
}

double sad(const cv::Mat& a, const cv::Mat& truth) {
    return cv::norm(a, truth, cv::NORM_L1);
}

}  // namespace

int main(int argc, char** argv) {
    options o = parse(argc, argv);
    if (o.threads >= 0) cv::setNumThreads(o.threads);
    std::vector<bench_case> cases;
    for (const cv::Size& s : o.synthetic) cases.push_back(synthetic_case(s, o));
    if (!o.coco.empty())
        for (auto& c : coco_cases(o)) cases.push_back(std::move(c));
    if (cases.empty()) usage(2);

    std::printf("threads %d, eps %g, radius %d, tol %g, best of %d\n", cv::getNumThreads(),
                o.params.eps, o.params.radius, o.params.tol, o.repeat);
    std::printf("%-22s %10s %5s %4s %8s %7s %7s %7s %7s %6s %8s %9s %9s %9s %7s\n", "case", "size",
                "MP", "band", "unknown", "build", "solve", "total", "s/MP", "iters", "resid",
                "SAD/1000", "binary", "MSE(unk)", "fg s");
    std::vector<totals> per_band(o.bands.size());
    for (const bench_case& c : cases) {
        const double mp = c.image.total() / 1e6;
        for (size_t bi = 0; bi < o.bands.size(); ++bi) {
            const int band = o.bands[bi];
            const cv::Mat trimap = vfm::trimap_from_mask(c.mask, band / 2, band - band / 2);
            double best = 1e30;
            vfm::closed_form_stats st, best_st;
            cv::Mat alpha;
            for (int r = 0; r < o.repeat; ++r) {
                const auto t0 = std::chrono::steady_clock::now();
                alpha = vfm::closed_form_alpha(c.image, trimap, o.params, &st);
                const double t =
                    std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
                if (t < best) best = t, best_st = st;
            }
            // Foreground colours on that alpha, as a cutout would follow up with.
            double fg_best = 1e30;
            for (int r = 0; r < o.repeat; ++r) {
                const auto t0 = std::chrono::steady_clock::now();
                const cv::Mat f = vfm::estimate_foreground_ml(c.image, alpha);
                fg_best = std::min(
                    fg_best,
                    std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
            }
            char acc[64] = "", bin[32] = "", mse[32] = "";
            if (!c.truth.empty()) {
                cv::Mat binary;
                c.mask.convertTo(binary, CV_32F, 1.0 / 255);
                const cv::Mat unknown = trimap == vfm::trimap_unknown;
                cv::Mat d = alpha - c.truth;
                d = d.mul(d);
                d.setTo(0, ~unknown);
                std::snprintf(acc, sizeof acc, "%.3f", sad(alpha, c.truth) / 1000);
                std::snprintf(bin, sizeof bin, "%.3f", sad(binary, c.truth) / 1000);
                std::snprintf(mse, sizeof mse, "%.2e",
                              cv::sum(d)[0] / std::max(1, cv::countNonZero(unknown)));
            }
            std::printf(
                "%-22s %5dx%-4d %5.2f %4d %8d %7.3f %7.3f %7.3f %7.3f %6d %8.1e %9s %9s %9s "
                "%7.3f\n",
                c.name.c_str(), c.image.cols, c.image.rows, mp, band, best_st.unknown,
                best_st.seconds_build, best_st.seconds_solve, best, best / mp, best_st.iterations,
                best_st.residual, acc, bin, mse, fg_best);
            std::fflush(stdout);
            totals& t = per_band[bi];
            t.seconds += best, t.mp += mp, t.iterations += best_st.iterations, ++t.runs;
        }
    }
    std::printf("\n%-6s %6s %9s %10s %12s\n", "band", "cases", "total MP", "s/MP", "mean iters");
    for (size_t bi = 0; bi < o.bands.size(); ++bi) {
        const totals& t = per_band[bi];
        std::printf("%-6d %6d %9.2f %10.3f %12.1f\n", o.bands[bi], t.runs, t.mp, t.seconds / t.mp,
                    double(t.iterations) / t.runs);
    }
    return 0;
}
