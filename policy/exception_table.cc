#include "policy/exception_table.h"

#include "filters/domain_name.h"
#include "policy/categories.h"

namespace safegate::policy {

std::string_view exceptionKindName(TemporaryException::Kind k) {
  switch (k) {
    case TemporaryException::Kind::kPause: return "pause";
    case TemporaryException::Kind::kName: return "name";
    case TemporaryException::Kind::kCategory: return "category";
  }
  return "name";
}

ExceptionTable::ExceptionTable(std::vector<TemporaryException> entries, uint64_t next_id)
    : entries_(std::move(entries)), next_id_(next_id) {
  for (const auto& e : entries_) {
    if (e.id >= next_id_) next_id_ = e.id + 1;
  }
}

Result<ExceptionTablePtr> ExceptionTable::withAdded(TemporaryException e) const {
  if (e.until_unix_seconds <= e.created_unix_seconds) {
    return Status::invalid("exception must end after it starts");
  }
  if (e.granted_by.empty()) return Status::invalid("exception needs granted_by (who granted it)");
  if (e.scope == TemporaryException::Scope::kGroup && e.group.empty()) {
    return Status::invalid("group exception needs a group name");
  }
  switch (e.kind) {
    case TemporaryException::Kind::kPause: break;
    case TemporaryException::Kind::kName: {
      auto canonical = normalizeDomain(e.name);
      if (!canonical) return Status::invalid("exception name: " + canonical.status().message());
      e.name = *canonical;
      break;
    }
    case TemporaryException::Kind::kCategory: {
      const CategoryInfo* info = findCategory(e.category);
      if (!info) return Status::invalid("unknown category \"" + e.category + "\"");
      if (info->kind == CategoryKind::kIllegal) {
        return Status::invalid("\"" + e.category +
                               "\" is a licensed illegal-content category and can never be "
                               "allowed");
      }
      break;
    }
  }
  std::vector<TemporaryException> entries = entries_;
  e.id = next_id_;
  entries.push_back(std::move(e));
  return ExceptionTablePtr(std::make_shared<ExceptionTable>(std::move(entries), next_id_ + 1));
}

Result<ExceptionTablePtr> ExceptionTable::withRemoved(uint64_t id) const {
  std::vector<TemporaryException> entries;
  bool found = false;
  for (const auto& e : entries_) {
    if (e.id == id) {
      found = true;
      continue;
    }
    entries.push_back(e);
  }
  if (!found) return Status::notFound("no exception with id " + std::to_string(id));
  return ExceptionTablePtr(std::make_shared<ExceptionTable>(std::move(entries), next_id_));
}

ExceptionTablePtr ExceptionTable::withoutExpired(int64_t now) const {
  std::vector<TemporaryException> entries;
  for (const auto& e : entries_) {
    if (e.until_unix_seconds > now) entries.push_back(e);
  }
  return std::make_shared<ExceptionTable>(std::move(entries), next_id_);
}

}  // namespace safegate::policy
