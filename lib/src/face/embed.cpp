#include <algorithm>
#include <cmath>
#include <numeric>

#include "vfm/face_embed.h"

namespace vfm {

std::vector<point2> scale_template(const std::vector<point2>& t, int w, int h) {
    const float s = h / 112.f;
    std::vector<point2> out;
    for (const auto& p : t) out.push_back({(p.x - 56.f) * s + w / 2.f, p.y * s});
    return out;
}

void l2_normalize(float* v, int d) {
    double n = 0;
    for (int i = 0; i < d; ++i) n += static_cast<double>(v[i]) * v[i];
    if (n <= 0) return;
    const float k = static_cast<float>(1.0 / std::sqrt(n));
    for (int i = 0; i < d; ++i) v[i] *= k;
}

std::vector<identity_match> match_gallery(const float* e, const face_gallery& g, size_t top_k) {
    std::vector<identity_match> best(g.identities.size());
    for (size_t i = 0; i < best.size(); ++i) best[i] = {static_cast<int>(i), -2.f};
    for (size_t r = 0; r < g.size(); ++r) {
        const float* q = g.emb.data() + r * g.dim;
        float s = 0;
        for (int k = 0; k < g.dim; ++k) s += e[k] * q[k];
        auto& b = best[g.owner[r]];
        b.similarity = std::max(b.similarity, s);
    }
    best.erase(std::remove_if(best.begin(), best.end(),
                              [](const identity_match& m) { return m.similarity < -1.5f; }),
               best.end());
    std::stable_sort(best.begin(), best.end(),
                     [](const identity_match& a, const identity_match& b) {
                         return a.similarity > b.similarity;
                     });
    if (top_k && best.size() > top_k) best.resize(top_k);
    return best;
}

std::vector<int> cluster_faces(const std::vector<float>& emb, int n, int d, float min_sim,
                               int min_size) {
    std::vector<int> parent(n);
    std::iota(parent.begin(), parent.end(), 0);
    auto find = [&](int x) {
        while (parent[x] != x) x = parent[x] = parent[parent[x]];
        return x;
    };
    if (n > 1) {
        // similarity matrix; merged clusters are updated by Lance-Williams (average linkage)
        std::vector<float> S(static_cast<size_t>(n) * n);
        for (int i = 0; i < n; ++i)
            for (int j = i; j < n; ++j) {
                float s = 0;
                for (int k = 0; k < d; ++k) s += emb[i * d + k] * emb[j * d + k];
                S[static_cast<size_t>(i) * n + j] = S[static_cast<size_t>(j) * n + i] = s;
            }
        auto at = [&](int i, int j) -> float& { return S[static_cast<size_t>(i) * n + j]; };
        std::vector<int> size(n, 1);
        std::vector<char> active(n, 1);
        std::vector<int> chain;
        int left = n;
        while (left > 1) {
            if (chain.empty())
                for (int i = 0; i < n; ++i)
                    if (active[i]) {
                        chain.push_back(i);
                        break;
                    }
            const int a = chain.back();
            const int prev = chain.size() > 1 ? chain[chain.size() - 2] : -1;
            // nearest (most similar) active neighbour; ties keep the previous chain element,
            // which makes reciprocal pairs terminate the chain
            int b = prev;
            float bs = prev >= 0 ? at(a, prev) : -3.f;
            for (int c = 0; c < n; ++c)
                if (active[c] && c != a && at(a, c) > bs) b = c, bs = at(a, c);
            if (b != prev) {
                chain.push_back(b);
                continue;
            }
            // a and prev are reciprocal nearest neighbours: merge prev into a
            chain.pop_back();
            chain.pop_back();
            if (bs >= min_sim) parent[find(prev)] = find(a);
            for (int c = 0; c < n; ++c)
                if (active[c] && c != a && c != prev) {
                    float v = (size[a] * at(a, c) + size[prev] * at(prev, c)) /
                              static_cast<float>(size[a] + size[prev]);
                    at(a, c) = at(c, a) = v;
                }
            size[a] += size[prev];
            active[prev] = 0;
            --left;
        }
    }
    // Average linkage has no inversions, so the merges at or above min_sim are exactly the
    // subtrees of the dendrogram cut there.
    std::vector<int> count(n, 0), id(n, -1), out(n, -1);
    for (int i = 0; i < n; ++i) ++count[find(i)];
    int next = 0;
    for (int i = 0; i < n; ++i) {
        int r = find(i);
        if (count[r] < min_size) continue;
        if (id[r] < 0) id[r] = next++;
        out[i] = id[r];
    }
    return out;
}

}  // namespace vfm
