#include "object_store_conformance.h"

#include <stdlib.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <random>
#include <set>
#include <thread>

#include "test_util.h"

namespace kiln {

using testing_util::FilesOf;
using testing_util::ReadFileOrEmpty;
using testing_util::TreeOf;
using testing_util::WriteFile;

void ObjectStoreConformanceTest::SetUp() {
  char tmpl[] = "/tmp/kiln-store-conformance-XXXXXX";
  scratch_ = ::mkdtemp(tmpl);
  work_ = scratch_ + "/work";
  std::filesystem::create_directories(work_);
  WriteFile(scratch_ + "/outside/secret.txt", "do not touch");
  under_test_ = GetParam().make(scratch_ + "/store");
}

void ObjectStoreConformanceTest::TearDown() {
  under_test_.reset();
  std::filesystem::remove_all(scratch_);
}

Status ObjectStoreConformanceTest::Put(const std::string& key, const std::string& data) {
  static std::atomic<int> counter{0};
  std::string src = work_ + "/src-" + std::to_string(counter++);
  WriteFile(src, data);
  Status st = store().PutFromFile(bucket(), key, src);
  std::filesystem::remove(src);
  return st;
}

std::vector<std::string> ObjectStoreConformanceTest::Keys(const std::string& prefix) {
  auto listed = store().List(bucket(), prefix);
  EXPECT_TRUE(listed.ok()) << listed.status().ToString();
  std::vector<std::string> keys;
  if (listed.ok()) {
    for (const ObjectInfo& o : *listed) keys.push_back(o.key);
  }
  return keys;
}

void PrintTo(const StoreBackend& backend, std::ostream* os) { *os << backend.name; }

std::string BackendName(const ::testing::TestParamInfo<StoreBackend>& info) {
  return info.param.name;
}

namespace {

using Keys_ = std::vector<std::string>;

TEST_P(ObjectStoreConformanceTest, ListMatchesALiteralStringPrefixNotADirectory) {
  for (const char* key : {"data/x", "data2/y", "dat", "other/z", "data/sub/deep"}) {
    ASSERT_TRUE(Put(key, key).ok()) << key;
  }
  EXPECT_EQ(Keys("data"), (Keys_{"data/sub/deep", "data/x", "data2/y"}));
  EXPECT_EQ(Keys("data/"), (Keys_{"data/sub/deep", "data/x"}));
  EXPECT_EQ(Keys("da"), (Keys_{"dat", "data/sub/deep", "data/x", "data2/y"}));
  EXPECT_EQ(Keys("data/s"), (Keys_{"data/sub/deep"}));
  EXPECT_EQ(Keys("data/x"), (Keys_{"data/x"}));
  EXPECT_EQ(Keys(""), (Keys_{"dat", "data/sub/deep", "data/x", "data2/y", "other/z"}));
}

TEST_P(ObjectStoreConformanceTest, ListOfAPrefixNothingMatchesIsEmpty) {
  ASSERT_TRUE(Put("a/b", "1").ok());
  EXPECT_TRUE(Keys("nope/").empty());
  EXPECT_TRUE(Keys("a/b/c").empty());
  EXPECT_TRUE(Keys("a/c").empty());
}

TEST_P(ObjectStoreConformanceTest, ListIsSortedBytewiseAcrossDirectoryLevels) {
  // '.' (0x2e) < '/' (0x2f) < '0' (0x30), 'B' < 'a', and UTF-8 lead bytes sort after ASCII.
  Keys_ keys = {"a0", "a/b", "a.txt", "B", "\xc3\xa9t\xc3\xa9", "a/b.c/d", "a/b-c"};
  for (const std::string& k : keys) ASSERT_TRUE(Put(k, "x").ok()) << k;
  std::sort(keys.begin(), keys.end());
  EXPECT_EQ(Keys(""), keys);
  EXPECT_EQ(keys.front(), "B");
}

TEST_P(ObjectStoreConformanceTest, ListReportsEachObjectsSize) {
  ASSERT_TRUE(Put("empty", "").ok());
  ASSERT_TRUE(Put("five", "12345").ok());
  auto listed = store().List(bucket(), "");
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->size(), 2u);
  EXPECT_EQ((*listed)[0].key, "empty");
  EXPECT_EQ((*listed)[0].size, 0u);
  EXPECT_EQ((*listed)[1].key, "five");
  EXPECT_EQ((*listed)[1].size, 5u);
}

TEST_P(ObjectStoreConformanceTest, PutThenGetRoundTripsBinaryData) {
  std::string data(1 << 20, '\0');
  std::mt19937 rng(42);
  for (char& c : data) c = static_cast<char>(rng());
  ASSERT_TRUE(Put("dir/blob.bin", data).ok());
  std::string dest = work_ + "/blob.out";
  ASSERT_TRUE(store().GetToFile(bucket(), "dir/blob.bin", dest).ok());
  EXPECT_TRUE(ReadFileOrEmpty(dest) == data);
  auto bytes = store().GetBytes(bucket(), "dir/blob.bin");
  ASSERT_TRUE(bytes.ok());
  EXPECT_TRUE(*bytes == data);
}

TEST_P(ObjectStoreConformanceTest, GetToFileOfEmptyAndTinyObjectsWithAndWithoutAListedSize) {
  ASSERT_TRUE(Put("empty", "").ok());
  ASSERT_TRUE(Put("tiny", "x").ok());
  for (const std::string key : {"empty", "tiny"}) {
    std::string expected = key == "empty" ? "" : "x";
    std::string dest = work_ + "/" + key + ".out";
    WriteFile(dest, "previous contents");
    Status got = store().GetToFile(bucket(), key, dest);
    ASSERT_TRUE(got.ok()) << key << ": " << got.ToString();
    EXPECT_EQ(ReadFileOrEmpty(dest), expected) << key;
    WriteFile(dest, "previous contents");
    got = store().GetToFileOfSize(bucket(), key, dest, expected.size());
    ASSERT_TRUE(got.ok()) << key << ": " << got.ToString();
    EXPECT_EQ(ReadFileOrEmpty(dest), expected) << key;
  }
}

TEST_P(ObjectStoreConformanceTest, ReadObjectStreamsTheWholeObjectInOrder) {
  std::string data;
  for (int i = 0; i < 300000; ++i) data += std::to_string(i) + ",";
  ASSERT_TRUE(Put("stream.csv", data).ok());
  std::string got;
  int chunks = 0;
  Status st = store().ReadObject(bucket(), "stream.csv", [&](std::string_view chunk) {
    got.append(chunk);
    ++chunks;
    return Status::Ok();
  });
  ASSERT_TRUE(st.ok()) << st.ToString();
  EXPECT_TRUE(got == data);
  EXPECT_GE(chunks, 1);
  EXPECT_EQ(
      store().ReadObject(bucket(), "missing", [](std::string_view) { return Status::Ok(); }).code(),
      StatusCode::kNotFound);
}

TEST_P(ObjectStoreConformanceTest, ReadObjectReturnsTheSinksFailureUnchanged) {
  ASSERT_TRUE(Put("k", "data").ok());
  Status st = store().ReadObject(bucket(), "k",
                                 [](std::string_view) { return Status::Cancelled("stop here"); });
  EXPECT_EQ(st.code(), StatusCode::kCancelled);
  EXPECT_EQ(st.message(), "stop here");
}

TEST_P(ObjectStoreConformanceTest, PutReplacesAnExistingObject) {
  ASSERT_TRUE(Put("k", "old contents").ok());
  ASSERT_TRUE(Put("k", "new").ok());
  EXPECT_EQ(*store().GetBytes(bucket(), "k"), "new");
  EXPECT_EQ(Keys(""), (Keys_{"k"}));
}

TEST_P(ObjectStoreConformanceTest, GetToFileReplacesTheDestinationAndLeavesNoTemporaries) {
  ASSERT_TRUE(Put("k", "object").ok());
  std::string dest = work_ + "/out/dest";
  WriteFile(dest, "previous file contents");
  ASSERT_TRUE(store().GetToFile(bucket(), "k", dest).ok());
  EXPECT_EQ(FilesOf(work_ + "/out"), (std::map<std::string, std::string>{{"dest", "object"}}));
}

TEST_P(ObjectStoreConformanceTest, GettingAMissingObjectIsNotFoundAndCreatesNothing) {
  std::string dest = work_ + "/never";
  EXPECT_EQ(store().GetToFile(bucket(), "missing", dest).code(), StatusCode::kNotFound);
  EXPECT_EQ(store().GetBytes(bucket(), "missing").status().code(), StatusCode::kNotFound);
  EXPECT_FALSE(std::filesystem::exists(dest));
}

TEST_P(ObjectStoreConformanceTest, UnicodeKeysRoundTrip) {
  std::string key = "donn\xc3\xa9\x65s/\xc3\xa9t\xc3\xa9 \xe2\x98\x83.csv";
  ASSERT_TRUE(Put(key, "snow").ok());
  EXPECT_EQ(Keys("donn"), (Keys_{key}));
  EXPECT_EQ(*store().GetBytes(bucket(), key), "snow");
}

TEST_P(ObjectStoreConformanceTest, ListingNeverSeesAPartiallyWrittenObject) {
  const std::string small(1000, 's');
  const std::string large(4 << 20, 'L');
  ASSERT_TRUE(Put("obj", small).ok());
  std::atomic<bool> done{false};
  std::thread writer([&] {
    for (int i = 0; i < 20; ++i) EXPECT_TRUE(Put("obj", i % 2 ? small : large).ok());
    done = true;
  });
  int listings = 0;
  while (!done || listings == 0) {
    auto listed = store().List(bucket(), "");
    EXPECT_TRUE(listed.ok());
    if (!listed.ok() || listed->size() != 1u) {
      ADD_FAILURE() << "a temporary or torn object was visible";
      break;
    }
    EXPECT_EQ((*listed)[0].key, "obj");
    uint64_t size = (*listed)[0].size;
    EXPECT_TRUE(size == small.size() || size == large.size()) << size;
    ++listings;
  }
  writer.join();
}

TEST_P(ObjectStoreConformanceTest, HostileKeysNeverReachOutsideTheStore) {
  const Keys_ hostile = {"../x",      "../../outside/secret.txt",
                         "a/../../x", "/abs",
                         "/",         "./a",
                         "a/./b",     "a//b",
                         "",          "..",
                         "a/..",      std::string("nul\0byte", 8)};
  const auto before = TreeOf(scratch_ + "/store");
  for (const std::string& key : hostile) {
    (void)Put(key, "hostile");
    (void)store().GetToFile(bucket(), key, work_ + "/got");
    (void)store().GetBytes(bucket(), key);
    (void)store().List(bucket(), key);
  }
  EXPECT_EQ(FilesOf(scratch_ + "/outside"),
            (std::map<std::string, std::string>{{"secret.txt", "do not touch"}}));
  std::string contained = under_test_->contained_dir();
  for (const auto& [rel, contents] : TreeOf(scratch_ + "/store")) {
    auto old = before.find(rel);
    if (old != before.end() && old->second == contents) continue;
    std::string path = scratch_ + "/store/" + rel;
    bool inside =
        path == contained || path.starts_with(contained + "/") || contained.starts_with(path + "/");
    EXPECT_TRUE(inside) << path << " was written outside " << contained;
  }
}

}  // namespace
}  // namespace kiln
