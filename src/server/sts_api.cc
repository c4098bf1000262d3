#include "server/sts_api.h"

#include "server/s3_xml.h"

namespace kiln {
namespace {

constexpr char kStsNamespace[] = "https://sts.amazonaws.com/doc/2011-06-15/";

// The form parameters of a query-protocol request: the body for POST, the query for GET.
std::multimap<std::string, std::string> FormParams(const HttpRequest& request) {
  if (request.method == "POST") {
    auto parsed = ParseQuery(request.body);
    if (parsed.ok()) return *parsed;
    return {};
  }
  return request.query;
}

std::string Param(const std::multimap<std::string, std::string>& params, const std::string& key) {
  auto it = params.find(key);
  return it == params.end() ? "" : it->second;
}

}  // namespace

bool StsApi::LooksLikeStsCall(const HttpRequest& request) {
  if (request.method != "POST" && request.method != "GET") return false;
  if (request.method == "POST") {
    std::string type = request.headers.GetOr("Content-Type", "");
    if (type.find("application/x-www-form-urlencoded") == std::string::npos) return false;
  }
  return Param(FormParams(request), "Action") == "GetCallerIdentity";
}

void StsApi::Handle(const HttpRequest& request, const std::string& access_key,
                    const std::string& request_id, HttpResponse& response) const {
  auto params = FormParams(request);
  std::string action = Param(params, "Action");
  if (action != "GetCallerIdentity") {
    return WriteError(400, action.empty() ? "MissingAction" : "InvalidAction",
                      action.empty()
                          ? "Missing Action parameter"
                          : "Kiln's STS implements only GetCallerIdentity, not " + action,
                      request_id, response);
  }
  s3api::XmlWriter xml("GetCallerIdentityResponse", kStsNamespace);
  xml.Open("GetCallerIdentityResult");
  xml.Element("Arn", "arn:aws:iam::" + account_id_ + ":user/" + user_name_);
  xml.Element("UserId", access_key);
  xml.Element("Account", account_id_);
  xml.Close();
  xml.Open("ResponseMetadata");
  xml.Element("RequestId", request_id);
  xml.Close();
  response.status = 200;
  response.headers.Set("Content-Type", "text/xml");
  response.body = xml.Finish();
}

void StsApi::WriteError(int status, const std::string& code, const std::string& message,
                        const std::string& request_id, HttpResponse& response) {
  s3api::XmlWriter xml("ErrorResponse", kStsNamespace);
  xml.Open("Error");
  xml.Element("Type", status >= 500 ? "Receiver" : "Sender");
  xml.Element("Code", code);
  xml.Element("Message", message);
  xml.Close();
  xml.Element("RequestId", request_id);
  response.status = status;
  response.headers.Set("Content-Type", "text/xml");
  response.body = xml.Finish();
}

}  // namespace kiln
