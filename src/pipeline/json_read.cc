#include "json_read.h"

#include <cctype>
#include <cstdlib>

#include "mailmill/util/text.h"

namespace mm::pipeline {
namespace {

class Parser {
 public:
  explicit Parser(std::string_view t) : t_(t) {}

  std::optional<JsonValue> document() {
    auto v = value(0);
    ws();
    if (!v || i_ != t_.size()) return std::nullopt;
    return v;
  }

 private:
  static constexpr int MAX_DEPTH = 64;

  void ws() {
    while (i_ < t_.size() && (t_[i_] == ' ' || t_[i_] == '\t' || t_[i_] == '\n' || t_[i_] == '\r'))
      ++i_;
  }
  bool lit(std::string_view w) {
    if (t_.substr(i_, w.size()) != w) return false;
    i_ += w.size();
    return true;
  }

  std::optional<JsonValue> value(int depth) {
    if (depth > MAX_DEPTH) return std::nullopt;
    ws();
    if (i_ >= t_.size()) return std::nullopt;
    JsonValue v;
    char c = t_[i_];
    if (c == '{') {
      v.type = JsonValue::Type::Object;
      ++i_;
      ws();
      if (i_ < t_.size() && t_[i_] == '}') {
        ++i_;
        return v;
      }
      for (;;) {
        ws();
        auto k = string();
        if (!k) return std::nullopt;
        ws();
        if (i_ >= t_.size() || t_[i_] != ':') return std::nullopt;
        ++i_;
        auto item = value(depth + 1);
        if (!item) return std::nullopt;
        v.obj[*k] = std::move(*item);
        ws();
        if (i_ < t_.size() && t_[i_] == ',') {
          ++i_;
          continue;
        }
        if (i_ < t_.size() && t_[i_] == '}') {
          ++i_;
          return v;
        }
        return std::nullopt;
      }
    }
    if (c == '[') {
      v.type = JsonValue::Type::Array;
      ++i_;
      ws();
      if (i_ < t_.size() && t_[i_] == ']') {
        ++i_;
        return v;
      }
      for (;;) {
        auto item = value(depth + 1);
        if (!item) return std::nullopt;
        v.arr.push_back(std::move(*item));
        ws();
        if (i_ < t_.size() && t_[i_] == ',') {
          ++i_;
          continue;
        }
        if (i_ < t_.size() && t_[i_] == ']') {
          ++i_;
          return v;
        }
        return std::nullopt;
      }
    }
    if (c == '"') {
      auto s = string();
      if (!s) return std::nullopt;
      v.type = JsonValue::Type::String;
      v.str = std::move(*s);
      return v;
    }
    if (lit("true")) {
      v.type = JsonValue::Type::Bool;
      v.b = true;
      return v;
    }
    if (lit("false")) {
      v.type = JsonValue::Type::Bool;
      return v;
    }
    if (lit("null")) return v;
    std::size_t start = i_;
    while (i_ < t_.size() && (std::isdigit(static_cast<unsigned char>(t_[i_])) || t_[i_] == '-' ||
                              t_[i_] == '+' || t_[i_] == '.' || t_[i_] == 'e' || t_[i_] == 'E'))
      ++i_;
    if (start == i_) return std::nullopt;
    std::string num(t_.substr(start, i_ - start));
    char *end = nullptr;
    v.num = std::strtod(num.c_str(), &end);
    if (end != num.c_str() + num.size()) return std::nullopt;
    v.type = JsonValue::Type::Number;
    return v;
  }

  static void put_utf8(std::string &out, u32 cp) {
    if (cp < 0x80) {
      out += static_cast<char>(cp);
    } else if (cp < 0x800) {
      out += static_cast<char>(0xC0 | (cp >> 6));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
      out += static_cast<char>(0xE0 | (cp >> 12));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
      out += static_cast<char>(0xF0 | (cp >> 18));
      out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    }
  }

  std::optional<u32> hex4() {
    if (i_ + 4 > t_.size()) return std::nullopt;
    u32 v = 0;
    for (int k = 0; k < 4; ++k) {
      const int d = text::hex_digit_value(t_[i_++]);
      if (d < 0) return std::nullopt;
      v = (v << 4) | static_cast<u32>(d);
    }
    return v;
  }

  std::optional<std::string> string() {
    if (i_ >= t_.size() || t_[i_] != '"') return std::nullopt;
    ++i_;
    std::string out;
    while (i_ < t_.size()) {
      char c = t_[i_++];
      if (c == '"') return out;
      if (c != '\\') {
        out += c;
        continue;
      }
      if (i_ >= t_.size()) return std::nullopt;
      char e = t_[i_++];
      switch (e) {
        case '"': out += '"'; break;
        case '\\': out += '\\'; break;
        case '/': out += '/'; break;
        case 'b': out += '\b'; break;
        case 'f': out += '\f'; break;
        case 'n': out += '\n'; break;
        case 'r': out += '\r'; break;
        case 't': out += '\t'; break;
        case 'u': {
          auto cp = hex4();
          if (!cp) return std::nullopt;
          if (*cp >= 0xD800 && *cp < 0xDC00 && lit("\\u")) {
            auto lo = hex4();
            if (!lo) return std::nullopt;
            *cp = 0x10000 + ((*cp - 0xD800) << 10) + (*lo - 0xDC00);
          }
          put_utf8(out, *cp);
          break;
        }
        default: return std::nullopt;
      }
    }
    return std::nullopt;
  }

  std::string_view t_;
  std::size_t i_ = 0;
};

}  // namespace

std::optional<JsonValue> parse_json(std::string_view text) { return Parser(text).document(); }

}  // namespace mm::pipeline
