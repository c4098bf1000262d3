// The ProcessingInstanceType enum and what each type means in CPUs, memory and GPUs.
#pragma once

#include <string_view>
#include <vector>

namespace kiln {

struct InstanceTypeInfo {
  std::string_view name;  // "ml.m5.xlarge"
  int vcpus = 0;
  int memory_gib = 0;
  int gpus = 0;
  bool instance_store = false;  // NVMe instance storage (r5d, g4dn, ...): no VolumeKmsKeyId
  int instance_store_gb = 0;    // total local NVMe size when instance_store; caps VolumeSizeInGB
};

// Every value of the ProcessingInstanceType enum, in the model's order.
const std::vector<InstanceTypeInfo>& AllInstanceTypes();
// nullptr if `name` is not a ProcessingInstanceType.
const InstanceTypeInfo* LookupInstanceType(std::string_view name);

}  // namespace kiln
