#include "vfm/inputs.h"

#include <glob.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <istream>
#include <map>
#include <set>

#include "vfm/error.h"

namespace fs = std::filesystem;

namespace vfm {

static std::string lower(std::string s) {
    for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
}

bool has_image_extension(const std::string& path) {
    static const std::set<std::string> exts = {".jpg", ".jpeg", ".png", ".bmp",
                                               ".tif", ".tiff", ".webp"};
    return exts.count(lower(fs::path(path).extension().string())) > 0;
}

static bool has_glob_chars(const std::string& s) {
    return s.find_first_of("*?[") != std::string::npos;
}

namespace {
struct collector {
    // path -> rel; a map keeps the order sorted and drops duplicates.
    std::map<std::string, std::string> found;
    expand_result res;

    void add_file(const std::string& path, const std::string& rel) {
        // outputs are <out>/<rel>: a rel that could leave the output folder becomes the name
        fs::path r(rel);
        bool safe = !rel.empty() && r.is_relative();
        for (const auto& part : r) safe = safe && part != "..";
        found.emplace(path, safe ? rel : fs::path(path).filename().string());
    }

    void walk(const std::string& root) {
        std::error_code ec;
        auto opts = fs::directory_options::follow_directory_symlink |
                    fs::directory_options::skip_permission_denied;
        for (auto it = fs::recursive_directory_iterator(root, opts, ec); !ec && it != fs::end(it);
             it.increment(ec)) {
            if (!it->is_regular_file(ec)) continue;
            std::string p = it->path().string();
            std::string name = it->path().filename().string();
            if (!name.empty() && name[0] == '.') continue;  // hidden files, our own temp files
            if (!has_image_extension(p)) {
                res.warnings.push_back(p + ": not an image file, skipped");
                continue;
            }
            // lexically: fs::relative resolves symlinks, and a linked file's target path
            // ("../../elsewhere/x.jpg") would send its outputs out of the output folder
            add_file(p, it->path().lexically_relative(root).string());
        }
        if (ec) res.errors.push_back(root + ": " + ec.message());
    }

    void add_arg(const std::string& arg, std::istream& in, int depth) {
        if (arg.empty()) return;
        if (arg == "-") {
            for (std::string line; std::getline(in, line);) add_line(line, in, depth);
            return;
        }
        if (arg[0] == '@' && depth < 4) {
            std::ifstream f(arg.substr(1));
            if (!f) {
                res.errors.push_back(arg.substr(1) + ": cannot read list file");
                return;
            }
            for (std::string line; std::getline(f, line);) add_line(line, in, depth + 1);
            return;
        }
        std::error_code ec;
        if (fs::is_directory(arg, ec)) {
            walk(arg);
        } else if (fs::exists(arg, ec)) {
            add_file(arg, fs::path(arg).filename().string());
        } else if (has_glob_chars(arg)) {
            glob_t g{};
            int rc = ::glob(arg.c_str(), 0, nullptr, &g);
            if (rc == 0) {
                for (size_t i = 0; i < g.gl_pathc; ++i) {
                    std::string p = g.gl_pathv[i];
                    if (fs::is_directory(p, ec))
                        walk(p);
                    else if (has_image_extension(p))
                        add_file(p, fs::path(p).filename().string());
                }
            } else {
                res.errors.push_back(arg + ": no file matches this pattern");
            }
            globfree(&g);
        } else {
            res.errors.push_back(arg + ": no such file or folder");
        }
    }

    void add_line(std::string line, std::istream& in, int depth) {
        while (!line.empty() && (line.back() == '\r' || line.back() == ' ' || line.back() == '\t'))
            line.pop_back();
        if (line.empty() || line[0] == '#') return;
        add_arg(line, in, depth);
    }
};
}  // namespace

expand_result expand_inputs(const std::vector<std::string>& args, std::istream& stdin_stream) {
    collector c;
    for (const auto& a : args) c.add_arg(a, stdin_stream, 0);
    // Two inputs from different roots may share a rel path (a/x.jpg and b/x.jpg given as
    // files): disambiguate so outputs never collide.
    std::map<std::string, int> rel_count;
    for (auto& kv : c.found) rel_count[kv.second]++;
    // Outputs are named by the rel path without its extension: x.jpg and x.png would write the
    // same files (rembg #535). The first keeps the name; the others fail with a reason.
    std::map<std::string, std::string> stem_owner;
    int64_t idx = 0;
    for (auto& kv : c.found) {
        std::string rel = kv.second;
        if (rel_count[rel] > 1) {
            fs::path p = fs::path(kv.first).lexically_normal();
            rel = p.relative_path().string();  // full path without the leading "/"
        }
        const std::string stem = fs::path(rel).replace_extension().string();
        auto [it, fresh] = stem_owner.emplace(stem, kv.first);
        if (!fresh) {
            c.res.errors.push_back(kv.first + ": its outputs would overwrite those of " +
                                   it->second +
                                   " (same name but the extension); rename one or run it "
                                   "separately");
            continue;
        }
        c.res.items.push_back({kv.first, rel, idx++});
    }
    return std::move(c.res);
}

shard_spec parse_shard(const std::string& s) {
    shard_spec sp;
    auto slash = s.find('/');
    try {
        if (slash == std::string::npos) throw 0;
        size_t a = 0, b = 0;
        sp.k = std::stoi(s.substr(0, slash), &a);
        sp.n = std::stoi(s.substr(slash + 1), &b);
        if (a != slash || b != s.size() - slash - 1) throw 0;
    } catch (...) {
        throw fatal_error("--shard: expected K/N (e.g. 2/8), got \"" + s + "\"");
    }
    if (sp.n < 1 || sp.k < 1 || sp.k > sp.n)
        throw fatal_error("--shard: K must be in 1..N, got \"" + s + "\"");
    return sp;
}

std::vector<input_item> take_shard(const std::vector<input_item>& items, shard_spec s) {
    std::vector<input_item> out;
    for (const auto& it : items)
        if (it.index % s.n == s.k - 1) out.push_back(it);
    return out;
}

std::string output_path(const std::string& out_dir, const std::string& dir, const std::string& rel,
                        const std::string& suffix) {
    fs::path r(rel);
    r.replace_extension();
    fs::path p(out_dir);
    if (!dir.empty()) p /= dir;
    p /= r;
    return p.string() + suffix;
}

}  // namespace vfm
