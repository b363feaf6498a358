// The generator's MIME stores: one mboxrd file, a tree of .eml files, or a Maildir++ tree,
// holding messages from the generator's own MIME writer (mime_writer.cc).
//
// mbox: each message follows a "From <sender> <asctime UTC>" line and is followed by an empty
// line; lines matching /^>*From / get one more '>' (mboxrd, as qmail's mbox(5) and
// Python's mailbox module describe it).
// EML: "<folder path>/<seq, 8 digits>.eml", folder names as directory names.
// Maildir: Maildir++ (Courier's maildir(5)): root cur/ new/ tmp/, folder A/B in ".A.B" with
// its own cur/ new/ tmp/ and a "maildirfolder" file; names in IMAP modified UTF-7. Every
// message is in cur/ as "<date>.G<seq>.mmgen,S=<size>:2,<flags>": unique within a run and the
// same on every run with the same options.
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <vector>

#include "mailmill/util/json_escape.h"
#include "mailmill/util/sha256.h"
#include "mailmill/util/text.h"
#include "mime_writer.h"
#include "output.h"

namespace mm::gen {

namespace {

namespace fs = std::filesystem;

Problem write_failed(const std::string &what) {
  return Problem{ProblemCode::OutputWriteFailed, what + ": " + std::strerror(errno)};
}

std::string json_str(std::string_view s) {
  return text::json_string(s, text::JsonControls::Unicode);
}

Status write_file(const fs::path &p, ByteView data) {
  std::FILE *f = std::fopen(p.c_str(), "wb");
  if (!f) return write_failed("cannot create " + p.string());
  const bool ok = std::fwrite(data.data(), 1, data.size(), f) == data.size();
  if (std::fclose(f) != 0 || !ok) return write_failed("cannot write " + p.string());
  return {};
}

Status make_dir(const fs::path &p) {
  std::error_code ec;
  fs::create_directories(p, ec);
  if (ec)
    return Problem{ProblemCode::OutputWriteFailed,
                   "cannot create " + p.string() + ": " + ec.message()};
  return {};
}

class MimeOutput : public Output {
 public:
  MimeOutput(OutputFormat format, std::string path, Eol eol)
      : format_(format), path_(std::move(path)), eol_(eol) {
    folders_.push_back({});  // the root
  }
  ~MimeOutput() override {
    if (mbox_) std::fclose(mbox_);
  }

  Status open() {
    if (format_ == OutputFormat::Mbox) {
      mbox_ = std::fopen(path_.c_str(), "wb");
      if (!mbox_) return write_failed("cannot create " + path_);
      return {};
    }
    // A directory of an earlier run would mix its files with this run's: start empty.
    std::error_code ec;
    if (fs::exists(path_, ec) && !fs::is_empty(path_, ec))
      return Problem{ProblemCode::OutputWriteFailed, path_ + " exists and is not empty"};
    if (Status s = make_dir(path_); !s) return s;
    if (format_ == OutputFormat::Maildir) return maildir_dirs(path_, false);
    return {};
  }

  u64 root() const override { return 0; }

  Result<u64> add_folder(u64 parent, const std::string &name, const std::string &) override {
    Folder f = folders_[parent];
    f.names.push_back(name);
    if (format_ == OutputFormat::Eml) {
      f.rel = f.rel.empty() ? name : f.rel + "/" + name;
      if (Status s = make_dir(fs::path(path_) / f.rel); !s) return s.problem();
    } else if (format_ == OutputFormat::Maildir) {
      std::string dir;
      for (const std::string &n : f.names) dir += "." + mutf7(n);
      f.rel = dir;
      if (Status s = maildir_dirs(fs::path(path_) / dir, true); !s) return s.problem();
    }
    folders_.push_back(std::move(f));
    return static_cast<u64>(folders_.size() - 1);
  }

  Result<std::string> add_message(u64 folder, model::Message &m, i64 seq, u64 mseed) override {
    const MimePlan plan = plan_mime(m, mseed);
    const Bytes raw = write_mime(m, plan, eol_);
    const std::string nl = eol_ == Eol::Crlf ? "\r\n" : "\n";
    const std::string flags = maildir_flags(plan);
    std::string rel;
    i64 offset = -1;
    if (format_ == OutputFormat::Mbox) {
      // The From_ line's address and date: the sender and the submit time, in UTC.
      offset = static_cast<i64>(bytes_);
      Bytes rec = "From " + (m.from.smtp.empty() ? std::string("MAILER-DAEMON") : m.from.smtp) +
                  " " + asctime_utc(m.submit_time.value_or(0)) + nl;
      rec += mboxrd_quote(raw);
      rec += nl;
      if (std::fwrite(rec.data(), 1, rec.size(), mbox_) != rec.size())
        return write_failed("cannot write " + path_);
      bytes_ += rec.size();
      rel = fs::path(path_).filename().string();  // not the path as given: stable JSONL
    } else {
      const Folder &f = folders_[folder];
      char name[160];
      if (format_ == OutputFormat::Eml) {
        std::snprintf(name, sizeof name, "%08lld.eml", static_cast<long long>(seq));
        rel = f.rel.empty() ? std::string(name) : f.rel + "/" + name;
      } else {
        std::snprintf(name, sizeof name, "%lld.G%lld.mmgen,S=%llu:2,%s",
                      static_cast<long long>(m.submit_time.value_or(0)),
                      static_cast<long long>(seq), static_cast<unsigned long long>(raw.size()),
                      flags.c_str());
        rel = (f.rel.empty() ? std::string() : f.rel + "/") + "cur/" + name;
      }
      if (Status s = write_file(fs::path(path_) / rel, raw); !s) return s.problem();
      bytes_ += raw.size();
    }
    std::string out = ",\"path\":" + json_str(rel);
    out += ",\"offset\":" + (offset < 0 ? std::string("null") : std::to_string(offset));
    out += ",\"raw_size\":" + std::to_string(raw.size());
    out += ",\"raw_sha256\":" + json_str(text::to_hex(util::Sha256::digest(raw)));
    out += ",\"flags\":" + json_str(flags);
    return out;
  }

  u64 bytes_written() const override { return bytes_; }

  Status finish() override {
    if (mbox_) {
      const bool ok = std::fflush(mbox_) == 0;
      const bool closed = std::fclose(mbox_) == 0;
      mbox_ = nullptr;
      if (!ok || !closed) return write_failed("cannot write " + path_);
    }
    return {};
  }

 private:
  struct Folder {
    std::vector<std::string> names;
    std::string rel;  // EML: "A/B"; maildir: ".A.B"
  };

  static Status maildir_dirs(const fs::path &dir, bool subfolder) {
    for (const char *sub : {"cur", "new", "tmp"})
      if (Status s = make_dir(dir / sub); !s) return s;
    // Courier's marker of a Maildir++ folder (as opposed to the root).
    if (subfolder) return write_file(dir / "maildirfolder", "");
    return {};
  }

  OutputFormat format_;
  std::string path_;
  Eol eol_;
  std::FILE *mbox_ = nullptr;
  u64 bytes_ = 0;
  std::vector<Folder> folders_;
};

}  // namespace

Result<std::unique_ptr<Output>> create_mime_output(OutputFormat format, const std::string &path,
                                                   Eol eol) {
  auto out = std::make_unique<MimeOutput>(format, path, eol);
  if (Status s = out->open(); !s) return s.problem();
  return std::unique_ptr<Output>(std::move(out));
}

}  // namespace mm::gen
