#pragma once
/// ESE page checksums of the newer format (page flag 0x2000): per block, a 32-bit XOR of the
/// block's words with the page number and a 32-bit Hsiao ECC over the block's bits. Shared by
/// the reader (database.cc verifies both halves) and the test-data writer (gen/ese_writer).
/// Checked against every page of Windows-written 4, 8 and 32 KiB files (tests/unit/ese and
/// tests/unit/gen/ese_writer_test.cc).
#include "mailmill/util/types.h"

namespace mm::ese {

/// The 64-bit checksum of one block of a page: the whole page when pages are at most 8 KiB, each
/// 8 KiB block of a larger page. Low 32 bits: XOR of the block's 32-bit words with `pgno`; high
/// 32 bits: the ECC (low half the XOR of the indices of the set bits, high half that of their
/// complements within the block's bit-index width). `first_block`: the block starts the page,
/// so its first 8 bytes, the checksum itself, are left out.
u64 page_block_checksum(ByteView block, u32 pgno, bool first_block);

}  // namespace mm::ese
