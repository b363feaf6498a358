#include "manifest.h"

#include <cerrno>
#include <cstring>

#include "json.h"
#include "mailmill/mime/encode.h"
#include "mailmill/util/result.h"

namespace mm::pipeline {

Manifest::Manifest(const std::filesystem::path &path) : path_(path) {
  file_ = std::fopen(path.c_str(), "ab");
  if (!file_) throw FatalError("cannot open " + path.string() + ": " + std::strerror(errno));
  // Lines reach the file at checkpoints (flush() before every journal commit), not every few
  // kilobytes: stdio's default 4 KiB buffer cost a write(2) per dozen lines in the serial stage.
  std::setvbuf(file_, nullptr, _IOFBF, 1u << 20);
  std::error_code ec;
  size_ = std::filesystem::file_size(path, ec);
}

Manifest::~Manifest() {
  if (file_) std::fclose(file_);
}

void Manifest::add(const ManifestEntry &e) {
  static constexpr const char *NAMES[] = {"written", "duplicate", "skipped", "failed"};
  JsonWriter j;
  j.begin_object();
  j.key("seq").value(e.seq);
  j.key("source").value(e.source);
  j.key("folder").value(e.folder);
  j.key("folder_id").value(e.folder_id);
  j.key("index").value(e.index);
  j.key("node_id").value(e.note ? e.note->node_id : 0);
  j.key("kind").value(e.note ? e.note->kind : std::string());
  j.key("subject").value(e.note ? e.note->subject : std::string());
  j.key("outcome").value(NAMES[static_cast<int>(e.outcome)]);
  if (e.outcome == Outcome::Written) j.key("location").value(e.where);
  if (e.outcome == Outcome::Duplicate) j.key("duplicate_of").value(static_cast<u64>(std::stoull(e.where)));
  if (e.outcome == Outcome::Skipped || e.outcome == Outcome::Failed) {
    j.key("code").value(e.note ? e.note->code : std::string());
    j.key("reason").value(e.note ? e.note->detail : std::string());
  }
  if (e.outcome == Outcome::Written || e.outcome == Outcome::Duplicate) {
    j.key("size").value(e.size);
    if (e.date) j.key("date").value(mime::format_rfc5322_date(e.date));
    j.key("flags").value(e.flags);
    j.key("message_id").value(e.message_id);
    if (!e.mih.empty()) j.key("mih").value(e.mih);
    j.key("content_sha256").value(e.content);
    j.key("raw_sha256").value(e.raw);
  }
  if (e.warnings && !e.warnings->empty()) {
    j.key("warnings").begin_array();
    for (const std::string &w : *e.warnings) j.value(w);
    j.end_array();
  }
  j.end_object();
  std::string line = j.take();
  line += '\n';
  if (std::fwrite(line.data(), 1, line.size(), file_) != line.size())
    throw FatalError("cannot write " + path_.string() + ": " + std::strerror(errno));
  size_ += line.size();
}

void Manifest::flush() {
  if (file_ && std::fflush(file_) != 0)
    throw FatalError("cannot write " + path_.string() + ": " + std::strerror(errno));
}

void Manifest::close() {
  if (file_ && std::fclose(file_) != 0) {
    file_ = nullptr;
    throw FatalError("cannot write " + path_.string() + ": " + std::strerror(errno));
  }
  file_ = nullptr;
}

}  // namespace mm::pipeline
