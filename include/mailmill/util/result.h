#pragma once
/// Value-or-Problem results and the problem vocabulary shared by every module.
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <variant>

#include "mailmill/util/types.h"

namespace mm {

/// Why an item (or a whole source) could not be converted as-is. Codes are stable: they appear
/// in reports. Add new codes at the end of their group.
enum class ProblemCode : u16 {
  // Source level
  SourceUnreadable = 1,   ///< cannot open/read the file at all (I/O error, permissions)
  SourceNotPst,           ///< not a PST/OST (bad magic) or an unsupported variant
  SourceCorrupt,          ///< structure damaged (bad CRC, broken B-tree, out-of-bounds reference)
  SourceTruncated,        ///< file shorter than its header says
  // Item level
  ItemUnreadable = 100,   ///< the item's node/properties could not be read
  ItemUnsupportedType,    ///< an item kind we do not convert (detail = message class)
  AttachmentUnreadable,   ///< one attachment could not be read (item still written)
  AttachmentNotExportable,///< reference/OLE attachment whose data is not in the file
  EmbeddedUnreadable,     ///< an embedded message could not be read
  RecipientsUnreadable,   ///< the recipient table could not be read
  BodyUndecodable,        ///< a body could not be decoded (RTF decompression failed, etc.)
  CharsetUnknown,         ///< text in an unknown codepage (kept as bytes, declared as such)
  LimitExceeded,          ///< a named safety limit (nesting, size, count) was hit
  InternalError,          ///< an unexpected exception in our own code for this item
  // Output level
  OutputWriteFailed = 200,
};

/// Stable printable name of a code, e.g. "ItemUnreadable".
const char *problem_code_name(ProblemCode code);

/// One problem with an input item or source. `detail` is human-readable (may quote a libpff
/// error text); `offset` is a file offset when known, else -1.
struct Problem {
  ProblemCode code = ProblemCode::InternalError;
  std::string detail;
  i64 offset = -1;
};

/// A value or a Problem. Cheap to move; never throws on access misuse in release (asserts).
template <class T>
class Result {
 public:
  Result(T value) : v_(std::move(value)) {}  // NOLINT(google-explicit-constructor)
  Result(Problem p) : v_(std::move(p)) {}    // NOLINT(google-explicit-constructor)
  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }
  T &value() & { return std::get<0>(v_); }
  const T &value() const & { return std::get<0>(v_); }
  T &&value() && { return std::get<0>(std::move(v_)); }
  T *operator->() { return &std::get<0>(v_); }
  const T *operator->() const { return &std::get<0>(v_); }
  T &operator*() & { return std::get<0>(v_); }
  const T &operator*() const & { return std::get<0>(v_); }
  const Problem &problem() const { return std::get<1>(v_); }

 private:
  std::variant<T, Problem> v_;
};

/// Result for operations that produce no value.
class Status {
 public:
  Status() = default;
  Status(Problem p) : p_(std::move(p)) {}  // NOLINT(google-explicit-constructor)
  bool ok() const { return !p_.has_value(); }
  explicit operator bool() const { return ok(); }
  const Problem &problem() const { return *p_; }

 private:
  std::optional<Problem> p_;
};

/// Thrown only for conditions that make the whole run impossible (output unwritable, disk full).
/// Caught once in tools/mailmill.cc. Never thrown for bad input.
struct FatalError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

}  // namespace mm
