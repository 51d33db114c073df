#include "net/cluster_key.hpp"

#include <gtest/gtest.h>

#include <fstream>
#include <random>

namespace p2pfaas::net {
namespace {

// 32 bytes 0x00..0x1f and 16 bytes "0123456789abcdef".
constexpr std::string_view key_a = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
constexpr std::string_view key_b = "MDEyMzQ1Njc4OWFiY2RlZg==";

std::vector<std::uint8_t> bytes_of(std::string_view s) {
  return std::vector<std::uint8_t>(s.begin(), s.end());
}

key_ring ok(const std::variant<key_ring, std::string>& result) {
  if (auto* error = std::get_if<std::string>(&result)) {
    ADD_FAILURE() << "unexpected error: " << *error;
    return {};
  }
  return std::get<key_ring>(result);
}

std::string error_of(const std::variant<key_ring, std::string>& result) {
  if (auto* error = std::get_if<std::string>(&result)) return *error;
  ADD_FAILURE() << "expected an error";
  return {};
}

class KeyFile : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("p2pfaas-key-test-" + std::to_string(std::random_device{}()));
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::filesystem::path write(const std::string& name, std::string_view text) {
    auto path = dir_ / name;
    std::ofstream(path, std::ios::binary) << text;
    return path;
  }
  std::filesystem::path dir_;
};

TEST(ClusterKey, ParsesKeysWithCommentsAndBlankLines) {
  auto text = "# cluster keys, newest first\n\n  " + std::string(key_a) + "  \r\n" +
              "\t# the old key, retire after the rollout\n" + std::string(key_b) + "\n\n";
  auto ring = ok(parse_key_ring(text));
  ASSERT_EQ(ring.keys.size(), 2u);
  std::vector<std::uint8_t> a(32);
  for (std::size_t i = 0; i < a.size(); ++i) a[i] = static_cast<std::uint8_t>(i);
  EXPECT_EQ(ring.keys[0], a);
  EXPECT_EQ(ring.keys[1], bytes_of("0123456789abcdef"));
}

TEST(ClusterKey, LastLineNeedsNoNewline) {
  auto ring = ok(parse_key_ring(key_b));
  ASSERT_EQ(ring.keys.size(), 1u);
}

TEST(ClusterKey, AcceptsTheLengthBounds) {
  // 16 and 64 bytes.
  EXPECT_EQ(ok(parse_key_ring("QUFBQUFBQUFBQUFBQUFBQQ==")).keys.at(0).size(), 16u);
  auto sixty_four = std::string(84, 'Q') + "QQ==";
  EXPECT_EQ(ok(parse_key_ring(sixty_four)).keys.at(0).size(), 64u);
}

TEST(ClusterKey, BadBase64NamesTheLine) {
  auto cases = {
      std::string(key_a.substr(0, 43)),           // length not a multiple of 4
      std::string(key_a.substr(0, 40)) + "!!!=",  // outside the alphabet
      std::string("MDEyMzQ1Njc4OWFi=2RlZg=="),    // padding in the middle
      std::string("MDEyMzQ1Njc4OWFiY2RlZh=="),    // non-canonical: stray bits before the padding
      std::string("MDEyMzQ1 Njc4OWFiY2RlZg=="),   // inner whitespace
      std::string("MDEyMzQ1Njc4OWFiY2RlZg== # a comment after a key"),
  };
  for (const auto& line : cases) {
    auto error = error_of(parse_key_ring("# header\n" + std::string(key_b) + "\n" + line + "\n"));
    EXPECT_NE(error.find("line 3"), std::string::npos) << line << " -> " << error;
    EXPECT_NE(error.find("base64"), std::string::npos) << error;
  }
}

TEST(ClusterKey, TooShortOrTooLongKeyIsAnError) {
  // 15 and 65 bytes.
  auto short_error = error_of(parse_key_ring("QUFBQUFBQUFBQUFBQUFB"));
  EXPECT_NE(short_error.find("line 1"), std::string::npos) << short_error;
  EXPECT_NE(short_error.find("15 bytes"), std::string::npos) << short_error;
  auto long_error = error_of(parse_key_ring("\n" + std::string(84, 'Q') + "QUE="));
  EXPECT_NE(long_error.find("line 2"), std::string::npos) << long_error;
  EXPECT_NE(long_error.find("65 bytes"), std::string::npos) << long_error;
}

TEST(ClusterKey, NoKeyIsAnError) {
  EXPECT_NE(error_of(parse_key_ring("")).find("no key"), std::string::npos);
  EXPECT_NE(error_of(parse_key_ring("# only a comment\n\n   \n")).find("no key"),
            std::string::npos);
}

TEST(ClusterKey, ErrorsNeverQuoteTheKey) {
  // 12 bytes: too short, but a real secret all the same.
  constexpr std::string_view secret_b64 = "c2VjcmV0c2VjcmV0";
  auto error = error_of(parse_key_ring(secret_b64));
  EXPECT_EQ(error.find(secret_b64), std::string::npos) << error;
  EXPECT_EQ(error.find("secret"), std::string::npos) << error;
  // A typo in a good key.
  auto typo = std::string(key_a.substr(0, 20)) + "*" + std::string(key_a.substr(21));
  error = error_of(parse_key_ring(typo));
  EXPECT_EQ(error.find(key_a.substr(0, 20)), std::string::npos) << error;
  EXPECT_EQ(error.find(key_a.substr(21)), std::string::npos) << error;
}

TEST_F(KeyFile, LoadsAKeyFile) {
  auto path = write("keys", "# test\n" + std::string(key_a) + "\n" + std::string(key_b) + "\n");
  auto ring = ok(load_key_ring(path));
  ASSERT_EQ(ring.keys.size(), 2u);
  EXPECT_EQ(ring.keys[1], bytes_of("0123456789abcdef"));
}

TEST_F(KeyFile, EmptyFileIsAnError) {
  auto path = write("empty", "");
  auto error = error_of(load_key_ring(path));
  EXPECT_NE(error.find("no key"), std::string::npos) << error;
  EXPECT_NE(error.find(path.string()), std::string::npos) << error;
}

TEST_F(KeyFile, FileErrorsNameThePathAndLine) {
  auto path = write("bad", std::string(key_a) + "\nnot-base64\n");
  auto error = error_of(load_key_ring(path));
  EXPECT_NE(error.find(path.string()), std::string::npos) << error;
  EXPECT_NE(error.find("line 2"), std::string::npos) << error;
  EXPECT_EQ(error.find(key_a), std::string::npos) << error;
}

TEST_F(KeyFile, MissingFileIsAnErrorNamingThePath) {
  auto path = dir_ / "no-such-file";
  auto error = error_of(load_key_ring(path));
  EXPECT_NE(error.find(path.string()), std::string::npos) << error;
  EXPECT_NE(error.find("No such file"), std::string::npos) << error;
}

TEST(ClusterKey, DerivedKeysDependOnKeyAndLabel) {
  auto a = bytes_of("0123456789abcdef");
  auto b = bytes_of("0123456789abcdeg");
  EXPECT_EQ(derive_key(a, "x").size(), 32u);
  EXPECT_EQ(derive_key(a, "x"), derive_key(a, "x"));
  EXPECT_NE(derive_key(a, "x"), derive_key(a, "y"));
  EXPECT_NE(derive_key(a, "x"), derive_key(b, "x"));
  EXPECT_EQ(key_hint(a), key_hint(a));
}

}  // namespace
}  // namespace p2pfaas::net
