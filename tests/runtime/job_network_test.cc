// Job networks on the real kernel: namespaces, bridge and veths as the user would inspect them
// with iproute2, and nothing left behind.
#include "runtime/job_network.h"

#include <arpa/inet.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <string>

#include "base/fs.h"
#include "runtime/netns.h"
#include "runtime/process_util.h"
#include "runtime_test_util.h"

namespace kiln {
namespace {

using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

bool LinkExists(const std::string& name) {
  struct stat st;
  return ::lstat(("/sys/class/net/" + name).c_str(), &st) == 0;
}

std::string Ip(const std::vector<std::string>& args) {
  std::vector<std::string> argv = {"/usr/sbin/ip"};
  argv.insert(argv.end(), args.begin(), args.end());
  std::string out;
  (void)RunTool(argv, &out);
  return out;
}

class JobNetworkTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "job networks need root";
  }
  JobNetworkNames Names(const std::string& job) const {
    return JobNetworkNames::For(dir_.path(), job);
  }
  testing::TempDir dir_;
};

TEST(JobNetworkNamesTest, FitLinuxInterfaceNamesAndIdentifyOwnerAndJob) {
  JobNetworkNames names = JobNetworkNames::For("/var/lib/kiln", "job-1234");
  EXPECT_EQ(names.owner.size(), 4u);
  EXPECT_EQ(names.tag.size(), 8u);
  EXPECT_LE(names.Bridge().size(), 15u);
  EXPECT_LE(names.HostVeth(99).size(), 15u);
  EXPECT_EQ(names.Namespace(0), "kiln-" + names.owner + "-" + names.tag + "-1");
  EXPECT_NE(names.tag, JobNetworkNames::For("/var/lib/kiln", "job-1235").tag);
  EXPECT_NE(names.tag, JobNetworkNames::For("/srv/kiln", "job-1234").tag) << "tags differ by owner";
  EXPECT_NE(names.owner, JobNetworkNames::For("/srv/kiln", "job-1234").owner);
}

TEST(JobHostsFileTest, NamesEveryHostByItsAddress) {
  std::string hosts = JobHostsFile({"algo-1", "algo-2"});
  EXPECT_THAT(hosts, HasSubstr("127.0.0.1\tlocalhost\n"));
  EXPECT_THAT(hosts, HasSubstr(JobNetworkAddress(0) + "\talgo-1\n"));
  EXPECT_THAT(hosts, HasSubstr(JobNetworkAddress(1) + "\talgo-2\n"));
  EXPECT_THAT(JobHostsFile({"algo-1"}), HasSubstr("127.0.1.1\talgo-1\n"));
}

TEST_F(JobNetworkTest, BridgeJoinsTheInstancesAndHasNoHostAddress) {
  JobNetworkNames names = Names("bridge");
  auto network = JobNetwork::Create({}, names, {"algo-1", "algo-2", "algo-3"}, dir_.path() + "/h");
  ASSERT_TRUE(network.ok()) << network.status().ToString();
  EXPECT_TRUE(LinkExists(names.Bridge()));
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_TRUE(LinkExists(names.HostVeth(i)));
    EXPECT_THAT(Ip({"netns", "list"}), HasSubstr(names.Namespace(i)));
    EXPECT_THAT(Ip({"-n", names.Namespace(i), "-4", "-o", "addr", "show", "dev", "eth0"}),
                HasSubstr(JobNetworkAddress(i) + "/24"));
  }
  // No IPv4 or IPv6 address on the host side: instances cannot reach the host.
  EXPECT_THAT(Ip({"-o", "addr", "show", "dev", names.Bridge()}), IsEmpty());
  EXPECT_THAT(Ip({"-o", "addr", "show", "dev", names.HostVeth(0)}), IsEmpty());
  auto hosts = ReadFile(dir_.path() + "/h");
  ASSERT_TRUE(hosts.ok());
  EXPECT_EQ(*hosts, JobHostsFile({"algo-1", "algo-2", "algo-3"}));

  ASSERT_TRUE((*network)->Destroy().ok());
  EXPECT_FALSE(LinkExists(names.Bridge()));
  EXPECT_FALSE(LinkExists(names.HostVeth(0)));
  EXPECT_THAT(ListNamedNetworkNamespaces(names.NamespacePrefix() + names.tag), IsEmpty());
  EXPECT_TRUE((*network)->Destroy().ok()) << "Destroy is idempotent";
}

TEST_F(JobNetworkTest, InstancesReachTheirOwnJobOnly) {
  auto a = JobNetwork::Create({}, Names("a"), {"algo-1", "algo-2"}, dir_.path() + "/a");
  auto b = JobNetwork::Create({}, Names("b"), {"algo-1", "algo-2"}, dir_.path() + "/b");
  ASSERT_TRUE(a.ok() && b.ok());
  // A listener on job a's algo-2.
  int listener = -1;
  ASSERT_TRUE(RunInNetworkNamespace((*a)->NamespacePath(1), [&] {
                listener = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
                sockaddr_in sin{};
                sin.sin_family = AF_INET;
                sin.sin_port = htons(7777);
                ::inet_pton(AF_INET, JobNetworkAddress(1).c_str(), &sin.sin_addr);
                if (::bind(listener, reinterpret_cast<sockaddr*>(&sin), sizeof sin) != 0 ||
                    ::listen(listener, 4) != 0) {
                  return Status::FromErrno("listen", errno);
                }
                return Status::Ok();
              }).ok());
  auto connect_from = [](const std::string& ns_path) {
    return RunInNetworkNamespace(ns_path, [] {
      int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
      sockaddr_in sin{};
      sin.sin_family = AF_INET;
      sin.sin_port = htons(7777);
      ::inet_pton(AF_INET, JobNetworkAddress(1).c_str(), &sin.sin_addr);
      int rc = ::connect(fd, reinterpret_cast<sockaddr*>(&sin), sizeof sin);
      int saved = errno;
      ::close(fd);
      return rc == 0 ? Status::Ok() : Status::FromErrno("connect", saved);
    });
  };
  EXPECT_TRUE(connect_from((*a)->NamespacePath(0)).ok());
  // Job b uses the same addresses on its own segment: its algo-1 reaches its own algo-2, which
  // has no listener, never job a's.
  Status from_b = connect_from((*b)->NamespacePath(0));
  EXPECT_FALSE(from_b.ok());
  EXPECT_THAT(from_b.message(), HasSubstr("refused"));
  ::close(listener);
  EXPECT_TRUE((*a)->Destroy().ok());
  EXPECT_TRUE((*b)->Destroy().ok());
}

TEST_F(JobNetworkTest, AdoptFindsTheNetworkOfAnEarlierProcessAndNotAVanishedOne) {
  auto created = JobNetwork::Create({}, Names("adopt"), {"algo-1"}, dir_.path() + "/h");
  ASSERT_TRUE(created.ok());
  auto adopted = JobNetwork::Adopt({}, Names("adopt"), {"algo-1"}, dir_.path() + "/h");
  ASSERT_TRUE(adopted.ok());
  EXPECT_EQ((*adopted)->NamespacePath(0), (*created)->NamespacePath(0));
  ASSERT_TRUE((*adopted)->Destroy().ok());
  EXPECT_EQ(JobNetwork::Adopt({}, Names("adopt"), {"algo-1"}, dir_.path() + "/h").status().code(),
            StatusCode::kNotFound);
}

TEST_F(JobNetworkTest, RemoveStaleKeepsLiveJobsAndOtherOwners) {
  auto live = JobNetwork::Create({}, Names("live"), {"algo-1", "algo-2"}, dir_.path() + "/l");
  auto dead = JobNetwork::Create({}, Names("dead"), {"algo-1", "algo-2"}, dir_.path() + "/d");
  testing::TempDir other_dir;
  JobNetworkNames other_names = JobNetworkNames::For(other_dir.path(), "dead");
  auto other = JobNetwork::Create({}, other_names, {"algo-1"}, other_dir.path() + "/o");
  ASSERT_TRUE(live.ok() && dead.ok() && other.ok());

  auto removed = RemoveStaleJobNetworks({}, Names("x").owner, {Names("live").tag});
  ASSERT_TRUE(removed.ok()) << removed.status().ToString();
  EXPECT_EQ(*removed, 1);
  EXPECT_FALSE(LinkExists(Names("dead").Bridge()));
  EXPECT_FALSE(LinkExists(Names("dead").HostVeth(1)));
  EXPECT_THAT(ListNamedNetworkNamespaces(Names("dead").Namespace(0)), IsEmpty());
  EXPECT_TRUE(LinkExists(Names("live").Bridge()));
  EXPECT_THAT(ListNamedNetworkNamespaces(other_names.Namespace(0)), Not(IsEmpty()));

  EXPECT_TRUE((*live)->Destroy().ok());
  EXPECT_TRUE((*other)->Destroy().ok());
}

}  // namespace
}  // namespace kiln
