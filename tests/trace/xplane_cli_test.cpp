// `smaragdine account --trace X.xplane.pb` as a user runs it: damaged
// protobufs are exit 2 with the file and the byte offset on stderr, under an
// address-space cap that a 2 GB allocation would break; good XPlane and ONNX
// Runtime files are accounted.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include "common/io.h"
#include "trace/trace_test_util.h"

namespace smaragdine {
namespace {

struct Ran {
  int exit_code = -1;
  std::string output;  // stdout and stderr
};

// smaragdine with `args`, under 2 GiB of address space and 20 s.
Ran Smaragdine(const std::string& args) {
  const std::string cmd = fmt::format("ulimit -v 2097152; exec /usr/bin/timeout 20 '{}' {} 2>&1",
                                      SMARAGDINE_BINARY, args);
  Ran r;
  FILE* p = ::popen(cmd.c_str(), "r");
  if (p == nullptr) return r;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) r.output.append(buf, n);
  const int status = ::pclose(p);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return r;
}

class XPlaneCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = ::testing::TempDir() + "/xplane_cli";
    std::filesystem::create_directories(dir_);
    // A CPU meter over the first 10 ms (relative traces are placed at its start).
    std::string csv = "t_ns,domain,energy_j\n";
    for (int i = 0; i <= 100; ++i)
      csv += fmt::format("{},cpu,{}\n", 1'000'000'000 + i * 100'000, i * 0.01);
    energy_ = dir_ + "/energy.csv";
    ASSERT_TRUE(WriteFileAtomic(energy_, csv).ok());
  }
  std::string Write(const std::string& name, const std::string& bytes) {
    const std::string path = dir_ + "/" + name;
    EXPECT_TRUE(WriteFileAtomic(path, bytes).ok());
    return path;
  }
  Ran Account(const std::string& trace, const std::string& extra = "") {
    return Smaragdine(
        fmt::format("account --energy '{}' --device cpu=CPU:0 --trace '{}' {} -o '{}'", energy_,
                    trace, extra, dir_ + "/profile.json"));
  }
  std::string dir_, energy_;
};

TEST_F(XPlaneCliTest, DamagedProtobufsAreExit2WithFileAndOffset) {
  const std::string good =
      testing::ReadText(testing::DataPath("fixtures/tf2_bert-base-uncased_cpu_2021.xplane.pb"));
  struct Case {
    std::string name, bytes;
    int64_t offset;
    std::string says;
  };
  const Case cases[] = {
      // The first plane claims 340784 bytes; 500 are there.
      {"truncated.xplane.pb", good.substr(0, 500), 1, "truncated or corrupt"},
      // XPlane.name (field 2) as a varint.
      {"wiretype.xplane.pb", std::string("\x0a\x02\x10\x01", 4), 2, "XPlane.name"},
      // A 2 GB length prefix in a 10-byte file.
      {"2gb.xplane.pb", std::string("\x0a\x80\x80\x80\x80\x08", 6) + "abcd", 1, "2147483648"},
      // A length of 2^63: absurd, no allocation.
      {"absurd.xplane.pb", std::string("\x0a\x80\x80\x80\x80\x80\x80\x80\x80\x80\x01", 11), 1,
       "bytes"},
  };
  for (const Case& c : cases) {
    const std::string path = Write(c.name, c.bytes);
    Ran r = Account(path, "--trace-start-ns 1000000000");
    EXPECT_EQ(r.exit_code, 2) << c.name << "\n" << r.output;
    EXPECT_NE(r.output.find(fmt::format("{}: at byte {}:", path, c.offset)), std::string::npos)
        << c.name << "\n"
        << r.output;
    EXPECT_NE(r.output.find(c.says), std::string::npos) << c.name << "\n" << r.output;
  }
}

TEST_F(XPlaneCliTest, XPlaneAndOnnxRuntimeFilesAreAccounted) {
  const std::string tf2 = testing::DataPath("fixtures/tf2_bert-base-uncased_cpu_2021.xplane.pb");
  // Relative times: refused without an anchor (exit 3, saying which flag
  // places them); with one, accounted, and the warning says why it was needed.
  Ran bare = Account(tf2);
  EXPECT_EQ(bare.exit_code, 3) << bare.output;
  EXPECT_NE(bare.output.find("--trace-start-ns"), std::string::npos) << bare.output;
  Ran ok = Account(tf2, "--trace-start-ns 1000000000");
  EXPECT_EQ(ok.exit_code, 0) << ok.output;
  EXPECT_NE(ok.output.find("records no profile start time"), std::string::npos) << ok.output;
  Ran forced = Account(tf2, "--trace-start-ns 1000000000 --format xplane");
  EXPECT_EQ(forced.exit_code, 0) << forced.output;
  Ran wrong = Account(tf2, "--trace-start-ns 1000000000 --format pytorch");
  EXPECT_EQ(wrong.exit_code, 2) << wrong.output;
  const std::string ort = testing::DataPath("onnxruntime/bert_tiny_cuda.onnxruntime_profile.json");
  Ran o = Account(ort, "--trace-start-ns 1000000000 --format onnxruntime");
  EXPECT_EQ(o.exit_code, 0) << o.output;
}

}  // namespace
}  // namespace smaragdine
