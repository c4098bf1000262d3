// The ObjectStore conformance suite: behaviour every backend must show (S3 listing semantics,
// round trips, atomic visibility, confinement). A backend joins it with
// INSTANTIATE_TEST_SUITE_P(Name, ObjectStoreConformanceTest, ::testing::Values(StoreBackend{...})).
#pragma once

#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <ostream>
#include <string>

#include "storage/object_store.h"

namespace kiln {

// A store under test, ready to use.
class StoreUnderTest {
 public:
  virtual ~StoreUnderTest() = default;
  virtual ObjectStore& store() = 0;
  // The bucket the tests use; it exists and is empty.
  virtual std::string bucket() = 0;
  // Everything the store writes for bucket() must stay below this directory.
  virtual std::string contained_dir() = 0;
};

struct StoreBackend {
  std::string name;
  // Makes a store that keeps its data somewhere below `scratch_dir`.
  std::function<std::unique_ptr<StoreUnderTest>(const std::string& scratch_dir)> make;
};

class ObjectStoreConformanceTest : public ::testing::TestWithParam<StoreBackend> {
 protected:
  void SetUp() override;
  void TearDown() override;

  ObjectStore& store() { return under_test_->store(); }
  std::string bucket() { return under_test_->bucket(); }
  // Writes `data` to a scratch file and uploads it as `key`.
  Status Put(const std::string& key, const std::string& data);
  // Keys (and sizes) listed for `prefix`; fails the test on error.
  std::vector<std::string> Keys(const std::string& prefix);

  std::string scratch_;
  std::string work_;  // scratch space for source and destination files
  std::unique_ptr<StoreUnderTest> under_test_;
};

void PrintTo(const StoreBackend& backend, std::ostream* os);
std::string BackendName(const ::testing::TestParamInfo<StoreBackend>& info);

}  // namespace kiln
