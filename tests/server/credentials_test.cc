#include "server/credentials.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <regex>

#include "base/fs.h"

namespace kiln {
namespace {

class CredentialsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/kiln-credentials-test-XXXXXX";
    dir_ = ::mkdtemp(tmpl);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string dir_;
};

TEST_F(CredentialsTest, GeneratesPrivateCredentialsOnFirstStart) {
  std::string data_dir = dir_ + "/data";
  auto credentials = LoadOrCreateCredentials(data_dir);
  ASSERT_TRUE(credentials.ok()) << credentials.status().ToString();
  EXPECT_TRUE(std::regex_match(credentials->access_key_id, std::regex("AKIA[A-Z2-7]{16}")));
  EXPECT_TRUE(std::regex_match(credentials->secret_access_key, std::regex("[A-Za-z0-9+/]{40}")));
  EXPECT_EQ(credentials->region, "us-east-1");
  EXPECT_EQ(credentials->account_id, "000000000000");
  EXPECT_FALSE(credentials->explicitly_set);
  struct stat st;
  ASSERT_EQ(::stat(CredentialsPath(data_dir).c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
}

TEST_F(CredentialsTest, LoadsTheSameCredentialsOnTheNextStart) {
  auto first = LoadOrCreateCredentials(dir_);
  auto second = LoadOrCreateCredentials(dir_);
  ASSERT_TRUE(first.ok());
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(first->access_key_id, second->access_key_id);
  EXPECT_EQ(first->secret_access_key, second->secret_access_key);
  EXPECT_FALSE(second->explicitly_set);
}

TEST_F(CredentialsTest, GeneratesDifferentKeysEachTime) {
  EXPECT_NE(GenerateAccessKeyId(), GenerateAccessKeyId());
  EXPECT_NE(GenerateSecretAccessKey(), GenerateSecretAccessKey());
}

TEST_F(CredentialsTest, OperatorWrittenFileIsExplicit) {
  ASSERT_TRUE(
      WriteFileAtomically(CredentialsPath(dir_),
                          R"({"access_key_id": "MYKEY123", "secret_access_key": "s3cr3t-value",
                                      "region": "eu-west-1", "account_id": "123456789012"})",
                          0600)
          .ok());
  auto credentials = LoadOrCreateCredentials(dir_);
  ASSERT_TRUE(credentials.ok()) << credentials.status().ToString();
  EXPECT_EQ(credentials->access_key_id, "MYKEY123");
  EXPECT_EQ(credentials->region, "eu-west-1");
  EXPECT_EQ(credentials->account_id, "123456789012");
  EXPECT_TRUE(credentials->explicitly_set);
}

TEST_F(CredentialsTest, RejectsMalformedFileNamingIt) {
  for (const char* text : {"not json", "[]", R"({"access_key_id": "MYKEY123"})",
                           R"({"access_key_id": 5, "secret_access_key": "s3cr3t-value"})",
                           R"({"access_key_id": "MY KEY", "secret_access_key": "s3cr3t-value"})"}) {
    ASSERT_TRUE(WriteFileAtomically(CredentialsPath(dir_), text, 0600).ok());
    auto credentials = LoadOrCreateCredentials(dir_);
    ASSERT_FALSE(credentials.ok()) << text;
    EXPECT_EQ(credentials.status().code(), StatusCode::kInvalidArgument) << text;
    EXPECT_NE(credentials.status().message().find("credentials.json"), std::string::npos);
  }
}

TEST_F(CredentialsTest, ExplicitCredentialsAreValidated) {
  auto good = MakeExplicitCredentials("AKIAEXPLICIT", "a-long-enough-secret");
  ASSERT_TRUE(good.ok());
  EXPECT_TRUE(good->explicitly_set);
  EXPECT_FALSE(MakeExplicitCredentials("", "a-long-enough-secret").ok());
  EXPECT_FALSE(MakeExplicitCredentials("AKIA/BAD", "a-long-enough-secret").ok());
  EXPECT_FALSE(MakeExplicitCredentials("AKIAEXPLICIT", "short").ok());
  EXPECT_FALSE(MakeExplicitCredentials("AKIAEXPLICIT", "a-long-enough-secret", "US East").ok());
  EXPECT_FALSE(
      MakeExplicitCredentials("AKIAEXPLICIT", "a-long-enough-secret", "us-east-1", "12").ok());
}

}  // namespace
}  // namespace kiln
