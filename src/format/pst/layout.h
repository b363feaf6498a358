#pragma once
/// On-disk layout of PST/OST files ([MS-PST] 2.2 and 2.3): constants and plain structs shared by
/// the native reader and the PST writer. Pure data and tiny constexpr helpers: no I/O, no
/// reader logic. Offsets are byte offsets from the start of the structure named in the comment.
///
/// Three on-disk variants exist:
///  - ANSI (wVer 14/15): 32-bit BIDs/IBs/NIDs in the NDB layer, 512-byte pages;
///  - Unicode (wVer 23): 64-bit BIDs/IBs, 512-byte pages;
///  - Unicode 4K (wVer 36, Outlook 2013+ OSTs): 64-bit, 4096-byte pages, larger blocks that may
///    be zlib-compressed. Not described by [MS-PST]; layout known from public notes on the
///    OST 2013 format (mythicsoft blog, libpff documentation).
#include <cstddef>

#include "mailmill/util/types.h"

namespace mm::pst {

// ---------------------------------------------------------------------------------------------
// Variant
// ---------------------------------------------------------------------------------------------

/// Which of the three on-disk variants a file uses.
enum class Variant : u8 { Ansi, Unicode, Unicode4k };

// ---------------------------------------------------------------------------------------------
// HEADER ([MS-PST] 2.2.2.6)
// ---------------------------------------------------------------------------------------------

inline constexpr u32 HDR_MAGIC = 0x4E444221;  ///< dwMagic "!BDN" as little-endian u32
inline constexpr u16 HDR_MAGIC_CLIENT_PST = 0x4D53;  ///< wMagicClient "SM" (PST)
inline constexpr u16 HDR_MAGIC_CLIENT_OST = 0x4F53;  ///< wMagicClient "SO" (OST)
inline constexpr u16 HDR_VER_ANSI_MIN = 14;          ///< wVer 14 or 15: ANSI
inline constexpr u16 HDR_VER_ANSI_MAX = 15;
inline constexpr u16 HDR_VER_UNICODE = 23;     ///< wVer >= 23: Unicode (spec: 23)
inline constexpr u16 HDR_VER_UNICODE_4K = 36;  ///< Unicode with 4K pages (OST 2013)
inline constexpr u16 HDR_VER_CLIENT = 19;      ///< wVerClient written by Outlook

// Fields common to both variants.
inline constexpr u64 HDR_OFF_MAGIC = 0;         ///< dwMagic (4)
inline constexpr u64 HDR_OFF_CRC_PARTIAL = 4;   ///< dwCRCPartial (4)
inline constexpr u64 HDR_OFF_MAGIC_CLIENT = 8;  ///< wMagicClient (2)
inline constexpr u64 HDR_OFF_VER = 10;          ///< wVer (2)
inline constexpr u64 HDR_OFF_VER_CLIENT = 12;   ///< wVerClient (2)
inline constexpr u64 HDR_OFF_PLATFORM_CREATE = 14;  ///< bPlatformCreate (1) = 0x01
inline constexpr u64 HDR_OFF_PLATFORM_ACCESS = 15;  ///< bPlatformAccess (1) = 0x01
inline constexpr u64 HDR_OFF_RESERVED1 = 16;    ///< dwReserved1 (4)
inline constexpr u64 HDR_OFF_RESERVED2 = 20;    ///< dwReserved2 (4)

/// dwCRCPartial covers 471 bytes starting at wMagicClient (both variants).
inline constexpr u64 HDR_CRC_PARTIAL_START = 8;
inline constexpr u64 HDR_CRC_PARTIAL_LEN = 471;

// Unicode header (564 bytes).
inline constexpr u64 HDRU_SIZE = 564;
inline constexpr u64 HDRU_OFF_BID_UNUSED = 24;   ///< bidUnused (8)
inline constexpr u64 HDRU_OFF_BID_NEXT_P = 32;   ///< bidNextP (8)
inline constexpr u64 HDRU_OFF_UNIQUE = 40;       ///< dwUnique (4)
inline constexpr u64 HDRU_OFF_RGNID = 44;        ///< rgnid[32] (128)
inline constexpr u64 HDRU_OFF_QW_UNUSED = 172;   ///< qwUnused (8)
inline constexpr u64 HDRU_OFF_ROOT = 180;        ///< ROOT (72)
inline constexpr u64 HDRU_OFF_ALIGN = 252;       ///< dwAlign (4)
inline constexpr u64 HDRU_OFF_RGB_FM = 256;      ///< rgbFM (128), deprecated
inline constexpr u64 HDRU_OFF_RGB_FP = 384;      ///< rgbFP (128), deprecated
inline constexpr u64 HDRU_OFF_SENTINEL = 512;    ///< bSentinel (1) = 0x80
inline constexpr u64 HDRU_OFF_CRYPT = 513;       ///< bCryptMethod (1)
inline constexpr u64 HDRU_OFF_RESERVED = 514;    ///< rgbReserved (2)
inline constexpr u64 HDRU_OFF_BID_NEXT_B = 516;  ///< bidNextB (8)
inline constexpr u64 HDRU_OFF_CRC_FULL = 524;    ///< dwCRCFull (4)
inline constexpr u64 HDRU_OFF_RESERVED2B = 528;  ///< rgbReserved2 (3)
inline constexpr u64 HDRU_OFF_BRESERVED = 531;   ///< bReserved (1)
inline constexpr u64 HDRU_OFF_RESERVED3 = 532;   ///< rgbReserved3 (32)
/// dwCRCFull covers 516 bytes starting at wMagicClient (Unicode only).
inline constexpr u64 HDRU_CRC_FULL_START = 8;
inline constexpr u64 HDRU_CRC_FULL_LEN = 516;

// ANSI header (512 bytes).
inline constexpr u64 HDRA_SIZE = 512;
inline constexpr u64 HDRA_OFF_BID_NEXT_B = 24;  ///< bidNextB (4)
inline constexpr u64 HDRA_OFF_BID_NEXT_P = 28;  ///< bidNextP (4)
inline constexpr u64 HDRA_OFF_UNIQUE = 32;      ///< dwUnique (4)
inline constexpr u64 HDRA_OFF_RGNID = 36;       ///< rgnid[32] (128)
inline constexpr u64 HDRA_OFF_ROOT = 164;       ///< ROOT (40)
inline constexpr u64 HDRA_OFF_RGB_FM = 204;     ///< rgbFM (128)
inline constexpr u64 HDRA_OFF_RGB_FP = 332;     ///< rgbFP (128)
inline constexpr u64 HDRA_OFF_SENTINEL = 460;   ///< bSentinel (1) = 0x80
inline constexpr u64 HDRA_OFF_CRYPT = 461;      ///< bCryptMethod (1)
inline constexpr u64 HDRA_OFF_RESERVED = 462;   ///< rgbReserved (2)
inline constexpr u64 HDRA_OFF_ULL_RESERVED = 464;  ///< ullReserved (8)
inline constexpr u64 HDRA_OFF_DW_RESERVED = 472;   ///< dwReserved (4)
inline constexpr u64 HDRA_OFF_RESERVED2B = 476;    ///< rgbReserved2 (3)
inline constexpr u64 HDRA_OFF_BRESERVED = 479;     ///< bReserved (1)
inline constexpr u64 HDRA_OFF_RESERVED3 = 480;     ///< rgbReserved3 (32)

inline constexpr u8 HDR_SENTINEL = 0x80;

/// bCryptMethod values ([MS-PST] 2.2.2.6).
inline constexpr u8 NDB_CRYPT_NONE = 0x00;
inline constexpr u8 NDB_CRYPT_PERMUTE = 0x01;
inline constexpr u8 NDB_CRYPT_CYCLIC = 0x02;
inline constexpr u8 NDB_CRYPT_EDPCRYPTED = 0x10;  ///< Windows Information Protection; unsupported

// ---------------------------------------------------------------------------------------------
// ROOT ([MS-PST] 2.2.2.5); offsets relative to the ROOT structure.
// ---------------------------------------------------------------------------------------------

// Unicode ROOT (72 bytes).
inline constexpr u64 ROOTU_SIZE = 72;
inline constexpr u64 ROOTU_OFF_RESERVED = 0;       ///< dwReserved (4)
inline constexpr u64 ROOTU_OFF_FILE_EOF = 4;       ///< ibFileEof (8)
inline constexpr u64 ROOTU_OFF_AMAP_LAST = 12;     ///< ibAMapLast (8)
inline constexpr u64 ROOTU_OFF_AMAP_FREE = 20;     ///< cbAMapFree (8)
inline constexpr u64 ROOTU_OFF_PMAP_FREE = 28;     ///< cbPMapFree (8)
inline constexpr u64 ROOTU_OFF_BREF_NBT = 36;      ///< BREFNBT (16)
inline constexpr u64 ROOTU_OFF_BREF_BBT = 52;      ///< BREFBBT (16)
inline constexpr u64 ROOTU_OFF_AMAP_VALID = 68;    ///< fAMapValid (1)
inline constexpr u64 ROOTU_OFF_BRESERVED = 69;     ///< bReserved (1)
inline constexpr u64 ROOTU_OFF_WRESERVED = 70;     ///< wReserved (2)

// ANSI ROOT (40 bytes).
inline constexpr u64 ROOTA_SIZE = 40;
inline constexpr u64 ROOTA_OFF_RESERVED = 0;     ///< dwReserved (4)
inline constexpr u64 ROOTA_OFF_FILE_EOF = 4;     ///< ibFileEof (4)
inline constexpr u64 ROOTA_OFF_AMAP_LAST = 8;    ///< ibAMapLast (4)
inline constexpr u64 ROOTA_OFF_AMAP_FREE = 12;   ///< cbAMapFree (4)
inline constexpr u64 ROOTA_OFF_PMAP_FREE = 16;   ///< cbPMapFree (4)
inline constexpr u64 ROOTA_OFF_BREF_NBT = 20;    ///< BREFNBT (8)
inline constexpr u64 ROOTA_OFF_BREF_BBT = 28;    ///< BREFBBT (8)
inline constexpr u64 ROOTA_OFF_AMAP_VALID = 36;  ///< fAMapValid (1)
inline constexpr u64 ROOTA_OFF_BRESERVED = 37;
inline constexpr u64 ROOTA_OFF_WRESERVED = 38;

/// fAMapValid values.
inline constexpr u8 AMAP_INVALID = 0x00;
inline constexpr u8 AMAP_VALID1 = 0x01;  ///< deprecated
inline constexpr u8 AMAP_VALID2 = 0x02;

// ---------------------------------------------------------------------------------------------
// BID / BREF ([MS-PST] 2.2.2.2, 2.2.2.4)
// ---------------------------------------------------------------------------------------------

/// BREF: bid then ib; 16 bytes Unicode, 8 bytes ANSI.
struct Bref {
  u64 bid = 0;
  u64 ib = 0;
};
inline constexpr u64 BREF_SIZE_UNICODE = 16;
inline constexpr u64 BREF_SIZE_ANSI = 8;

/// Bit 0 of a BID is reserved ("A"), bit 1 is fInternal ("B"): internal blocks (XBLOCK,
/// XXBLOCK, SLBLOCK, SIBLOCK) are never encrypted. BIDs are allocated in steps of 4.
inline constexpr u64 BID_RESERVED_BIT = 0x1;
inline constexpr u64 BID_INTERNAL_BIT = 0x2;
inline constexpr u64 BID_INCREMENT = 4;
constexpr bool bid_is_internal(u64 bid) { return (bid & BID_INTERNAL_BIT) != 0; }
/// The BID as used for BBT lookups (reserved bit cleared).
constexpr u64 bid_key(u64 bid) { return bid & ~BID_RESERVED_BIT; }

// ---------------------------------------------------------------------------------------------
// Pages ([MS-PST] 2.2.2.7)
// ---------------------------------------------------------------------------------------------

inline constexpr u64 PAGE_SIZE = 512;
inline constexpr u64 PAGE_SIZE_4K = 4096;

/// ptype values ([MS-PST] 2.2.2.7.1).
inline constexpr u8 PTYPE_BBT = 0x80;
inline constexpr u8 PTYPE_NBT = 0x81;
inline constexpr u8 PTYPE_FMAP = 0x82;
inline constexpr u8 PTYPE_PMAP = 0x83;
inline constexpr u8 PTYPE_AMAP = 0x84;
inline constexpr u8 PTYPE_FPMAP = 0x85;
inline constexpr u8 PTYPE_DL = 0x86;

// PAGETRAILER, Unicode (16 bytes at page offset 496): ptype, ptypeRepeat, wSig, dwCRC, bid.
inline constexpr u64 PTRU_SIZE = 16;
inline constexpr u64 PTRU_OFF = PAGE_SIZE - PTRU_SIZE;  ///< 496
inline constexpr u64 PTRU_OFF_PTYPE = 0;
inline constexpr u64 PTRU_OFF_PTYPE_REPEAT = 1;
inline constexpr u64 PTRU_OFF_SIG = 2;
inline constexpr u64 PTRU_OFF_CRC = 4;
inline constexpr u64 PTRU_OFF_BID = 8;
// PAGETRAILER, ANSI (12 bytes at page offset 500): ptype, ptypeRepeat, wSig, bid(4), dwCRC.
inline constexpr u64 PTRA_SIZE = 12;
inline constexpr u64 PTRA_OFF = PAGE_SIZE - PTRA_SIZE;  ///< 500
inline constexpr u64 PTRA_OFF_PTYPE = 0;
inline constexpr u64 PTRA_OFF_PTYPE_REPEAT = 1;
inline constexpr u64 PTRA_OFF_SIG = 2;
inline constexpr u64 PTRA_OFF_BID = 4;
inline constexpr u64 PTRA_OFF_CRC = 8;
// PAGETRAILER, Unicode 4K (24 bytes at page offset 4072): as Unicode plus 8 unknown bytes.
inline constexpr u64 PTR4K_SIZE = 24;
inline constexpr u64 PTR4K_OFF = PAGE_SIZE_4K - PTR4K_SIZE;  ///< 4072
/// The page CRC covers the page bytes before the trailer.

// BTPAGE ([MS-PST] 2.2.2.7.7.1): rgentries, then cEnt, cEntMax, cbEnt, cLevel.
// Unicode: rgentries 488 bytes; cEnt@488 cEntMax@489 cbEnt@490 cLevel@491 dwPadding(4)@492.
inline constexpr u64 BTPU_ENTRIES_SIZE = 488;
inline constexpr u64 BTPU_OFF_CENT = 488;
inline constexpr u64 BTPU_OFF_CENTMAX = 489;
inline constexpr u64 BTPU_OFF_CBENT = 490;
inline constexpr u64 BTPU_OFF_CLEVEL = 491;
// ANSI: rgentries 496 bytes; cEnt@496 cEntMax@497 cbEnt@498 cLevel@499.
inline constexpr u64 BTPA_ENTRIES_SIZE = 496;
inline constexpr u64 BTPA_OFF_CENT = 496;
inline constexpr u64 BTPA_OFF_CENTMAX = 497;
inline constexpr u64 BTPA_OFF_CBENT = 498;
inline constexpr u64 BTPA_OFF_CLEVEL = 499;
// Unicode 4K: rgentries 4056 bytes; cEnt(u16)@4056 cEntMax(u16)@4058 cbEnt@4060 cLevel@4061,
// 10 bytes padding, then the 24-byte trailer.
inline constexpr u64 BTP4K_ENTRIES_SIZE = 4056;
inline constexpr u64 BTP4K_OFF_CENT = 4056;
inline constexpr u64 BTP4K_OFF_CENTMAX = 4058;
inline constexpr u64 BTP4K_OFF_CBENT = 4060;
inline constexpr u64 BTP4K_OFF_CLEVEL = 4061;
/// Maximum cLevel of an NBT/BBT ([MS-PST] 2.2.2.7.7.1: "0 to 8").
inline constexpr u8 BT_MAX_LEVEL = 8;

// BTENTRY ([MS-PST] 2.2.2.7.7.2): btkey then BREF. Unicode 24 bytes, ANSI 12 bytes.
inline constexpr u64 BTENTRY_SIZE_UNICODE = 24;
inline constexpr u64 BTENTRY_SIZE_ANSI = 12;
// BBTENTRY ([MS-PST] 2.2.2.7.7.3): BREF, cb (2), cRef (2), [dwPadding (4) Unicode].
inline constexpr u64 BBTENTRY_SIZE_UNICODE = 24;  ///< BREF@0 cb@16 cRef@18 pad@20
inline constexpr u64 BBTENTRY_SIZE_ANSI = 12;     ///< BREF@0 cb@8 cRef@10
// 4K BBTENTRY: BREF@0, cbStored@16, cbInflated@18, cRef@20, wPadding@22 (24 bytes).
inline constexpr u64 BBTENTRY_SIZE_4K = 24;
// NBTENTRY ([MS-PST] 2.2.2.7.7.4): nid, bidData, bidSub, nidParent, [dwPadding].
inline constexpr u64 NBTENTRY_SIZE_UNICODE = 32;  ///< nid(8)@0 bidData@8 bidSub@16 nidParent(4)@24
inline constexpr u64 NBTENTRY_SIZE_ANSI = 16;     ///< nid(4)@0 bidData@4 bidSub@8 nidParent@12

// ---------------------------------------------------------------------------------------------
// Blocks ([MS-PST] 2.2.2.8)
// ---------------------------------------------------------------------------------------------

/// Blocks (data + trailer) are padded to a multiple of 64 bytes (512 in 4K files).
inline constexpr u64 BLOCK_ALIGN = 64;
inline constexpr u64 BLOCK_ALIGN_4K = 512;
/// Maximum total block size and resulting maximum data size.
inline constexpr u64 BLOCK_MAX_SIZE = 8192;
inline constexpr u64 BLOCK_MAX_DATA_UNICODE = 8176;  ///< 8192 - 16-byte trailer
inline constexpr u64 BLOCK_MAX_DATA_ANSI = 8180;     ///< 8192 - 12-byte trailer
inline constexpr u64 BLOCK_MAX_SIZE_4K = 65536;
inline constexpr u64 BLOCK_MAX_DATA_4K = 65512;      ///< 65536 - 24-byte trailer

// BLOCKTRAILER Unicode (16 bytes): cb@0 (2), wSig@2 (2), dwCRC@4 (4), bid@8 (8).
inline constexpr u64 BTRU_SIZE = 16;
inline constexpr u64 BTRU_OFF_CB = 0;
inline constexpr u64 BTRU_OFF_SIG = 2;
inline constexpr u64 BTRU_OFF_CRC = 4;
inline constexpr u64 BTRU_OFF_BID = 8;
// BLOCKTRAILER ANSI (12 bytes): cb@0, wSig@2, bid(4)@4, dwCRC@8.
inline constexpr u64 BTRA_SIZE = 12;
inline constexpr u64 BTRA_OFF_CB = 0;
inline constexpr u64 BTRA_OFF_SIG = 2;
inline constexpr u64 BTRA_OFF_BID = 4;
inline constexpr u64 BTRA_OFF_CRC = 8;
// BLOCKTRAILER 4K (24 bytes): as Unicode, then unknown(2)@16, cbInflated(2)@18, unknown(4)@20.
inline constexpr u64 BTR4K_SIZE = 24;
inline constexpr u64 BTR4K_OFF_CB_INFLATED = 18;

/// Bytes a block with `cb` data bytes occupies on disk (data + trailer, aligned).
constexpr u64 block_disk_size(u64 cb, u64 trailer_size, u64 align) {
  return (cb + trailer_size + align - 1) / align * align;
}

// XBLOCK / XXBLOCK ([MS-PST] 2.2.2.8.3.2): btype (1) = 0x01, cLevel (1) = 1 or 2, cEnt (2),
// lcbTotal (4), rgbid (cEnt BIDs of 8 bytes Unicode / 4 bytes ANSI).
inline constexpr u8 BTYPE_XBLOCK = 0x01;
inline constexpr u8 XBLOCK_LEVEL = 1;
inline constexpr u8 XXBLOCK_LEVEL = 2;
inline constexpr u64 XBLOCK_HDR_SIZE = 8;
inline constexpr u64 XBLOCK_OFF_BTYPE = 0;
inline constexpr u64 XBLOCK_OFF_CLEVEL = 1;
inline constexpr u64 XBLOCK_OFF_CENT = 2;
inline constexpr u64 XBLOCK_OFF_LCB_TOTAL = 4;

// SLBLOCK / SIBLOCK ([MS-PST] 2.2.2.8.3.3): btype (1) = 0x02, cLevel (1) = 0 (SL) / 1 (SI),
// cEnt (2), dwPadding (4, Unicode only), then entries.
inline constexpr u8 BTYPE_SUBNODE = 0x02;
inline constexpr u8 SLBLOCK_LEVEL = 0;
inline constexpr u8 SIBLOCK_LEVEL = 1;
inline constexpr u64 SBLOCK_HDR_SIZE_UNICODE = 8;
inline constexpr u64 SBLOCK_HDR_SIZE_ANSI = 4;
/// SLENTRY: nid, bidData, bidSub. Unicode: nid(8) bidData(8) bidSub(8); ANSI: 4+4+4.
inline constexpr u64 SLENTRY_SIZE_UNICODE = 24;
inline constexpr u64 SLENTRY_SIZE_ANSI = 12;
/// SIENTRY: nid, bid. Unicode 8+8; ANSI 4+4.
inline constexpr u64 SIENTRY_SIZE_UNICODE = 16;
inline constexpr u64 SIENTRY_SIZE_ANSI = 8;

// ---------------------------------------------------------------------------------------------
// NID ([MS-PST] 2.2.2.1, 2.4.1)
// ---------------------------------------------------------------------------------------------

/// nidType is the low 5 bits, nidIndex the upper 27 bits of the 32-bit NID.
constexpr u32 nid_type(u64 nid) { return static_cast<u32>(nid & 0x1F); }
constexpr u32 nid_index(u64 nid) { return static_cast<u32>((nid & 0xFFFFFFFFu) >> 5); }
constexpr u32 make_nid(u32 type, u32 index) { return (index << 5) | (type & 0x1F); }

inline constexpr u32 NID_TYPE_HID = 0x00;
inline constexpr u32 NID_TYPE_INTERNAL = 0x01;
inline constexpr u32 NID_TYPE_NORMAL_FOLDER = 0x02;
inline constexpr u32 NID_TYPE_SEARCH_FOLDER = 0x03;
inline constexpr u32 NID_TYPE_NORMAL_MESSAGE = 0x04;
inline constexpr u32 NID_TYPE_ATTACHMENT = 0x05;
inline constexpr u32 NID_TYPE_SEARCH_UPDATE_QUEUE = 0x06;
inline constexpr u32 NID_TYPE_SEARCH_CRITERIA_OBJECT = 0x07;
inline constexpr u32 NID_TYPE_ASSOC_MESSAGE = 0x08;
inline constexpr u32 NID_TYPE_CONTENTS_TABLE_INDEX = 0x0A;
inline constexpr u32 NID_TYPE_RECEIVE_FOLDER_TABLE = 0x0B;
inline constexpr u32 NID_TYPE_OUTGOING_QUEUE_TABLE = 0x0C;
inline constexpr u32 NID_TYPE_HIERARCHY_TABLE = 0x0D;
inline constexpr u32 NID_TYPE_CONTENTS_TABLE = 0x0E;
inline constexpr u32 NID_TYPE_ASSOC_CONTENTS_TABLE = 0x0F;
inline constexpr u32 NID_TYPE_SEARCH_CONTENTS_TABLE = 0x10;
inline constexpr u32 NID_TYPE_ATTACHMENT_TABLE = 0x11;
inline constexpr u32 NID_TYPE_RECIPIENT_TABLE = 0x12;
inline constexpr u32 NID_TYPE_SEARCH_TABLE_INDEX = 0x13;
inline constexpr u32 NID_TYPE_LTP = 0x1F;

inline constexpr u32 NID_MESSAGE_STORE = 0x21;
inline constexpr u32 NID_NAME_TO_ID_MAP = 0x61;
inline constexpr u32 NID_NORMAL_FOLDER_TEMPLATE = 0xA1;
inline constexpr u32 NID_SEARCH_FOLDER_TEMPLATE = 0xC1;
inline constexpr u32 NID_ROOT_FOLDER = 0x122;
inline constexpr u32 NID_SEARCH_MANAGEMENT_QUEUE = 0x1E1;
inline constexpr u32 NID_SEARCH_ACTIVITY_LIST = 0x201;
inline constexpr u32 NID_RESERVED1 = 0x241;
inline constexpr u32 NID_SEARCH_DOMAIN_OBJECT = 0x261;
inline constexpr u32 NID_SEARCH_GATHERER_QUEUE = 0x281;
inline constexpr u32 NID_SEARCH_GATHERER_DESCRIPTOR = 0x2A1;
inline constexpr u32 NID_RESERVED2 = 0x2E1;
inline constexpr u32 NID_RESERVED3 = 0x301;
inline constexpr u32 NID_SEARCH_GATHERER_FOLDER_QUEUE = 0x321;
inline constexpr u32 NID_HIERARCHY_TABLE_TEMPLATE = 0x60D;
inline constexpr u32 NID_CONTENTS_TABLE_TEMPLATE = 0x60E;
inline constexpr u32 NID_ASSOC_CONTENTS_TABLE_TEMPLATE = 0x60F;
inline constexpr u32 NID_SEARCH_CONTENTS_TABLE_TEMPLATE = 0x610;
inline constexpr u32 NID_SMP_TEMPLATE = 0x611;
inline constexpr u32 NID_TOMBSTONE_TABLE_TEMPLATE = 0x612;
inline constexpr u32 NID_LREP_DUPS_TABLE_TEMPLATE = 0x613;
inline constexpr u32 NID_RECEIVE_FOLDER_TABLE = 0x617;
inline constexpr u32 NID_OUTGOING_QUEUE_TABLE = 0x64C;
inline constexpr u32 NID_ATTACHMENT_TABLE = 0x671;  ///< subnode of a message
inline constexpr u32 NID_RECIPIENT_TABLE = 0x692;   ///< subnode of a message
inline constexpr u32 NID_CHANGE_HISTORY_TABLE = 0x6B6;
inline constexpr u32 NID_TOMBSTONE_TABLE = 0x6D7;
inline constexpr u32 NID_LREP_DUPS_TABLE = 0x70E;
inline constexpr u32 NID_FOLDER_PATH_TOMBSTONE_TABLE = 0x732;

// ---------------------------------------------------------------------------------------------
// Heap-on-node ([MS-PST] 2.3.1)
// ---------------------------------------------------------------------------------------------

// HID: hidType (5 bits, = NID_TYPE_HID) | hidIndex (11 bits, 1-based) | hidBlockIndex (16 bits).
constexpr u32 hid_index(u32 hid) { return (hid >> 5) & 0x7FF; }
constexpr u32 hid_block(u32 hid) { return hid >> 16; }
constexpr u32 make_hid(u32 block, u32 index) { return (block << 16) | ((index & 0x7FF) << 5); }
/// An HNID is a HID when its low 5 bits are NID_TYPE_HID, else a subnode NID.
constexpr bool hnid_is_hid(u32 hnid) { return (hnid & 0x1F) == NID_TYPE_HID; }

// HNHDR (first block of a heap, 12 bytes): ibHnpm (2), bSig (1) = 0xEC, bClientSig (1),
// hidUserRoot (4), rgbFillLevel (4).
inline constexpr u64 HNHDR_SIZE = 12;
inline constexpr u64 HNHDR_OFF_IBHNPM = 0;
inline constexpr u64 HNHDR_OFF_SIG = 2;
inline constexpr u64 HNHDR_OFF_CLIENT_SIG = 3;
inline constexpr u64 HNHDR_OFF_USER_ROOT = 4;
inline constexpr u64 HNHDR_OFF_FILL_LEVEL = 8;
inline constexpr u8 HN_SIG = 0xEC;
// HNPAGEHDR (blocks 1..7, 9..135, ...): ibHnpm (2).
inline constexpr u64 HNPAGEHDR_SIZE = 2;
// HNBITMAPHDR (block 8, then every 128 blocks): ibHnpm (2), rgbFillLevel (64).
inline constexpr u64 HNBITMAPHDR_SIZE = 66;
/// Block index i (> 0) carries an HNBITMAPHDR when (i - 8) % 128 == 0.
constexpr bool hn_block_has_bitmap(u64 i) { return i >= 8 && (i - 8) % 128 == 0; }
// HNPAGEMAP: cAlloc (2), cFree (2), rgibAlloc (cAlloc + 1 u16 offsets).
inline constexpr u64 HNPAGEMAP_OFF_CALLOC = 0;
inline constexpr u64 HNPAGEMAP_OFF_CFREE = 2;
inline constexpr u64 HNPAGEMAP_OFF_RGIB = 4;
/// Maximum allocation size in a heap ([MS-PST] 2.3.1.1: 3580 bytes).
inline constexpr u64 HN_MAX_ALLOC = 3580;

/// bClientSig values ([MS-PST] 2.3.1.2).
inline constexpr u8 HN_CLIENT_TC = 0x7C;   ///< bTypeTC (table context)
inline constexpr u8 HN_CLIENT_BTH = 0xB5;  ///< bTypeBTH (BTH header)
inline constexpr u8 HN_CLIENT_PC = 0xBC;   ///< bTypePC (property context)
inline constexpr u8 HN_CLIENT_RESERVED1 = 0x6C;
inline constexpr u8 HN_CLIENT_RESERVED2 = 0x8C;
inline constexpr u8 HN_CLIENT_RESERVED3 = 0x9C;
inline constexpr u8 HN_CLIENT_RESERVED4 = 0xA5;
inline constexpr u8 HN_CLIENT_RESERVED5 = 0xAC;
inline constexpr u8 HN_CLIENT_RESERVED6 = 0xBF;
inline constexpr u8 HN_CLIENT_RESERVED7 = 0xCC;

// ---------------------------------------------------------------------------------------------
// BTree-on-heap ([MS-PST] 2.3.2)
// ---------------------------------------------------------------------------------------------

// BTHHEADER (8 bytes): bType (1) = 0xB5, cbKey (1), cbEnt (1), bIdxLevels (1), hidRoot (4).
inline constexpr u64 BTHHDR_SIZE = 8;
inline constexpr u64 BTHHDR_OFF_TYPE = 0;
inline constexpr u64 BTHHDR_OFF_CB_KEY = 1;
inline constexpr u64 BTHHDR_OFF_CB_ENT = 2;
inline constexpr u64 BTHHDR_OFF_IDX_LEVELS = 3;
inline constexpr u64 BTHHDR_OFF_HID_ROOT = 4;
/// Intermediate BTH records: key (cbKey) then hidNextLevel (4). Leaf records: key then data.
inline constexpr u64 BTH_HID_SIZE = 4;

// ---------------------------------------------------------------------------------------------
// Property context ([MS-PST] 2.3.3)
// ---------------------------------------------------------------------------------------------

/// PC BTH: cbKey 2 (wPropId), cbEnt 6: wPropType (2), dwValueHnid (4).
inline constexpr u64 PC_CB_KEY = 2;
inline constexpr u64 PC_CB_ENT = 6;

// ---------------------------------------------------------------------------------------------
// Table context ([MS-PST] 2.3.4)
// ---------------------------------------------------------------------------------------------

// TCINFO: bType (1) = 0x7C, cCols (1), rgib[4] (u16 each: TCI_4b, TCI_2b, TCI_1b, TCI_bm),
// hidRowIndex (4), hnidRows (4), hidIndex (4, deprecated), rgTCOLDESC (cCols x 8).
inline constexpr u64 TCINFO_HDR_SIZE = 22;
inline constexpr u64 TCINFO_OFF_TYPE = 0;
inline constexpr u64 TCINFO_OFF_CCOLS = 1;
inline constexpr u64 TCINFO_OFF_RGIB = 2;
inline constexpr u64 TCINFO_OFF_HID_ROW_INDEX = 10;
inline constexpr u64 TCINFO_OFF_HNID_ROWS = 14;
inline constexpr u64 TCINFO_OFF_HID_INDEX = 18;
inline constexpr u64 TCINFO_OFF_COLS = 22;
inline constexpr u32 TCI_4B = 0;  ///< rgib index: end of 4- and 8-byte columns
inline constexpr u32 TCI_2B = 1;  ///< end of 2-byte columns
inline constexpr u32 TCI_1B = 2;  ///< end of 1-byte columns (start of the CEB)
inline constexpr u32 TCI_BM = 3;  ///< end of the cell existence bitmap = row size
// TCOLDESC (8 bytes): tag (4), ibData (2), cbData (1), iBit (1).
inline constexpr u64 TCOLDESC_SIZE = 8;
inline constexpr u64 TCOLDESC_OFF_TAG = 0;
inline constexpr u64 TCOLDESC_OFF_IB = 4;
inline constexpr u64 TCOLDESC_OFF_CB = 6;
inline constexpr u64 TCOLDESC_OFF_IBIT = 7;
/// TCROWID (row index BTH record): dwRowID (4) key, dwRowIndex (4 Unicode / 2 ANSI).
inline constexpr u64 TC_ROWID_KEY_SIZE = 4;
/// Row id column tags ([MS-PST] 2.3.4.4.1).
inline constexpr u32 TAG_LTP_ROW_ID = 0x67F20003;
inline constexpr u32 TAG_LTP_ROW_VER = 0x67F30003;
/// Cell existence bit for column iBit: byte iBit/8, bit (7 - iBit%8) (most significant first).
constexpr bool ceb_bit(const u8 *ceb, u32 ibit) { return (ceb[ibit / 8] >> (7 - ibit % 8)) & 1; }

// ---------------------------------------------------------------------------------------------
// Name-to-id map ([MS-PST] 2.4.7)
// ---------------------------------------------------------------------------------------------

inline constexpr u16 PID_NAMEID_BUCKET_COUNT = 0x0001;  ///< PidTagNameidBucketCount (PT_LONG)
inline constexpr u16 PID_NAMEID_STREAM_GUID = 0x0002;   ///< PT_BINARY, 16-byte GUIDs
inline constexpr u16 PID_NAMEID_STREAM_ENTRY = 0x0003;  ///< PT_BINARY, 8-byte NAMEID records
inline constexpr u16 PID_NAMEID_STREAM_STRING = 0x0004; ///< PT_BINARY, u32 length + UTF-16LE
inline constexpr u16 PID_NAMEID_BUCKET_BASE = 0x1000;   ///< hash buckets start here
/// NAMEID record (8 bytes): dwPropertyID (4: LID, or offset into the string stream),
/// then u16: N (bit 0: 1 = string name) | wGuid << 1, then wPropIdx (2): id = 0x8000 + wPropIdx.
inline constexpr u64 NAMEID_SIZE = 8;
inline constexpr u16 NAMEID_GUID_NONE = 0;
inline constexpr u16 NAMEID_GUID_PS_MAPI = 1;
inline constexpr u16 NAMEID_GUID_PUBLIC_STRINGS = 2;
inline constexpr u16 NAMEID_GUID_STREAM_BASE = 3;  ///< wGuid >= 3: index wGuid - 3 in the stream
inline constexpr u16 NAMED_PROP_BASE = 0x8000;

}  // namespace mm::pst

namespace mm::pst {

/// Block/page signature wSig ([MS-PST] 5.5): ib ^= bid; return (u16)((ib >> 16) ^ ib).
/// Computed from the block's file offset and BID. AMap/PMap/FMap/FPMap pages use 0.
constexpr u16 compute_sig(u64 ib, u64 bid) {
  u64 x = ib ^ bid;
  return static_cast<u16>(((x >> 16) ^ x) & 0xFFFF);
}

}  // namespace mm::pst
