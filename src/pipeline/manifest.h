#pragma once
// OUTDIR/manifest.jsonl: one JSON line per input item, in processing order, saying what became
// of it (written with its location, skipped or failed with the reason).
#include <cstdio>
#include <filesystem>
#include <string>

#include "json.h"
#include "mailmill/pipeline/ledger.h"
#include "mailmill/util/result.h"

namespace mm::pipeline {

class Manifest {
 public:
  explicit Manifest(const std::filesystem::path &path) : path_(path) {
    file_ = std::fopen(path.c_str(), "wb");
    if (!file_) throw FatalError("cannot create " + path.string());
  }
  ~Manifest() {
    if (file_) std::fclose(file_);
  }
  Manifest(const Manifest &) = delete;
  Manifest &operator=(const Manifest &) = delete;

  void add(const std::string &source, const std::string &folder, i64 index, Outcome outcome,
           const ItemNote &note, const std::string &location) {
    static constexpr const char *NAMES[] = {"written", "duplicate", "skipped", "failed"};
    JsonWriter j;
    j.begin_object();
    j.key("source").value(source);
    j.key("folder").value(folder);
    j.key("index").value(index);
    j.key("node_id").value(static_cast<i64>(note.node_id));
    j.key("kind").value(note.kind);
    j.key("subject").value(note.subject);
    j.key("outcome").value(NAMES[static_cast<int>(outcome)]);
    if (outcome == Outcome::Written) {
      j.key("location").value(location);
    } else {
      j.key("code").value(note.code);
      j.key("reason").value(note.detail);
    }
    j.end_object();
    std::string line = j.take();
    line += '\n';
    if (std::fwrite(line.data(), 1, line.size(), file_) != line.size())
      throw FatalError("cannot write " + path_.string());
  }

  void close() {
    if (file_ && std::fclose(file_) != 0) {
      file_ = nullptr;
      throw FatalError("cannot write " + path_.string());
    }
    file_ = nullptr;
  }

 private:
  std::filesystem::path path_;
  std::FILE *file_ = nullptr;
};

}  // namespace mm::pipeline
