// Typed access to one BPF map by fd: keys and values are the structs of wiretag/abi.h.
#pragma once

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <cerrno>
#include <functional>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "wiretag/result.h"

namespace wiretag::datapath {

template <class K, class V>
class TypedMap {
 public:
  TypedMap() = default;
  // `limit` names what bounds the map (a flag), appended to the message of MAP_FULL.
  TypedMap(int fd, std::string name, std::string limit = {})
      : fd_(fd), name_(std::move(name)), limit_(std::move(limit)) {}

  int fd() const { return fd_; }
  const std::string& name() const { return name_; }

  std::optional<V> lookup(const K& key) const {
    V v{};
    if (bpf_map_lookup_elem(fd_, &key, &v) != 0) return std::nullopt;
    return v;
  }

  Result<void> update(const K& key, const V& value, uint64_t flags = BPF_ANY) {
    if (bpf_map_update_elem(fd_, &key, &value, flags) != 0) return error("update", errno);
    return Ok();
  }

  // Deleting a missing key is success: callers want the key gone.
  Result<void> erase(const K& key) {
    if (bpf_map_delete_elem(fd_, &key) != 0 && errno != ENOENT) return error("delete", errno);
    return Ok();
  }

  // One syscall per chunk; on failure reports how many elements were written.
  Result<void> update_batch(const std::vector<K>& keys, const std::vector<V>& values,
                            size_t* written = nullptr) {
    return update_batch(keys.data(), values.data(), keys.size(), written);
  }

  Result<void> update_batch(const K* keys, const V* values, size_t n, size_t* written = nullptr) {
    size_t done = 0;
    Result<void> r = Ok();
    while (done < n) {
      __u32 count = static_cast<__u32>(std::min<size_t>(n - done, kChunk));
      LIBBPF_OPTS(bpf_map_batch_opts, opts, .elem_flags = BPF_ANY);
      int rc = bpf_map_update_batch(fd_, &keys[done], &values[done], &count, &opts);
      done += count;
      if (rc != 0) {
        r = error("batch update", errno);
        break;
      }
    }
    if (written) *written = done;
    return r;
  }

  // A large batch from up to `threads` threads at once: a kernel hash map locks per bucket
  // and allocates elements per CPU, so the writers hardly meet. Small batches stay on the
  // caller's thread. On failure some of the elements may be written: the caller erases.
  Result<void> update_batch_parallel(const std::vector<K>& keys, const std::vector<V>& values,
                                     unsigned threads) {
    constexpr size_t kMinPerThread = 1 << 16;
    size_t n = keys.size();
    threads = static_cast<unsigned>(std::min<size_t>(threads, n / kMinPerThread));
    if (threads <= 1) return update_batch(keys, values);
    std::vector<Result<void>> results(threads, Ok());
    std::vector<std::thread> workers;
    size_t per = (n + threads - 1) / threads;
    for (unsigned t = 0; t < threads; ++t) {
      size_t begin = t * per, count = std::min(per, n - begin);
      workers.emplace_back([&, t, begin, count] {
        results[t] = update_batch(keys.data() + begin, values.data() + begin, count);
      });
    }
    for (auto& w : workers) w.join();
    for (auto& r : results)
      if (!r) return r;
    return Ok();
  }

  Result<void> erase_batch(const std::vector<K>& keys) {
    return erase_batch(keys.data(), keys.size());
  }

  // As update_batch_parallel, for deletes.
  Result<void> erase_batch_parallel(const std::vector<K>& keys, unsigned threads) {
    constexpr size_t kMinPerThread = 1 << 16;
    size_t n = keys.size();
    threads = static_cast<unsigned>(std::min<size_t>(threads, n / kMinPerThread));
    if (threads <= 1) return erase_batch(keys);
    std::vector<Result<void>> results(threads, Ok());
    std::vector<std::thread> workers;
    size_t per = (n + threads - 1) / threads;
    for (unsigned t = 0; t < threads; ++t) {
      size_t begin = t * per, count = std::min(per, n - begin);
      workers.emplace_back(
          [&, t, begin, count] { results[t] = erase_batch(keys.data() + begin, count); });
    }
    for (auto& w : workers) w.join();
    for (auto& r : results)
      if (!r) return r;
    return Ok();
  }

  Result<void> erase_batch(const K* keys, size_t n) {
    size_t done = 0;
    while (done < n) {
      __u32 count = static_cast<__u32>(std::min<size_t>(n - done, kChunk));
      LIBBPF_OPTS(bpf_map_batch_opts, opts);
      int rc = bpf_map_delete_batch(fd_, &keys[done], &count, &opts);
      if (rc != 0 && errno == ENOENT) {
        done += count + 1;  // the key after the deleted ones is already gone: skip it
        continue;
      }
      if (rc != 0) return error("batch delete", errno);
      done += count;
    }
    return Ok();
  }

  // Visits every key (snapshot semantics of get_next_key: concurrent changes may be missed).
  void for_each_key(const std::function<void(const K&)>& fn) const {
    K key{}, next{};
    const K* cur = nullptr;
    while (bpf_map_get_next_key(fd_, cur, &next) == 0) {
      key = next;
      fn(key);
      cur = &key;
    }
  }

 private:
  static constexpr size_t kChunk = 16384;

  Error error(const char* op, int err) const {
    const bool full = err == E2BIG || err == ENOMEM || err == ENOSPC;
    Error e = Error::from_errno(full ? "MAP_FULL" : "MAP_ERROR",
                                std::string(op) + " on map " + name_, err);
    if (full && !limit_.empty()) e.message += " (" + limit_ + ")";
    return e;
  }

  int fd_ = -1;
  std::string name_;
  std::string limit_;
};

}  // namespace wiretag::datapath
