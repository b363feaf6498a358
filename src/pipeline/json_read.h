#pragma once
// A small JSON reader for mailmill's own files (manifest lines, batch manifests): objects,
// arrays, strings with escapes (\uXXXX with surrogate pairs), numbers, true/false/null.
// Returns nullopt on malformed input; never throws.
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "mailmill/util/types.h"

namespace mm::pipeline {

struct JsonValue {
  enum class Type : u8 { Null, Bool, Number, String, Array, Object } type = Type::Null;
  bool b = false;
  double num = 0;
  std::string str;
  std::vector<JsonValue> arr;
  std::map<std::string, JsonValue> obj;

  const JsonValue *get(const std::string &key) const {
    auto it = obj.find(key);
    return it == obj.end() ? nullptr : &it->second;
  }
  std::string get_str(const std::string &key) const {
    const JsonValue *v = get(key);
    return v && v->type == Type::String ? v->str : std::string();
  }
  i64 get_int(const std::string &key, i64 def = 0) const {
    const JsonValue *v = get(key);
    return v && v->type == Type::Number ? static_cast<i64>(v->num) : def;
  }
};

std::optional<JsonValue> parse_json(std::string_view text);

}  // namespace mm::pipeline
