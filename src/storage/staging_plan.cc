// Input planning: which objects an instance gets and where each lands (spec §4.5, §8.6, §8.7).
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "storage/staging_internal.h"

namespace kiln::staging_internal {
namespace {

std::string Label(const InputSpec& in) { return "input '" + in.name + "'"; }

Status OutsideLocalPath(const InputSpec& in, const std::string& key, const std::string& uri) {
  return Status::InvalidArgument(Label(in) + ": object key '" + key + "' (" + uri +
                                 ") has a '..' segment or no name, so it would land outside "
                                 "LocalPath " +
                                 in.local_path);
}

// §8.7: one named object lands at LocalPath/<basename>; otherwise each key lands at its path
// relative to the prefix.
Status PlanS3Prefix(const InputSpec& in, InputPlan* plan, std::vector<PlannedObject>* all) {
  const DataLocation& loc = plan->base;
  auto listed = plan->store->List(loc.bucket, loc.key);
  if (!listed.ok()) return listed.status().WithPrefix(Label(in) + ": listing " + in.uri);
  std::vector<ObjectInfo> objects;
  for (ObjectInfo& o : *listed) {
    if (!o.key.ends_with('/')) objects.push_back(std::move(o));
  }
  if (objects.empty()) return Status::NotFound(Label(in) + ": no objects match " + in.uri);

  if (!loc.key.empty() && !loc.key.ends_with('/')) {
    for (const ObjectInfo& o : objects) {
      if (o.key != loc.key) continue;
      PlannedObject p{o.key, o.size, {}};
      std::string basename = o.key.substr(o.key.rfind('/') + 1);
      if (!NormalizeRelativeLocalPath(basename, &p.local_segments)) {
        return OutsideLocalPath(in, o.key, in.uri);
      }
      all->push_back(std::move(p));
      return Status::Ok();
    }
  }
  for (const ObjectInfo& o : objects) {
    if (!o.key.starts_with(loc.key)) {
      return Status::Internal(Label(in) + ": the store listed '" + o.key + "' for prefix '" +
                              loc.key + "'");
    }
    PlannedObject p{o.key, o.size, {}};
    if (!NormalizeRelativeLocalPath(o.key.substr(loc.key.size()), &p.local_segments)) {
      return OutsideLocalPath(in, o.key, ObjectUri(in.uri, loc, o.key));
    }
    all->push_back(std::move(p));
  }
  return Status::Ok();
}

// The manifest is a JSON array: {"prefix": "<uri>"} and then keys relative to that prefix.
Status PlanManifest(const InputSpec& in, ObjectStoreResolver& resolver, InputPlan* plan,
                    std::vector<PlannedObject>* all) {
  std::string what = Label(in) + ": manifest " + in.uri;
  auto text = plan->store->GetBytes(plan->base.bucket, plan->base.key);
  if (!text.ok()) return text.status().WithPrefix(what);
  nlohmann::json doc = nlohmann::json::parse(*text, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) return Status::InvalidArgument(what + " is not valid JSON");
  if (!doc.is_array() || doc.empty() || !doc[0].is_object() || !doc[0].contains("prefix") ||
      !doc[0]["prefix"].is_string()) {
    return Status::InvalidArgument(
        what + " must be a JSON array whose first element is {\"prefix\": \"<uri>\"}");
  }
  plan->base_uri = doc[0]["prefix"].get<std::string>();
  auto prefix = ParseDataUri(plan->base_uri);
  if (!prefix.ok()) return prefix.status().WithPrefix(what);
  plan->base = *prefix;
  auto store = resolver.Resolve(plan->base);
  if (!store.ok()) return store.status().WithPrefix(what);
  plan->store = *store;
  auto listed = plan->store->List(plan->base.bucket, plan->base.key);
  if (!listed.ok()) return listed.status().WithPrefix(what + ": listing " + plan->base_uri);
  std::map<std::string, uint64_t> sizes;
  for (const ObjectInfo& o : *listed) sizes.emplace(o.key, o.size);

  std::map<std::string, PlannedObject> by_key;  // deduplicated, in bytewise key order
  for (size_t i = 1; i < doc.size(); ++i) {
    if (!doc[i].is_string()) {
      return Status::InvalidArgument(what + ": element " + std::to_string(i) + " is not a string");
    }
    std::string suffix = doc[i].get<std::string>();
    if (suffix.ends_with('/')) continue;
    std::string key = plan->base.key + suffix;
    std::string uri = ObjectUri(plan->base_uri, plan->base, key);
    PlannedObject p{key, 0, {}};
    if (!NormalizeRelativeLocalPath(suffix, &p.local_segments)) {
      return OutsideLocalPath(in, key, uri);
    }
    auto it = sizes.find(key);
    if (it == sizes.end())
      return Status::NotFound(what + " lists " + uri + ", which does not exist");
    p.size = it->second;
    by_key.emplace(key, std::move(p));
  }
  if (by_key.empty()) return Status::NotFound(what + " lists no objects");
  for (auto& [key, p] : by_key) all->push_back(std::move(p));
  return Status::Ok();
}

}  // namespace

Status PlanInput(const JobSpec& spec, int instance_index, const InputSpec& in,
                 ObjectStoreResolver& resolver, InputPlan* plan) {
  plan->input = &in;
  if (!in.input_mode.empty() && in.input_mode != "File" && in.input_mode != "Pipe") {
    return Status::InvalidArgument(Label(in) + ": unknown S3InputMode '" + in.input_mode + "'");
  }
  ASSIGN_OR_RETURN(plan->local_dir, ProcessingPathSegments(in.local_path, Label(in)));
  auto loc = ParseDataUri(in.uri);
  if (!loc.ok()) return loc.status().WithPrefix(Label(in));
  plan->base = *loc;
  plan->base_uri = in.uri;
  auto store = resolver.Resolve(plan->base);
  if (!store.ok()) return store.status().WithPrefix(Label(in));
  plan->store = *store;

  std::vector<PlannedObject> all;
  if (in.data_type.empty() || in.data_type == "S3Prefix") {
    RETURN_IF_ERROR(PlanS3Prefix(in, plan, &all));
  } else if (in.data_type == "ManifestFile") {
    RETURN_IF_ERROR(PlanManifest(in, resolver, plan, &all));
  } else {
    return Status::InvalidArgument(Label(in) + ": unknown S3DataType '" + in.data_type + "'");
  }

  // §8.6: keys in bytewise order, object i to instance i mod N.
  bool sharded = in.distribution == "ShardedByS3Key";
  if (!sharded && !in.distribution.empty() && in.distribution != "FullyReplicated") {
    return Status::InvalidArgument(Label(in) + ": unknown S3DataDistributionType '" +
                                   in.distribution + "'");
  }
  plan->total_objects = all.size();
  size_t n = static_cast<size_t>(spec.instance_count);
  for (size_t i = 0; i < all.size(); ++i) {
    if (sharded && i % n != static_cast<size_t>(instance_index)) continue;
    plan->bytes += all[i].size;
    plan->objects.push_back(std::move(all[i]));
  }
  return Status::Ok();
}

}  // namespace kiln::staging_internal
