#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "config/config.hpp"
#include "tests/support/daemon_process.hpp"

namespace p2pfaas::config {
namespace {

std::filesystem::path example_file() {
  return p2pfaas::testing::source_path("config/examples/node.yaml");
}

std::string read_text(const std::filesystem::path& file) {
  std::ifstream in(file);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

TEST(ExampleNodeYaml, IsValidAndShowsTheDefaults) {
  const auto result = load({.file = example_file()});
  ASSERT_TRUE(result.ok()) << result.errors[0].to_string();

  // Machine-dependent defaults are commented out in the file, so they come from defaults().
  nlohmann::json expected = to_json(defaults());
  nlohmann::json actual = to_json(result.value);
  EXPECT_EQ(actual["node"]["id"], expected["node"]["id"]);
  EXPECT_EQ(actual["executor"]["slots"], expected["executor"]["slots"]);
  for (const auto& [section, keys] : expected.items()) {
    if (section == "functions") continue;
    EXPECT_EQ(actual[section], keys) << section;
  }

  EXPECT_EQ(result.value.learner, defaults().learner);

  const auto& sleep = result.value.functions.at("sleep");
  EXPECT_EQ(sleep.deadline_seconds, 0.5);
  EXPECT_EQ(result.value.functions.size(), 1U);
}

TEST(ExampleNodeYaml, WritesOutEveryKey) {
  const YAML::Node doc = YAML::LoadFile(example_file().string());
  const nlohmann::json all_keys = to_json(defaults());
  for (const auto& [section, keys] : all_keys.items()) {
    ASSERT_TRUE(doc[section]) << section;
    if (section == "functions") continue;
    for (const auto& [key, value] : keys.items()) {
      if ((section == "node" && key == "id") || (section == "executor" && key == "slots")) {
        EXPECT_FALSE(doc[section][key]) << section << "." << key << " is machine-dependent";
      } else {
        EXPECT_TRUE(doc[section][key]) << section << "." << key << " missing from the example";
      }
    }
  }
  for (const char* key : {"deadline_seconds", "timeout_seconds", "task_type"}) {
    EXPECT_TRUE(doc["functions"]["sleep"][key]) << key;
  }
}

TEST(ExampleNodeYaml, EveryValueHasAComment) {
  const std::string text = read_text(example_file());
  EXPECT_NE(text.find("# id:"), std::string::npos);
  EXPECT_NE(text.find("# slots:"), std::string::npos);
  std::istringstream lines(text);
  std::string line;
  int values = 0;
  while (std::getline(lines, line)) {
    const auto first = line.find_first_not_of(' ');
    if (first == std::string::npos || line[first] == '#') continue;
    const auto colon = line.find(": ");
    if (colon == std::string::npos) continue;  // a section or function header
    ++values;
    EXPECT_NE(line.find(" # ", colon), std::string::npos) << "no comment: " << line;
  }
  EXPECT_GE(values, 25);
}

}  // namespace
}  // namespace p2pfaas::config
