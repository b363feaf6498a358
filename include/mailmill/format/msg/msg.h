#pragma once
/// Outlook .msg files ([MS-OXMSG]: a compound file holding one message's property streams,
/// recipient and attachment storages, embedded messages and its own named-property map) read
/// into the same MAPI property model the PST readers produce, so mapi::to_model and everything
/// after it is shared. Reads through the compound-file adapter (mailmill/format/cfb). Never
/// throws for bad input; thread-safe (no shared state).
#include <memory>

#include "mailmill/mapi/store.h"
#include "mailmill/util/result.h"

namespace mm::msg {

/// Reads one .msg file held in memory. The result's `names` is the file's named-property map
/// and `codepage` its ANSI codepage when the file says (ANSI .msg files). Property values are
/// copied out of `bytes`. SourceCorrupt with a one-line detail when `bytes` are not a readable
/// .msg; partial damage (an unreadable attachment or recipient) becomes warnings or
/// attachment problems, as the PST readers do.
Result<mapi::RawMessage> read_msg(ByteView bytes);

}  // namespace mm::msg
