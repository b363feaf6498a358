#pragma once
/// Property ids used by mailmill ([MS-OXPROPS]). Ids only: the type is in the stored tag.
#include "mailmill/util/types.h"

namespace mm::mapi::pid {

// Message envelope
inline constexpr u16 IMPORTANCE = 0x0017;
inline constexpr u16 MESSAGE_CLASS = 0x001A;
inline constexpr u16 SENSITIVITY = 0x0036;
inline constexpr u16 SUBJECT = 0x0037;
inline constexpr u16 CLIENT_SUBMIT_TIME = 0x0039;
inline constexpr u16 SENT_REPRESENTING_SEARCH_KEY = 0x003B;
inline constexpr u16 RECEIVED_BY_ENTRYID = 0x003F;
inline constexpr u16 RECEIVED_BY_NAME = 0x0040;
inline constexpr u16 SENT_REPRESENTING_ENTRYID = 0x0041;
inline constexpr u16 SENT_REPRESENTING_NAME = 0x0042;
inline constexpr u16 REPLY_RECIPIENT_NAMES = 0x0050;
inline constexpr u16 SUBJECT_PREFIX = 0x003D;
inline constexpr u16 SENT_REPRESENTING_ADDRTYPE = 0x0064;
inline constexpr u16 SENT_REPRESENTING_EMAIL_ADDRESS = 0x0065;
inline constexpr u16 CONVERSATION_TOPIC = 0x0070;
inline constexpr u16 CONVERSATION_INDEX = 0x0071;
inline constexpr u16 TRANSPORT_MESSAGE_HEADERS = 0x007D;
inline constexpr u16 SENDER_ENTRYID = 0x0C19;
inline constexpr u16 SENDER_NAME = 0x0C1A;
inline constexpr u16 SENDER_SEARCH_KEY = 0x0C1D;
inline constexpr u16 SENDER_ADDRTYPE = 0x0C1E;
inline constexpr u16 SENDER_EMAIL_ADDRESS = 0x0C1F;
inline constexpr u16 DISPLAY_BCC = 0x0E02;
inline constexpr u16 DISPLAY_CC = 0x0E03;
inline constexpr u16 DISPLAY_TO = 0x0E04;
inline constexpr u16 MESSAGE_DELIVERY_TIME = 0x0E06;
inline constexpr u16 MESSAGE_FLAGS = 0x0E07;
inline constexpr u16 MESSAGE_SIZE = 0x0E08;
inline constexpr u16 NORMALIZED_SUBJECT = 0x0E1D;
inline constexpr u16 HASATTACH = 0x0E1B;
inline constexpr u16 RTF_IN_SYNC = 0x0E1F;
inline constexpr u16 ATTACH_SIZE = 0x0E20;
inline constexpr u16 INTERNET_CPID = 0x3FDE;
inline constexpr u16 MESSAGE_CODEPAGE = 0x3FFD;
inline constexpr u16 MESSAGE_LOCALE_ID = 0x3FF1;
inline constexpr u16 ICON_INDEX = 0x1080;
inline constexpr u16 LAST_VERB_EXECUTED = 0x1081;
inline constexpr u16 FLAG_STATUS = 0x1090;
inline constexpr u16 BODY = 0x1000;
inline constexpr u16 RTF_COMPRESSED = 0x1009;
inline constexpr u16 HTML = 0x1013;  ///< PR_HTML (PT_BINARY) / PR_BODY_HTML (PT_STRING8/UNICODE)
inline constexpr u16 INTERNET_MESSAGE_ID = 0x1035;
inline constexpr u16 IN_REPLY_TO_ID = 0x1042;
inline constexpr u16 INTERNET_REFERENCES = 0x1039;
inline constexpr u16 CREATION_TIME = 0x3007;
inline constexpr u16 LAST_MODIFICATION_TIME = 0x3008;
inline constexpr u16 SENDER_SMTP_ADDRESS = 0x5D01;
inline constexpr u16 SENT_REPRESENTING_SMTP_ADDRESS = 0x5D02;
inline constexpr u16 KEYWORDS_COMPAT = 0x0000;  ///< unused placeholder (categories are named)

// Recipients
inline constexpr u16 RECIPIENT_TYPE = 0x0C15;
inline constexpr u16 DISPLAY_NAME = 0x3001;
inline constexpr u16 ADDRTYPE = 0x3002;
inline constexpr u16 EMAIL_ADDRESS = 0x3003;
inline constexpr u16 COMMENT = 0x3004;
inline constexpr u16 SMTP_ADDRESS = 0x39FE;
inline constexpr u16 DISPLAY_TYPE = 0x3900;
inline constexpr u16 ENTRYID = 0x0FFF;
inline constexpr u16 RECIPIENT_DISPLAY_NAME = 0x5FF6;
inline constexpr u16 ROWID = 0x3000;

// Attachments
inline constexpr u16 ATTACH_DATA = 0x3701;  ///< PR_ATTACH_DATA_BIN (PT_BINARY) / _OBJ (PT_OBJECT)
inline constexpr u16 ATTACH_ENCODING = 0x3702;
inline constexpr u16 ATTACH_EXTENSION = 0x3703;
inline constexpr u16 ATTACH_FILENAME = 0x3704;
inline constexpr u16 ATTACH_METHOD = 0x3705;
inline constexpr u16 ATTACH_LONG_FILENAME = 0x3707;
inline constexpr u16 ATTACH_PATHNAME = 0x3708;
inline constexpr u16 ATTACH_RENDERING = 0x3709;
inline constexpr u16 ATTACH_TAG = 0x370A;
inline constexpr u16 RENDERING_POSITION = 0x370B;
inline constexpr u16 ATTACH_LONG_PATHNAME = 0x370D;
inline constexpr u16 ATTACH_MIME_TAG = 0x370E;
inline constexpr u16 ATTACH_CONTENT_ID = 0x3712;
inline constexpr u16 ATTACH_CONTENT_LOCATION = 0x3713;
inline constexpr u16 ATTACH_FLAGS = 0x3714;
inline constexpr u16 ATTACH_MIME_SEQUENCE = 0x3710;
inline constexpr u16 ATTACHMENT_HIDDEN = 0x7FFE;
inline constexpr u16 ATTACHMENT_FLAGS = 0x7FFD;
inline constexpr u16 ATTACHMENT_LINK_ID = 0x7FFA;
inline constexpr u16 ATTACH_NUM = 0x0E21;

/// PR_ATTACH_METHOD values ([MS-OXCMSG] 2.2.2.9).
inline constexpr i32 ATTACH_NO_ATTACHMENT = 0;
inline constexpr i32 ATTACH_BY_VALUE = 1;
inline constexpr i32 ATTACH_BY_REFERENCE = 2;
inline constexpr i32 ATTACH_BY_REF_RESOLVE = 3;
inline constexpr i32 ATTACH_BY_REF_ONLY = 4;
inline constexpr i32 ATTACH_EMBEDDED_MSG = 5;
inline constexpr i32 ATTACH_OLE = 6;

// Folders and store
inline constexpr u16 CONTENT_COUNT = 0x3602;
inline constexpr u16 CONTENT_UNREAD = 0x3603;
inline constexpr u16 SUBFOLDERS = 0x360A;
inline constexpr u16 CONTAINER_CLASS = 0x3613;
inline constexpr u16 RECORD_KEY = 0x0FF9;
inline constexpr u16 IPM_SUBTREE_ENTRYID = 0x35E0;
inline constexpr u16 IPM_WASTEBASKET_ENTRYID = 0x35E3;
inline constexpr u16 FINDER_ENTRYID = 0x35E7;
inline constexpr u16 PST_PASSWORD = 0x67FF;

// Contacts (tagged, not named)
inline constexpr u16 GIVEN_NAME = 0x3A06;
inline constexpr u16 SURNAME = 0x3A11;
inline constexpr u16 MIDDLE_NAME = 0x3A44;
inline constexpr u16 NICKNAME = 0x3A4F;
inline constexpr u16 DISPLAY_NAME_PREFIX = 0x3A45;
inline constexpr u16 GENERATION = 0x3A05;
inline constexpr u16 COMPANY_NAME = 0x3A16;
inline constexpr u16 DEPARTMENT_NAME = 0x3A18;
inline constexpr u16 TITLE = 0x3A17;
inline constexpr u16 BUSINESS_TELEPHONE_NUMBER = 0x3A08;
inline constexpr u16 HOME_TELEPHONE_NUMBER = 0x3A09;
inline constexpr u16 MOBILE_TELEPHONE_NUMBER = 0x3A1C;
inline constexpr u16 BUSINESS_FAX_NUMBER = 0x3A24;
inline constexpr u16 HOME_FAX_NUMBER = 0x3A25;
inline constexpr u16 PAGER_TELEPHONE_NUMBER = 0x3A21;
inline constexpr u16 PRIMARY_TELEPHONE_NUMBER = 0x3A1A;
inline constexpr u16 BIRTHDAY = 0x3A42;
inline constexpr u16 BUSINESS_HOME_PAGE = 0x3A51;
inline constexpr u16 PERSONAL_HOME_PAGE = 0x3A50;
inline constexpr u16 STREET_ADDRESS = 0x3A29;
inline constexpr u16 LOCALITY = 0x3A27;
inline constexpr u16 STATE_OR_PROVINCE = 0x3A28;
inline constexpr u16 POSTAL_CODE = 0x3A2A;
inline constexpr u16 COUNTRY = 0x3A26;
inline constexpr u16 HOME_ADDRESS_STREET = 0x3A5D;
inline constexpr u16 HOME_ADDRESS_CITY = 0x3A59;
inline constexpr u16 HOME_ADDRESS_STATE_OR_PROVINCE = 0x3A5C;
inline constexpr u16 HOME_ADDRESS_POSTAL_CODE = 0x3A5B;
inline constexpr u16 HOME_ADDRESS_COUNTRY = 0x3A5A;

// Reports: delivery, non-delivery and read receipts ([MS-OXOMSG] 2.2.2, [MS-OXPROPS]).
inline constexpr u16 DELIVER_TIME = 0x0010;  ///< recipient: when it was delivered
inline constexpr u16 REPORT_TIME = 0x0032;
inline constexpr u16 ORIGINAL_SUBJECT = 0x0049;
inline constexpr u16 ORIGINAL_SUBMIT_TIME = 0x004E;
inline constexpr u16 ORIGINAL_SENDER_NAME = 0x005A;
inline constexpr u16 ORIGINAL_SENDER_ADDRTYPE = 0x0066;
inline constexpr u16 ORIGINAL_SENDER_EMAIL_ADDRESS = 0x0067;
inline constexpr u16 ORIGINAL_DISPLAY_BCC = 0x0072;
inline constexpr u16 ORIGINAL_DISPLAY_CC = 0x0073;
inline constexpr u16 ORIGINAL_DISPLAY_TO = 0x0074;
inline constexpr u16 REPORT_DISPOSITION = 0x0080;
inline constexpr u16 REPORT_DISPOSITION_MODE = 0x0081;
inline constexpr u16 NDR_REASON_CODE = 0x0C04;
inline constexpr u16 NDR_DIAG_CODE = 0x0C05;
inline constexpr u16 SUPPLEMENTARY_INFO = 0x0C1B;
inline constexpr u16 NDR_STATUS_CODE = 0x0C20;  ///< Kind * 100 + Subject * 10 + Detail
inline constexpr u16 REMOTE_MTA = 0x0C21;
inline constexpr u16 REPORT_TEXT = 0x1001;
inline constexpr u16 ORIGINAL_MESSAGE_ID = 0x1046;
inline constexpr u16 REPORTING_MTA = 0x6820;

/// PR_MESSAGE_FLAGS bits ([MS-OXCMSG] 2.2.1.6).
inline constexpr i32 MSGFLAG_READ = 0x0001;
inline constexpr i32 MSGFLAG_UNMODIFIED = 0x0002;
inline constexpr i32 MSGFLAG_SUBMIT = 0x0004;
inline constexpr i32 MSGFLAG_UNSENT = 0x0008;
inline constexpr i32 MSGFLAG_HASATTACH = 0x0010;
inline constexpr i32 MSGFLAG_FROMME = 0x0020;
inline constexpr i32 MSGFLAG_ASSOCIATED = 0x0040;

}  // namespace mm::mapi::pid
