#include "crypto/identity.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <string>
#include <vector>

#include "crypto/test_util.h"

namespace relais::crypto {
namespace {

using testing::ReadText;
using testing::TempDir;
using testing::WriteText;

constexpr base::TimeMs kCreated = 1775001600250;  // 2026-04-01T00:00:00.250Z

unsigned ModeOf(const std::filesystem::path& p) {
  struct stat st;
  RELAIS_CHECK(::stat(p.c_str(), &st) == 0);
  return st.st_mode & 07777;
}

class IdentityFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Init();
    identity_ = GenerateIdentity("hopital-nord", kCreated);
    ASSERT_TRUE(SaveIdentity(identity_, dir_.Path()));
    key_path_ = dir_.Path() / "hopital-nord.key";
    pub_path_ = dir_.Path() / "hopital-nord.pub";
  }

  // Rewrites the key file with `edit` applied to its text, keeping mode 0600.
  template <typename Edit>
  void EditKeyFile(Edit edit) {
    std::string text = ReadText(key_path_);
    edit(text);
    WriteText(key_path_, text);
    ::chmod(key_path_.c_str(), 0600);
  }

  static void ReplaceLine(std::string& text, const std::string& prefix, const std::string& line) {
    size_t start = text.find("\n" + prefix);
    RELAIS_CHECK(start != std::string::npos);
    size_t end = text.find('\n', start + 1);
    text.replace(start + 1, end - start - 1, line);
  }

  static std::string LineValue(const std::string& text, const std::string& name) {
    size_t start = text.find("\n" + name + ": ");
    RELAIS_CHECK(start != std::string::npos);
    start += name.size() + 3;
    return text.substr(start, text.find('\n', start) - start);
  }

  // The error must never carry secret material: none of the three secret hex values appears.
  void ExpectNoSecretIn(const base::Error& error) {
    for (const Secret* s :
         {&identity_.sign_secret, &identity_.seal_secret, &identity_.curve_secret}) {
      std::string hex = base::HexEncode(s->View());
      EXPECT_EQ(error.message.find(hex.substr(0, 16)), std::string::npos);
    }
  }

  base::Error LoadError() {
    auto loaded = LoadIdentity(key_path_);
    RELAIS_CHECK(!loaded.has_value());
    ExpectNoSecretIn(loaded.error());
    return loaded.error();
  }

  TempDir dir_;
  AgencyIdentity identity_;
  std::filesystem::path key_path_;
  std::filesystem::path pub_path_;
};

TEST_F(IdentityFileTest, GeneratesDistinctWellSizedKeys) {
  AgencyIdentity other = GenerateIdentity("hopital-nord", kCreated);
  EXPECT_EQ(identity_.pub.sign_public.size(), 32u);
  EXPECT_EQ(identity_.pub.seal_public.size(), 32u);
  EXPECT_EQ(identity_.pub.curve_public.size(), 32u);
  EXPECT_EQ(identity_.sign_secret.Size(), 64u);
  EXPECT_EQ(identity_.seal_secret.Size(), 32u);
  EXPECT_EQ(identity_.curve_secret.Size(), 32u);
  EXPECT_EQ(identity_.pub.key_id, KeyId(identity_.pub.sign_public));
  EXPECT_NE(identity_.pub.seal_public, identity_.pub.curve_public);
  EXPECT_NE(identity_.pub.sign_public, other.pub.sign_public);
  EXPECT_NE(identity_.pub.key_id, other.pub.key_id);
}

TEST_F(IdentityFileTest, SavesPrivateFileWithMode0600AndPublicWith0644) {
  EXPECT_EQ(ModeOf(key_path_), 0600u);
  EXPECT_EQ(ModeOf(pub_path_), 0644u);
}

TEST_F(IdentityFileTest, ModeIs0600EvenUnderAPermissiveUmask) {
  mode_t old = ::umask(0);
  AgencyIdentity id = GenerateIdentity("asso-permissive", kCreated);
  base::Status saved = SaveIdentity(id, dir_.Path());
  ::umask(old);
  ASSERT_TRUE(saved);
  EXPECT_EQ(ModeOf(dir_.Path() / "asso-permissive.key"), 0600u);
}

TEST_F(IdentityFileTest, RoundTripsEveryKey) {
  auto loaded = LoadIdentity(key_path_);
  ASSERT_TRUE(loaded) << loaded.error().ToString();
  EXPECT_EQ(loaded->pub.agency_id, "hopital-nord");
  EXPECT_EQ(loaded->pub.key_id, identity_.pub.key_id);
  EXPECT_EQ(loaded->pub.created_at, kCreated);
  EXPECT_EQ(loaded->pub.sign_public, identity_.pub.sign_public);
  EXPECT_EQ(loaded->pub.seal_public, identity_.pub.seal_public);
  EXPECT_EQ(loaded->pub.curve_public, identity_.pub.curve_public);
  EXPECT_TRUE(std::ranges::equal(loaded->sign_secret.View(), identity_.sign_secret.View()));
  EXPECT_TRUE(std::ranges::equal(loaded->seal_secret.View(), identity_.seal_secret.View()));
  EXPECT_TRUE(std::ranges::equal(loaded->curve_secret.View(), identity_.curve_secret.View()));
}

TEST_F(IdentityFileTest, PublicFileHoldsNoSecretAndRoundTrips) {
  std::string text = ReadText(pub_path_);
  EXPECT_EQ(text.rfind("relais-public-identity-v1\n", 0), 0u);
  EXPECT_EQ(text.find("secret:"), std::string::npos);
  EXPECT_EQ(text.find(base::HexEncode(identity_.sign_secret.View()).substr(0, 64)),
            std::string::npos);
  EXPECT_EQ(LineValue(text, "curve-public-z85"), Z85Encode(identity_.pub.curve_public));
  EXPECT_EQ(LineValue(text, "created"), "2026-04-01T00:00:00.250Z");
  auto pub = LoadPublicIdentity(pub_path_);
  ASSERT_TRUE(pub) << pub.error().ToString();
  EXPECT_EQ(pub->agency_id, "hopital-nord");
  EXPECT_EQ(pub->key_id, identity_.pub.key_id);
  EXPECT_EQ(pub->sign_public, identity_.pub.sign_public);
  EXPECT_EQ(pub->seal_public, identity_.pub.seal_public);
  EXPECT_EQ(pub->curve_public, identity_.pub.curve_public);
  EXPECT_EQ(pub->created_at, kCreated);
}

TEST_F(IdentityFileTest, KeyFileStartsWithTagAndNamesEveryField) {
  std::string text = ReadText(key_path_);
  EXPECT_EQ(text.rfind("relais-identity-v1\n", 0), 0u);
  for (const char* name : {"agency", "key-id", "created", "sign-public", "seal-public",
                           "curve-public", "sign-secret", "seal-secret", "curve-secret"}) {
    EXPECT_NE(text.find(std::string("\n") + name + ": "), std::string::npos) << name;
  }
  EXPECT_EQ(LineValue(text, "sign-secret").size(), 128u);
  EXPECT_EQ(LineValue(text, "seal-secret").size(), 64u);
}

TEST_F(IdentityFileTest, RefusesToOverwriteWithoutPermission) {
  AgencyIdentity again = GenerateIdentity("hopital-nord", kCreated);
  base::Status saved = SaveIdentity(again, dir_.Path());
  ASSERT_FALSE(saved);
  EXPECT_EQ(saved.error().code, "key_file_exists");
  EXPECT_NE(saved.error().message.find("hopital-nord.key"), std::string::npos);
  auto loaded = LoadIdentity(key_path_);
  ASSERT_TRUE(loaded);
  EXPECT_EQ(loaded->pub.key_id, identity_.pub.key_id);  // untouched
}

TEST_F(IdentityFileTest, RefusesWhenOnlyThePubFileExistsAndWritesNothing) {
  std::filesystem::remove(key_path_);
  base::Status saved = SaveIdentity(identity_, dir_.Path());
  ASSERT_FALSE(saved);
  EXPECT_EQ(saved.error().code, "key_file_exists");
  EXPECT_NE(saved.error().message.find("hopital-nord.pub"), std::string::npos);
  EXPECT_FALSE(std::filesystem::exists(key_path_));
}

TEST_F(IdentityFileTest, OverwritesWhenAskedAndKeeps0600) {
  AgencyIdentity again = GenerateIdentity("hopital-nord", kCreated);
  ASSERT_TRUE(SaveIdentity(again, dir_.Path(), /*overwrite=*/true));
  EXPECT_EQ(ModeOf(key_path_), 0600u);
  auto loaded = LoadIdentity(key_path_);
  ASSERT_TRUE(loaded);
  EXPECT_EQ(loaded->pub.key_id, again.pub.key_id);
  auto pub = LoadPublicIdentity(pub_path_);
  ASSERT_TRUE(pub);
  EXPECT_EQ(pub->key_id, again.pub.key_id);
  // No temporary file is left behind.
  size_t files = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir_.Path())) {
    (void)entry;
    ++files;
  }
  EXPECT_EQ(files, 2u);
}

TEST_F(IdentityFileTest, RefusesAnInvalidAgencyIdOnSave) {
  AgencyIdentity bad = GenerateIdentity("../etc/passwd", kCreated);
  base::Status saved = SaveIdentity(bad, dir_.Path());
  ASSERT_FALSE(saved);
  EXPECT_EQ(saved.error().code, "bad_agency_id");
}

TEST_F(IdentityFileTest, ReportsAMissingDirectory) {
  base::Status saved = SaveIdentity(identity_, dir_.Path() / "nope" / "deeper");
  ASSERT_FALSE(saved);
  EXPECT_EQ(saved.error().code, "cannot_write_key_file");
}

TEST_F(IdentityFileTest, RefusesWorldReadableKeyFile) {
  ::chmod(key_path_.c_str(), 0644);
  base::Error e = LoadError();
  EXPECT_EQ(e.kind, base::ErrorKind::kNotAuthorised);
  EXPECT_EQ(e.code, "key_file_permissions");
  EXPECT_NE(e.message.find(key_path_.string()), std::string::npos);
  EXPECT_NE(e.message.find("chmod 600"), std::string::npos);
  EXPECT_NE(e.message.find("0644"), std::string::npos);
}

TEST_F(IdentityFileTest, RefusesGroupReadableKeyFile) {
  ::chmod(key_path_.c_str(), 0640);
  base::Error e = LoadError();
  EXPECT_EQ(e.code, "key_file_permissions");
  EXPECT_NE(e.message.find("0640"), std::string::npos);
}

TEST_F(IdentityFileTest, RefusesAnyGroupOrOtherPermissionBit) {
  for (unsigned mode : {0604u, 0620u, 0602u, 0601u, 0610u, 0700u | 0007u}) {
    ::chmod(key_path_.c_str(), mode);
    auto loaded = LoadIdentity(key_path_);
    ASSERT_FALSE(loaded) << std::oct << mode;
    EXPECT_EQ(loaded.error().code, "key_file_permissions") << std::oct << mode;
  }
  ::chmod(key_path_.c_str(), 0400);
  EXPECT_TRUE(LoadIdentity(key_path_));  // owner-only read is fine
}

TEST_F(IdentityFileTest, ReportsAMissingKeyFile) {
  auto loaded = LoadIdentity(dir_.Path() / "absent.key");
  ASSERT_FALSE(loaded);
  EXPECT_EQ(loaded.error().kind, base::ErrorKind::kNotFound);
  EXPECT_EQ(loaded.error().code, "no_key_file");
  EXPECT_NE(loaded.error().message.find("absent.key"), std::string::npos);
}

TEST_F(IdentityFileTest, RefusesADirectoryAsKeyFile) {
  auto loaded = LoadIdentity(dir_.Path());
  ASSERT_FALSE(loaded);
  EXPECT_EQ(loaded.error().code, "bad_key_file");
}

TEST_F(IdentityFileTest, RefusesAWrongFormatTag) {
  EditKeyFile([](std::string& t) { t.replace(0, t.find('\n'), "relais-identity-v9"); });
  base::Error e = LoadError();
  EXPECT_EQ(e.kind, base::ErrorKind::kInvalidInput);
  EXPECT_EQ(e.code, "bad_key_file");
  EXPECT_NE(e.message.find("line 1"), std::string::npos);
  EXPECT_NE(e.message.find("relais-identity-v1"), std::string::npos);
}

TEST_F(IdentityFileTest, RefusesThePublicFileWhereTheKeyFileIsExpected) {
  ::chmod(pub_path_.c_str(), 0600);
  auto loaded = LoadIdentity(pub_path_);
  ASSERT_FALSE(loaded);
  EXPECT_EQ(loaded.error().code, "bad_key_file");
  EXPECT_NE(loaded.error().message.find("line 1"), std::string::npos);
}

TEST_F(IdentityFileTest, RefusesAnEmptyFile) {
  EditKeyFile([](std::string& t) { t.clear(); });
  base::Error e = LoadError();
  EXPECT_EQ(e.code, "bad_key_file");
  EXPECT_NE(e.message.find("empty"), std::string::npos);
}

TEST_F(IdentityFileTest, RefusesTruncatedSecretHexNamingTheLineNotTheValue) {
  std::string secret_hex = LineValue(ReadText(key_path_), "sign-secret");
  EditKeyFile([&](std::string& t) {
    ReplaceLine(t, "sign-secret:", "sign-secret: " + secret_hex.substr(0, 100));
  });
  base::Error e = LoadError();
  EXPECT_EQ(e.code, "bad_key_file");
  EXPECT_NE(e.message.find("'sign-secret'"), std::string::npos);
  EXPECT_NE(e.message.find("expected 128 hex digits, found 100"), std::string::npos);
  EXPECT_EQ(e.message.find(secret_hex.substr(0, 100)), std::string::npos);
}

TEST_F(IdentityFileTest, RefusesNonHexSecret) {
  EditKeyFile([](std::string& t) {
    ReplaceLine(t, "seal-secret:", "seal-secret: " + std::string(64, 'g'));
  });
  base::Error e = LoadError();
  EXPECT_EQ(e.code, "bad_key_file");
  EXPECT_NE(e.message.find("'seal-secret'"), std::string::npos);
  EXPECT_NE(e.message.find("not a hex string"), std::string::npos);
}

TEST_F(IdentityFileTest, RefusesTruncatedPublicHex) {
  EditKeyFile([](std::string& t) { ReplaceLine(t, "curve-public:", "curve-public: abcd"); });
  base::Error e = LoadError();
  EXPECT_EQ(e.code, "bad_key_file");
  EXPECT_NE(e.message.find("'curve-public'"), std::string::npos);
  EXPECT_NE(e.message.find("expected 64 hex digits, found 4"), std::string::npos);
}

TEST_F(IdentityFileTest, RefusesAMissingLine) {
  EditKeyFile([](std::string& t) {
    size_t start = t.find("\ncurve-secret:");
    t.erase(start + 1, t.find('\n', start + 1) - start);
  });
  base::Error e = LoadError();
  EXPECT_EQ(e.code, "bad_key_file");
  EXPECT_NE(e.message.find("missing the 'curve-secret' line"), std::string::npos);
}

TEST_F(IdentityFileTest, RefusesARepeatedLine) {
  EditKeyFile([](std::string& t) { t += "agency: hopital-sud\n"; });
  base::Error e = LoadError();
  EXPECT_EQ(e.code, "bad_key_file");
  EXPECT_NE(e.message.find("'agency' repeats"), std::string::npos);
}

TEST_F(IdentityFileTest, RefusesAnUnknownField) {
  EditKeyFile([](std::string& t) { t += "passphrase: hunter2\n"; });
  base::Error e = LoadError();
  EXPECT_EQ(e.code, "bad_key_file");
  EXPECT_NE(e.message.find("unknown field 'passphrase'"), std::string::npos);
}

TEST_F(IdentityFileTest, RefusesALineWithoutSeparator) {
  EditKeyFile([](std::string& t) { t += "just some words\n"; });
  base::Error e = LoadError();
  EXPECT_EQ(e.code, "bad_key_file");
  EXPECT_NE(e.message.find("expected 'name: value'"), std::string::npos);
}

TEST_F(IdentityFileTest, RefusesASecretThatDoesNotMatchItsPublicKey) {
  AgencyIdentity other = GenerateIdentity("hopital-nord", kCreated);
  EditKeyFile([&](std::string& t) {
    ReplaceLine(t, "seal-secret:", "seal-secret: " + base::HexEncode(other.seal_secret.View()));
  });
  base::Error e = LoadError();
  EXPECT_EQ(e.code, "bad_key_file");
  EXPECT_NE(e.message.find("'seal-secret'): does not match 'seal-public'"), std::string::npos);
  EXPECT_EQ(e.message.find(base::HexEncode(other.seal_secret.View())), std::string::npos);
}

TEST_F(IdentityFileTest, RefusesASigningSecretOfAnotherKey) {
  AgencyIdentity other = GenerateIdentity("hopital-nord", kCreated);
  EditKeyFile([&](std::string& t) {
    ReplaceLine(t, "sign-secret:", "sign-secret: " + base::HexEncode(other.sign_secret.View()));
  });
  base::Error e = LoadError();
  EXPECT_NE(e.message.find("does not match 'sign-public'"), std::string::npos);
}

TEST_F(IdentityFileTest, RefusesAKeyIdThatIsNotTheSigningKeys) {
  EditKeyFile([](std::string& t) { ReplaceLine(t, "key-id:", "key-id: 0011223344556677"); });
  base::Error e = LoadError();
  EXPECT_EQ(e.code, "bad_key_file");
  EXPECT_NE(e.message.find("'key-id'"), std::string::npos);
}

TEST_F(IdentityFileTest, RefusesABadCreationDate) {
  EditKeyFile([](std::string& t) { ReplaceLine(t, "created:", "created: yesterday"); });
  base::Error e = LoadError();
  EXPECT_NE(e.message.find("'created'"), std::string::npos);
}

TEST_F(IdentityFileTest, RefusesAnInvalidAgencyIdInTheFile) {
  EditKeyFile([](std::string& t) { ReplaceLine(t, "agency:", "agency: Hopital Nord"); });
  base::Error e = LoadError();
  EXPECT_NE(e.message.find("'agency'"), std::string::npos);
}

TEST_F(IdentityFileTest, AcceptsCommentsBlankLinesAndCrlf) {
  EditKeyFile([](std::string& t) {
    std::string crlf;
    for (char c : t) {
      if (c == '\n') crlf += '\r';
      crlf += c;
    }
    t = crlf + "\n# a comment\n\n";
  });
  auto loaded = LoadIdentity(key_path_);
  ASSERT_TRUE(loaded) << loaded.error().ToString();
  EXPECT_EQ(loaded->pub.key_id, identity_.pub.key_id);
}

TEST_F(IdentityFileTest, PublicFileErrors) {
  auto missing = LoadPublicIdentity(dir_.Path() / "absent.pub");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, "no_pub_file");

  auto key_as_pub = LoadPublicIdentity(key_path_);
  ASSERT_FALSE(key_as_pub);
  EXPECT_EQ(key_as_pub.error().code, "bad_pub_file");
  EXPECT_NE(key_as_pub.error().message.find("relais-public-identity-v1"), std::string::npos);

  std::string text = ReadText(pub_path_);
  std::string z85 = LineValue(text, "curve-public-z85");
  std::string bad = text;
  bad.replace(bad.find(z85), 5, "00000");
  WriteText(pub_path_, bad);
  auto mismatch = LoadPublicIdentity(pub_path_);
  ASSERT_FALSE(mismatch);
  EXPECT_EQ(mismatch.error().code, "bad_pub_file");
  EXPECT_NE(mismatch.error().message.find("'curve-public-z85'"), std::string::npos);

  bad = text + "sign-secret: 00\n";
  WriteText(pub_path_, bad);
  auto secret_in_pub = LoadPublicIdentity(pub_path_);
  ASSERT_FALSE(secret_in_pub);
  EXPECT_NE(secret_in_pub.error().message.find("unknown field 'sign-secret'"), std::string::npos);
}

TEST(IdentityFromSeedTest, IsDeterministicAndLoadable) {
  Init();
  AgencyIdentity a = IdentityFromSeed("asso-a", testing::Seed(1), kCreated);
  AgencyIdentity b = IdentityFromSeed("asso-a", testing::Seed(1), kCreated);
  AgencyIdentity c = IdentityFromSeed("asso-a", testing::Seed(2), kCreated);
  EXPECT_EQ(a.pub.sign_public, b.pub.sign_public);
  EXPECT_EQ(a.pub.seal_public, b.pub.seal_public);
  EXPECT_EQ(a.pub.curve_public, b.pub.curve_public);
  EXPECT_NE(a.pub.sign_public, c.pub.sign_public);
  EXPECT_NE(a.pub.seal_public, a.pub.curve_public);
  TempDir dir;
  ASSERT_TRUE(SaveIdentity(a, dir.Path()));
  auto loaded = LoadIdentity(dir.Path() / "asso-a.key");  // the consistency checks pass
  ASSERT_TRUE(loaded) << loaded.error().ToString();
}

// ZeroMQ RFC 32, "Test case": 8 bytes -> "HelloWorld".
TEST(Z85Test, MatchesTheRfcExample) {
  base::Bytes hello = {0x86, 0x4F, 0xD2, 0x6F, 0xB5, 0x59, 0xF7, 0x5B};
  EXPECT_EQ(Z85Encode(hello), "HelloWorld");
  auto back = Z85Decode("HelloWorld");
  ASSERT_TRUE(back);
  EXPECT_EQ(*back, hello);
}

TEST(Z85Test, EncodesA32ByteKeyAs40Characters) {
  base::Bytes key =
      testing::FromHex("bb88471d65e2659b30c55a5321cebb5aab2b70a398645c26dca2b2fcb43fc518");
  // The client public key of libzmq's CURVE tests (tests/testutil_security.cpp), checked against
  // libzmq's own zmq_z85_decode.
  EXPECT_EQ(Z85Encode(key), "Yne@$w-vo<fVvi]a<NY6T1ed:M$fCG*[IaLV{hID");
  EXPECT_EQ(Z85Encode(key).size(), 40u);
  base::Bytes zeros(32, 0);
  EXPECT_EQ(Z85Encode(zeros), std::string(40, '0'));
  base::Bytes ones(32, 0xff);
  EXPECT_EQ(Z85Encode(ones), "%nSc0%nSc0%nSc0%nSc0%nSc0%nSc0%nSc0%nSc0");
}

TEST(Z85Test, RoundTripsRandomKeys) {
  Init();
  for (int i = 0; i < 50; ++i) {
    AgencyIdentity id = GenerateIdentity("a", 0);
    auto back = Z85Decode(Z85Encode(id.pub.curve_public));
    ASSERT_TRUE(back);
    EXPECT_EQ(*back, id.pub.curve_public);
  }
}

TEST(Z85Test, RejectsMalformedText) {
  auto bad_length = Z85Decode("Hello");
  EXPECT_TRUE(bad_length);  // 5 characters is one valid group
  for (const char* text : {"Hell", "HelloWorl", "Hello Worl", "Hello\"orld", "%nSc1"}) {
    auto r = Z85Decode(text);
    ASSERT_FALSE(r) << text;
    EXPECT_EQ(r.error().code, "bad_z85") << text;
  }
}

}  // namespace
}  // namespace relais::crypto
