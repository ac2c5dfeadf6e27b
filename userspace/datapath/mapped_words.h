// An mmapped BPF array of 64-bit words (BPF_F_MMAPABLE): userspace reads and writes the
// words with atomic operations while programs use them, with no syscall and no torn value.
#pragma once

#include <sys/mman.h>

#include <atomic>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>

#include "wiretag/result.h"

namespace wiretag::datapath {

class MappedWords {
 public:
  MappedWords() = default;
  static Result<MappedWords> map(int fd, size_t words, const std::string& name) {
    size_t page = 4096, bytes = (words * sizeof(uint64_t) + page - 1) / page * page;
    void* p = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED) return Error::from_errno("BPF_MAP_FAILED", "mmap " + name, errno);
    MappedWords m;
    m.words_ = static_cast<uint64_t*>(p);
    m.count_ = words;
    m.bytes_ = bytes;
    return m;
  }
  MappedWords(MappedWords&& o) noexcept { *this = std::move(o); }
  MappedWords& operator=(MappedWords&& o) noexcept {
    std::swap(words_, o.words_);
    std::swap(count_, o.count_);
    std::swap(bytes_, o.bytes_);
    return *this;
  }
  ~MappedWords() {
    if (words_) ::munmap(words_, bytes_);
  }

  size_t size() const { return count_; }
  uint64_t load(size_t i) const { return std::atomic_ref(words_[i]).load(std::memory_order_acquire); }
  void store(size_t i, uint64_t v) { std::atomic_ref(words_[i]).store(v, std::memory_order_release); }
  void clear(size_t first, size_t count) {
    for (size_t i = first; i < first + count; ++i) store(i, 0);
  }
  // Stores `desired` only if the word still holds `expected` (a program may own it meanwhile).
  bool compare_exchange(size_t i, uint64_t expected, uint64_t desired) {
    return std::atomic_ref(words_[i]).compare_exchange_strong(expected, desired,
                                                              std::memory_order_acq_rel);
  }
  void fetch_or(size_t i, uint64_t bits) {
    std::atomic_ref(words_[i]).fetch_or(bits, std::memory_order_acq_rel);
  }

 private:
  uint64_t* words_ = nullptr;
  size_t count_ = 0;
  size_t bytes_ = 0;
};

}  // namespace wiretag::datapath
