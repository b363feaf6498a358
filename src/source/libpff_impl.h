#pragma once
// Private helpers of the libpff adapter: RAII owners for libpff objects, error-to-text
// conversion, and the cheap header preflight shared by open_libpff and open_store.
#include <libpff.h>

#include <memory>
#include <string>

#include "mailmill/util/result.h"

namespace mm::source::detail {

/// Owns one libpff_error_t; `out()` hands its address to a libpff call. Freed on destruction
/// and before each reuse, so an error object can never leak.
class PffError {
 public:
  PffError() = default;
  PffError(const PffError &) = delete;
  PffError &operator=(const PffError &) = delete;
  ~PffError() { reset(); }
  libpff_error_t **out() {
    reset();
    return &err_;
  }
  void reset() {
    if (err_ != nullptr) libpff_error_free(&err_);
  }
  /// libpff's backtrace condensed to one line ("a; b; c"); "unknown libpff error" if none.
  std::string text() const;

 private:
  libpff_error_t *err_ = nullptr;
};

struct ItemFree {
  void operator()(libpff_item_t *p) const { libpff_item_free(&p, nullptr); }
};
struct RecordSetFree {
  void operator()(libpff_record_set_t *p) const { libpff_record_set_free(&p, nullptr); }
};
struct RecordEntryFree {
  void operator()(libpff_record_entry_t *p) const { libpff_record_entry_free(&p, nullptr); }
};
struct FileFree {
  void operator()(libpff_file_t *p) const {
    libpff_file_close(p, nullptr);
    libpff_file_free(&p, nullptr);
  }
};

using ItemPtr = std::unique_ptr<libpff_item_t, ItemFree>;
using RecordSetPtr = std::unique_ptr<libpff_record_set_t, RecordSetFree>;
using RecordEntryPtr = std::unique_ptr<libpff_record_entry_t, RecordEntryFree>;
using FilePtr = std::unique_ptr<libpff_file_t, FileFree>;

/// Cheap checks before any reader touches the file: exists, readable, regular file,
/// >= 512 bytes, magic "!BDN", and (for a recognised wVer) the header's ibFileEof is not
/// beyond the real size. Returns the file size, or SourceUnreadable / SourceNotPst /
/// SourceTruncated with a one-line detail naming the file.
Result<u64> preflight(const std::string &path);

}  // namespace mm::source::detail
