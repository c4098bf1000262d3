// STS GetCallerIdentity over the AWS query protocol (form POST, XML reply), so that
// `aws sts get-caller-identity` and the SageMaker SDK's account lookup work against Kiln. The
// caller is the server's one access key: Arn arn:aws:iam::<account>:user/kiln.
#pragma once

#include <string>

#include "server/http_server.h"

namespace kiln {

class StsApi {
 public:
  explicit StsApi(std::string account_id, std::string user_name = "kiln")
      : account_id_(std::move(account_id)), user_name_(std::move(user_name)) {}

  // True when `request` is a query-protocol call this API serves: a POST (or GET) whose form body
  // or query carries Action=GetCallerIdentity.
  static bool LooksLikeStsCall(const HttpRequest& request);

  // Serves an authenticated request for `access_key` (from its SigV4 credential).
  void Handle(const HttpRequest& request, const std::string& access_key,
              const std::string& request_id, HttpResponse& response) const;

  // The query-protocol <ErrorResponse> document.
  static void WriteError(int status, const std::string& code, const std::string& message,
                         const std::string& request_id, HttpResponse& response);

 private:
  std::string account_id_;
  std::string user_name_;
};

}  // namespace kiln
