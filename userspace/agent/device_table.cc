#include "agent/device_table.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "common/private_files.h"
#include "http/json_input.h"

namespace wiretag::agent {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

json to_json(const DeviceRecord& r) {
  json j = {{"namespace", r.device.netns}, {"interface_name", r.device.ifname}};
  if (r.app_guid) {
    j["app_guid"] = *r.app_guid;
    if (!r.static_sources.empty()) j["static_sources"] = r.static_sources;  // extra sources
  } else {
    j["tag"] = r.tag;
    j["static_sources"] = r.static_sources;
  }
  return j;
}

Result<DeviceRecord> from_json(const json& j) {
  try {
    DeviceRecord r;
    r.device.netns = j.at("namespace").get<std::string>();
    r.device.ifname = j.at("interface_name").get<std::string>();
    if (j.contains("app_guid")) r.app_guid = j["app_guid"].get<std::string>();
    if (j.contains("tag")) r.tag = j["tag"].get<uint32_t>();
    if (j.contains("static_sources"))
      r.static_sources = j["static_sources"].get<std::vector<uint32_t>>();
    return r;
  } catch (const json::exception& e) {
    return Error{"STATE_CORRUPT", std::string("device record: ") + e.what()};
  }
}

Result<void> fsync_path(const fs::path& p, int flags) {
  int fd = ::open(p.c_str(), flags | O_CLOEXEC);
  if (fd < 0) return Error::from_errno("STATE_WRITE_FAILED", "open " + p.string(), errno);
  int rc = ::fsync(fd);
  int err = errno;
  ::close(fd);
  if (rc != 0) return Error::from_errno("STATE_WRITE_FAILED", "fsync " + p.string(), err);
  return Ok();
}

}  // namespace

Result<DeviceTable> DeviceTable::open(const fs::path& dir) {
  // The device table names every endpoint of the host: the agent's user only.
  if (auto r = ensure_private_dir(dir); !r) return Error{"STATE_DIR_FAILED", r.error().message};
  DeviceTable table;
  table.path_ = dir / "devices.json";
  if (auto r = tighten_private_file(table.path_); !r)
    return Error{"STATE_DIR_FAILED", r.error().message};
  std::ifstream in(table.path_);
  if (!in) return table;  // first start
  std::stringstream text;
  text << in.rdbuf();
  auto parsed = http::parse_json(text.str(), http::kReceivedJsonLimits);
  if (!parsed) return Error{"STATE_CORRUPT", table.path_.string() + ": " + parsed.error().message};
  json& j = *parsed;
  if (!j.is_object() || !j.contains("devices") || !j["devices"].is_array())
    return Error{"STATE_CORRUPT", table.path_.string() + " is not a device table"};
  for (const json& item : j["devices"]) {
    WT_TRY(rec, from_json(item));
    table.records_.push_back(std::move(*rec));
  }
  return table;
}

const DeviceRecord* DeviceTable::find(const datapath::Device& device) const {
  auto it = std::find_if(records_.begin(), records_.end(),
                         [&](const DeviceRecord& r) { return r.device == device; });
  return it == records_.end() ? nullptr : &*it;
}

Result<void> DeviceTable::put(const DeviceRecord& record) {
  auto next = records_;
  auto it = std::find_if(next.begin(), next.end(),
                         [&](const DeviceRecord& r) { return r.device == record.device; });
  if (it != next.end() && *it == record) return Ok();
  if (it != next.end())
    *it = record;
  else
    next.push_back(record);
  if (auto r = save(next); !r) return r;
  records_ = std::move(next);
  return Ok();
}

Result<void> DeviceTable::remove(const datapath::Device& device) {
  auto next = records_;
  std::erase_if(next, [&](const DeviceRecord& r) { return r.device == device; });
  if (next.size() == records_.size()) return Ok();
  if (auto r = save(next); !r) return r;
  records_ = std::move(next);
  return Ok();
}

Result<void> DeviceTable::save(const std::vector<DeviceRecord>& records) const {
  json j = {{"version", 1}, {"devices", json::array()}};
  for (const DeviceRecord& r : records) j["devices"].push_back(to_json(r));
  const std::string text = j.dump(2) + "\n";
  fs::path tmp = path_;
  tmp += ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return Error::from_errno("STATE_WRITE_FAILED", "open " + tmp.string(), errno);
  size_t off = 0;
  while (off < text.size()) {
    ssize_t n = ::write(fd, text.data() + off, text.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int err = errno;
      ::close(fd);
      return Error::from_errno("STATE_WRITE_FAILED", "write " + tmp.string(), err);
    }
    off += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0) {
    int err = errno;
    ::close(fd);
    return Error::from_errno("STATE_WRITE_FAILED", "fsync " + tmp.string(), err);
  }
  ::close(fd);
  if (::rename(tmp.c_str(), path_.c_str()) != 0)
    return Error::from_errno("STATE_WRITE_FAILED", "rename " + tmp.string(), errno);
  return fsync_path(path_.parent_path(), O_RDONLY | O_DIRECTORY);
}

}  // namespace wiretag::agent
