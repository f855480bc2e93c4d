#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "vfm/config.h"
#include "vfm/detect_task.h"
#include "vfm/error.h"
#include "vfm/runtime.h"

using namespace vfm;
namespace fs = std::filesystem;

static std::string write_tmp(const std::string& name, const std::string& text) {
    fs::path d = fs::temp_directory_path() / "vfm_unit_config";
    fs::create_directories(d);
    std::ofstream(d / name) << text;
    return (d / name).string();
}

static std::string error_of(const std::function<void()>& f) {
    try {
        f();
    } catch (const fatal_error& e) {
        return e.what();
    }
    return "";
}

TEST_CASE("validation names the JSON path", "[config]") {
    schema s = detect_schema();
    CHECK(error_of([&] {
              validate_config(json::parse(R"({"postprocess": {"iou": "high"}})"), s);
          }) == "postprocess.iou: expected number, got string");
    CHECK(error_of([&] { validate_config(json::parse(R"({"postprocess": {"ioo": 0.5}})"), s); }) ==
          "postprocess.ioo: unknown key");
    CHECK(error_of([&] { validate_config(json::parse(R"({"postprocess": 3})"), s); }) ==
          "postprocess: expected object, got integer");
    CHECK(error_of([&] {
              validate_config(json::parse(R"({"postprocess": {"max_det": 1.5}})"), s);
          }) == "postprocess.max_det: expected integer, got number");
    CHECK(error_of([&] { validate_config(json::parse(R"({"labels": [1, 2]})"), s); }) ==
          "labels: expected \"coco80\", \"file:PATH\" or a list of strings, got array");
    CHECK(error_of([&] {
              validate_config(json::parse(R"({"labels": ["a", "b"], "postprocess": {"iou": 1}})"),
                              s);
          }).empty());
}

TEST_CASE("set values are typed by the schema", "[config]") {
    schema s = detect_schema();
    std::string path;
    CHECK(parse_set_value(s, "postprocess.iou=0.6", &path) == json(0.6));
    CHECK(path == "postprocess.iou");
    CHECK(parse_set_value(s, "postprocess.max_det=5", nullptr) == json(5));
    CHECK(parse_set_value(s, "outputs.preview=true", nullptr) == json(true));
    CHECK(parse_set_value(s, "postprocess.classes=0,2", nullptr) == json::parse("[0, 2]"));
    CHECK(parse_set_value(s, "postprocess.classes=[1]", nullptr) == json::parse("[1]"));
    CHECK(parse_set_value(s, "labels=coco80", nullptr) == json("coco80"));
    CHECK(parse_set_value(s, "labels=cat,dog", nullptr) == json::parse(R"(["cat", "dog"])"));
    CHECK(error_of([&] { parse_set_value(s, "postprocess.iou=abc", nullptr); }) ==
          "--set postprocess.iou: expected number, got \"abc\"");
    CHECK(error_of([&] { parse_set_value(s, "postprocess.max_det=2.5", nullptr); }) ==
          "--set postprocess.max_det: expected integer, got \"2.5\"");
    CHECK(error_of([&] { parse_set_value(s, "nope.key=1", nullptr); }) ==
          "--set nope.key: unknown key");
    CHECK(error_of([&] { parse_set_value(s, "novalue", nullptr); }) ==
          "--set: expected key.path=value, got \"novalue\"");
}

TEST_CASE("precedence: --set > -m > config > defaults", "[config]") {
    schema s = detect_schema();
    std::string f = write_tmp("c.json", R"({"model": {"file": "a.pt", "family": "yolov5"},
                                           "postprocess": {"conf": 0.4, "iou": 0.5}})");
    config_request r;
    r.config = f;
    r.model = "/models/b.pt";
    r.sets = {"postprocess.conf=0.1"};
    auto rc = resolve_config("detect", s, r);
    CHECK(get_path(rc.cfg, "postprocess.conf") == json(0.1));       // --set
    CHECK(get_path(rc.cfg, "postprocess.iou") == json(0.5));        // config
    CHECK(get_path(rc.cfg, "postprocess.max_det") == json(300));    // default
    CHECK(get_path(rc.cfg, "model.file") == json("/models/b.pt"));  // -m
    CHECK(get_path(rc.cfg, "model.family") == json("yolov5"));
    CHECK(rc.base_dir == fs::path(f).parent_path().string());
    CHECK(get_path(rc.cfg, "task") == json("detect"));
}

TEST_CASE("config errors name the file", "[config]") {
    schema s = detect_schema();
    config_request r;
    r.config = write_tmp("bad.json", R"({"postprocess": {"iou": "x"}})");
    CHECK(error_of([&] { resolve_config("detect", s, r); }) ==
          r.config + ": postprocess.iou: expected number, got string");
    r.config = write_tmp("broken.json", "{ not json");
    CHECK(error_of([&] { resolve_config("detect", s, r); }) == r.config + ": not valid JSON");
    r.config = write_tmp("depth.json", R"({"task": "depth"})");
    CHECK(error_of([&] { resolve_config("detect", s, r); }) ==
          r.config + ": task: this config is for \"depth\", not \"detect\"");
}

TEST_CASE("fingerprint ignores runtime settings and the model path", "[config]") {
    schema s = detect_schema();
    json a = s.defaults(), b = s.defaults();
    set_path(b, "runtime.threads", 7);
    set_path(b, "model.file", "/elsewhere/m.pt");
    CHECK(config_fingerprint(a) == config_fingerprint(b));
    set_path(b, "postprocess.conf", 0.3);
    CHECK(config_fingerprint(a) != config_fingerprint(b));
}

TEST_CASE("model files are found beside the config, in the working folder, or in VFM_MODELS",
          "[config]") {
    std::string m = write_tmp("model_x.pt", "x");
    json c = detect_schema().defaults();
    set_path(c, "model.file", "model_x.pt");
    CHECK(find_model_file(c, fs::path(m).parent_path().string()) == m);
    setenv("VFM_MODELS", fs::path(m).parent_path().c_str(), 1);
    CHECK(find_model_file(c, "/nonexistent") == fs::path(m).parent_path().string() + "/model_x.pt");
    set_path(c, "model.file", "absent.pt");
    set_path(c, "model.name", "yolox-nano");
    std::string e = error_of([&] { find_model_file(c, ""); });
    CHECK(e.rfind("absent.pt: model file not found (looked in", 0) == 0);
    CHECK(e.find("fetch it with: scripts/vfm-models fetch yolox-nano") != std::string::npos);
    unsetenv("VFM_MODELS");
}

TEST_CASE("a model name given to -m uses the config fetched for it", "[config]") {
    fs::path d = fs::temp_directory_path() / "vfm_unit_registry";
    fs::remove_all(d);
    fs::create_directories(d);
    std::ofstream(d / "tiny-det.json")
        << R"({"task": "detect", "model": {"name": "tiny-det", "file": "tiny.pt", "family": "yolov5"},
              "postprocess": {"conf": 0.6}})";
    setenv("VFM_MODELS", d.c_str(), 1);
    schema s = detect_schema();
    config_request r;
    r.config = write_tmp("other.json", R"({"model": {"family": "yolox"}})");
    r.model = "tiny-det";
    r.sets = {"postprocess.iou=0.3"};
    auto rc = resolve_config("detect", s, r);
    CHECK(rc.file == (d / "tiny-det.json").string());
    CHECK(get_path(rc.cfg, "model.family") == json("yolov5"));
    CHECK(get_path(rc.cfg, "model.file") == json("tiny.pt"));
    CHECK(get_path(rc.cfg, "postprocess.conf") == json(0.6));
    CHECK(get_path(rc.cfg, "postprocess.iou") == json(0.3));
    r.model = "not-fetched";
    CHECK(error_of([&] { resolve_config("detect", s, r); }) ==
          "not-fetched: no such model file, and no fetched model of that name in " + d.string() +
              "; fetch it with: scripts/vfm-models fetch not-fetched");
    unsetenv("VFM_MODELS");
}

TEST_CASE("workers_within: the most workers whose memory fits the budget", "[runtime]") {
    CHECK(workers_within(8, 3000, 20000) == 6);  // floor(20000 / 3000)
    CHECK(workers_within(8, 3000, 30000) == 8);  // never more than asked
    CHECK(workers_within(4, 5000, 4000) == 1);   // at least one, even over budget
    CHECK(workers_within(4, 0, 100) == 4);       // nothing known: unchanged
    CHECK(workers_within(1, 9000, 100) == 1);
    CHECK(workers_within(2, 2500, 5000) == 2);  // exactly fits
}

TEST_CASE("mem_available_kb reads /proc/meminfo", "[runtime]") {
    // Linux CI machines have it; a positive figure below the machine's total.
    long kb = mem_available_kb();
    CHECK(kb > 0);
    CHECK(kb < 64L * 1024 * 1024 * 1024);  // < 64 TB
}
