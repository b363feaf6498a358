#pragma once
/// Interprets raw MAPI properties as a model::Message: message class to kind, subject with
/// prefix marker, sender/recipient SMTP resolution, dates, bodies, attachments, named
/// properties for appointments/tasks/contacts, categories, flags. Shared by every MAPI reader,
/// so the output does not depend on which reader read the file. Thread-safe (const inputs).
#include "mailmill/mapi/store.h"
#include "mailmill/model/item.h"

namespace mm::mapi {

struct ConvertContext {
  u32 default_codepage = 1252;    ///< for PT_STRING8 when the item names no codepage
  const NameMap *names = nullptr; ///< for named properties (may be null)
};

/// The Windows ANSI codepage an item's 8-bit strings are in, from PR_MESSAGE_CODEPAGE, else
/// PR_INTERNET_CPID (mapped to its Windows codepage: 50220 iso-2022-jp -> 932, 20866 koi8-r
/// -> 1251, ...), else the codepage of PR_MESSAGE_LOCALE_ID; nullopt when none says.
std::optional<u32> item_ansi_codepage(const PropertyBag &props);

/// Converts one item, recursing into embedded messages (depth-limited). Fails only when the
/// item has no properties at all; partial damage becomes model warnings.
Result<model::Message> to_model(const RawMessage &raw, const ConvertContext &ctx);

}  // namespace mm::mapi
