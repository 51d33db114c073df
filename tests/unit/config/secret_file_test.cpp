#include "config/secret_file.hpp"

#include <gtest/gtest.h>

#include "tests/support/temp_dir.hpp"

namespace p2pfaas::config {
namespace {

// The node (admin.token_file) and the bench (--admin-token-file) read a token file alike, so a
// file that works for one works for the other.
TEST(SecretFile, TheWholeTextLessTrailingWhitespace) {
  testing::temp_dir dir;
  std::string error;
  EXPECT_EQ(read_secret_file(dir.write("token", "s3cret token\n"), error), "s3cret token");
  EXPECT_EQ(read_secret_file(dir.write("crlf", "abc\r\n\t \n"), error), "abc");
  EXPECT_EQ(read_secret_file(dir.write("lines", "line1\nline2\n"), error), "line1\nline2");
}

TEST(SecretFile, MissingOrEmptySaysWhy) {
  testing::temp_dir dir;
  std::string error;
  EXPECT_FALSE(read_secret_file(dir / "absent", error).has_value());
  EXPECT_EQ(error, "cannot read " + (dir / "absent").string());
  const auto blank = dir.write("blank", " \n\n");
  EXPECT_FALSE(read_secret_file(blank, error).has_value());
  EXPECT_EQ(error, blank.string() + " is empty");
}

}  // namespace
}  // namespace p2pfaas::config
