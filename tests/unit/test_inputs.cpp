#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "vfm/error.h"
#include "vfm/inputs.h"

using namespace vfm;
namespace fs = std::filesystem;

static fs::path make_tree() {
    fs::path d = fs::temp_directory_path() / "vfm_unit_inputs";
    fs::remove_all(d);
    for (auto p :
         {"a/x.jpg", "a/y.PNG", "a/sub/z.webp", "b/x.jpg", "a/notes.txt", "a/.hidden.jpg"}) {
        fs::create_directories((d / p).parent_path());
        std::ofstream(d / p) << "x";
    }
    return d;
}

TEST_CASE("folders are walked recursively, sorted, non-images skipped with a warning", "[inputs]") {
    fs::path d = make_tree();
    std::istringstream none;
    auto r = expand_inputs({(d / "a").string()}, none);
    REQUIRE(r.items.size() == 3);
    CHECK(r.items[0].rel == "sub/z.webp");
    CHECK(r.items[1].rel == "x.jpg");
    CHECK(r.items[2].rel == "y.PNG");
    CHECK(r.items[2].index == 2);
    REQUIRE(r.warnings.size() == 1);
    CHECK(r.warnings[0] == (d / "a/notes.txt").string() + ": not an image file, skipped");
    CHECK(r.errors.empty());
}

TEST_CASE("outputs of two roots never collide", "[inputs]") {
    fs::path d = make_tree();
    std::istringstream none;
    auto r = expand_inputs({(d / "a/x.jpg").string(), (d / "b/x.jpg").string()}, none);
    REQUIRE(r.items.size() == 2);
    CHECK(r.items[0].rel != r.items[1].rel);
    CHECK(r.items[0].rel.size() > 5);
    // a whole folder keeps paths relative to it
    auto r2 = expand_inputs({d.string()}, none);
    std::set<std::string> rels;
    for (auto& i : r2.items) rels.insert(i.rel);
    CHECK(rels.count("a/x.jpg") == 1);
    CHECK(rels.count("b/x.jpg") == 1);
}

TEST_CASE("inputs whose names differ only in the extension: the first runs, the rest fail",
          "[inputs]") {
    fs::path d = make_tree();
    std::ofstream(d / "a/x.png") << "png";
    std::istringstream none;
    auto r = expand_inputs({(d / "a").string()}, none);
    std::vector<std::string> rels;
    for (auto& i : r.items) rels.push_back(i.rel);
    CHECK(rels == std::vector<std::string>{"sub/z.webp", "x.jpg", "y.PNG"});
    CHECK(r.items[2].index == 2);  // indices stay dense
    REQUIRE(r.errors.size() == 1);
    CHECK(r.errors[0] == (d / "a/x.png").string() + ": its outputs would overwrite those of " +
                             (d / "a/x.jpg").string() +
                             " (same name but the extension); rename one or run it separately");
}

TEST_CASE("linked files keep their names under the folder, never a path out of it", "[inputs]") {
    fs::path d = make_tree();
    fs::create_directories(d / "links");
    fs::create_symlink(d / "a/x.jpg", d / "links/p.jpg");
    fs::create_directory_symlink(d / "b", d / "links/sub");
    std::istringstream none;
    auto r = expand_inputs({(d / "links").string()}, none);
    std::set<std::string> rels;
    for (auto& i : r.items) rels.insert(i.rel);
    CHECK(rels == std::set<std::string>{"p.jpg", "sub/x.jpg"});
}

TEST_CASE("globs, list files, stdin, missing paths", "[inputs]") {
    fs::path d = make_tree();
    std::ofstream(d / "list.txt") << (d / "a/x.jpg").string() << "\n# comment\n\n"
                                  << (d / "b/x.jpg").string() << "\n";
    std::istringstream in((d / "a/y.PNG").string() + "\n");
    auto r = expand_inputs({(d / "a/*.jpg").string(), "@" + (d / "list.txt").string(), "-",
                            (d / "missing.jpg").string(), (d / "nomatch*.jpg").string()},
                           in);
    CHECK(r.items.size() == 3);  // a/x.jpg once, b/x.jpg, a/y.PNG
    REQUIRE(r.errors.size() == 2);
    CHECK(r.errors[0] == (d / "missing.jpg").string() + ": no such file or folder");
    CHECK(r.errors[1] == (d / "nomatch*.jpg").string() + ": no file matches this pattern");
}

TEST_CASE("shards partition the inputs deterministically", "[inputs]") {
    std::vector<input_item> items;
    for (int i = 0; i < 10; ++i)
        items.push_back({"p" + std::to_string(i), "r" + std::to_string(i), i});
    std::set<std::string> seen;
    size_t total = 0;
    for (int k = 1; k <= 3; ++k) {
        auto s = take_shard(items, parse_shard(std::to_string(k) + "/3"));
        total += s.size();
        for (auto& i : s) seen.insert(i.rel);
    }
    CHECK(total == 10);
    CHECK(seen.size() == 10);
    auto s1 = take_shard(items, parse_shard("1/3"));
    REQUIRE(s1.size() == 4);
    CHECK(s1[1].rel == "r3");
    CHECK_THROWS_WITH(parse_shard("4/3"), "--shard: K must be in 1..N, got \"4/3\"");
    CHECK_THROWS_WITH(parse_shard("x"), "--shard: expected K/N (e.g. 2/8), got \"x\"");
    CHECK_THROWS_AS(parse_shard("1/2/3"), fatal_error);
}

TEST_CASE("output paths mirror the input's relative path", "[inputs]") {
    CHECK(output_path("out", "", "a/x.jpg", ".json") == "out/a/x.json");
    CHECK(output_path("out", "labels", "a/b/x.y.png", ".txt") == "out/labels/a/b/x.y.txt");
    CHECK(output_path("", "preview", "x.jpeg", ".jpg") == "preview/x.jpg");
}
