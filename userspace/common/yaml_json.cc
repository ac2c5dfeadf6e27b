#include "common/yaml_json.h"

#include <yaml-cpp/yaml.h>

#include <cerrno>
#include <cstdlib>

namespace wiretag {
namespace {

using nlohmann::json;

constexpr int kMaxDepth = 64;
// Values a document may expand to beyond one per byte of its text: aliases repeat a node
// without repeating its text, so a few lines could otherwise expand to billions of values.
constexpr size_t kAliasSlack = 100000;

struct Budget {
  size_t nodes_left;
};

json scalar(const YAML::Node& node) {
  const std::string& s = node.Scalar();
  if (node.Tag() == "!") return s;  // quoted: a string whatever it reads like
  if (s.empty() || s == "~" || s == "null" || s == "Null" || s == "NULL") return nullptr;
  if (s == "true" || s == "True" || s == "TRUE") return true;
  if (s == "false" || s == "False" || s == "FALSE") return false;
  const char* begin = s.c_str();
  char* end = nullptr;
  errno = 0;
  if (s.find_first_not_of("+-0123456789") == std::string::npos) {
    long long v = std::strtoll(begin, &end, 10);
    if (errno == 0 && *end == '\0') return v;
    if (s[0] != '-') {  // past int64: JSON's unsigned integers (up to 2^64-1) stay integers
      errno = 0;
      unsigned long long u = std::strtoull(begin, &end, 10);
      if (errno == 0 && *end == '\0') return u;
    }
  }
  if (s.find_first_not_of("+-0123456789.eE") == std::string::npos &&
      s.find_first_of("0123456789") != std::string::npos) {
    errno = 0;
    double d = std::strtod(begin, &end);
    if (errno == 0 && *end == '\0') return d;
  }
  return s;
}

Result<json> convert(const YAML::Node& node, int depth, Budget& budget) {
  if (depth > kMaxDepth) return Error{"YAML_TOO_DEEP", "the document nests deeper than 64 levels"};
  if (budget.nodes_left == 0)
    return Error{"YAML_TOO_LARGE",
                 "the document expands to too many values (aliases repeating large nodes)"};
  --budget.nodes_left;
  switch (node.Type()) {
    case YAML::NodeType::Null:
    case YAML::NodeType::Undefined:
      return json(nullptr);
    case YAML::NodeType::Scalar:
      return scalar(node);
    case YAML::NodeType::Sequence: {
      json out = json::array();
      for (const auto& item : node) {
        auto v = convert(item, depth + 1, budget);
        if (!v) return v.error();
        out.push_back(std::move(*v));
      }
      return out;
    }
    case YAML::NodeType::Map: {
      json out = json::object();
      for (const auto& kv : node) {
        if (!kv.first.IsScalar()) return Error{"UNSUPPORTED_YAML", "mapping keys must be strings"};
        auto v = convert(kv.second, depth + 1, budget);
        if (!v) return v.error();
        out[kv.first.Scalar()] = std::move(*v);
      }
      return out;
    }
  }
  return json(nullptr);
}

void emit(YAML::Emitter& out, const json& v) {
  switch (v.type()) {
    case json::value_t::object:
      if (v.empty()) {
        out << YAML::Flow << YAML::BeginMap << YAML::EndMap;
        break;
      }
      out << YAML::BeginMap;
      for (const auto& [k, item] : v.items()) {
        out << YAML::Key << k << YAML::Value;
        emit(out, item);
      }
      out << YAML::EndMap;
      break;
    case json::value_t::array:
      if (v.empty()) {
        out << YAML::Flow << YAML::BeginSeq << YAML::EndSeq;
        break;
      }
      out << YAML::BeginSeq;
      for (const auto& item : v) emit(out, item);
      out << YAML::EndSeq;
      break;
    case json::value_t::string: {
      const auto& s = v.get_ref<const std::string&>();
      YAML::Node probe(s);
      const json back = scalar(probe);
      if (!back.is_string() || s.empty()) out << YAML::DoubleQuoted;
      out << s;
      break;
    }
    case json::value_t::boolean:
      out << (v.get<bool>() ? "true" : "false");
      break;
    case json::value_t::null:
      out << YAML::Null;
      break;
    default:
      out << v.dump();
  }
}

}  // namespace

Result<json> yaml_to_json(std::string_view text) {
  YAML::Node root;
  try {
    root = YAML::Load(std::string(text));
  } catch (const YAML::Exception& e) {
    return Error{"INVALID_YAML", "line " + std::to_string(e.mark.line + 1) + ", column " +
                                     std::to_string(e.mark.column + 1) + ": " + e.msg};
  }
  if (!root.IsDefined() || root.IsNull()) return Error{"EMPTY_DOCUMENT", "the document is empty"};
  try {
    Budget budget{text.size() + kAliasSlack};
    return convert(root, 1, budget);
  } catch (const YAML::Exception& e) {
    return Error{"INVALID_YAML", e.msg};
  }
}

std::string json_to_yaml(const json& value) {
  YAML::Emitter out;
  emit(out, value);
  return std::string(out.c_str()) + "\n";
}

}  // namespace wiretag
