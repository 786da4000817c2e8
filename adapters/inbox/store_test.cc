#include "adapters/inbox/store.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>
#include <iterator>

#include "adapters/inbox/test_events.h"
#include "crypto/secret.h"

namespace relais::inbox {
namespace {

using testing::kT0;
using testing::MakeEvent;
using testing::MakeReferral;

class StoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    crypto::Init();
    std::string templ = (std::filesystem::path(::testing::TempDir()) / "inbox-XXXXXX").string();
    ASSERT_NE(mkdtemp(templ.data()), nullptr);
    dir_ = templ;
    path_ = dir_ / "inbox.db";
    key_.key_file = dir_ / "store.key";
    ASSERT_TRUE(crypto::CreateAtRestKeyFile(key_.key_file));
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::unique_ptr<Store> Open() {
    auto s = Store::Open(path_, key_, true);
    EXPECT_TRUE(s) << s.error().ToString();
    return s ? std::move(*s) : nullptr;
  }

  bool FilesContain(const std::string& needle) {
    for (const char* suffix : {"", "-wal"}) {
      std::ifstream in(path_.string() + suffix, std::ios::binary);
      std::string all((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      if (all.find(needle) != std::string::npos) return true;
    }
    return false;
  }

  std::filesystem::path dir_;
  std::filesystem::path path_;
  StoreKeySource key_;
};

TEST_F(StoreTest, StoresEventsEncryptedAndReadsThemBack) {
  auto store = Open();
  ASSERT_TRUE(store);
  auto referral = MakeReferral("c-one", 7, kT0 + base::kMsPerDay);
  auto put = store->PutEvent(referral);
  ASSERT_TRUE(put && *put);
  auto events = store->Events();
  ASSERT_TRUE(events);
  ASSERT_EQ(events->size(), 1u);
  EXPECT_EQ((*events)[0].header, referral.header);
  EXPECT_EQ((*events)[0].body, referral.body);
  EXPECT_EQ((*events)[0].seq, 7u);
  EXPECT_FALSE(FilesContain("Texte-secret-du-corps"));
  EXPECT_FALSE(FilesContain("Durand"));
  struct stat st {};
  ASSERT_EQ(::stat(path_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0077, 0u);
}

TEST_F(StoreTest, SameEventIdIsStoredOnce) {
  auto store = Open();
  auto referral = MakeReferral("c-one", 7, kT0);
  ASSERT_TRUE(*store->PutEvent(referral));
  auto again = store->PutEvent(referral);
  ASSERT_TRUE(again);
  EXPECT_FALSE(*again);
  EXPECT_TRUE(*store->HasEvent(referral.header.event_id));
  EXPECT_EQ(store->Events()->size(), 1u);
}

TEST_F(StoreTest, EventsFilterByCase) {
  auto store = Open();
  ASSERT_TRUE(store->PutEvent(MakeReferral("c-one", 1, kT0)));
  ASSERT_TRUE(store->PutEvent(MakeReferral("c-two", 2, kT0)));
  ASSERT_TRUE(store->PutEvent(MakeEvent(schema::EventKind::kOfferTaken, "c-one", 3, kT0 + 5)));
  EXPECT_EQ(store->Events("c-one")->size(), 2u);
  EXPECT_EQ(store->Events("c-two")->size(), 1u);
  EXPECT_EQ(store->Events("c-none")->size(), 0u);
}

TEST_F(StoreTest, WrongKeyFileOrPassphraseIsRefused) {
  { auto store = Open(); }
  StoreKeySource other;
  other.key_file = dir_ / "other.key";
  ASSERT_TRUE(crypto::CreateAtRestKeyFile(other.key_file));
  auto wrong = Store::Open(path_, other, false);
  ASSERT_FALSE(wrong);
  EXPECT_EQ(wrong.error().code, "wrong_store_key");
  auto missing = Store::Open(dir_ / "none.db", key_, false);
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, "no_store");
}

TEST_F(StoreTest, PassphraseStoreReopensOnlyWithTheSamePassphrase) {
  StoreKeySource pass;
  pass.passphrase = "une phrase de passe";
  auto p = dir_ / "pass.db";
  {
    auto store = Store::Open(p, pass, true);
    ASSERT_TRUE(store) << store.error().ToString();
    ASSERT_TRUE((*store)->PutEvent(MakeReferral("c-one", 1, kT0)));
  }
  auto again = Store::Open(p, pass, false);
  ASSERT_TRUE(again);
  EXPECT_EQ((*again)->Events()->size(), 1u);
  StoreKeySource wrong;
  wrong.passphrase = "une autre phrase";
  auto refused = Store::Open(p, wrong, false);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, "wrong_store_key");
}

TEST_F(StoreTest, PurgeDeletesTheCaseKeepsATraceAndLeavesNoCiphertext) {
  auto store = Open();
  auto referral = MakeReferral("c-one", 1, kT0);
  ASSERT_TRUE(store->PutEvent(referral));
  ASSERT_TRUE(store->PutEvent(MakeReferral("c-two", 2, kT0)));
  ASSERT_TRUE(store->MarkNotified("c-one", "new"));
  auto deleted = store->Purge("c-one", kT0 + 10);
  ASSERT_TRUE(deleted) << deleted.error().ToString();
  EXPECT_EQ(*deleted, 1u);
  EXPECT_EQ(store->Events("c-one")->size(), 0u);
  EXPECT_EQ(store->Events("c-two")->size(), 1u);
  auto purges = store->Purges();
  ASSERT_TRUE(purges);
  ASSERT_EQ(purges->size(), 1u);
  EXPECT_EQ((*purges)[0].case_ref, "c-one");
  EXPECT_EQ((*purges)[0].receipt_seq, 0u);
  ASSERT_TRUE(store->MarkPurgeReceipt("c-one", 42));
  EXPECT_EQ((*store->Purges())[0].receipt_seq, 42u);
  // The event id (stored in clear as the row key) is gone from the files: secure_delete + WAL
  // truncation left no page image of the row.
  std::string id(referral.header.event_id.begin(), referral.header.event_id.end());
  EXPECT_FALSE(FilesContain(id));
  // Purging again is harmless.
  EXPECT_TRUE(store->Purge("c-one", kT0 + 20));
}

TEST_F(StoreTest, StaffAccountsAndNotifiedMarks) {
  auto store = Open();
  ASSERT_TRUE(store->SetStaff("marie", "$argon2id$fake"));
  EXPECT_EQ(**store->StaffHash("marie"), "$argon2id$fake");
  EXPECT_FALSE(store->StaffHash("paul")->has_value());
  EXPECT_EQ(*store->StaffLogins(), std::vector<std::string>{"marie"});
  ASSERT_TRUE(store->RemoveStaff("marie"));
  auto gone = store->RemoveStaff("marie");
  ASSERT_FALSE(gone);
  EXPECT_EQ(gone.error().code, "no_staff");
  EXPECT_TRUE(*store->MarkNotified("c-one", "new"));
  EXPECT_FALSE(*store->MarkNotified("c-one", "new"));
}

}  // namespace
}  // namespace relais::inbox
