// The public validation entry points: a model walk (model_validator.h) over the request shapes
// (model_shape.h), then the operation's semantic rules (create_job_rules.h). Members the model
// does not know are ignored, as AWS JSON services tolerate them and SDKs never send them.
#include "api/validation.h"

#include <string>

#include "api/coral_errors.h"
#include "api/create_job_rules.h"
#include "api/model_shape.h"
#include "api/model_validator.h"
#include "api/wire_time.h"

namespace kiln {
namespace {

using api_internal::FindMember;
using api_internal::ModelValidator;
using api_internal::ValidationErrors;
using nlohmann::json;

// An empty body stands for "{}" (spec §1.1); anything else must be an object.
Result<const json*> RequestObject(const json& body) {
  static const json* const kEmpty = new json(json::object());
  if (body.is_null()) return kEmpty;
  if (!body.is_object()) {
    return Status::InvalidArgument("The request body must be a JSON object, not " +
                                   std::string(body.type_name()));
  }
  return &body;
}

json WithoutNulls(const json& value) {
  if (value.is_object()) {
    json out = json::object();
    for (const auto& [key, member] : value.items()) {
      if (!member.is_null()) out[key] = WithoutNulls(member);
    }
    return out;
  }
  if (value.is_array()) {
    json out = json::array();
    for (const json& element : value) out.push_back(WithoutNulls(element));
    return out;
  }
  return value;
}

void SetDefault(json& object, const char* key, json value) {
  if (!object.contains(key)) object[key] = std::move(value);
}

}  // namespace

Status ValidateCreateProcessingJob(const json& body, bool allow_file_uris) {
  ASSIGN_OR_RETURN(const json* request, RequestObject(body));
  ValidationErrors errors;
  ModelValidator(allow_file_uris, &errors)
      .Validate(*request, api_internal::CreateProcessingJobRequestShape(), "");
  api_internal::CheckCreateProcessingJobSemantics(*request, &errors);
  return errors.ToStatus();
}

json NormalizeCreateProcessingJob(const json& body) {
  // Null members mean "absent" on the wire; dropping them keeps Describe from echoing nulls.
  json out = WithoutNulls(body.is_null() ? json::object() : body);
  if (!out.is_object()) return out;
  if (auto inputs = out.find("ProcessingInputs"); inputs != out.end() && inputs->is_array()) {
    for (json& input : *inputs) {
      if (!input.is_object()) continue;
      SetDefault(input, "AppManaged", false);
      if (auto s3 = input.find("S3Input"); s3 != input.end() && s3->is_object()) {
        SetDefault(*s3, "S3InputMode", "File");
        SetDefault(*s3, "S3DataDistributionType", "FullyReplicated");
        SetDefault(*s3, "S3CompressionType", "None");
      }
    }
  }
  if (auto config = out.find("ProcessingOutputConfig");
      config != out.end() && config->is_object()) {
    if (auto outputs = config->find("Outputs"); outputs != config->end() && outputs->is_array()) {
      for (json& output : *outputs) {
        if (output.is_object()) SetDefault(output, "AppManaged", false);
      }
    }
  }
  SetDefault(out, "StoppingCondition", json{{"MaxRuntimeInSeconds", 86400}});
  return out;
}

Result<std::string> ValidateJobNameRequest(const json& body) {
  ASSIGN_OR_RETURN(const json* request, RequestObject(body));
  ValidationErrors errors;
  ModelValidator(false, &errors).Validate(*request, api_internal::JobNameRequestShape(), "");
  RETURN_IF_ERROR(errors.ToStatus());
  return request->at("ProcessingJobName").get<std::string>();
}

Result<ListQuery> ParseListProcessingJobs(const json& body) {
  ASSIGN_OR_RETURN(const json* request, RequestObject(body));
  ValidationErrors errors;
  ModelValidator(false, &errors)
      .Validate(*request, api_internal::ListProcessingJobsRequestShape(), "");
  ListQuery query;
  const std::pair<const char*, std::optional<int64_t>*> kTimes[] = {
      {"CreationTimeAfter", &query.creation_time_after_ms},
      {"CreationTimeBefore", &query.creation_time_before_ms},
      {"LastModifiedTimeAfter", &query.last_modified_time_after_ms},
      {"LastModifiedTimeBefore", &query.last_modified_time_before_ms},
  };
  for (const auto& [member, target] : kTimes) {
    const json* value = FindMember(*request, member);
    if (value == nullptr || !value->is_number()) continue;  // type errors already recorded
    *target = MsFromWireTime(*value);
    if (!*target) {
      errors.Add(api_internal::MemberPath("", member), value,
                 "Member must be a timestamp within the representable range");
    }
  }
  RETURN_IF_ERROR(errors.ToStatus());

  if (const json* v = FindMember(*request, "NameContains"))
    query.name_contains = v->get<std::string>();
  if (const json* v = FindMember(*request, "StatusEquals")) {
    query.status_equals = ParseJobStatus(v->get<std::string>());
  }
  if (const json* v = FindMember(*request, "SortBy")) {
    const std::string& sort_by = v->get_ref<const std::string&>();
    query.sort_by = sort_by == "Name"     ? ListSortBy::kName
                    : sort_by == "Status" ? ListSortBy::kStatus
                                          : ListSortBy::kCreationTime;
  }
  if (const json* v = FindMember(*request, "SortOrder")) {
    query.sort_order = *v == "Descending" ? SortOrder::kDescending : SortOrder::kAscending;
  }
  if (const json* v = FindMember(*request, "NextToken")) query.next_token = v->get<std::string>();
  if (const json* v = FindMember(*request, "MaxResults")) {
    query.max_results = static_cast<int>(*api_internal::AsInteger(*v));
  }
  return query;
}

}  // namespace kiln
