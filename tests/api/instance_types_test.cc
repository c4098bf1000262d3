#include "api/instance_types.h"

#include <gtest/gtest.h>

#include <set>
#include <string>

namespace kiln {
namespace {

TEST(InstanceTypesTest, ListsTheWholeModelEnumInOrder) {
  const auto& all = AllInstanceTypes();
  ASSERT_EQ(all.size(), 133u);
  EXPECT_EQ(all.front().name, "ml.t3.medium");
  EXPECT_EQ(all[49].name, "ml.g5.12xlarge");  // the model lists g5.16xlarge before g5.12xlarge
  EXPECT_EQ(all.back().name, "ml.g7.48xlarge");
  std::set<std::string_view> unique;
  for (const InstanceTypeInfo& info : all) {
    EXPECT_TRUE(unique.insert(info.name).second) << info.name;
    EXPECT_GT(info.vcpus, 0) << info.name;
    EXPECT_GT(info.memory_gib, 0) << info.name;
    EXPECT_EQ(info.instance_store, info.instance_store_gb > 0) << info.name;
  }
}

TEST(InstanceTypesTest, LooksUpSpecsFromTheSpecTable) {
  const InstanceTypeInfo* m5 = LookupInstanceType("ml.m5.xlarge");
  ASSERT_NE(m5, nullptr);
  EXPECT_EQ(m5->vcpus, 4);
  EXPECT_EQ(m5->memory_gib, 16);
  EXPECT_EQ(m5->gpus, 0);
  EXPECT_FALSE(m5->instance_store);
  const InstanceTypeInfo* g5 = LookupInstanceType("ml.g5.48xlarge");
  ASSERT_NE(g5, nullptr);
  EXPECT_EQ(g5->vcpus, 192);
  EXPECT_EQ(g5->memory_gib, 768);
  EXPECT_EQ(g5->gpus, 8);
  EXPECT_TRUE(g5->instance_store);
  EXPECT_EQ(LookupInstanceType("ml.p3.2xlarge")->memory_gib, 61);
  EXPECT_EQ(LookupInstanceType("ml.g6e.48xlarge")->memory_gib, 1536);
  EXPECT_EQ(LookupInstanceType("ml.g4dn.12xlarge")->gpus, 4);
  EXPECT_TRUE(LookupInstanceType("ml.r5d.large")->instance_store);
  EXPECT_EQ(LookupInstanceType("ml.r5d.large")->instance_store_gb, 75);
  EXPECT_FALSE(LookupInstanceType("ml.r5.large")->instance_store);
}

TEST(InstanceTypesTest, UnknownTypesAreNotFound) {
  EXPECT_EQ(LookupInstanceType("ml.m5.8xlarge"), nullptr);
  EXPECT_EQ(LookupInstanceType("m5.xlarge"), nullptr);
  EXPECT_EQ(LookupInstanceType(""), nullptr);
}

}  // namespace
}  // namespace kiln
