#pragma once
// Minimal streaming JSON writer for reports and manifests: compact output, strings escaped by
// text::append_json_string (RFC 8259; invalid UTF-8 replaced so the document always parses).
#include <cmath>
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

#include "mailmill/util/json_escape.h"
#include "mailmill/util/types.h"

namespace mm::pipeline {

class JsonWriter {
 public:
  JsonWriter &begin_object() { sep(); out_ += '{'; first_.push_back(true); return *this; }
  JsonWriter &end_object() { out_ += '}'; first_.pop_back(); return *this; }
  JsonWriter &begin_array() { sep(); out_ += '['; first_.push_back(true); return *this; }
  JsonWriter &end_array() { out_ += ']'; first_.pop_back(); return *this; }
  JsonWriter &key(std::string_view k) {
    sep();
    str(k);
    out_ += ':';
    after_key_ = true;
    return *this;
  }
  JsonWriter &value(std::string_view s) { sep(); str(s); return *this; }
  JsonWriter &value(const char *s) { return value(std::string_view(s)); }
  JsonWriter &value(const std::string &s) { return value(std::string_view(s)); }
  JsonWriter &value(bool b) { sep(); out_ += b ? "true" : "false"; return *this; }
  JsonWriter &value(i64 v) { sep(); out_ += std::to_string(v); return *this; }
  JsonWriter &value(int v) { return value(static_cast<i64>(v)); }
  JsonWriter &value(u64 v) { sep(); out_ += std::to_string(v); return *this; }
  JsonWriter &value(double v) {
    sep();
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.3f", std::isfinite(v) ? v : 0.0);
    out_ += buf;
    return *this;
  }
  JsonWriter &null() { sep(); out_ += "null"; return *this; }
  std::string take() { return std::move(out_); }

 private:
  void sep() {
    if (after_key_) {
      after_key_ = false;
      return;
    }
    if (!first_.empty()) {
      if (!first_.back()) out_ += ',';
      first_.back() = false;
    }
  }
  void str(std::string_view s) { text::append_json_string(out_, s, text::JsonControls::Short); }
  std::string out_;
  std::vector<bool> first_;
  bool after_key_ = false;
};

}  // namespace mm::pipeline
