#include "crypto/at_rest.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>

#include "crypto/test_util.h"

namespace relais::crypto {
namespace {

using testing::TempDir;

class AtRestTest : public ::testing::Test {
 protected:
  void SetUp() override { Init(); }
};

TEST_F(AtRestTest, SameSaltAndPassphraseDeriveTheSameKey) {
  base::Bytes salt = NewAtRestSalt();
  ASSERT_EQ(salt.size(), kAtRestSaltSize);
  auto a = DeriveAtRestKey("correct horse", salt, KdfStrength::kInteractive);
  auto b = DeriveAtRestKey("correct horse", salt, KdfStrength::kInteractive);
  ASSERT_TRUE(a && b);
  base::Bytes sealed = SealAtRest(*a, base::AsBytes("secret body"), base::AsBytes("row-1"));
  auto opened = OpenAtRest(*b, sealed, base::AsBytes("row-1"));
  ASSERT_TRUE(opened);
  EXPECT_EQ(base::ToString(*opened), "secret body");
}

TEST_F(AtRestTest, WrongPassphraseOrSaltDoesNotOpen) {
  base::Bytes salt = NewAtRestSalt();
  auto key = DeriveAtRestKey("one", salt, KdfStrength::kInteractive);
  auto wrong = DeriveAtRestKey("two", salt, KdfStrength::kInteractive);
  auto other_salt = DeriveAtRestKey("one", NewAtRestSalt(), KdfStrength::kInteractive);
  ASSERT_TRUE(key && wrong && other_salt);
  base::Bytes sealed = SealAtRest(*key, base::AsBytes("x"), base::AsBytes("r"));
  auto bad = OpenAtRest(*wrong, sealed, base::AsBytes("r"));
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code, "at_rest_auth_failed");
  EXPECT_EQ(bad.error().kind, base::ErrorKind::kCorruption);
  EXPECT_FALSE(OpenAtRest(*other_salt, sealed, base::AsBytes("r")));
}

TEST_F(AtRestTest, ValueMovedToAnotherRowOrAlteredDoesNotOpen) {
  auto key = DeriveAtRestKey("pass", NewAtRestSalt(), KdfStrength::kInteractive);
  ASSERT_TRUE(key);
  base::Bytes sealed = SealAtRest(*key, base::AsBytes("body"), base::AsBytes("row-1"));
  EXPECT_FALSE(OpenAtRest(*key, sealed, base::AsBytes("row-2")));
  base::Bytes altered = sealed;
  altered[altered.size() / 2] ^= 1;
  EXPECT_FALSE(OpenAtRest(*key, altered, base::AsBytes("row-1")));
  EXPECT_FALSE(OpenAtRest(*key, base::Bytes(10), base::AsBytes("row-1")));
  // A fresh nonce each time: the same plaintext never gives the same bytes.
  EXPECT_NE(sealed, SealAtRest(*key, base::AsBytes("body"), base::AsBytes("row-1")));
  std::string s(sealed.begin(), sealed.end());
  EXPECT_EQ(s.find("body"), std::string::npos);
}

TEST_F(AtRestTest, RejectsEmptyPassphraseAndShortSalt) {
  auto empty = DeriveAtRestKey("", NewAtRestSalt(), KdfStrength::kInteractive);
  ASSERT_FALSE(empty);
  EXPECT_EQ(empty.error().code, "bad_passphrase");
  auto short_salt = DeriveAtRestKey("p", base::Bytes(8), KdfStrength::kInteractive);
  ASSERT_FALSE(short_salt);
  EXPECT_EQ(short_salt.error().code, "bad_salt");
}

TEST_F(AtRestTest, KeyFileIsCreated0600LoadsAndIsNeverOverwritten) {
  TempDir dir;
  auto path = dir.Path() / "store.key";
  ASSERT_TRUE(CreateAtRestKeyFile(path));
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  auto a = LoadAtRestKeyFile(path);
  ASSERT_TRUE(a) << a.error().ToString();
  auto b = LoadAtRestKeyFile(path);
  ASSERT_TRUE(b);
  auto opened = OpenAtRest(*b, SealAtRest(*a, base::AsBytes("v"), {}), {});
  EXPECT_TRUE(opened);
  auto again = CreateAtRestKeyFile(path);
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code, "key_file_exists");
}

TEST_F(AtRestTest, KeyFileReadableByOthersOrMalformedIsRefused) {
  TempDir dir;
  auto path = dir.Path() / "store.key";
  ASSERT_TRUE(CreateAtRestKeyFile(path));
  ::chmod(path.c_str(), 0644);
  auto shared = LoadAtRestKeyFile(path);
  ASSERT_FALSE(shared);
  EXPECT_EQ(shared.error().code, "key_file_permissions");
  auto bad = dir.Path() / "bad.key";
  {
    std::ofstream out(bad);
    out << "relais-at-rest-key-v1\nkey: 00ff\n";
  }
  ::chmod(bad.c_str(), 0600);
  auto r = LoadAtRestKeyFile(bad);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, "bad_key_file");
  EXPECT_EQ(r.error().message.find("00ff"), std::string::npos);
  auto missing = LoadAtRestKeyFile(dir.Path() / "none.key");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, "no_key_file");
}

TEST_F(AtRestTest, PasswordHashVerifiesOnlyTheRightPassword) {
  auto hash = HashPassword("mot de passe");
  ASSERT_TRUE(hash);
  EXPECT_EQ(hash->find("mot de passe"), std::string::npos);
  EXPECT_EQ(hash->rfind("$argon2id$", 0), 0u);
  EXPECT_TRUE(VerifyPassword(*hash, "mot de passe"));
  EXPECT_FALSE(VerifyPassword(*hash, "mot de passe "));
  EXPECT_FALSE(VerifyPassword(*hash, ""));
  EXPECT_FALSE(VerifyPassword("", "mot de passe"));
  EXPECT_FALSE(VerifyPassword("garbage", "mot de passe"));
  auto empty = HashPassword("");
  ASSERT_FALSE(empty);
  EXPECT_EQ(empty.error().code, "bad_password");
}

}  // namespace
}  // namespace relais::crypto
