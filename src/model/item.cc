#include "mailmill/model/item.h"

namespace mm::model {

const char *item_kind_name(ItemKind kind) {
  switch (kind) {
    case ItemKind::Message: return "message";
    case ItemKind::Appointment: return "appointment";
    case ItemKind::Task: return "task";
    case ItemKind::Contact: return "contact";
    case ItemKind::DistList: return "distribution-list";
    case ItemKind::StickyNote: return "sticky-note";
    case ItemKind::Journal: return "journal";
    case ItemKind::Other: return "other";
  }
  return "other";
}

std::string ItemId::to_string() const {
  std::string out = source;
  out += ':';
  out += folder_path;
  out += ":nid=";
  out += std::to_string(node_id);
  return out;
}

}  // namespace mm::model
