// The ProcessingInstanceType enum (botocore sagemaker 2017-07-24, 133 values, in model order) with
// each type's vCPUs, memory and GPUs.
//
// Sources: spec §3.2 for m5, c5, r5, t3, g4dn, g5, g6, g6e, p2, p3, m6i, c6i, m7i, r7i; public EC2
// specifications for m4, c4, c7i, r5d (as r5), p5.4xlarge (16 vCPU, 256 GiB, 1×H100) and g7e
// (RTX PRO 6000: 8 vCPU/64 GiB per GPU-slice up to 8 GPUs). g7 is not yet described publicly
// in our material: we assume g7e's vCPU and GPU counts with half its memory. Fractional GiB
// (c4: 7.5, 15, 30, 60) is rounded down so Kiln never promises more memory than the type has.
//
// instance_store marks the types whose EC2 counterpart has local NVMe storage, which SageMaker
// mounts instead of EBS: r5d, g4dn, g5, g6, g6e, p5 and g7e/g7. instance_store_gb is the total
// NVMe size in GB from the EC2 instance-store table (g7 assumed equal to g7e).
#include "api/instance_types.h"

#include <string>
#include <unordered_map>

namespace kiln {
namespace {

struct Row {
  const char* name;
  int vcpus;
  int memory_gib;
  int gpus;
  int nvme_gb;  // 0: EBS only
};

// clang-format off
constexpr Row kRows[] = {
    {"ml.t3.medium", 2, 4, 0, 0},       {"ml.t3.large", 2, 8, 0, 0},
    {"ml.t3.xlarge", 4, 16, 0, 0},      {"ml.t3.2xlarge", 8, 32, 0, 0},
    {"ml.m4.xlarge", 4, 16, 0, 0},      {"ml.m4.2xlarge", 8, 32, 0, 0},
    {"ml.m4.4xlarge", 16, 64, 0, 0},    {"ml.m4.10xlarge", 40, 160, 0, 0},
    {"ml.m4.16xlarge", 64, 256, 0, 0},
    {"ml.c4.xlarge", 4, 7, 0, 0},       {"ml.c4.2xlarge", 8, 15, 0, 0},
    {"ml.c4.4xlarge", 16, 30, 0, 0},    {"ml.c4.8xlarge", 36, 60, 0, 0},
    {"ml.p2.xlarge", 4, 61, 1, 0},      {"ml.p2.8xlarge", 32, 488, 8, 0},
    {"ml.p2.16xlarge", 64, 732, 16, 0},
    {"ml.p3.2xlarge", 8, 61, 1, 0},     {"ml.p3.8xlarge", 32, 244, 4, 0},
    {"ml.p3.16xlarge", 64, 488, 8, 0},
    {"ml.c5.xlarge", 4, 8, 0, 0},       {"ml.c5.2xlarge", 8, 16, 0, 0},
    {"ml.c5.4xlarge", 16, 32, 0, 0},    {"ml.c5.9xlarge", 36, 72, 0, 0},
    {"ml.c5.18xlarge", 72, 144, 0, 0},
    {"ml.m5.large", 2, 8, 0, 0},        {"ml.m5.xlarge", 4, 16, 0, 0},
    {"ml.m5.2xlarge", 8, 32, 0, 0},     {"ml.m5.4xlarge", 16, 64, 0, 0},
    {"ml.m5.12xlarge", 48, 192, 0, 0},  {"ml.m5.24xlarge", 96, 384, 0, 0},
    {"ml.r5.large", 2, 16, 0, 0},       {"ml.r5.xlarge", 4, 32, 0, 0},
    {"ml.r5.2xlarge", 8, 64, 0, 0},     {"ml.r5.4xlarge", 16, 128, 0, 0},
    {"ml.r5.8xlarge", 32, 256, 0, 0},   {"ml.r5.12xlarge", 48, 384, 0, 0},
    {"ml.r5.16xlarge", 64, 512, 0, 0},  {"ml.r5.24xlarge", 96, 768, 0, 0},
    {"ml.g4dn.xlarge", 4, 16, 1, 125},     {"ml.g4dn.2xlarge", 8, 32, 1, 225},
    {"ml.g4dn.4xlarge", 16, 64, 1, 225},   {"ml.g4dn.8xlarge", 32, 128, 1, 900},
    {"ml.g4dn.12xlarge", 48, 192, 4, 900}, {"ml.g4dn.16xlarge", 64, 256, 1, 900},
    {"ml.g5.xlarge", 4, 16, 1, 250},       {"ml.g5.2xlarge", 8, 32, 1, 450},
    {"ml.g5.4xlarge", 16, 64, 1, 600},     {"ml.g5.8xlarge", 32, 128, 1, 900},
    {"ml.g5.16xlarge", 64, 256, 1, 1900},  {"ml.g5.12xlarge", 48, 192, 4, 3800},
    {"ml.g5.24xlarge", 96, 384, 4, 3800},  {"ml.g5.48xlarge", 192, 768, 8, 7600},
    {"ml.r5d.large", 2, 16, 0, 75},        {"ml.r5d.xlarge", 4, 32, 0, 150},
    {"ml.r5d.2xlarge", 8, 64, 0, 300},     {"ml.r5d.4xlarge", 16, 128, 0, 600},
    {"ml.r5d.8xlarge", 32, 256, 0, 1200},  {"ml.r5d.12xlarge", 48, 384, 0, 1800},
    {"ml.r5d.16xlarge", 64, 512, 0, 2400}, {"ml.r5d.24xlarge", 96, 768, 0, 3600},
    {"ml.g6.xlarge", 4, 16, 1, 250},       {"ml.g6.2xlarge", 8, 32, 1, 450},
    {"ml.g6.4xlarge", 16, 64, 1, 600},     {"ml.g6.8xlarge", 32, 128, 1, 900},
    {"ml.g6.12xlarge", 48, 192, 4, 3760},  {"ml.g6.16xlarge", 64, 256, 1, 1880},
    {"ml.g6.24xlarge", 96, 384, 4, 3760},  {"ml.g6.48xlarge", 192, 768, 8, 7520},
    {"ml.g6e.xlarge", 4, 32, 1, 250},        {"ml.g6e.2xlarge", 8, 64, 1, 450},
    {"ml.g6e.4xlarge", 16, 128, 1, 600},     {"ml.g6e.8xlarge", 32, 256, 1, 900},
    {"ml.g6e.12xlarge", 48, 384, 4, 3800},   {"ml.g6e.16xlarge", 64, 512, 1, 1900},
    {"ml.g6e.24xlarge", 96, 768, 4, 3800},   {"ml.g6e.48xlarge", 192, 1536, 8, 7600},
    {"ml.m6i.large", 2, 8, 0, 0},       {"ml.m6i.xlarge", 4, 16, 0, 0},
    {"ml.m6i.2xlarge", 8, 32, 0, 0},    {"ml.m6i.4xlarge", 16, 64, 0, 0},
    {"ml.m6i.8xlarge", 32, 128, 0, 0},  {"ml.m6i.12xlarge", 48, 192, 0, 0},
    {"ml.m6i.16xlarge", 64, 256, 0, 0}, {"ml.m6i.24xlarge", 96, 384, 0, 0},
    {"ml.m6i.32xlarge", 128, 512, 0, 0},
    {"ml.c6i.xlarge", 4, 8, 0, 0},      {"ml.c6i.2xlarge", 8, 16, 0, 0},
    {"ml.c6i.4xlarge", 16, 32, 0, 0},   {"ml.c6i.8xlarge", 32, 64, 0, 0},
    {"ml.c6i.12xlarge", 48, 96, 0, 0},  {"ml.c6i.16xlarge", 64, 128, 0, 0},
    {"ml.c6i.24xlarge", 96, 192, 0, 0}, {"ml.c6i.32xlarge", 128, 256, 0, 0},
    {"ml.m7i.large", 2, 8, 0, 0},       {"ml.m7i.xlarge", 4, 16, 0, 0},
    {"ml.m7i.2xlarge", 8, 32, 0, 0},    {"ml.m7i.4xlarge", 16, 64, 0, 0},
    {"ml.m7i.8xlarge", 32, 128, 0, 0},  {"ml.m7i.12xlarge", 48, 192, 0, 0},
    {"ml.m7i.16xlarge", 64, 256, 0, 0}, {"ml.m7i.24xlarge", 96, 384, 0, 0},
    {"ml.m7i.48xlarge", 192, 768, 0, 0},
    {"ml.c7i.large", 2, 4, 0, 0},       {"ml.c7i.xlarge", 4, 8, 0, 0},
    {"ml.c7i.2xlarge", 8, 16, 0, 0},    {"ml.c7i.4xlarge", 16, 32, 0, 0},
    {"ml.c7i.8xlarge", 32, 64, 0, 0},   {"ml.c7i.12xlarge", 48, 96, 0, 0},
    {"ml.c7i.16xlarge", 64, 128, 0, 0}, {"ml.c7i.24xlarge", 96, 192, 0, 0},
    {"ml.c7i.48xlarge", 192, 384, 0, 0},
    {"ml.r7i.large", 2, 16, 0, 0},       {"ml.r7i.xlarge", 4, 32, 0, 0},
    {"ml.r7i.2xlarge", 8, 64, 0, 0},     {"ml.r7i.4xlarge", 16, 128, 0, 0},
    {"ml.r7i.8xlarge", 32, 256, 0, 0},   {"ml.r7i.12xlarge", 48, 384, 0, 0},
    {"ml.r7i.16xlarge", 64, 512, 0, 0},  {"ml.r7i.24xlarge", 96, 768, 0, 0},
    {"ml.r7i.48xlarge", 192, 1536, 0, 0},
    {"ml.p5.4xlarge", 16, 256, 1, 3800},
    {"ml.g7e.2xlarge", 8, 64, 1, 1900},      {"ml.g7e.4xlarge", 16, 128, 1, 1900},
    {"ml.g7e.8xlarge", 32, 256, 1, 1900},    {"ml.g7e.12xlarge", 48, 512, 2, 3800},
    {"ml.g7e.24xlarge", 96, 1024, 4, 7600},  {"ml.g7e.48xlarge", 192, 2048, 8, 15200},
    {"ml.g7.2xlarge", 8, 32, 1, 1900},       {"ml.g7.4xlarge", 16, 64, 1, 1900},
    {"ml.g7.8xlarge", 32, 128, 1, 1900},     {"ml.g7.12xlarge", 48, 256, 2, 3800},
    {"ml.g7.24xlarge", 96, 512, 4, 7600},    {"ml.g7.48xlarge", 192, 1024, 8, 15200},
};
// clang-format on

std::vector<InstanceTypeInfo> BuildAll() {
  std::vector<InstanceTypeInfo> all;
  all.reserve(std::size(kRows));
  for (const Row& row : kRows) {
    InstanceTypeInfo info;
    info.name = row.name;
    info.vcpus = row.vcpus;
    info.memory_gib = row.memory_gib;
    info.gpus = row.gpus;
    info.instance_store = row.nvme_gb > 0;
    info.instance_store_gb = row.nvme_gb;
    all.push_back(info);
  }
  return all;
}

}  // namespace

const std::vector<InstanceTypeInfo>& AllInstanceTypes() {
  static const std::vector<InstanceTypeInfo>* all = new std::vector<InstanceTypeInfo>(BuildAll());
  return *all;
}

const InstanceTypeInfo* LookupInstanceType(std::string_view name) {
  static const auto* index = [] {
    auto* map = new std::unordered_map<std::string_view, const InstanceTypeInfo*>();
    for (const InstanceTypeInfo& info : AllInstanceTypes()) (*map)[info.name] = &info;
    return map;
  }();
  auto it = index->find(name);
  return it == index->end() ? nullptr : it->second;
}

}  // namespace kiln
