#include "common/log.h"

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_sinks.h>

#include <atomic>
#include <cstdio>
#include <ctime>
#include <string>

namespace wiretag {
namespace {

std::atomic<LogFormat> g_format{LogFormat::Text};
std::string g_program = "wiretag";  // set once, before any thread logs

// RFC 3339, UTC, milliseconds: 2026-12-04T16:34:07.123Z.
std::string rfc3339_ms(std::chrono::system_clock::time_point t) {
  const auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
  const std::time_t secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  ::gmtime_r(&secs, &tm);
  char buf[40];
  const size_t n = std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  std::snprintf(buf + n, sizeof buf - n, ".%03dZ", static_cast<int>(ms % 1000));
  return buf;
}

// The names --log-level takes (spdlog's own say "warning" and "err" for two of them).
std::string_view level_name(spdlog::level::level_enum level) {
  switch (level) {
    case spdlog::level::trace:
      return "trace";
    case spdlog::level::debug:
      return "debug";
    case spdlog::level::info:
      return "info";
    case spdlog::level::warn:
      return "warn";
    case spdlog::level::err:
      return "error";
    case spdlog::level::critical:
      return "critical";
    default:
      return "off";
  }
}

// One JSON line: time, level, program, logger, message (in that order), then the fields
// (which cannot replace those five).
std::string json_line(std::chrono::system_clock::time_point t, spdlog::level::level_enum level,
                      std::string_view logger, std::string_view message,
                      const nlohmann::ordered_json& fields) {
  nlohmann::ordered_json line = {{"time", rfc3339_ms(t)},
                                 {"level", level_name(level)},
                                 {"program", g_program},
                                 {"logger", logger},
                                 {"message", message}};
  if (fields.is_object())
    for (const auto& [key, value] : fields.items())
      if (!line.contains(key)) line[key] = value;
  // Invalid UTF-8 (a path as sent) is replaced, never a reason to lose the line.
  return line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

// What spdlog's own calls (spdlog::info(...)) become in JSON: a record without fields.
class JsonFormatter final : public spdlog::formatter {
 public:
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    const std::string line = json_line(msg.time, msg.level, "main",
                                       std::string_view(msg.payload.data(), msg.payload.size()),
                                       nlohmann::ordered_json::object());
    dest.append(line.data(), line.data() + line.size());
  }
  std::unique_ptr<spdlog::formatter> clone() const override {
    return std::make_unique<JsonFormatter>();
  }
};

void write_stdout(const std::string& line) {
  std::fwrite(line.data(), 1, line.size(), stdout);
  std::fflush(stdout);
}

std::string text_value(const nlohmann::ordered_json& v) {
  if (v.is_string()) {
    const auto& s = v.get_ref<const std::string&>();
    if (!s.empty() && s.find_first_of(" \"=") == std::string::npos) return s;
  }
  return v.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace

Result<LogFormat> parse_log_format(std::string_view name) {
  if (name == "text") return LogFormat::Text;
  if (name == "json") return LogFormat::Json;
  return Error{"INVALID_LOG_FORMAT",
               "log format \"" + std::string(name) + "\" is neither text nor json"};
}

Result<spdlog::level::level_enum> parse_log_level(std::string_view name) {
  for (auto level :
       {spdlog::level::trace, spdlog::level::debug, spdlog::level::info, spdlog::level::warn,
        spdlog::level::err, spdlog::level::critical, spdlog::level::off})
    if (name == level_name(level)) return level;
  return Error{"INVALID_LOG_LEVEL",
               "log level \"" + std::string(name) +
                   "\" is none of trace, debug, info, warn, error, critical, off"};
}

void init_logging(const std::string& level, LogFormat format, std::string program) {
  g_program = std::move(program);
  g_format = format;
  if (format == LogFormat::Json) {
    // Plain stdout (no colour codes inside JSON), as the text logger writes to stdout too.
    auto logger = std::make_shared<spdlog::logger>(
        g_program, std::make_shared<spdlog::sinks::stdout_sink_mt>());
    logger->set_formatter(std::make_unique<JsonFormatter>());
    spdlog::set_default_logger(std::move(logger));
  } else {
    spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ %v");
  }
  auto parsed = parse_log_level(level);
  set_log_level(parsed ? *parsed : spdlog::level::info);
}

std::string log_level_name() { return log_level_name(spdlog::get_level()); }

std::string log_level_name(spdlog::level::level_enum level) {
  return std::string(level_name(level));
}

void set_log_level(spdlog::level::level_enum level) { spdlog::set_level(level); }

void log_record(spdlog::level::level_enum level, std::string_view logger, std::string_view message,
                const nlohmann::ordered_json& fields) {
  if (!spdlog::should_log(level)) return;
  if (g_format == LogFormat::Json)
    return write_stdout(
        json_line(std::chrono::system_clock::now(), level, logger, message, fields));
  std::string text(message);
  if (fields.is_object())
    for (const auto& [key, value] : fields.items())
      text.append(" ").append(key).append("=").append(text_value(value));
  spdlog::log(level, "{}", text);
}

void announce(std::string_view message, const nlohmann::ordered_json& fields) {
  if (g_format == LogFormat::Json)
    return write_stdout(
        json_line(std::chrono::system_clock::now(), spdlog::level::info, "main", message, fields));
  write_stdout(std::string(message) + "\n");
}

}  // namespace wiretag
