#include "cli/settings.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>

#include "temp_dir.h"

namespace kiln::cli {
namespace {

using ::testing::HasSubstr;

EnvLookup MapEnv(std::map<std::string, std::string> vars) {
  return [vars = std::move(vars)](const std::string& name) -> std::optional<std::string> {
    auto it = vars.find(name);
    if (it == vars.end() || it->second.empty()) return std::nullopt;
    return it->second;
  };
}

TEST(DefaultDataDirTest, PrefersKilnDataDirThenXdgThenHome) {
  EXPECT_EQ(
      DefaultDataDir(MapEnv({{"KILN_DATA_DIR", "/k"}, {"XDG_DATA_HOME", "/x"}, {"HOME", "/h"}})),
      "/k");
  EXPECT_EQ(DefaultDataDir(MapEnv({{"XDG_DATA_HOME", "/x"}, {"HOME", "/h"}})), "/x/kiln");
  EXPECT_EQ(DefaultDataDir(MapEnv({{"HOME", "/h"}})), "/h/.local/share/kiln");
  EXPECT_EQ(DefaultDataDir(MapEnv({{"KILN_DATA_DIR", ""}, {"HOME", "/h"}})),
            "/h/.local/share/kiln");
}

class ResolveSettingsTest : public ::testing::Test {
 protected:
  void WriteServerFiles() {
    dir_.Write("server.json", R"({"endpoint": "http://127.0.0.1:7070"})");
    dir_.Write("credentials.json",
               R"({"access_key_id": "FILEKEY", "secret_access_key": "FILESECRET",
                                       "region": "eu-west-1", "account_id": "000000000000"})");
  }
  Result<ConnectionSettings> Resolve(std::map<std::string, std::string> env,
                                     std::string endpoint_flag = "") {
    ConnectionFlags flags{std::move(endpoint_flag), dir_.path()};
    return ResolveSettings(flags, MapEnv(std::move(env)));
  }

  testing::TempDir dir_;
};

TEST_F(ResolveSettingsTest, ReadsEverythingFromServerFiles) {
  WriteServerFiles();
  Result<ConnectionSettings> settings = Resolve({});
  ASSERT_TRUE(settings.ok()) << settings.status().ToString();
  EXPECT_EQ(settings->endpoint, "http://127.0.0.1:7070");
  EXPECT_EQ(settings->logs_endpoint, "http://127.0.0.1:7070");
  EXPECT_EQ(settings->access_key_id, "FILEKEY");
  EXPECT_EQ(settings->secret_access_key, "FILESECRET");
  EXPECT_EQ(settings->region, "eu-west-1");
}

TEST_F(ResolveSettingsTest, EnvironmentBeatsServerFiles) {
  WriteServerFiles();
  Result<ConnectionSettings> settings =
      Resolve({{"AWS_ENDPOINT_URL", "http://global:1"},
               {"AWS_ENDPOINT_URL_SAGEMAKER", "http://sm:2"},
               {"AWS_ENDPOINT_URL_CLOUDWATCH_LOGS", "http://logs:3"},
               {"AWS_ACCESS_KEY_ID", "ENVKEY"},
               {"AWS_SECRET_ACCESS_KEY", "ENVSECRET"},
               {"AWS_REGION", "ap-south-1"},
               {"AWS_DEFAULT_REGION", "us-west-2"}});
  ASSERT_TRUE(settings.ok()) << settings.status().ToString();
  EXPECT_EQ(settings->endpoint, "http://sm:2");
  EXPECT_EQ(settings->logs_endpoint, "http://logs:3");
  EXPECT_EQ(settings->access_key_id, "ENVKEY");
  EXPECT_EQ(settings->secret_access_key, "ENVSECRET");
  EXPECT_EQ(settings->region, "us-west-2");
}

TEST_F(ResolveSettingsTest, GlobalEndpointUrlAndAwsRegionAreFallbacks) {
  WriteServerFiles();
  Result<ConnectionSettings> settings =
      Resolve({{"AWS_ENDPOINT_URL", "http://global:1"}, {"AWS_REGION", "ap-south-1"}});
  ASSERT_TRUE(settings.ok());
  EXPECT_EQ(settings->endpoint, "http://global:1");
  EXPECT_EQ(settings->logs_endpoint, "http://global:1");
  EXPECT_EQ(settings->region, "ap-south-1");
}

TEST_F(ResolveSettingsTest, EndpointFlagBeatsEnvironmentForBothApis) {
  WriteServerFiles();
  Result<ConnectionSettings> settings =
      Resolve({{"AWS_ENDPOINT_URL_SAGEMAKER", "http://sm:2"},
               {"AWS_ENDPOINT_URL_CLOUDWATCH_LOGS", "http://logs:3"}},
              "http://flag:4");
  ASSERT_TRUE(settings.ok());
  EXPECT_EQ(settings->endpoint, "http://flag:4");
  EXPECT_EQ(settings->logs_endpoint, "http://flag:4");
}

TEST_F(ResolveSettingsTest, HalfOfEnvironmentKeyPairFallsBackToFile) {
  WriteServerFiles();
  Result<ConnectionSettings> settings = Resolve({{"AWS_ACCESS_KEY_ID", "ENVKEY"}});
  ASSERT_TRUE(settings.ok());
  EXPECT_EQ(settings->access_key_id, "FILEKEY");
  EXPECT_EQ(settings->secret_access_key, "FILESECRET");
}

TEST_F(ResolveSettingsTest, WorksWithoutAnyFilesWhenEnvironmentIsComplete) {
  Result<ConnectionSettings> settings = Resolve({{"AWS_ENDPOINT_URL", "http://e:1"},
                                                 {"AWS_ACCESS_KEY_ID", "K"},
                                                 {"AWS_SECRET_ACCESS_KEY", "S"}});
  ASSERT_TRUE(settings.ok()) << settings.status().ToString();
  EXPECT_EQ(settings->region, "us-east-1");
}

TEST_F(ResolveSettingsTest, RegionDefaultsWhenCredentialsFileLacksIt) {
  dir_.Write("server.json", R"({"endpoint": "http://127.0.0.1:1"})");
  dir_.Write("credentials.json", R"({"access_key_id": "K", "secret_access_key": "S"})");
  Result<ConnectionSettings> settings = Resolve({});
  ASSERT_TRUE(settings.ok());
  EXPECT_EQ(settings->region, "us-east-1");
}

TEST_F(ResolveSettingsTest, ExplainsHowToStartServerWhenNothingIsFound) {
  Result<ConnectionSettings> settings = Resolve({});
  EXPECT_EQ(settings.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_THAT(settings.status().message(), HasSubstr("kiln server"));
  EXPECT_THAT(settings.status().message(), HasSubstr(dir_.path() + "/server.json"));
}

TEST_F(ResolveSettingsTest, FailsWithoutCredentials) {
  dir_.Write("server.json", R"({"endpoint": "http://127.0.0.1:1"})");
  Result<ConnectionSettings> settings = Resolve({});
  EXPECT_EQ(settings.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_THAT(settings.status().message(), HasSubstr("AWS_ACCESS_KEY_ID"));
}

TEST_F(ResolveSettingsTest, RejectsMalformedServerFile) {
  dir_.Write("server.json", "not json");
  EXPECT_EQ(Resolve({}).status().code(), StatusCode::kInvalidArgument);
  dir_.Write("server.json", R"({"endpoint": 7})");
  EXPECT_EQ(Resolve({}).status().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace kiln::cli
