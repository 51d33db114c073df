#include "config/yaml_file.hpp"

#include <yaml-cpp/yaml.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <system_error>

namespace p2pfaas::config {
namespace {

using json = nlohmann::json;

std::string position(const std::string& file, const YAML::Mark& mark) {
  if (mark.is_null()) return file;
  // yaml-cpp counts from 0; editors count from 1.
  return file + ":" + std::to_string(mark.line + 1) + ":" + std::to_string(mark.column + 1);
}

// Scalars stay strings: the field decoders know which ones are numbers, and YAML 1.1 guesses
// ("yes" is a bool, "1:30" is sexagesimal) would only get in the way.
json yaml_to_json(const YAML::Node& node, const std::string& file, problems& out) {
  switch (node.Type()) {
    case YAML::NodeType::Scalar:
      return node.Scalar();
    case YAML::NodeType::Sequence: {
      json list = json::array();
      for (const auto& element : node) list.push_back(yaml_to_json(element, file, out));
      return list;
    }
    case YAML::NodeType::Map: {
      json object = json::object();
      for (const auto& entry : node) {
        if (!entry.first.IsScalar()) {
          out.push_back({"", position(file, entry.first.Mark()) + ": mapping keys must be names"});
          continue;
        }
        object[entry.first.Scalar()] = yaml_to_json(entry.second, file, out);
      }
      return object;
    }
    case YAML::NodeType::Null:
    case YAML::NodeType::Undefined:
      break;
  }
  return nullptr;
}

}  // namespace

std::optional<json> read_yaml_file(const std::filesystem::path& path, std::string_view kind,
                                   std::string_view mapping_hint, problems& out) {
  const std::string file = path.string();
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) {
    out.push_back({"", file + ": cannot read " + std::string(kind) + ": is a directory"});
    return std::nullopt;
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    out.push_back({"", file + ": cannot read " + std::string(kind) + ": " + std::strerror(errno)});
    return std::nullopt;
  }
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) {
    out.push_back({"", file + ": cannot read " + std::string(kind) + ": read error"});
    return std::nullopt;
  }
  try {
    const YAML::Node root = YAML::Load(text.str());
    if (!root.IsNull() && !root.IsMap()) {
      out.push_back({"", file + ": must be a mapping of " + std::string(mapping_hint)});
      return std::nullopt;
    }
    return yaml_to_json(root, file, out);
  } catch (const YAML::Exception& e) {
    out.push_back({"", position(file, e.mark) + ": YAML syntax error: " + e.msg});
    return std::nullopt;
  }
}

}  // namespace p2pfaas::config
