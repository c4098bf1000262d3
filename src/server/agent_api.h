// AgentApi: the server end of the Kiln-internal agent protocol (scheduler/agent_protocol.h). It
// serves the "KilnAgent.*" JSON 1.1 operations to `kiln agent`s on cluster nodes. Only a job's
// own agent key may call them, and only for that job: the job is taken from the key, never from
// the request.
#pragma once

#include <string>
#include <string_view>

#include "scheduler/agent_protocol.h"
#include "scheduler/job_credentials.h"
#include "server/json_protocol.h"

namespace kiln {

class AgentApi {
 public:
  // Both must outlive the API.
  AgentApi(AgentHub* hub, const JobCredentials* credentials)
      : hub_(hub), credentials_(credentials) {}

  // Runs the KilnAgent operation `target` for a request whose SigV4 signature by `access_key`
  // was verified. AccessDeniedException (403) unless the key is a running job's agent key.
  JsonResponse Handle(const std::string& access_key, std::string_view target,
                      std::string_view body) const;

 private:
  AgentHub* hub_;
  const JobCredentials* credentials_;
};

}  // namespace kiln
