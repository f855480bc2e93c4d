// Face embeddings, identification against a gallery and clustering: pure functions.
//
// scale_template: insightface's ArcFace 112x112 template (python-package/insightface/utils/
//   face_align.py arcface_dst) scaled by height / 112 and centred horizontally, so 112x96
//   (MobileFaceNet) gets the template shifted 8 px left as insightface does, 150x150 and 224x224
//   a uniformly scaled one.
// match_gallery: cosine similarity of one L2-normalised embedding with every gallery embedding;
//   an identity scores the best of its embeddings (nearest neighbour, as face_recognition's
//   compare_faces over several known images per person).
// cluster_faces: average-linkage agglomerative clustering on cosine similarity (the
//   nearest-neighbour-chain algorithm, Murtagh 1983; O(n^2) time and memory), cut where the
//   average similarity between two clusters falls below `min_similarity`.
#pragma once
#include <string>
#include <vector>

#include "vfm/face_geometry.h"

namespace vfm {

std::vector<point2> scale_template(const std::vector<point2>& t112, int w, int h);

// Normalises v[0..d) to unit length (left as is when all zero).
void l2_normalize(float* v, int d);

struct face_gallery {
    std::vector<std::string> identities;  // distinct names, sorted
    std::vector<int> owner;               // per embedding: index into identities
    std::vector<std::string> files;       // per embedding: source image
    std::vector<float> emb;               // embeddings x dim, L2-normalised
    int dim = 0;
    size_t size() const { return owner.size(); }
};

struct identity_match {
    int identity = -1;
    float similarity = 0;
};

// Identities by decreasing best similarity, at most top_k (0: all).
std::vector<identity_match> match_gallery(const float* e, const face_gallery& g, size_t top_k);

// Cluster id per row of emb (n x d, L2-normalised): 0, 1, ... in order of first appearance;
// rows in clusters smaller than min_size get -1.
std::vector<int> cluster_faces(const std::vector<float>& emb, int n, int d, float min_similarity,
                               int min_size = 1);

}  // namespace vfm
