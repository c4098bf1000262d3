// StageInputs: plans every input (staging_plan.cc), checks the volume, then downloads.
// Nothing is written until every input has been planned, so a bad input or an oversized job fails
// with an empty sandbox.
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "storage/parallel_for.h"
#include "storage/safe_fs.h"
#include "storage/staging.h"
#include "storage/staging_internal.h"

namespace kiln {
namespace {

using staging_internal::ElapsedSince;
using staging_internal::FormatBytes;
using staging_internal::InputPlan;
using staging_internal::ObjectUri;
using staging_internal::PlanInput;
using staging_internal::PlannedObject;
using staging_internal::ProcessingPathSegments;

std::string Label(const InputSpec& in) { return "input '" + in.name + "'"; }

Status CheckVolume(const JobSpec& spec, int instance_index, const std::vector<InputPlan>& plans) {
  uint64_t total = 0;
  std::string parts;
  for (const InputPlan& p : plans) {
    total += p.bytes;
    if (p.bytes == 0) continue;
    parts += (parts.empty() ? "" : "; ") + Label(*p.input) + ": " + FormatBytes(p.bytes);
  }
  uint64_t limit = static_cast<uint64_t>(spec.volume_size_gb) << 30;
  if (total <= limit) return Status::Ok();
  return Status::InvalidArgument("the inputs of algo-" + std::to_string(instance_index + 1) +
                                 " need " + FormatBytes(total) + " (" + parts +
                                 "), more than its " + std::to_string(spec.volume_size_gb) +
                                 " GiB volume (ProcessingResources.ClusterConfig.VolumeSizeInGB)");
}

std::string Describe(const JobSpec& spec, int instance_index, const InputPlan& plan) {
  const InputSpec& in = *plan.input;
  std::string line = "Staging " + Label(in) + " from " + in.uri + " to " + in.local_path + ": " +
                     std::to_string(plan.objects.size());
  if (in.distribution == "ShardedByS3Key") {
    line += " of " + std::to_string(plan.total_objects) + " objects (ShardedByS3Key, algo-" +
            std::to_string(instance_index + 1) + " of " + std::to_string(spec.instance_count) + ")";
  } else {
    line += plan.objects.size() == 1 ? " object" : " objects";
  }
  return line + ", " + FormatBytes(plan.bytes);
}

// Creates the directories the objects of `plan` go to, each once (staging 10,000 objects into 100
// directories walks 100 directory chains, not 10,000), never following symlinks.
Status MakeObjectDirectories(const std::string& processing_root, const InputPlan& plan) {
  std::set<std::vector<std::string>> made;
  for (const PlannedObject& obj : plan.objects) {
    std::vector<std::string> rel(obj.local_segments.begin(), obj.local_segments.end() - 1);
    if (rel.empty() || !made.insert(rel).second) continue;
    std::vector<std::string> dirs = plan.local_dir;
    dirs.insert(dirs.end(), rel.begin(), rel.end());
    auto dir = OpenDirBeneath(processing_root, dirs, /*create=*/true);
    if (!dir.ok()) {
      return dir.status().WithPrefix(Label(*plan.input) + ": object " +
                                     ObjectUri(plan.base_uri, plan.base, obj.key) +
                                     ": cannot create its directory");
    }
  }
  return Status::Ok();
}

// Downloads one object; its directory exists (MakeObjectDirectories).
Status Download(const std::string& processing_root, const InputPlan& plan,
                const PlannedObject& obj) {
  const InputSpec& in = *plan.input;
  std::string uri = ObjectUri(plan.base_uri, plan.base, obj.key);
  std::string dest = HostPathFor(processing_root, in.local_path);
  for (const std::string& seg : obj.local_segments) dest += "/" + seg;
  Status st = plan.store->GetToFileOfSize(plan.base.bucket, obj.key, dest, obj.size);
  if (!st.ok()) return st.WithPrefix(Label(in) + ": object " + uri);
  return Status::Ok();
}

}  // namespace

Status StageInputs(const JobSpec& spec, int instance_index, const std::string& processing_root,
                   ObjectStoreResolver& resolver, const ProgressFn& progress) {
  auto report = [&](const std::string& line) {
    if (progress) progress(line);
  };
  if (spec.instance_count < 1 || instance_index < 0 || instance_index >= spec.instance_count) {
    return Status::InvalidArgument("instance index " + std::to_string(instance_index) +
                                   " is outside InstanceCount " +
                                   std::to_string(spec.instance_count));
  }

  // Plan everything first: nothing below is written until every input and output checks out.
  std::vector<InputPlan> plans;
  for (const InputSpec& in : spec.inputs) {
    if (in.app_managed) {
      report("Skipping " + Label(in) + ": AppManaged, so the container fetches it itself");
      continue;
    }
    if (in.input_mode == "Pipe") continue;  // streamed by a PipeFeeder, never on the volume
    InputPlan plan;
    RETURN_IF_ERROR(PlanInput(spec, instance_index, in, resolver, &plan));
    plans.push_back(std::move(plan));
  }
  std::vector<std::pair<const OutputSpec*, std::vector<std::string>>> output_dirs;
  for (const OutputSpec& out : spec.outputs) {
    if (out.local_path.empty()) continue;
    ASSIGN_OR_RETURN(auto segs,
                     ProcessingPathSegments(out.local_path, "output '" + out.name + "'"));
    output_dirs.emplace_back(&out, std::move(segs));
  }
  RETURN_IF_ERROR(CheckVolume(spec, instance_index, plans));

  for (const auto& [out, segs] : output_dirs) {
    auto dir = OpenDirBeneath(processing_root, segs, /*create=*/true);
    if (!dir.ok()) {
      return dir.status().WithPrefix("output '" + out->name + "': cannot create LocalPath " +
                                     out->local_path);
    }
  }
  for (const InputPlan& plan : plans) {
    auto start = std::chrono::steady_clock::now();
    report(Describe(spec, instance_index, plan));
    auto dir = OpenDirBeneath(processing_root, plan.local_dir, /*create=*/true);
    if (!dir.ok()) {
      return dir.status().WithPrefix(Label(*plan.input) + ": cannot create LocalPath " +
                                     plan.input->local_path);
    }
    RETURN_IF_ERROR(MakeObjectDirectories(processing_root, plan));
    RETURN_IF_ERROR(
        ParallelFor(plan.objects.size(), staging_internal::kTransferParallelism,
                    [&](size_t i) { return Download(processing_root, plan, plan.objects[i]); }));
    report("Staged " + Label(*plan.input) + " in " + ElapsedSince(start));
  }
  return Status::Ok();
}

}  // namespace kiln
