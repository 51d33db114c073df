#include "config/atomic_file.hpp"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "tests/support/temp_dir.hpp"

namespace p2pfaas::config {
namespace {

std::string read(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

TEST(AtomicFile, WritesAndReplacesLeavingNoTempFile) {
  testing::temp_dir dir;
  const auto file = dir / "state.json";
  ASSERT_EQ(write_file_atomically(file, "first"), "");
  EXPECT_EQ(read(file), "first");
  ASSERT_EQ(write_file_atomically(file, std::string(100000, 'x')), "");
  EXPECT_EQ(read(file), std::string(100000, 'x'));
  EXPECT_FALSE(std::filesystem::exists(dir / "state.json.tmp"));
}

TEST(AtomicFile, AFailureSaysWhatAndKeepsTheOldFile) {
  testing::temp_dir dir;
  EXPECT_EQ(write_file_atomically(dir / "nowhere" / "state.json", "x"),
            "cannot write " + (dir / "nowhere" / "state.json").string() +
                " (open: No such file or directory)");
  // A directory in the target's place: the rename fails, the directory stays as it was.
  std::filesystem::create_directories(dir / "taken" / "inside");
  const std::string error = write_file_atomically(dir / "taken", "x");
  EXPECT_NE(error.find("(rename: "), std::string::npos) << error;
  EXPECT_TRUE(std::filesystem::is_directory(dir / "taken" / "inside"));
  EXPECT_FALSE(std::filesystem::exists(dir / "taken.tmp"));
}

}  // namespace
}  // namespace p2pfaas::config
