#include "server/agent_api.h"

namespace kiln {

JsonResponse AgentApi::Handle(const std::string& access_key, std::string_view target,
                              std::string_view body) const {
  std::optional<std::string> principal = credentials_->JobFor(access_key);
  std::optional<std::string> job = principal ? JobOfAgentPrincipal(*principal) : std::nullopt;
  if (!job) {
    return JsonService::Error(403, "AccessDeniedException",
                              "KilnAgent operations take a running job's agent key");
  }
  JsonService service(kAgentTargetPrefix, SageMakerErrorCode);
  AgentHub* hub = hub_;
  const std::string name = *job;
  service.Add("GetAssignment", [hub, name](const nlohmann::json& r) -> Result<nlohmann::json> {
    if (!r.contains("HostIndex") || !r["HostIndex"].is_number_integer()) {
      return Status::InvalidArgument("HostIndex is required");
    }
    ASSIGN_OR_RETURN(AgentAssignment a, hub->GetAssignment(name, r["HostIndex"].get<int>(),
                                                           r.value("ClusterJobId", std::string())));
    return a.ToJson();
  });
  service.Add("PutLogEvents", [hub, name](const nlohmann::json& r) -> Result<nlohmann::json> {
    ASSIGN_OR_RETURN(AgentLogBatch batch, AgentLogBatch::FromJson(r));
    RETURN_IF_ERROR(hub->PutLogEvents(name, batch));
    return nlohmann::json::object();
  });
  service.Add("ReportExit", [hub, name](const nlohmann::json& r) -> Result<nlohmann::json> {
    ASSIGN_OR_RETURN(AgentExitReport report, AgentExitReport::FromJson(r));
    RETURN_IF_ERROR(hub->ReportExit(name, report));
    return nlohmann::json::object();
  });
  return service.Handle(target, body);
}

}  // namespace kiln
