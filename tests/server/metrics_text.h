// A strict reader of the Prometheus text exposition format (version 0.0.4) for the metrics
// tests: every line is a # HELP, a # TYPE or a sample of a family typed before it; label
// values are quoted with \\, \" and \n escapes; values are numbers.
#pragma once

#include <cstdlib>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

namespace wiretag::test {

struct MetricSample {
  std::string name;  // as written: wiretag_x_bucket for a histogram's bucket
  std::map<std::string, std::string> labels;
  double value = 0;
};

struct MetricsText {
  std::map<std::string, std::string> types;  // family → counter | gauge | histogram | ...
  std::vector<MetricSample> samples;
  std::string error;  // the first line that does not parse, and why; empty when all do

  // The family a sample belongs to: its name, or without a histogram's suffix.
  std::string family_of(const std::string& sample) const {
    if (types.count(sample)) return sample;
    for (const char* suffix : {"_bucket", "_sum", "_count"}) {
      const std::string s = suffix;
      if (sample.size() > s.size() && sample.ends_with(s)) {
        std::string base = sample.substr(0, sample.size() - s.size());
        auto it = types.find(base);
        if (it != types.end() && (it->second == "histogram" || it->second == "summary"))
          return base;
      }
    }
    return "";
  }

  // The sum of the samples named `name` whose labels include all of `want`; 0 when none.
  double value(const std::string& name, const std::map<std::string, std::string>& want = {}) const {
    double sum = 0;
    for (const MetricSample& s : samples) {
      if (s.name != name) continue;
      bool match = true;
      for (const auto& [k, v] : want) {
        auto it = s.labels.find(k);
        if (it == s.labels.end() || it->second != v) match = false;
      }
      if (match) sum += s.value;
    }
    return sum;
  }

  bool has_samples(const std::string& family) const {
    for (const MetricSample& s : samples)
      if (family_of(s.name) == family) return true;
    return false;
  }
};

inline bool metric_name_ok(const std::string& n) {
  if (n.empty() || std::isdigit(static_cast<unsigned char>(n[0]))) return false;
  for (char c : n)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != ':') return false;
  return true;
}

inline MetricsText parse_metrics_text(const std::string& text) {
  MetricsText out;
  std::istringstream in(text);
  std::string line;
  int number = 0;
  auto fail = [&](const std::string& why) {
    if (out.error.empty()) out.error = "line " + std::to_string(number) + " (" + line + "): " + why;
  };
  while (std::getline(in, line)) {
    ++number;
    if (line.empty()) continue;
    if (line.starts_with("# HELP ")) {
      std::string name = line.substr(7, line.find(' ', 7) - 7);
      if (!metric_name_ok(name)) fail("bad name in HELP");
      continue;
    }
    if (line.starts_with("# TYPE ")) {
      std::istringstream t(line.substr(7));
      std::string name, type;
      t >> name >> type;
      if (!metric_name_ok(name)) fail("bad name in TYPE");
      if (type != "counter" && type != "gauge" && type != "histogram" && type != "summary" &&
          type != "untyped")
        fail("unknown type " + type);
      if (out.types.count(name)) fail("family typed twice");
      out.types[name] = type;
      continue;
    }
    if (line[0] == '#') continue;
    MetricSample s;
    size_t i = 0;
    while (i < line.size() && line[i] != '{' && line[i] != ' ') ++i;
    s.name = line.substr(0, i);
    if (!metric_name_ok(s.name)) fail("bad sample name");
    if (i < line.size() && line[i] == '{') {
      ++i;
      while (i < line.size() && line[i] != '}') {
        size_t eq = line.find('=', i);
        if (eq == std::string::npos || eq + 1 >= line.size() || line[eq + 1] != '"') {
          fail("bad label");
          break;
        }
        std::string key = line.substr(i, eq - i), value;
        i = eq + 2;
        bool closed = false;
        while (i < line.size()) {
          char c = line[i++];
          if (c == '\\' && i < line.size()) {
            char e = line[i++];
            value.push_back(e == 'n' ? '\n' : e);
          } else if (c == '"') {
            closed = true;
            break;
          } else {
            value.push_back(c);
          }
        }
        if (!closed || !metric_name_ok(key)) fail("bad label value");
        s.labels[key] = value;
        if (i < line.size() && line[i] == ',') ++i;
      }
      if (i >= line.size()) fail("labels not closed");
      ++i;
    }
    if (i >= line.size() || line[i] != ' ') {
      fail("no value");
      continue;
    }
    std::string rest = line.substr(i + 1);
    std::string value = rest.substr(0, rest.find(' '));
    char* end = nullptr;
    s.value = std::strtod(value.c_str(), &end);
    if (value.empty() || (end && *end != 0)) fail("bad value");
    if (out.family_of(s.name).empty()) fail("sample of a family with no TYPE before it");
    out.samples.push_back(std::move(s));
  }
  return out;
}

}  // namespace wiretag::test
