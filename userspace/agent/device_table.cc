#include "agent/device_table.h"

#include <fcntl.h>
#include <openssl/sha.h>
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
  if (r.ifindex != 0) j["ifindex"] = r.ifindex;
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
    if (j.contains("ifindex")) r.ifindex = j["ifindex"].get<uint32_t>();
    return r;
  } catch (const json::exception& e) {
    return Error{"STATE_CORRUPT", std::string("device record: ") + e.what()};
  }
}

Result<std::string> read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Error::from_errno("STATE_READ_FAILED", "open " + path.string(), errno);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
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
  table.dir_ = dir / "devices";
  if (auto r = ensure_private_dir(table.dir_); !r)
    return Error{"STATE_DIR_FAILED", r.error().message};
  struct Loaded {
    uint64_t seq;
    DeviceRecord record;
  };
  std::vector<Loaded> loaded;
  std::error_code ec;
  for (const fs::directory_entry& entry : fs::directory_iterator(table.dir_, ec)) {
    const fs::path& path = entry.path();
    if (path.extension() == ".tmp") {  // a write cut short: its rename never happened
      fs::remove(path, ec);
      continue;
    }
    if (path.extension() != ".json") continue;
    if (auto r = tighten_private_file(path); !r)
      return Error{"STATE_DIR_FAILED", r.error().message};
    WT_TRY(text, read_file(path));
    auto parsed = http::parse_json(*text, http::kReceivedJsonLimits);
    if (!parsed) return Error{"STATE_CORRUPT", path.string() + ": " + parsed.error().message};
    if (!parsed->is_object() || !parsed->contains("seq") || !(*parsed)["seq"].is_number_unsigned())
      return Error{"STATE_CORRUPT", path.string() + " is not a device record"};
    WT_TRY(rec, from_json(*parsed));
    if (path.filename() != table.file_of(rec->device).filename())
      return Error{"STATE_CORRUPT", path.string() + " holds another device's record"};
    loaded.push_back({(*parsed)["seq"].get<uint64_t>(), std::move(*rec)});
  }
  if (ec) return Error{"STATE_DIR_FAILED", "read " + table.dir_.string() + ": " + ec.message()};
  std::sort(loaded.begin(), loaded.end(),
            [](const Loaded& a, const Loaded& b) { return a.seq < b.seq; });
  for (Loaded& l : loaded) {
    table.records_.push_back(std::move(l.record));
    table.seqs_.push_back(l.seq);
    table.next_seq_ = std::max(table.next_seq_, l.seq + 1);
  }
  if (auto r = table.adopt_legacy_table(dir / "devices.json"); !r) return r.error();
  return table;
}

// An older agent's single file: each record it holds that the directory lacks is written to
// its own file first, then the file goes. A crash in between leaves both; the next open
// finds the records already there and only removes the file.
Result<void> DeviceTable::adopt_legacy_table(const fs::path& legacy) {
  if (!fs::exists(legacy)) return Ok();
  WT_TRY(text, read_file(legacy));
  auto parsed = http::parse_json(*text, http::kReceivedJsonLimits);
  if (!parsed) return Error{"STATE_CORRUPT", legacy.string() + ": " + parsed.error().message};
  json& j = *parsed;
  if (!j.is_object() || !j.contains("devices") || !j["devices"].is_array())
    return Error{"STATE_CORRUPT", legacy.string() + " is not a device table"};
  std::vector<DeviceRecord> adopted;
  for (const json& item : j["devices"]) {
    WT_TRY(rec, from_json(item));
    adopted.push_back(std::move(*rec));
  }
  for (DeviceRecord& rec : adopted) {
    if (find(rec.device)) continue;
    if (auto r = write(rec, next_seq_); !r) return r;
    records_.push_back(std::move(rec));
    seqs_.push_back(next_seq_++);
  }
  if (::unlink(legacy.c_str()) != 0)
    return Error::from_errno("STATE_WRITE_FAILED", "unlink " + legacy.string(), errno);
  return fsync_path(legacy.parent_path(), O_RDONLY | O_DIRECTORY);
}

const DeviceRecord* DeviceTable::find(const datapath::Device& device) const {
  auto it = std::find_if(records_.begin(), records_.end(),
                         [&](const DeviceRecord& r) { return r.device == device; });
  return it == records_.end() ? nullptr : &*it;
}

Result<void> DeviceTable::put(const DeviceRecord& record) {
  auto it = std::find_if(records_.begin(), records_.end(),
                         [&](const DeviceRecord& r) { return r.device == record.device; });
  if (it != records_.end() && *it == record) return Ok();
  const size_t at = static_cast<size_t>(it - records_.begin());
  const uint64_t seq = it != records_.end() ? seqs_[at] : next_seq_;
  if (auto r = write(record, seq); !r) return r;
  if (it != records_.end()) {
    *it = record;
  } else {
    records_.push_back(record);
    seqs_.push_back(next_seq_++);
  }
  return Ok();
}

Result<void> DeviceTable::remove(const datapath::Device& device) {
  auto it = std::find_if(records_.begin(), records_.end(),
                         [&](const DeviceRecord& r) { return r.device == device; });
  if (it == records_.end()) return Ok();
  const fs::path file = file_of(device);
  if (::unlink(file.c_str()) != 0 && errno != ENOENT)
    return Error::from_errno("STATE_WRITE_FAILED", "unlink " + file.string(), errno);
  if (auto r = fsync_path(dir_, O_RDONLY | O_DIRECTORY); !r) return r;
  seqs_.erase(seqs_.begin() + (it - records_.begin()));
  records_.erase(it);
  return Ok();
}

// <dir>/devices/<sha256 of the namespace and the interface name>.json: a name of fixed length
// whatever the namespace path, one per device.
fs::path DeviceTable::file_of(const datapath::Device& device) const {
  const std::string key = device.netns + '\0' + device.ifname;
  unsigned char digest[SHA256_DIGEST_LENGTH];
  ::SHA256(reinterpret_cast<const unsigned char*>(key.data()), key.size(), digest);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string name;
  for (unsigned char b : digest) {
    name += kHex[b >> 4];
    name += kHex[b & 15];
  }
  return dir_ / (name + ".json");
}

Result<void> DeviceTable::write(const DeviceRecord& record, uint64_t seq) const {
  json j = to_json(record);
  j["seq"] = seq;
  const std::string text = j.dump() + "\n";
  const fs::path path = file_of(record.device);
  fs::path tmp = path;
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
      ::unlink(tmp.c_str());
      return Error::from_errno("STATE_WRITE_FAILED", "write " + tmp.string(), err);
    }
    off += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0) {
    int err = errno;
    ::close(fd);
    ::unlink(tmp.c_str());
    return Error::from_errno("STATE_WRITE_FAILED", "fsync " + tmp.string(), err);
  }
  ::close(fd);
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    int err = errno;
    ::unlink(tmp.c_str());
    return Error::from_errno("STATE_WRITE_FAILED", "rename " + tmp.string(), err);
  }
  return fsync_path(dir_, O_RDONLY | O_DIRECTORY);
}

}  // namespace wiretag::agent
