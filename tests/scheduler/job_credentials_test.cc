#include "scheduler/job_credentials.h"

#include <gtest/gtest.h>

#include <set>

#include "scheduler/job_environment.h"

namespace kiln {
namespace {

TEST(JobCredentialTest, GeneratesDistinctKeysInTemporaryKeyFormat) {
  std::set<std::string> keys;
  for (int i = 0; i < 50; ++i) {
    JobCredential c = JobCredential::Generate();
    ASSERT_EQ(c.access_key_id.size(), 20u);
    EXPECT_EQ(c.access_key_id.rfind("ASIA", 0), 0u);
    EXPECT_EQ(c.access_key_id.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"),
              std::string::npos);
    EXPECT_EQ(c.secret_access_key.size(), 40u);
    keys.insert(c.access_key_id);
  }
  EXPECT_EQ(keys.size(), 50u);
}

TEST(JobCredentialTest, RoundTripsThroughJson) {
  JobCredential c = JobCredential::Generate();
  auto back = JobCredential::FromJson(c.ToJson());
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->access_key_id, c.access_key_id);
  EXPECT_EQ(back->secret_access_key, c.secret_access_key);
  EXPECT_FALSE(JobCredential::FromJson(nlohmann::json::object()).ok());
}

TEST(JobCredentialsTest, RegisteredKeyResolvesUntilRevoked) {
  JobCredentials registry;
  JobCredential c = JobCredential::Generate();
  EXPECT_FALSE(registry.SecretFor(c.access_key_id));
  registry.Register("job-a", c);
  EXPECT_EQ(registry.SecretFor(c.access_key_id), c.secret_access_key);
  EXPECT_EQ(registry.JobFor(c.access_key_id), "job-a");
  registry.Revoke("job-a");
  EXPECT_FALSE(registry.SecretFor(c.access_key_id));
  registry.Revoke("job-a");  // a no-op the second time
}

TEST(JobCredentialsTest, ReRegisteringAJobReplacesItsOldKey) {
  JobCredentials registry;
  JobCredential first = JobCredential::Generate();
  JobCredential second = JobCredential::Generate();
  registry.Register("job", first);
  registry.Register("job", second);
  EXPECT_FALSE(registry.SecretFor(first.access_key_id));
  EXPECT_EQ(registry.SecretFor(second.access_key_id), second.secret_access_key);
}

TEST(ServiceEnvironmentTest, PointsAtKilnWithTheJobKeyAndPrependsThePythonDir) {
  JobServices services;
  services.python_dir = "/data/python";
  JobCredential c{"ASIAEXAMPLE", "secret"};
  EnvList env = ServiceEnvironment(services, "http://127.0.0.1:7070", &c,
                                   {{"PYTHONPATH", "/opt/ml/processing/code"}});
  EXPECT_EQ(env, (EnvList{{"AWS_ENDPOINT_URL", "http://127.0.0.1:7070"},
                          {"AWS_ENDPOINT_URL_S3", "http://127.0.0.1:7070"},
                          {"AWS_ACCESS_KEY_ID", "ASIAEXAMPLE"},
                          {"AWS_SECRET_ACCESS_KEY", "secret"},
                          {"PYTHONPATH", "/opt/kiln/python:/opt/ml/processing/code"}}));
}

TEST(ServiceEnvironmentTest, ExternalS3EndpointAndKeyReplaceKilnsOwn) {
  JobServices services;
  services.s3_endpoint = "http://minio:9000";
  services.s3_access_key_id = "MINIOKEY";
  services.s3_secret_access_key = "miniosecret";
  JobCredential c{"ASIAEXAMPLE", "secret"};
  EnvList env = ServiceEnvironment(services, "http://127.0.0.1:7070", &c, {});
  EXPECT_EQ(env, (EnvList{{"AWS_ENDPOINT_URL", "http://minio:9000"},
                          {"AWS_ENDPOINT_URL_S3", "http://minio:9000"},
                          {"AWS_ACCESS_KEY_ID", "MINIOKEY"},
                          {"AWS_SECRET_ACCESS_KEY", "miniosecret"}}));
}

TEST(EndpointSlotTest, WaitReturnsTheEndpointOnceSetAndEmptyOnTimeout) {
  EndpointSlot slot;
  EXPECT_EQ(slot.Wait(std::chrono::milliseconds(1)), "");
  slot.Set("http://127.0.0.1:1234");
  EXPECT_EQ(slot.Wait(std::chrono::milliseconds(0)), "http://127.0.0.1:1234");
}

TEST(JobSiteCustomizeTest, IsBuiltInAndPatchesOnlyOldBotocore) {
  const std::string& text = JobSiteCustomize();
  EXPECT_NE(text.find("AWS_ENDPOINT_URL"), std::string::npos);
  EXPECT_NE(text.find("(1, 31)"), std::string::npos);
}

}  // namespace
}  // namespace kiln
