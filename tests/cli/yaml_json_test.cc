// common/yaml_json: YAML (and JSON) documents as JSON values and back, which policy files
// (`-f FILE`) and `-o yaml` go through.
#include "common/yaml_json.h"

#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <string>

namespace wiretag {
namespace {

using nlohmann::json;

json parse(const std::string& text) {
  auto r = yaml_to_json(text);
  EXPECT_TRUE(r) << r.error().code << ": " << r.error().message;
  return r ? *r : json();
}

std::string error_of(const std::string& text) {
  auto r = yaml_to_json(text);
  return r ? "" : r.error().code;
}

TEST(YamlJson, PlainScalarsReadAsTheirTypes) {
  json j =
      parse("i: 42\nn: -7\nf: 1.5\ne: 2e3\nt: true\nF: False\nz: null\nt2: ~\nempty:\ns: web\n");
  EXPECT_EQ(j["i"], 42);
  EXPECT_TRUE(j["i"].is_number_integer());
  EXPECT_EQ(j["n"], -7);
  EXPECT_DOUBLE_EQ(j["f"].get<double>(), 1.5);
  EXPECT_DOUBLE_EQ(j["e"].get<double>(), 2000.0);
  EXPECT_EQ(j["t"], true);
  EXPECT_EQ(j["F"], false);
  EXPECT_TRUE(j["z"].is_null());
  EXPECT_TRUE(j["t2"].is_null());
  EXPECT_TRUE(j["empty"].is_null());
  EXPECT_EQ(j["s"], "web");
}

TEST(YamlJson, QuotedScalarsStayStrings) {
  json j = parse("a: \"42\"\nb: 'true'\nc: \"null\"\nd: ''\ne: \"1.5\"\n");
  EXPECT_EQ(j["a"], "42");
  EXPECT_EQ(j["b"], "true");
  EXPECT_EQ(j["c"], "null");
  EXPECT_EQ(j["d"], "");
  EXPECT_EQ(j["e"], "1.5");
}

TEST(YamlJson, WordsThatLookNumericButAreNotStayStrings) {
  json j = parse("a: 0x10\nb: '-'\nc: 1.2.3\nd: 198.18.0.1\ne: 5432/tcp\nf: +\n");
  EXPECT_EQ(j["a"], "0x10");
  EXPECT_EQ(j["b"], "-");
  EXPECT_EQ(j["c"], "1.2.3");
  EXPECT_EQ(j["d"], "198.18.0.1");
  EXPECT_EQ(j["e"], "5432/tcp");
  EXPECT_EQ(j["f"], "+");
}

TEST(YamlJson, JsonIsYaml) {
  const std::string text =
      R"({"name":"p","rules":[{"source":"*","destination":"db","ports":{"start":1,"end":2}}],"refid":null})";
  EXPECT_EQ(parse(text), json::parse(text));
}

// Every JSON value comes back equal (type included) after json → yaml → json.
TEST(YamlJson, RoundTripKeepsValuesAndTypes) {
  const json cases[] = {
      json::parse(R"({"name":"web","version":3,"ratio":0.25,"on":true,"off":false,"none":null})"),
      json::parse(R"({"strings":["42","true","false","null","~","","1.5","-3","1e3"," lead"]})"),
      json::parse(
          R"({"odd":"a: b","hash":"x #y","dash":"- item","quote":"it's \"q\"","nl":"a\nb"})"),
      json::parse(R"({"nested":{"a":[1,[2,[3,{}]],[]],"b":{"c":{"d":"e"}}},"empty":{}})"),
      json::parse(R"({"123":"numeric key","true":"bool key","":"empty key"})"),
      json::parse(R"([1,"two",3.5,null,[],{}])"),
      json::parse(R"({"big":9223372036854775807,"small":-9223372036854775808})"),
      json::parse(R"({"unsigned":18446744073709551615})"),
      json("just a string"),
      json(7),
  };
  for (const json& value : cases) {
    const std::string yaml = json_to_yaml(value);
    auto back = yaml_to_json(yaml);
    ASSERT_TRUE(back) << value.dump() << "\n" << yaml << back.error().message;
    EXPECT_EQ(back->dump(), value.dump()) << "yaml was:\n" << yaml;
  }
}

// What -o yaml prints is read by another YAML reader (yaml-cpp's own) as the same strings.
TEST(YamlJson, OutputReadsBackWithYamlCpp) {
  json value = {{"wire_bytes", "0001"}, {"port", "5432"}, {"flag", "true"}, {"n", 5}};
  YAML::Node node = YAML::Load(json_to_yaml(value));
  EXPECT_EQ(node["wire_bytes"].as<std::string>(), "0001");
  EXPECT_EQ(node["port"].Tag(), "!");  // quoted: a string, not the number
  EXPECT_EQ(node["flag"].Tag(), "!");
  EXPECT_EQ(node["n"].as<int>(), 5);
}

TEST(YamlJson, Errors) {
  EXPECT_EQ(error_of("a: [1, 2"), "INVALID_YAML");
  EXPECT_EQ(error_of("a: b\n c: d\n  - e"), "INVALID_YAML");
  EXPECT_EQ(error_of(""), "EMPTY_DOCUMENT");
  EXPECT_EQ(error_of("# only a comment\n"), "EMPTY_DOCUMENT");
  EXPECT_EQ(error_of("? [a, b]\n: c\n"), "UNSUPPORTED_YAML");
  auto r = yaml_to_json("a: 1\nb: [2\n");
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("line "), std::string::npos) << r.error().message;
}

TEST(YamlJson, DepthIsBounded) {
  std::string ok, deep;
  for (int i = 0; i < 63; ++i) ok += "[";
  for (int i = 0; i < 63; ++i) ok += "]";
  EXPECT_TRUE(yaml_to_json(ok));
  for (int i = 0; i < 65; ++i) deep += "[";
  for (int i = 0; i < 65; ++i) deep += "]";
  EXPECT_EQ(error_of(deep), "YAML_TOO_DEEP");
}

// Aliases repeat a node without copying it in the text: a few lines that expand to billions
// of values ("billion laughs") must be refused, not expanded.
TEST(YamlJson, AliasExpansionIsBounded) {
  std::string text = "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n";
  for (int i = 1; i < 10; ++i) {
    const std::string prev = "*a" + std::to_string(i - 1);
    text += "a" + std::to_string(i) + ": &a" + std::to_string(i) + " [" + prev;
    for (int k = 1; k < 10; ++k) text += ", " + prev;
    text += "]\n";
  }
  EXPECT_EQ(error_of(text), "YAML_TOO_LARGE");
  // A few aliases are fine.
  json j = parse("base: &b {protocol: tcp}\nr1: *b\nr2: *b\n");
  EXPECT_EQ(j["r2"]["protocol"], "tcp");
}

}  // namespace
}  // namespace wiretag
