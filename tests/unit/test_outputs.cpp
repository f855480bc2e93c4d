#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>

#include "vfm/config.h"
#include "vfm/detect_outputs.h"
#include "vfm/fsutil.h"
#include "vfm/labels.h"
#include "vfm/results.h"
#include "vfm/sha256.h"

using namespace vfm;
namespace fs = std::filesystem;

TEST_CASE("sha256 known answers", "[sha256]") {
    CHECK(sha256_hex("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    CHECK(sha256_hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    CHECK(sha256_hex(std::string(1000000, 'a')) ==
          "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST_CASE("labels: coco80 with COCO category ids, files, lists", "[labels]") {
    const auto& c = coco80();
    REQUIRE(c.names.size() == 80);
    REQUIRE(c.category_ids.size() == 80);
    CHECK(c.names[0] == "person");
    CHECK(c.names[79] == "toothbrush");
    CHECK(c.category_ids[11] == 13);  // stop sign
    CHECK(c.category_ids[79] == 90);
    fs::path f = fs::temp_directory_path() / "vfm_labels.txt";
    std::ofstream(f) << "drone\r\nbird\n\n";
    auto l = load_labels("file:" + f.string(), "");
    CHECK(l.names == std::vector<std::string>{"drone", "bird"});
    CHECK(l.category_ids == std::vector<int>{1, 2});
    CHECK_THROWS_WITH(load_labels("voc", ""),
                      "labels: expected \"coco80\", \"file:PATH\" or a list of names, got \"voc\"");
}

TEST_CASE("per-image JSON, YOLO txt and COCO ids", "[outputs]") {
    std::vector<detection> d = {{{10.004f, 20, 110, 70}, 0.876543f, 1}};
    auto l = make_labels({"a", "b"});
    auto j = detections_json("x/y.jpg", 200, 100, d, l);
    CHECK(
        j.dump() ==
        R"({"image":"x/y.jpg","width":200,"height":100,"detections":[{"box":[10.0,20.0,110.0,70.0],"score":0.87654,"class_id":1,"label":"b"}]})");
    auto back = detections_from_json(j);
    REQUIRE(back.size() == 1);
    CHECK(back[0].b.x2 == 110);
    CHECK(yolo_txt(back, 200, 100, false) == "1 0.300000 0.450000 0.500000 0.500000\n");
    CHECK(yolo_txt(back, 200, 100, true) == "1 0.300000 0.450000 0.500000 0.500000 0.87654\n");
    CHECK(coco_image_id("000000000009.jpg", 4, "stem") == 9);
    CHECK(coco_image_id("a/cat.jpg", 4, "stem") == 5);
    CHECK(coco_image_id("000000000009.jpg", 4, "index") == 5);
}

TEST_CASE("COCO files from records", "[outputs]") {
    auto l = make_labels({"a", "b"});
    coco_builder cb(l, "index");
    std::vector<detection> d = {{{10, 20, 110, 70}, 0.5f, 1}};
    cb.add({{"rel", "x.jpg"}, {"index", 0}, {"result", detections_json("x.jpg", 200, 100, d, l)}});
    CHECK(cb.results_json() ==
          "[{\"image_id\":1,\"category_id\":2,\"bbox\":[10.0,20.0,100.0,50.0],\"score\":0.5}]\n");
    auto ds = json::parse(cb.dataset_json());
    CHECK(ds["images"][0]["file_name"] == "x.jpg");
    CHECK(ds["annotations"][0]["area"] == 5000.0);
    CHECK(ds["categories"].size() == 2);
}

TEST_CASE("atomic writes leave no temp files and stale temps are removed", "[fs]") {
    fs::path d = fs::temp_directory_path() / "vfm_unit_fs";
    fs::remove_all(d);
    write_file_atomic((d / "a/b/c.txt").string(), "hello");
    CHECK(read_file((d / "a/b/c.txt").string()) == "hello");
    size_t n = 0;
    for (auto& e : fs::recursive_directory_iterator(d)) n += e.is_regular_file();
    CHECK(n == 1);
    std::ofstream(d / "a/.c.txt.123.0.vfm-tmp") << "half";
    CHECK(remove_stale_temps(d.string()) == 1);
    CHECK_FALSE(fs::exists(d / "a/.c.txt.123.0.vfm-tmp"));
}

TEST_CASE("resume decisions", "[results]") {
    fs::path d = fs::temp_directory_path() / "vfm_unit_resume";
    fs::remove_all(d);
    fs::create_directories(d / "out");
    std::ofstream(d / "in.jpg") << "img";
    std::ofstream(d / "out/in.json") << "{}";
    file_stamp st = stamp_of((d / "in.jpg").string());
    json rec = {{"rel", "in.jpg"},
                {"status", "ok"},
                {"config", "c1"},
                {"model", "m1"},
                {"input", {{"size", st.size}, {"mtime_ns", st.mtime_ns}}},
                {"outputs", {"in.json"}}};
    resume_facts f{"c1", "m1", st, (d / "out").string()};
    CHECK(record_is_current(rec, f));
    auto changed = f;
    changed.config_fp = "c2";  // a changed threshold re-runs
    CHECK_FALSE(record_is_current(rec, changed));
    changed = f;
    changed.model_sha = "m2";
    CHECK_FALSE(record_is_current(rec, changed));
    changed = f;
    changed.input.size += 1;  // input edited
    CHECK_FALSE(record_is_current(rec, changed));
    auto err = rec;
    err["status"] = "error";
    CHECK_FALSE(record_is_current(err, f));
    fs::remove(d / "out/in.json");  // an output went missing
    CHECK_FALSE(record_is_current(rec, f));
}

TEST_CASE("results.jsonl: torn lines ignored, latest record wins, compaction orders", "[results]") {
    fs::path p = fs::temp_directory_path() / "vfm_results.jsonl";
    {
        results_writer w(p.string(), false);
        w.append({{"rel", "b.jpg"}, {"status", "error"}});
        w.append({{"rel", "a.jpg"}, {"status", "ok"}});
        w.append({{"rel", "b.jpg"}, {"status", "ok"}});
    }
    std::ofstream(p, std::ios::app) << R"({"rel": "c.jpg", "sta)";  // killed mid-line
    auto off = scan_records(p.string());
    CHECK(off.size() == 2);
    CHECK(read_record_at(p.string(), off["b.jpg"])["status"] == "ok");
    std::vector<input_item> items = {{"", "a.jpg", 0}, {"", "b.jpg", 1}, {"", "c.jpg", 2}};
    CHECK(compact_records(p.string(), items) == 2);
    CHECK(read_file(p.string()) ==
          "{\"rel\":\"a.jpg\",\"status\":\"ok\"}\n{\"rel\":\"b.jpg\",\"status\":\"ok\"}\n");
}
