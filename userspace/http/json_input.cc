#include "http/json_input.h"

#include <algorithm>
#include <optional>
#include <unordered_set>
#include <vector>

namespace wiretag::http {
namespace {

using json = nlohmann::json;

// nlohmann's own DOM builder behind a gate: every SAX event is checked against the limits
// first, and the first excess stops the parser at once (a handler returning false).
class LimitedDomBuilder {
 public:
  LimitedDomBuilder(json& root, const JsonLimits& limits)
      : dom_(root, /*allow_exceptions=*/false), limits_(limits) {}

  const std::optional<Error>& error() const { return error_; }

  bool null() { return value() && dom_.null(); }
  bool boolean(bool v) { return value() && dom_.boolean(v); }
  bool number_integer(json::number_integer_t v) { return value() && dom_.number_integer(v); }
  bool number_unsigned(json::number_unsigned_t v) { return value() && dom_.number_unsigned(v); }
  bool number_float(json::number_float_t v, const json::string_t& s) {
    return value() && dom_.number_float(v, s);
  }
  bool binary(json::binary_t& v) { return value() && dom_.binary(v); }
  bool string(json::string_t& v) {
    if (!value()) return false;
    if (v.size() > limits_.max_string_bytes)
      return fail("FIELD_TOO_LONG", "field " + field(path_.size()) + " is longer than " +
                                        std::to_string(limits_.max_string_bytes) + " bytes");
    return dom_.string(v);
  }
  bool key(json::string_t& k) {
    if (k.size() > limits_.max_string_bytes)
      return fail("FIELD_TOO_LONG", "a key in " + field(path_.size() - 1) + " is longer than " +
                                        std::to_string(limits_.max_string_bytes) + " bytes");
    // RFC 8259 leaves a repeated name's meaning to each parser (nlohmann keeps the last, others
    // the first): a policy that two readers would see differently is refused, not guessed.
    if (!path_.back().keys.insert(k).second)
      return fail("INVALID_JSON", "key \"" + (k.size() > 64 ? k.substr(0, 64) + "..." : k) +
                                      "\" appears twice in " + field(path_.size() - 1));
    path_.back().key = k;
    return dom_.key(k);
  }
  bool start_object(size_t n) { return open(false) && dom_.start_object(n); }
  bool start_array(size_t n) { return open(true) && dom_.start_array(n); }
  bool end_object() {
    path_.pop_back();
    return dom_.end_object();
  }
  bool end_array() {
    path_.pop_back();
    return dom_.end_array();
  }
  bool parse_error(size_t pos, const std::string& token, const json::exception& e) {
    return dom_.parse_error(pos, token, e);
  }

 private:
  // One open array or object: the key or index being filled in it.
  struct Level {
    bool array = false;
    std::string key;
    size_t index = 0;                      // of the next element of an array
    std::unordered_set<std::string> keys;  // of an object, so far
  };

  // A value begins: in an array, it takes the next index.
  bool value() {
    if (!path_.empty() && path_.back().array) ++path_.back().index;
    return true;
  }

  bool open(bool array) {
    value();
    if (path_.size() >= limits_.max_depth)
      return fail("JSON_TOO_DEEP", "JSON nests deeper than " + std::to_string(limits_.max_depth) +
                                       " levels of arrays and objects");
    path_.push_back(Level{array, {}, 0, {}});
    return true;
  }

  // Where a value sits, quoted, e.g. "groups[0].properties.x": the key or index it has in
  // each of the first `levels` open arrays and objects; the body itself at 0.
  std::string field(size_t levels) const {
    if (levels == 0) return "(the body)";
    std::string out;
    for (size_t i = 0; i < levels; ++i) {
      const Level& l = path_[i];
      if (l.array) {
        out += "[" + std::to_string(l.index - 1) + "]";
      } else {
        if (!out.empty()) out += '.';
        out += l.key.size() > 64 ? l.key.substr(0, 64) + "..." : l.key;
      }
    }
    return "\"" + out + "\"";
  }

  bool fail(std::string code, std::string message) {
    error_ = Error{std::move(code), std::move(message)};
    return false;
  }

  nlohmann::detail::json_sax_dom_parser<json> dom_;
  const JsonLimits limits_;
  std::vector<Level> path_;
  std::optional<Error> error_;
};

}  // namespace

Result<nlohmann::json> parse_json(std::string_view text, const JsonLimits& limits) {
  // JSON has no NUL byte outside a string, nor inside one (raw controls are invalid), but
  // nlohmann's lexer takes one as the end of the input: "{...}\0garbage" would parse.
  if (text.find('\0') != std::string_view::npos)
    return Error{"INVALID_JSON", "body is not valid JSON: it holds a NUL byte"};
  json root;
  LimitedDomBuilder builder(root, limits);
  bool ok = false;
  try {
    ok = json::sax_parse(text, &builder);
  } catch (const json::exception&) {
    ok = false;
  }
  if (builder.error()) return *builder.error();
  if (!ok) return Error{"INVALID_JSON", "body is not valid JSON"};
  return root;
}

Result<nlohmann::json> parse_json_object(std::string_view body) {
  auto j = parse_json(body);
  if (!j) return j.error();
  if (!j->is_object()) return Error{"INVALID_BODY", "request body must be a JSON object"};
  return j;
}

Result<void> check_fields(const nlohmann::json& object,
                          std::initializer_list<std::string_view> required,
                          std::initializer_list<std::string_view> optional) {
  for (const auto& [key, value] : object.items()) {
    bool known = std::find(required.begin(), required.end(), key) != required.end() ||
                 std::find(optional.begin(), optional.end(), key) != optional.end();
    if (!known) return Error{"UNKNOWN_FIELD", "unknown field \"" + key + "\""};
  }
  for (std::string_view key : required) {
    if (!object.contains(key))
      return Error{"MISSING_FIELD", "missing required field \"" + std::string(key) + "\""};
  }
  return Ok();
}

Result<std::string> string_field(const nlohmann::json& object, std::string_view key) {
  auto it = object.find(key);
  if (it == object.end())
    return Error{"MISSING_FIELD", "missing required field \"" + std::string(key) + "\""};
  if (!it->is_string())
    return Error{"INVALID_FIELD_TYPE", "field \"" + std::string(key) + "\" must be a string"};
  return it->get<std::string>();
}

Result<std::optional<std::string>> optional_string_field(const nlohmann::json& object,
                                                         std::string_view key) {
  auto it = object.find(key);
  if (it == object.end()) return std::optional<std::string>{};
  if (!it->is_string())
    return Error{"INVALID_FIELD_TYPE", "field \"" + std::string(key) + "\" must be a string"};
  return std::optional<std::string>{it->get<std::string>()};
}

}  // namespace wiretag::http
