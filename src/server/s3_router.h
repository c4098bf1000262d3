// S3Router: Kiln's embedded S3 REST API on the server's port. The fixed pipeline per request:
// parse (bucket and key, path- or virtual-host style, and the operation from method and
// subresources), authorize (SigV4 was verified by ApiRouter; here the expected-bucket-owner
// check), execute against the BucketStore and respond, or write the S3 <Error> document.
#pragma once

#include <string>

#include "server/http_server.h"
#include "server/s3_errors.h"
#include "server/s3_ops.h"
#include "server/sigv4.h"
#include "storage/bucket_store.h"

namespace kiln::s3api {

class S3Router {
 public:
  // `store` must outlive the router.
  S3Router(BucketStore* store, S3Options options);

  // Serves one authenticated S3 request. `auth` is the successful SigV4 result (its payload hash
  // and signing material drive body verification). May block (streams bodies).
  void Handle(HttpRequest& request, const SigV4Result& auth, const std::string& request_id,
              HttpResponse& response);

  // Writes `error` as S3 does for `request` (used for authentication failures and errors found
  // before routing).
  void WriteError(const HttpRequest& request, const S3Status& error, const std::string& request_id,
                  HttpResponse& response) const;

  // True for requests whose bodies S3 streams (object and part uploads: every S3 PUT); decided
  // from the header alone.
  static bool WantsStreamingBody(const HttpRequest& header);

  const S3Options& options() const { return context_.options; }

 private:
  S3Status Route(S3Request& request, HttpResponse& response);
  S3Status RouteBucket(S3Request& request, HttpResponse& response);
  S3Status RouteObject(S3Request& request, HttpResponse& response);

  S3Context context_;
  BucketOps bucket_ops_{&context_};
  ListOps list_ops_{&context_};
  ObjectOps object_ops_{&context_};
  MultipartOps multipart_ops_{&context_};
};

}  // namespace kiln::s3api
