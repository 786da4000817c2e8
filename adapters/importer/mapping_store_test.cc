#include "adapters/importer/mapping_store.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>

#include "crypto/secret.h"

namespace relais::importer {
namespace {

class MappingStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    crypto::Init();
    dir_ = std::filesystem::temp_directory_path() /
           ("importer-store-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::filesystem::path dir_;
};

TEST_F(MappingStoreTest, KeepsEntriesAcrossReopeningWithTheSameKeyedHashes) {
  auto path = dir_ / "map.db";
  base::Bytes key;
  {
    auto store = MappingStore::Open(path);
    ASSERT_TRUE(store) << store.error().ToString();
    key = (*store)->PersonKey("ecrou-123");
    MappingEntry e;
    e.person_key = key;
    e.case_ref = "c-test";
    e.version = 2;
    e.due_at = 1000;
    e.digest = {1, 2, 3};
    e.recipients = "assoc-a,assoc-b";
    e.referred = true;
    ASSERT_TRUE((*store)->Put({e}));
  }
  auto store = MappingStore::Open(path);
  ASSERT_TRUE(store);
  EXPECT_EQ((*store)->PersonKey("ecrou-123"), key);
  auto all = (*store)->LoadAll();
  ASSERT_TRUE(all);
  ASSERT_EQ(all->size(), 1u);
  const MappingEntry& e = all->at(key);
  EXPECT_EQ(e.case_ref, "c-test");
  EXPECT_EQ(e.version, 2);
  EXPECT_EQ(e.digest, (base::Bytes{1, 2, 3}));
  EXPECT_TRUE(e.referred);
  ASSERT_TRUE((*store)->Remove({key}));
  EXPECT_TRUE((*store)->LoadAll()->empty());
}

TEST_F(MappingStoreTest, NeverStoresThePersonIdInClearAndKeepsItsKeyPrivate) {
  auto path = dir_ / "map.db";
  {
    auto store = MappingStore::Open(path);
    ASSERT_TRUE(store);
    MappingEntry e;
    e.person_key = (*store)->PersonKey("ECROU-SECRET-778899");
    e.case_ref = "c-x";
    ASSERT_TRUE((*store)->Put({e}));
  }
  for (const char* suffix : {"", "-wal"}) {
    std::ifstream in(path.string() + suffix, std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    EXPECT_EQ(bytes.find("ECROU-SECRET-778899"), std::string::npos) << suffix;
  }
  struct stat st {};
  ASSERT_EQ(::stat((path.string() + ".key").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
}

TEST_F(MappingStoreTest, DifferentStoresHashTheSamePersonDifferently) {
  auto a = MappingStore::Open(dir_ / "a.db");
  auto b = MappingStore::Open(dir_ / "b.db");
  ASSERT_TRUE(a && b);
  EXPECT_NE((*a)->PersonKey("1"), (*b)->PersonKey("1"));
}

TEST_F(MappingStoreTest, EventIdsAreStablePerCaseKindAndVersionAndAreUuidV8) {
  auto store = MappingStore::Open(dir_ / "m.db");
  ASSERT_TRUE(store);
  auto id = (*store)->EventId("c-1", 1, 1);
  ASSERT_EQ(id.size(), 16u);
  EXPECT_EQ(id[6] >> 4, 8);
  EXPECT_EQ(id, (*store)->EventId("c-1", 1, 1));
  EXPECT_NE(id, (*store)->EventId("c-1", 1, 2));
  EXPECT_NE(id, (*store)->EventId("c-1", 2, 1));
  EXPECT_NE(id, (*store)->EventId("c-2", 1, 1));
}

TEST_F(MappingStoreTest, RefusesATruncatedKeyFile) {
  { std::ofstream(dir_ / "m.db.key") << "short"; }
  auto store = MappingStore::Open(dir_ / "m.db");
  ASSERT_FALSE(store);
  EXPECT_EQ(store.error().code, "store_corrupt");
}

TEST_F(MappingStoreTest, RemembersListedReminders) {
  auto store = MappingStore::Open(dir_ / "m.db");
  ASSERT_TRUE(store);
  auto key = (*store)->PersonKey("p");
  EXPECT_FALSE(*(*store)->ReminderListed(key, "interview"));
  ASSERT_TRUE((*store)->MarkReminderListed(key, "interview", 5));
  EXPECT_TRUE(*(*store)->ReminderListed(key, "interview"));
}

}  // namespace
}  // namespace relais::importer
