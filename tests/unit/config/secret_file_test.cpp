#include "config/secret_file.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <string>

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

TEST(SecretFile, ALargeFileIsRefusedWithoutReadingItWhole) {
  testing::temp_dir dir;
  std::string error;
  const auto at_limit = dir.write("limit", std::string(max_secret_file_bytes, 'k'));
  EXPECT_TRUE(read_secret_file(at_limit, error).has_value());
  const auto over = dir.write("over", std::string(max_secret_file_bytes + 1, 'k'));
  EXPECT_FALSE(read_secret_file(over, error).has_value());
  EXPECT_NE(error.find("larger than"), std::string::npos) << error;
  EXPECT_FALSE(read_secret_file("/dev/zero", error).has_value());
}

TEST(AdminToken, ShortOrUnsendableTokensAreRefused) {
  EXPECT_EQ(admin_token_problem("0123456789abcdef"), "");
  EXPECT_NE(admin_token_problem("s3cret").find("6 characters, need at least 16"),
            std::string::npos);
  EXPECT_NE(admin_token_problem("0123456789 abcdef").find("character 11"), std::string::npos);
  EXPECT_NE(admin_token_problem("0123456789abcdef\nline2").find("line break"), std::string::npos);
  EXPECT_NE(admin_token_problem("0123456789abcdef\xc3\xa9").find("non-ASCII"), std::string::npos);
  EXPECT_NE(admin_token_problem(std::string(max_admin_token_chars + 1, 'a')).find("longer"),
            std::string::npos);
}

TEST(AdminToken, ReadNamesTheFileAndTheProblem) {
  testing::temp_dir dir;
  std::string error;
  const auto good = dir.write("good", "0123456789abcdef0123\n");
  EXPECT_EQ(read_admin_token(good, error), "0123456789abcdef0123");
  const auto short_one = dir.write("short", "abcde\n");
  EXPECT_FALSE(read_admin_token(short_one, error).has_value());
  EXPECT_EQ(error.rfind(short_one.string() + ": the token is 5 characters", 0), 0u) << error;
}

TEST(SecretFile, PermissionsOpenToOthersAreNamed) {
  testing::temp_dir dir;
  const auto file = dir.write("token", "0123456789abcdef\n");
  ::chmod(file.c_str(), 0600);
  EXPECT_EQ(loose_permissions_warning(file), "");
  ::chmod(file.c_str(), 0644);
  EXPECT_NE(loose_permissions_warning(file).find("mode 644"), std::string::npos);
  EXPECT_EQ(loose_permissions_warning(dir / "absent"), "");
}

}  // namespace
}  // namespace p2pfaas::config
