#include "storage/object_store.h"

namespace kiln {

Status ObjectStore::ReadObject(const std::string& bucket, const std::string& key,
                               const std::function<Status(std::string_view chunk)>& sink) {
  ASSIGN_OR_RETURN(std::string data, GetBytes(bucket, key));
  return sink(data);
}

}  // namespace kiln
