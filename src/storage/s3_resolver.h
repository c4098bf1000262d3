// S3Resolver: serves s3:// (and https:// S3 URLs) from one configured S3 endpoint. The composition
// root routes schemes to it with CompositeResolver::Route("s3", &resolver) (and "https").
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "storage/object_store.h"
#include "storage/s3_object_store.h"

namespace kiln {

class S3Resolver : public ObjectStoreResolver {
 public:
  // Builds the endpoint's store. InvalidArgument for a bad configuration; no network I/O.
  static Result<std::unique_ptr<S3Resolver>> Make(S3Config config);
  ~S3Resolver() override;

  // The store for an "s3" or "https" location with a bucket; InvalidArgument for any other scheme
  // or an empty bucket. DataLocation carries no host, so callers that accept https:// URIs should
  // check ServesUri first (see below) before routing "https" here.
  Result<ObjectStore*> Resolve(const DataLocation& location) override;

  // True for s3:// URIs and for https:// URIs whose host is the endpoint's host (path style,
  // https://host/bucket/key) or a bucket below it (virtual-hosted, https://bucket.host/key).
  bool ServesUri(std::string_view uri) const;

  S3ObjectStore& store() { return *store_; }

 private:
  S3Resolver(std::unique_ptr<S3ObjectStore> store, std::string host);

  std::unique_ptr<S3ObjectStore> store_;
  std::string host_;  // the endpoint's host[:port], lower-case
};

}  // namespace kiln
