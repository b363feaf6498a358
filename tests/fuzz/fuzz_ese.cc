// Fuzz target: the ESE reader on arbitrary bytes: open (header, shadow, catalog), then every
// table's records and every cell, long values and decompression included. Any input must give
// a Problem or values: never a crash, a hang or an out-of-bounds read.
#include <cstddef>
#include <cstdint>

#include "mailmill/format/ese/compression.h"
#include "mailmill/format/ese/database.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  using namespace mm;
  const ByteView bytes(reinterpret_cast<const char *>(data), size);
  // Every table, record and cell, up to a budget of cells per input.
  auto walk = [](const ese::Database &db) {
    int budget = 20000;
    for (const ese::TableDef &def : db.tables()) {
      ese::RecordRange records = db.table(def).records();
      for (const ese::Record &rec : records) {
        for (const ese::Column &col : def.columns) {
          if (--budget < 0) return;
          ese::Value v = rec.value(col);
          (void)v.as_text();
          (void)v.as_int();
        }
      }
    }
  };
  // With checksums verified (what users get), then without: mutations nearly always break a
  // checksum, and only the second pass lets them reach the catalog, trees and records.
  for (const bool verify : {true, false}) {
    auto db = ese::Database::open_bytes(bytes, ese::OpenOptions{verify});
    if (db) walk(*db);
  }
  Bytes out;
  (void)ese::decompress_value(bytes.substr(0, 4096), out);
  return 0;
}
