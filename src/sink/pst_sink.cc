// Microsoft 365 PST Import Service batches: Unicode PSTs per mailbox, split at a size limit,
// plus the mapping CSV.
//
// Layout (OUTDIR/pst/):
//   <mailbox dir>/<source stem>-001.pst, -002.pst, ...   one series per input, one input -> one
//                                                        mailbox; <mailbox dir> is the address,
//                                                        lower-cased, [a-z0-9@._+-] kept
//   mapping.csv                                          one row per finished PST
//
// Upload and mapping (Microsoft Learn, "Use network upload to import your organization's PST
// files", Steps 2 and 4):
// - The files are uploaded with AzCopy into the "ingestiondata" container; AzCopy keeps the
//   relative folder structure of the source when copying recursively. The intended command is
//     azcopy copy "OUTDIR/pst/*" "<SAS URL>" --recursive --include-pattern "*.pst"
//   so each PST lands at ingestiondata/<mailbox dir>/<name>.pst.
// - FilePath is "the folder location in the Azure Storage location" the file was uploaded to,
//   blank for the top of the container, case-sensitive, without "ingestiondata": hence
//   FilePath = <mailbox dir>.
// - Name is the (case-sensitive) file name; names must be unique in the mapping file, so the
//   stem is the input's source key (unique per run and across runs in OUTDIR), sanitized to
//   [A-Za-z0-9._-] and de-duplicated globally, plus a three-digit part number.
// - IsArchive is TRUE or FALSE (the sample file's spelling); TargetRootFolder "/" imports the
//   PST's folders into the top of the mailbox's folder structure, merging with existing folders
//   (blank would create a folder "ImportedPst"); "/<name>" imports below that folder.
//   We therefore drop the source's own IPM subtree ("Top of Personal Folders") so the PST's
//   top level is Inbox, Sent Items, ...: with "/" they merge into the mailbox's own folders.
// - ContentCodePage only applies to ANSI PSTs; ours are Unicode, so it stays empty, as do the
//   SharePoint columns for the Exchange workload.
// - Service limits: a PST of at most 20 GB, items of at most 150 MB (the pipeline diverts
//   larger items to oversize/ as EML before they reach this sink), folders nested fewer than
//   300 levels (PST_MAX_FOLDER_DEPTH).
//
// Size guarantee: before each item the sink projects the finished size of the open PST as
//   bytes written + finish reserve (tables and B-trees for the items so far and this one)
//   + 2 x item estimate + 16 KiB
// (the factor 2 covers UTF-8 text becoming UTF-16 in the PST). If that passes --pst-max-bytes
// and the PST already has an item, the PST is finished and the item starts the next one. So a
// PST ends above the limit only when its single first item does not fit an empty PST.
//
// Crash safety: a PST is valid only once finished, so it is written as "<name>.pst.part" and
// renamed when finished; a commit point exists only when no PST is open (as in the batch sink).
// mapping.csv is rewritten whole after every finished PST and lists only files that exist.
#include "mailmill/sink/pst_sink.h"

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <set>
#include <sstream>

#include "mailmill/format/pst/writer.h"
#include "mailmill/util/result.h"
#include "mailmill/util/text.h"
#include "sink_impl.h"

namespace mm::sink {
namespace fs = std::filesystem;

namespace {

bool needs_quotes(std::string_view f) {
  return f.find_first_of(",\"\r\n") != std::string_view::npos;
}

void append_field(std::string &out, std::string_view f) {
  if (!needs_quotes(f)) {
    out += f;
    return;
  }
  out += '"';
  for (char c : f) {
    if (c == '"') out += '"';
    out += c;
  }
  out += '"';
}

// Splits CSV text into records of fields (RFC 4180: quoted fields may hold commas, quotes and
// line breaks). Accepts LF or CRLF line ends. Returns false on an unterminated quote.
bool split_csv(std::string_view text, std::vector<std::pair<i64, std::vector<std::string>>> &out) {
  std::vector<std::string> rec;
  std::string field;
  bool in_quotes = false, any = false;
  i64 line = 1, rec_line = 1;
  for (std::size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (in_quotes) {
      if (c == '"') {
        if (i + 1 < text.size() && text[i + 1] == '"') {
          field += '"';
          ++i;
        } else {
          in_quotes = false;
        }
      } else {
        if (c == '\n') ++line;
        field += c;
      }
      continue;
    }
    if (c == '"' && field.empty()) {
      in_quotes = true;
      any = true;
    } else if (c == ',') {
      rec.push_back(std::move(field));
      field.clear();
      any = true;
    } else if (c == '\n' || c == '\r') {
      if (c == '\r' && i + 1 < text.size() && text[i + 1] == '\n') ++i;
      if (any || !field.empty()) {
        rec.push_back(std::move(field));
        out.emplace_back(rec_line, std::move(rec));
      }
      rec.clear();
      field.clear();
      any = false;
      rec_line = ++line;
    } else {
      field += c;
      any = true;
    }
  }
  if (in_quotes) return false;
  if (any || !field.empty()) {
    rec.push_back(std::move(field));
    out.emplace_back(rec_line, std::move(rec));
  }
  return true;
}

// Keeps [A-Za-z0-9] and `extra`; anything else becomes '_'. Used for blob-safe names.
std::string plain_name(std::string_view s, std::string_view extra) {
  std::string out;
  for (unsigned char c : s) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              extra.find(static_cast<char>(c)) != std::string_view::npos;
    out += ok ? static_cast<char>(c) : '_';
  }
  while (!out.empty() && out.front() == '.') out.erase(out.begin());
  if (out.size() > 100) out.resize(100);
  return out.empty() ? "_" : out;
}

std::string canonical(const std::string &p) {
  std::error_code ec;
  fs::path c = fs::weakly_canonical(fs::absolute(p, ec), ec);
  return ec ? p : c.lexically_normal().string();
}

// Folder class for a folder created for an item of this kind (Destination carries no
// container class; the importer uses it to pick Calendar/Contacts views).
const char *container_class_for(model::ItemKind kind) {
  switch (kind) {
    case model::ItemKind::Appointment:
      return "IPF.Appointment";
    case model::ItemKind::Contact:
    case model::ItemKind::DistList:
      return "IPF.Contact";
    case model::ItemKind::Task:
      return "IPF.Task";
    case model::ItemKind::StickyNote:
      return "IPF.StickyNote";
    case model::ItemKind::Journal:
      return "IPF.Journal";
    default:
      return "IPF.Note";
  }
}

// Own size estimate for write_model calls not preceded by before_write (mirrors the
// pipeline's estimate: text, attachments, recipients).
u64 estimate(const model::Message &m) {
  u64 n = m.subject.size() + m.transport_headers.size() + 512;
  if (m.body_text) n += m.body_text->size();
  if (m.body_html) n += m.body_html->size();
  if (m.body_rtf) n += m.body_rtf->size();
  for (const auto &r : m.recipients) n += r.address.name.size() + r.address.smtp.size() + 64;
  for (const auto &a : m.attachments) {
    n += a.data.size() + a.filename.size() + 256;
    if (a.embedded) n += estimate(*a.embedded);
  }
  return n;
}

// Bytes finish() will add for one more item: its contents-table row (strings in UTF-16), its
// NBT entry and BBT entries of its blocks. Generous on purpose.
u64 finish_cost(const model::Message &m) {
  u64 strings = m.subject.size() + m.display_to.size() + m.display_cc.size() + m.from.name.size() +
                m.from.smtp.size() + m.sender.name.size() + m.message_class.size();
  for (const auto &r : m.recipients) strings += r.address.name.size() + 2;
  u64 blocks = 4 + 3 * m.attachments.size() + estimate(m) / 8000;
  return 2 * strings + 256 + 32 * blocks;
}

constexpr u64 FINISH_BASE = 64 * 1024;  // folders of the store, header, B-tree roots
constexpr u64 FOLDER_COST = 4 * 1024;   // hierarchy/contents/assoc tables of one folder
constexpr u64 ITEM_SLACK = 16 * 1024;

class PstSink final : public Sink {
 public:
  PstSink(fs::path root, PstSinkOptions opts) : Sink(std::move(root)), opts_(std::move(opts)) {
    dir_ = root_ / "pst";
    make_dirs(dir_);
    for (const auto &[path, mailbox] : opts_.mailbox_for_source)
      map_.emplace_back(canonical(path), path);
    load_mapping();
    root_depth_ = 0;
    for (char c : opts_.target_root_folder) root_depth_ += c == '/' ? 1 : 0;
    // "/" adds no level, "/Imported" one, "/a/b" two.
    if (!opts_.target_root_folder.empty() && opts_.target_root_folder.back() == '/') --root_depth_;
    if (opts_.target_root_folder.empty()) root_depth_ = 1;  // the service's "ImportedPst"
  }

  ~PstSink() override = default;

  std::string add_source(const std::string &input_path) override {
    std::string key = Sink::add_source(input_path);
    SourceState s;
    auto [mailbox, listed] = mailbox_of(input_path);
    if (mailbox.empty())
      throw FatalError("no mailbox for input " + input_path +
                       ": list it in --mailbox-map or give --mailbox");
    s.mailbox = mailbox;
    s.archive = archive_of(listed);
    s.dir = plain_name(text::to_lower_ascii(mailbox), "@._+-");
    std::string stem = plain_name(key, "._-");
    std::string unique = stem;
    for (int n = 2; stems_.count(text::to_lower_ascii(unique)); ++n)
      unique = stem + "_" + std::to_string(n);
    stems_.insert(text::to_lower_ascii(unique));
    s.stem = unique;
    auto it = committed_numbers_.find(s.dir + "/" + s.stem);
    s.next_number = it == committed_numbers_.end() ? 1 : it->second + 1;
    sources_[key] = std::move(s);
    return key;
  }

  Form form() const override { return Form::Model; }

  std::string write_message(const Destination &, const OutMessage &) override {
    // The pipeline gives this sink models only (wants_model); MIME bytes have no place in a PST.
    throw FatalError("the PST sink takes items as models, not as MIME");
  }

  void before_write(u64 size) override {
    pending_size_ = size;
    if (open_ && open_->items > 0 && projected(*open_, size, 0) > opts_.max_pst_bytes) close_open();
  }

  std::string write_model(const Destination &dest, const model::Message &msg,
                          const OutMessage &) override {
    u64 size = pending_size_ ? pending_size_ : estimate(msg);
    pending_size_ = 0;
    auto sit = sources_.find(dest.source_key);
    if (sit == sources_.end()) throw FatalError("PST sink: unknown source " + dest.source_key);
    SourceState &src = sit->second;
    // Inputs are written one after another; a PST of an earlier input is complete.
    if (open_ && open_->source_key != dest.source_key) close_open();
    std::vector<std::string> path = import_path(dest.folder);
    u64 cost = finish_cost(msg);
    if (open_ && open_->items > 0 &&
        projected(*open_, size, cost + new_folders(*open_, path) * FOLDER_COST) >
            opts_.max_pst_bytes)
      close_open();
    if (!open_) open_part(dest.source_key, src);
    Part &part = *open_;
    u64 folder = folder_nid(part, path, msg.kind);
    Result<u64> nid = part.writer->add_message(folder, msg);
    // The writer refuses only unknown folders or writes after finish: our bugs, not input.
    if (!nid) throw FatalError("PST sink: cannot add a message: " + nid.problem().detail);
    part.reserve += cost;
    ++part.items;
    return "pst/" + src.dir + "/" + part.name + "#" + std::to_string(*nid);
  }

  bool at_commit_point() const override { return open_ == nullptr; }

  std::map<std::string, u64> tracked_sizes() const override { return finished_; }

  void resume(const std::map<std::string, u64> &committed) override {
    // Committed PSTs stay and keep their numbers; every other PST (finished after the last
    // commit, or never finished) is written again by this run.
    std::set<std::string> keep;
    for (const auto &[rel, size] : committed) {
      if (rel.rfind("pst/", 0) != 0) continue;
      finished_[rel] = size;
      keep.insert(rel);
      // pst/<dir>/<stem>-NNN.pst -> "<dir>/<stem>" and NNN.
      std::string inner = rel.substr(4);
      std::size_t dash = inner.rfind('-'), dot = inner.rfind(".pst");
      if (dash == std::string::npos || dot == std::string::npos || dot < dash) continue;
      i64 n = std::atoll(inner.substr(dash + 1, dot - dash - 1).c_str());
      i64 &slot = committed_numbers_[inner.substr(0, dash)];
      slot = std::max(slot, n);
    }
    std::error_code ec;
    for (auto it = fs::recursive_directory_iterator(dir_, ec);
         !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
      if (!it->is_regular_file(ec)) continue;
      std::string name = it->path().filename().string();
      bool ours = name.size() > 4 && (name.ends_with(".pst") || name.ends_with(".pst.part"));
      if (!ours) continue;
      std::string rel = "pst/" + it->path().lexically_relative(dir_).generic_string();
      if (!keep.count(rel)) fs::remove(it->path(), ec);
    }
    write_mapping();
  }

  void finish() override {
    close_open();
    write_mapping();
  }

 private:
  struct SourceState {
    std::string mailbox, dir, stem;
    bool archive = false;
    i64 next_number = 1;
  };
  struct Part {
    std::string source_key, name, rel;
    fs::path part_path, final_path;
    std::unique_ptr<pst::PstWriter> writer;
    std::map<std::vector<std::string>, u64> folders;  // import path -> folder nid
    u64 reserve = FINISH_BASE;
    i64 items = 0;
  };

  // Mailbox for an input: an exact or canonical match in the map, else the map entry that is
  // a folder containing the input (the longest), else the default. Second: the map key used.
  std::pair<std::string, std::string> mailbox_of(const std::string &input) const {
    auto exact = opts_.mailbox_for_source.find(input);
    if (exact != opts_.mailbox_for_source.end()) return {exact->second, exact->first};
    std::string c = canonical(input);
    const std::string *best = nullptr;
    std::size_t best_len = 0;
    for (const auto &[canon, key] : map_) {
      bool hit = c == canon || (c.size() > canon.size() && c.rfind(canon, 0) == 0 &&
                                (canon.back() == '/' || c[canon.size()] == '/'));
      if (hit && canon.size() >= best_len) {
        best = &key;
        best_len = canon.size();
      }
    }
    if (best) return {opts_.mailbox_for_source.at(*best), *best};
    return {opts_.default_mailbox, ""};
  }

  bool archive_of(const std::string &listed) const {
    auto it = opts_.archive_for_source.find(listed);
    return it != opts_.archive_for_source.end() && it->second;
  }

  // The folder path inside the PST: below the source's IPM subtree (everything up to and
  // including "Top of Personal Folders" / "Top of Information Store" / "IPM_SUBTREE" is
  // dropped), limited to the depth the service allows.
  std::vector<std::string> import_path(const std::vector<std::string> &raw) const {
    std::size_t start = 0;
    for (std::size_t i = 0; i < raw.size(); ++i)
      if (raw[i] == "IPM_SUBTREE" || raw[i].rfind("Top of ", 0) == 0) {
        start = i + 1;
        break;
      }
    std::vector<std::string> p(raw.begin() + static_cast<std::ptrdiff_t>(start), raw.end());
    std::size_t max_depth =
        PST_MAX_FOLDER_DEPTH > root_depth_ ? PST_MAX_FOLDER_DEPTH - root_depth_ : 1;
    if (p.size() > max_depth) {
      std::string joined = p[max_depth - 1];
      for (std::size_t i = max_depth; i < p.size(); ++i) joined += " > " + p[i];
      p.resize(max_depth);
      p.back() = joined;
    }
    return p;
  }

  std::size_t new_folders(const Part &part, const std::vector<std::string> &path) const {
    std::size_t n = 0;
    std::vector<std::string> prefix;
    for (const auto &c : path) {
      prefix.push_back(c);
      if (!part.folders.count(prefix)) ++n;
    }
    return n;
  }

  u64 projected(const Part &part, u64 size, u64 extra) const {
    return part.writer->bytes_written() + part.reserve + extra + 2 * size + ITEM_SLACK;
  }

  u64 folder_nid(Part &part, const std::vector<std::string> &path, model::ItemKind kind) {
    u64 parent = 0;
    std::vector<std::string> prefix;
    for (std::size_t i = 0; i < path.size(); ++i) {
      prefix.push_back(path[i]);
      auto it = part.folders.find(prefix);
      if (it != part.folders.end()) {
        parent = it->second;
        continue;
      }
      u64 nid = 0;
      if (i == 0 && path[i] == "Deleted Items") {
        nid = part.writer->deleted_items_nid();  // the writer always creates it
      } else {
        const char *cls = i + 1 == path.size() ? container_class_for(kind) : "IPF.Note";
        Result<u64> made = part.writer->add_folder(parent, path[i], cls);
        if (!made) throw FatalError("PST sink: cannot add folder: " + made.problem().detail);
        nid = *made;
        part.reserve += FOLDER_COST;
      }
      part.folders[prefix] = nid;
      parent = nid;
    }
    return parent;
  }

  void open_part(const std::string &key, SourceState &src) {
    auto part = std::make_unique<Part>();
    char num[32];
    std::snprintf(num, sizeof num, "-%03lld.pst", static_cast<long long>(src.next_number++));
    part->source_key = key;
    part->name = src.stem + num;
    part->rel = "pst/" + src.dir + "/" + part->name;
    fs::path dir = dir_ / src.dir;
    make_dirs(dir);
    part->final_path = dir / part->name;
    part->part_path = dir / (part->name + ".part");
    pst::WriterOptions wo;
    wo.encryption = opts_.permute ? pst::WriterEncryption::Permute : pst::WriterEncryption::None;
    wo.display_name = part->name.substr(0, part->name.size() - 4);
    Result<std::unique_ptr<pst::PstWriter>> w =
        pst::PstWriter::create(part->part_path.string(), wo);
    if (!w)
      throw FatalError("cannot create " + part->part_path.string() + ": " + w.problem().detail);
    part->writer = std::move(*w);
    open_ = std::move(part);
  }

  void close_open() {
    if (!open_) return;
    std::unique_ptr<Part> part = std::move(open_);
    Status st = part->writer->finish();
    if (!st)
      throw FatalError("cannot write " + part->part_path.string() + ": " + st.problem().detail);
    part->writer.reset();
    std::error_code ec;
    fs::rename(part->part_path, part->final_path, ec);
    if (ec) throw FatalError("cannot rename " + part->part_path.string() + ": " + ec.message());
    finished_[part->rel] = fs::file_size(part->final_path, ec);
    const SourceState &src = sources_.at(part->source_key);
    rows_[part->rel] =
        PstMappingRow{src.dir, part->name, src.mailbox, src.archive, opts_.target_root_folder};
    write_mapping();
  }

  // Rows of an earlier run in OUTDIR (incremental runs add to the same mapping file).
  void load_mapping() {
    std::ifstream in(dir_ / "mapping.csv", std::ios::binary);
    if (!in) return;
    std::stringstream ss;
    ss << in.rdbuf();
    std::vector<std::pair<i64, std::vector<std::string>>> recs;
    if (!split_csv(ss.str(), recs)) return;
    for (std::size_t i = 1; i < recs.size(); ++i) {
      const auto &f = recs[i].second;
      if (f.size() < 6 || f[0] != "Exchange") continue;
      PstMappingRow r{f[1], f[2], f[3], f[4] == "TRUE", f[5]};
      rows_["pst/" + (r.file_path.empty() ? "" : r.file_path + "/") + r.name] = r;
    }
  }

  void write_mapping() {
    std::vector<PstMappingRow> rows;
    std::error_code ec;
    for (const auto &[rel, row] : rows_)
      if (fs::exists(root_ / rel, ec)) rows.push_back(row);
    std::string csv = pst_mapping_csv(rows);
    fs::path tmp = dir_ / "mapping.csv.tmp";
    write_whole_file(tmp, ByteView(csv));
    fs::rename(tmp, dir_ / "mapping.csv", ec);
    if (ec)
      throw FatalError("cannot write " + (dir_ / "mapping.csv").string() + ": " + ec.message());
  }

  PstSinkOptions opts_;
  fs::path dir_;
  std::size_t root_depth_ = 0;
  std::vector<std::pair<std::string, std::string>> map_;  // canonical input path, map key
  std::map<std::string, SourceState> sources_;            // source key -> state
  std::set<std::string> stems_;                           // lower-cased file stems in use
  std::map<std::string, i64> committed_numbers_;          // "<dir>/<stem>" -> last committed
  std::unique_ptr<Part> open_;
  u64 pending_size_ = 0;
  std::map<std::string, u64> finished_;        // rel -> size
  std::map<std::string, PstMappingRow> rows_;  // rel -> row (sorted: FilePath, Name)
};

}  // namespace

std::string pst_mapping_csv(const std::vector<PstMappingRow> &rows) {
  std::string out(PST_MAPPING_HEADER);
  out += "\r\n";
  for (const PstMappingRow &r : rows) {
    out += "Exchange,";
    append_field(out, r.file_path);
    out += ',';
    append_field(out, r.name);
    out += ',';
    append_field(out, r.mailbox);
    out += r.is_archive ? ",TRUE," : ",FALSE,";
    append_field(out, r.target_root_folder);
    out += ",,,,\r\n";  // ContentCodePage (Unicode PST: empty) and the three SharePoint columns
  }
  return out;
}

Status parse_mailbox_map(std::string_view csv, PstSinkOptions &opts) {
  std::vector<std::pair<i64, std::vector<std::string>>> recs;
  if (csv.size() >= 3 && csv.substr(0, 3) == "\xEF\xBB\xBF") csv.remove_prefix(3);  // BOM
  if (!split_csv(csv, recs))
    return Problem{ProblemCode::SourceCorrupt, "mailbox map: unterminated quoted field"};
  bool first = true;
  for (auto &[line, f] : recs) {
    for (auto &x : f) x = std::string(text::trim(x, " \t"));
    if (f.size() == 1 && f[0].empty()) continue;
    bool header = first && (f.size() < 2 || f[1].find('@') == std::string::npos);
    first = false;
    if (header) continue;
    auto bad = [&, line = line](const std::string &why) {
      return Problem{ProblemCode::SourceCorrupt,
                     "mailbox map line " + std::to_string(line) + ": " + why};
    };
    if (f.size() < 2 || f.size() > 3) return bad("want source_path,mailbox[,archive]");
    if (f[0].empty()) return bad("empty source path");
    std::size_t at = f[1].find('@');
    if (at == std::string::npos || at == 0 || at + 1 == f[1].size() ||
        f[1].find_first_of(" ,;<>\"") != std::string::npos)
      return bad("not a mailbox address: " + f[1]);
    bool archive = false;
    if (f.size() == 3) {
      std::string a = text::to_lower_ascii(f[2]);
      if (a == "true" || a == "yes" || a == "1")
        archive = true;
      else if (a == "false" || a == "no" || a == "0" || a.empty())
        archive = false;
      else
        return bad("archive must be true or false, not " + f[2]);
    }
    if (opts.mailbox_for_source.count(f[0])) return bad("source listed twice: " + f[0]);
    opts.mailbox_for_source[f[0]] = f[1];
    opts.archive_for_source[f[0]] = archive;
  }
  return Status{};
}

std::unique_ptr<Sink> make_pst_sink(const std::filesystem::path &root, PstSinkOptions opts) {
  return std::make_unique<PstSink>(root, std::move(opts));
}

}  // namespace mm::sink
