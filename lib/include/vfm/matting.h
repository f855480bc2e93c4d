// Alpha matting primitives (issue 7): trimaps, closed-form matting, multi-level foreground
// estimation. Pure functions on cv::Mat; the matte task (lib/src/matte/matte_task.cpp) wires
// them to models and outputs.
//
// Conventions: images are 8-bit BGR (CV_8UC3) as decoded; alphas are CV_32F in [0, 1]; trimaps
// are CV_8U with 0 = background, 128 = unknown, 255 = foreground.
#pragma once
#include <opencv2/core.hpp>

namespace vfm {

constexpr unsigned char trimap_bg = 0, trimap_unknown = 128, trimap_fg = 255;

// ---- Trimaps ----------------------------------------------------------------------------------

// From a binary mask (CV_8U, non-zero = subject): foreground = the mask eroded by `erode` px,
// background = outside the mask dilated by `dilate` px, unknown between. Elliptic structuring
// element of diameter 2r+1; r = 0 leaves that side's edge as it is. The image border is neutral:
// a subject touching it keeps its foreground there. Throws std::invalid_argument for another
// type or a negative size; an empty mask gives an empty trimap.
cv::Mat trimap_from_mask(const cv::Mat& mask, int erode, int dilate);

// From a soft alpha (CV_32F 0..1), as rembg's alpha_matting_cutout (rembg/bg.py): foreground
// where alpha*255 > fg_threshold, background where alpha*255 < bg_threshold (alpha rounded to 8
// bits first, as rembg's mask), each region eroded by an `erode` x `erode` square (rembg's
// erode_structure_size: 10 takes about 5 px off each side; 0 means scipy's default, the 3x3
// cross), the rest unknown. As scipy's binary_erosion there, the foreground is eroded from the
// image border too, the background is not. rembg's defaults: 240, 10, 10.
cv::Mat trimap_from_alpha(const cv::Mat& alpha, int fg_threshold, int bg_threshold, int erode);

// A user's trimap image (8 or 16-bit, or float in 0..1; 1..4 channels, the first one is used)
// -> 0/128/255. As pymatting reads trimaps (values scaled to 0..1): >= 0.9 foreground, <= 0.1
// background; for 8 bits >= 230 and <= 25.
cv::Mat normalize_trimap(const cv::Mat& trimap);

// ---- Closed-form matting (Levin, Lischinski, Weiss, "A Closed-Form Solution to Natural Image
// Matting", PAMI 2008; pymatting's estimate_alpha_cf is the reference users know) ---------------

// Preconditioner of the conjugate gradient. ichol: thresholded incomplete Cholesky (fill-in
// where |L_ij| > ichol_threshold, as pymatting's default ichol), 3 to 5 iterations on typical
// trimaps; jacobi: the diagonal, hundreds to thousands of iterations, 4 to 6 times slower in all
// (scripts/bench/bench_matting.sh).
enum class cf_preconditioner { jacobi, ichol };

struct closed_form_params {
    double eps = 1e-7;     // regularisation of the local colour covariance (pymatting default)
    int radius = 1;        // window radius: 3x3 windows
    int max_iter = 10000;  // conjugate-gradient iteration cap (reaching it is not an error)
    double tol = 1e-7;     // stop when |r| <= tol * |b| (pymatting's cg default)
    cf_preconditioner preconditioner = cf_preconditioner::ichol;
    double ichol_threshold = 1e-4;  // pymatting's discard_threshold
};
struct closed_form_stats {
    int unknown = 0;  // pixels solved for
    int iterations = 0;
    double residual = 0;       // |r| / |b| at the end
    double seconds_build = 0;  // trimap split, ordering, window statistics, Laplacian rows
    double seconds_solve = 0;  // preconditioner set-up and conjugate gradient
};

// Alpha for `image` (CV_8UC3) under `trimap` (CV_8U, same size): known pixels are fixed to 0 or
// 1, the unknown ones minimise the matting Laplacian's energy (a sparse SPD system over the
// unknown pixels only, solved by preconditioned conjugate gradient). Result clipped to [0, 1].
// Trimap values split as pymatting's: >= 230 foreground, <= 25 background, else unknown.
// Windows are the (2r+1)^2 ones inside the image, as pymatting's; along an axis where the image
// is smaller than that, windows span the image. Degenerate cases: no unknown pixel -> the trimap
// as 0/1; no known pixel -> 0.5 everywhere (no constraint: every constant has zero energy;
// pymatting fails there). Throws std::invalid_argument for mismatched sizes or types, eps <= 0,
// radius < 1, tol < 0.
cv::Mat closed_form_alpha(const cv::Mat& image, const cv::Mat& trimap,
                          const closed_form_params& p = {}, closed_form_stats* stats = nullptr);

// ---- Foreground estimation (Germer, Uelwer, Conrad, Harmeling, "Fast Multi-Level Foreground
// Estimation", ICPR 2020; pymatting's estimate_foreground_ml) ------------------------------------

struct foreground_params {
    double regularization = 1e-5;  // pymatting defaults
    int n_small_iterations = 10;
    int n_big_iterations = 2;
    int small_size = 32;
    double gradient_weight = 1.0;
};

// Foreground colours F (CV_32FC3, BGR in [0, 1]) such that image ~ alpha*F + (1-alpha)*B with F
// and B smooth where alpha changes: the colour decontamination behind clean cutouts. `image`
// CV_8UC3, `alpha` CV_32F of the same size (clipped to [0, 1]). `background` receives B when
// not null. pymatting's levels, iteration counts and per-pixel systems; its raster-order sweeps
// are red-black here (parallel, thread-count independent), so values differ slightly.
// Throws std::invalid_argument for mismatched sizes or types.
cv::Mat estimate_foreground_ml(const cv::Mat& image, const cv::Mat& alpha,
                               const foreground_params& p = {}, cv::Mat* background = nullptr);

}  // namespace vfm
