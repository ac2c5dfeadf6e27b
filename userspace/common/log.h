// The one logging facade: spdlog's default logger (the datapath library routes libbpf into it:
// datapath/libbpf_log.h). Lines are text (the default) or JSON, one object per line
// (--log-format json), for log shippers.
#pragma once

#include <spdlog/spdlog.h>

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "wiretag/result.h"

namespace wiretag {

enum class LogFormat { Text, Json };

// "text" or "json"; INVALID_LOG_FORMAT otherwise.
Result<LogFormat> parse_log_format(std::string_view name);
// "trace", "debug", "info", "warn", "error", "critical", "off"; INVALID_LOG_LEVEL otherwise
// (spdlog's own parser takes anything unknown for "off").
Result<spdlog::level::level_enum> parse_log_level(std::string_view name);

// Sets the level from a name ("debug", "info", ...) and the line format. `program` names the
// process in JSON lines ("program").
void init_logging(const std::string& level = "info", LogFormat format = LogFormat::Text,
                  std::string program = "wiretag");

// The level now, by name; and a change of it at run time (PUT /v1/system/log-level).
std::string log_level_name();
std::string log_level_name(spdlog::level::level_enum level);
void set_log_level(spdlog::level::level_enum level);

// One record with structured fields: in JSON, each field is a key of the line's object beside
// time, level, program, logger and message; in text, " key=value" pairs after the message.
// `logger` names the stream of records ("access" for the access log).
void log_record(spdlog::level::level_enum level, std::string_view logger, std::string_view message,
                const nlohmann::ordered_json& fields);

// A line for supervisors and tests ("listening on HOST:PORT"), on stdout whatever the level:
// in text the message alone, in JSON a record whose message it is, with the fields.
void announce(std::string_view message,
              const nlohmann::ordered_json& fields = nlohmann::ordered_json::object());

}  // namespace wiretag
