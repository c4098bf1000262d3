// BucketStore::ListObjects against a brute-force model of S3 listing: bytewise order, prefix,
// delimiter roll-up into common prefixes (each counted once against max_keys), start_after and
// truncation with a next marker.
#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <set>

#include "bucket_store_test_util.h"
#include "storage/bucket_store.h"

namespace kiln {
namespace {

using testing_util::BucketStoreTest;

// One listing entry: a key, or a common prefix (marked by `is_prefix`).
struct Entry {
  std::string name;
  bool is_prefix = false;
  bool operator==(const Entry&) const = default;
};

std::ostream& operator<<(std::ostream& os, const Entry& e) {
  return os << (e.is_prefix ? "prefix:" : "key:") << e.name;
}

// Every entry a listing of `keys` (a sorted set) yields, in order, before max_keys is applied.
std::vector<Entry> ModelEntries(const std::set<std::string>& keys, const ListObjectsRequest& req) {
  std::vector<Entry> out;
  for (const std::string& key : keys) {
    if (!key.starts_with(req.prefix)) continue;
    Entry e{key, false};
    if (!req.delimiter.empty()) {
      size_t cut = key.find(req.delimiter, req.prefix.size());
      if (cut != std::string::npos) e = {key.substr(0, cut + req.delimiter.size()), true};
    }
    if (e.name <= req.start_after) continue;
    if (!out.empty() && out.back() == e) continue;
    out.push_back(e);
  }
  return out;
}

// The entries of one page, merged in order.
std::vector<Entry> PageEntries(const ListObjectsResult& page) {
  std::vector<Entry> out;
  for (const ObjectMeta& m : page.objects) out.push_back({m.key, false});
  for (const std::string& p : page.common_prefixes) out.push_back({p, true});
  std::sort(out.begin(), out.end(), [](const Entry& a, const Entry& b) { return a.name < b.name; });
  return out;
}

class BucketStoreListTest : public BucketStoreTest {
 protected:
  void PutAll(const std::vector<std::string>& keys) {
    ASSERT_TRUE(testing_util::PutKeysAsContents(store(), "bucket", keys).ok());
    keys_.insert(keys.begin(), keys.end());
  }
  // Checks one request against the model, then pages through the rest of the listing.
  void ExpectMatchesModel(ListObjectsRequest req) {
    std::vector<Entry> all = ModelEntries(keys_, req);
    std::vector<Entry> paged;
    for (int pages = 0; pages < 2000; ++pages) {
      auto page = store().ListObjects("bucket", req);
      ASSERT_TRUE(page.ok()) << page.status().ToString();
      std::vector<Entry> entries = PageEntries(*page);
      std::vector<Entry> expected = ModelEntries(keys_, req);
      bool truncated = static_cast<int>(expected.size()) > req.max_keys;
      expected.resize(std::min<size_t>(expected.size(), req.max_keys));
      ASSERT_EQ(entries, expected) << "prefix=" << req.prefix << " delim=" << req.delimiter
                                   << " after=" << req.start_after << " max=" << req.max_keys;
      ASSERT_EQ(page->is_truncated, truncated);
      for (const ObjectMeta& m : page->objects) ASSERT_EQ(m.size, m.key.size());
      paged.insert(paged.end(), entries.begin(), entries.end());
      if (!page->is_truncated) break;
      ASSERT_EQ(page->next_start_after, entries.back().name);
      req.start_after = page->next_start_after;
    }
    EXPECT_EQ(paged, all);
  }

  std::set<std::string> keys_;
};

TEST_F(BucketStoreListTest, DelimiterRollsUpCommonPrefixesAndCountsEachOnce) {
  PutAll({"a/1", "a/2", "a/3", "b", "c/x/1", "c/y", "d"});
  ListObjectsRequest req;
  req.delimiter = "/";
  req.max_keys = 3;
  auto page = store().ListObjects("bucket", req);
  ASSERT_TRUE(page.ok());
  EXPECT_EQ(page->common_prefixes, (std::vector<std::string>{"a/", "c/"}));
  ASSERT_EQ(page->objects.size(), 1u);
  EXPECT_EQ(page->objects[0].key, "b");
  EXPECT_TRUE(page->is_truncated);
  EXPECT_EQ(page->next_start_after, "c/");
  req.start_after = "c/";
  page = store().ListObjects("bucket", req);
  ASSERT_TRUE(page.ok());
  EXPECT_TRUE(page->common_prefixes.empty());
  ASSERT_EQ(page->objects.size(), 1u);
  EXPECT_EQ(page->objects[0].key, "d");
  EXPECT_FALSE(page->is_truncated);

  req = {};
  req.prefix = "c/";
  req.delimiter = "/";
  page = store().ListObjects("bucket", req);
  ASSERT_TRUE(page.ok());
  EXPECT_EQ(page->common_prefixes, (std::vector<std::string>{"c/x/"}));
  ASSERT_EQ(page->objects.size(), 1u);
  EXPECT_EQ(page->objects[0].key, "c/y");
}

TEST_F(BucketStoreListTest, MaxKeysZeroReturnsNothing) {
  PutAll({"a"});
  ListObjectsRequest req;
  req.max_keys = 0;
  auto page = store().ListObjects("bucket", req);
  ASSERT_TRUE(page.ok());
  EXPECT_TRUE(page->objects.empty());
  EXPECT_FALSE(page->is_truncated);
}

TEST_F(BucketStoreListTest, KeysWithHighBytesAndEmptyishPrefixesSortBytewise) {
  PutAll({"\xff", "\xff\xff", "\xff\xff/a", "\x7f", "\x01", "A", "a", "\xc3\xa9"});
  for (const std::string prefix : {"", "\xff", "\xff\xff", "\xff\xff/"}) {
    for (const std::string delim : {"", "/", "\xff"}) {
      ListObjectsRequest req;
      req.prefix = prefix;
      req.delimiter = delim;
      req.max_keys = 2;
      ExpectMatchesModel(req);
    }
  }
}

TEST_F(BucketStoreListTest, FiveHundredRandomKeysMatchTheModel) {
  std::mt19937 rng(20240611);
  const std::vector<std::string> pieces = {
      "a", "b", "ab", "/", "//",       "data",         "x.csv",
      ".", "-", "0",  "9", "\xc3\xa9", "\xe2\x98\x83", "\xf0\x9f\x94\xa5",
      "Z", "_", "..", " "};
  std::set<std::string> keys;
  while (keys.size() < 500) {
    std::string key;
    int n = 1 + static_cast<int>(rng() % 6);
    for (int i = 0; i < n; ++i) key += pieces[rng() % pieces.size()];
    keys.insert(key);
  }
  PutAll(std::vector<std::string>(keys.begin(), keys.end()));

  std::vector<std::string> probes = {"",     "a",        "a/",  "/",   "//", "data/",
                                     "\xc3", "\xc3\xa9", "zzz", "b/a", "..", "\xff"};
  for (int i = 0; i < 20; ++i) {  // prefixes of real keys
    auto it = keys.begin();
    std::advance(it, rng() % keys.size());
    probes.push_back(it->substr(0, rng() % (it->size() + 1)));
  }
  const std::vector<std::string> delimiters = {"", "/", "a", "//", "\xc3\xa9"};
  const std::vector<int> max_keys = {1, 2, 7, 50, 1000};
  for (int i = 0; i < 150; ++i) {
    ListObjectsRequest req;
    req.prefix = probes[rng() % probes.size()];
    req.delimiter = delimiters[rng() % delimiters.size()];
    req.max_keys = max_keys[rng() % max_keys.size()];
    if (rng() % 3 == 0) req.start_after = probes[rng() % probes.size()] + pieces[rng() % 4];
    ExpectMatchesModel(req);
    if (HasFatalFailure()) return;
  }
}

}  // namespace
}  // namespace kiln
