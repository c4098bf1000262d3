// DeliverOutputs: uploads what the job left under each output's LocalPath (spec §4.6, §8.8).
// The sandbox was writable by the job, so every path is opened without following symlinks and
// the store reads each file through the descriptor we opened, never by path.
#include <algorithm>
#include <string>
#include <vector>

#include "storage/parallel_for.h"
#include "storage/safe_fs.h"
#include "storage/staging.h"
#include "storage/staging_internal.h"

namespace kiln {
namespace {

using staging_internal::ElapsedSince;
using staging_internal::FormatBytes;
using staging_internal::JoinKey;
using staging_internal::ObjectUri;
using staging_internal::ProcessingPathSegments;

std::string Label(const OutputSpec& out) { return "output '" + out.name + "'"; }

Status Upload(const std::string& processing_root, const OutputSpec& out,
              const std::vector<std::string>& local_dir, const DataLocation& loc,
              ObjectStore& store, const ObjectInfo& file) {
  std::string rel;
  for (const std::string& seg : local_dir) rel += seg + "/";
  rel += file.key;
  std::string container_path = out.local_path + "/" + file.key;
  std::string key = JoinKey(loc.key, file.key);
  std::string what =
      Label(out) + ": file " + container_path + " to " + ObjectUri(out.uri, loc, key);
  auto fd = OpenFileBeneath(processing_root, rel);
  if (!fd.ok()) return fd.status().WithPrefix(what);
  // Reopening through /proc/self/fd reads the very file we checked, even if the path changes.
  std::string src = "/proc/self/fd/" + std::to_string(fd->get());
  Status st = store.PutFromFile(loc.bucket, key, src);
  if (!st.ok()) return st.WithPrefix(what);
  return Status::Ok();
}

Status DeliverOutput(const OutputSpec& out, const std::string& processing_root,
                     ObjectStoreResolver& resolver,
                     const std::function<void(const std::string&)>& report) {
  auto start = std::chrono::steady_clock::now();
  ASSIGN_OR_RETURN(std::vector<std::string> local_dir,
                   ProcessingPathSegments(out.local_path, Label(out)));
  auto loc = ParseDataUri(out.uri);
  if (!loc.ok()) return loc.status().WithPrefix(Label(out));
  auto store = resolver.Resolve(*loc);
  if (!store.ok()) return store.status().WithPrefix(Label(out));

  auto dir = OpenDirBeneath(processing_root, local_dir, /*create=*/false);
  if (!dir.ok()) {
    if (dir.status().code() != StatusCode::kNotFound) return dir.status().WithPrefix(Label(out));
    report("Nothing to upload for " + Label(out) + ": " + out.local_path +
           " is missing, not a directory or a symlink");
    return Status::Ok();
  }
  std::vector<ObjectInfo> files;
  Status listed = ListRegularFiles(std::move(dir).value(), "", "", &files);
  if (!listed.ok()) return listed.WithPrefix(Label(out) + ": reading " + out.local_path);
  std::sort(files.begin(), files.end(),
            [](const ObjectInfo& a, const ObjectInfo& b) { return a.key < b.key; });
  uint64_t bytes = 0;
  for (const ObjectInfo& f : files) bytes += f.size;
  report("Uploading " + Label(out) + " from " + out.local_path + " to " + out.uri + ": " +
         std::to_string(files.size()) + (files.size() == 1 ? " file, " : " files, ") +
         FormatBytes(bytes));
  RETURN_IF_ERROR(ParallelFor(files.size(), staging_internal::kTransferParallelism, [&](size_t i) {
    return Upload(processing_root, out, local_dir, *loc, **store, files[i]);
  }));
  report("Uploaded " + Label(out) + " in " + ElapsedSince(start));
  return Status::Ok();
}

}  // namespace

Status DeliverOutputs(const JobSpec& spec, const std::string& processing_root,
                      ObjectStoreResolver& resolver, const ProgressFn& progress) {
  auto report = [&](const std::string& line) {
    if (progress) progress(line);
  };
  for (const OutputSpec& out : spec.outputs) {
    if (out.app_managed) continue;
    RETURN_IF_ERROR(DeliverOutput(out, processing_root, resolver, report));
  }
  return Status::Ok();
}

}  // namespace kiln
