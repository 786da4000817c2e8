// Page checksums, the WAL check and the start-up scrub (docs/journal-format.md §1.1, §1.2): a bit
// flipped anywhere in a closed journal, or a truncation, makes Open fail with journal_corrupt.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <fstream>
#include <future>
#include <random>

#include "broker/journal/integrity.h"
#include "broker/journal/page_checksum.h"
#include "broker/journal/testing/fixture.h"

namespace relais::journal::testing {
namespace {

namespace fs = std::filesystem;
using internal::PageChecksum;
using internal::PageVerifies;
using internal::SealPage;

std::string ReadAll(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

void WriteAll(const fs::path& p, const std::string& data) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out.write(data.data(), static_cast<std::streamsize>(data.size()));
}

void FlipBit(const fs::path& p, uint64_t bit) {
  std::string data = ReadAll(p);
  data[bit / 8] = static_cast<char>(data[bit / 8] ^ (1 << (bit % 8)));
  WriteAll(p, data);
}

TEST(PageChecksumTest, EverySingleBitFlipOfAPageIsDetected) {
  std::mt19937_64 rng(7);
  std::vector<uint8_t> page(4096);
  for (auto& b : page) b = static_cast<uint8_t>(rng());
  SealPage(page.data(), page.size(), 12);
  ASSERT_TRUE(PageVerifies(page.data(), page.size(), 12));
  int missed = 0;
  for (size_t bit = 0; bit < page.size() * 8; ++bit) {
    page[bit / 8] ^= static_cast<uint8_t>(1 << (bit % 8));
    if (PageVerifies(page.data(), page.size(), 12)) ++missed;
    page[bit / 8] ^= static_cast<uint8_t>(1 << (bit % 8));
  }
  EXPECT_EQ(missed, 0);
}

TEST(PageChecksumTest, AZeroPageAndAMovedPageDoNotVerify) {
  std::vector<uint8_t> zero(4096, 0);
  for (uint64_t pgno : {1, 2, 1000}) EXPECT_FALSE(PageVerifies(zero.data(), zero.size(), pgno));
  EXPECT_NE(PageChecksum(zero.data(), zero.size(), 1), 0u);
  std::vector<uint8_t> page(4096, 0x5a);
  SealPage(page.data(), page.size(), 3);
  EXPECT_TRUE(PageVerifies(page.data(), page.size(), 3));
  EXPECT_FALSE(PageVerifies(page.data(), page.size(), 4));
}

class CorruptionTest : public JournalFixture {
 protected:
  // A closed, checkpointed journal of `n` events (no WAL left).
  void Build(int n) {
    auto journal = Open();
    ASSERT_NE(journal, nullptr);
    AppendMany(*journal, n);
    ASSERT_TRUE(journal->Close().has_value());
    ASSERT_FALSE(fs::exists(db_path().string() + "-wal"));
    pristine_ = ReadAll(db_path());
  }

  // Opens `dir`/journal.db; returns the error code, "" when it opened.
  std::string OpenCode(const fs::path& db, JournalOptions options) {
    options.path = db;
    auto journal = Journal::Open(std::move(options), clock_, &broker_.secret_key);
    if (!journal) return journal.error().code;
    (void)(*journal)->Close();
    return "";
  }

  fs::path Trial(const std::string& data) {
    fs::path dir = dir_.path() / "trial";
    fs::remove_all(dir);
    fs::create_directories(dir);
    WriteAll(dir / "journal.db", data);
    return dir / "journal.db";
  }

  std::string pristine_;
};

TEST_F(CorruptionTest, ANewJournalHasChecksumsOnEveryPage) {
  Build(60);
  auto header = internal::ReadDbHeader(db_path().string());
  ASSERT_TRUE(header.has_value() && header->has_value());
  EXPECT_EQ((*header)->reserved, internal::kPageChecksumBytes);
  EXPECT_EQ((*header)->user_version, 4);
  auto stats = internal::ScrubPages(db_path().string(), nullptr, 0);
  ASSERT_TRUE(stats.has_value()) << stats.error().ToString();
  EXPECT_EQ(stats->bytes, static_cast<int64_t>(pristine_.size()));
}

TEST_F(CorruptionTest, ACleanCopyOpens) {
  Build(60);
  EXPECT_EQ(OpenCode(Trial(pristine_), Options()), "");
}

TEST_F(CorruptionTest, AnOnlineCopyHasChecksumsOnEveryPage) {
  Build(60);
  const fs::path copy = dir_.path() / "copy.db";
  ASSERT_TRUE(Reader()->CopyTo(copy).has_value());
  auto stats = internal::ScrubPages(copy.string(), nullptr, 0);
  ASSERT_TRUE(stats.has_value()) << stats.error().ToString();
  EXPECT_GT(stats->pages, 1);
  EXPECT_EQ(OpenCode(copy, Options()), "");
}

TEST_F(CorruptionTest, ABitFlippedAnywhereIsDetectedOnOpen) {
  Build(60);
  std::mt19937_64 rng(11);
  const int trials = 60;
  int detected = 0;
  for (int t = 0; t < trials; ++t) {
    std::string data = pristine_;
    const uint64_t bit = rng() % (data.size() * 8);
    data[bit / 8] = static_cast<char>(data[bit / 8] ^ (1 << (bit % 8)));
    std::string code = OpenCode(Trial(data), Options());
    EXPECT_EQ(code, "journal_corrupt") << "bit " << bit << " of " << data.size() * 8;
    detected += code == "journal_corrupt";
  }
  EXPECT_EQ(detected, trials);
}

TEST_F(CorruptionTest, ATruncationIsDetectedOnOpen) {
  Build(60);
  std::mt19937_64 rng(13);
  std::vector<size_t> lengths = {1, 99, 100, 4096, pristine_.size() - 4096, pristine_.size() - 1};
  for (int t = 0; t < 20; ++t) lengths.push_back(1 + rng() % (pristine_.size() - 1));
  for (size_t length : lengths) {
    EXPECT_EQ(OpenCode(Trial(pristine_.substr(0, length)), Options()), "journal_corrupt")
        << "cut at " << length << " of " << pristine_.size();
  }
}

TEST_F(CorruptionTest, ALargeJournalIsScrubbedInTheBackgroundAndFailStops) {
  Build(300);
  // The first leaf of `entries` (the oldest rows) is not read by Open: only the scrub sees it.
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open_v2(db_path().c_str(), &db, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
  sqlite3_stmt* stmt = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(db,
                               "SELECT pageno FROM dbstat WHERE name = 'entries' AND "
                               "pagetype = 'leaf' ORDER BY pageno LIMIT 1",
                               -1, &stmt, nullptr),
            SQLITE_OK);
  ASSERT_EQ(sqlite3_step(stmt), SQLITE_ROW);
  const int64_t pgno = sqlite3_column_int64(stmt, 0);
  sqlite3_finalize(stmt);
  sqlite3_close(db);
  FlipBit(db_path(), static_cast<uint64_t>((pgno - 1) * 4096 + 2000) * 8 + 3);

  JournalOptions options = Options();
  options.scrub_sync_limit_bytes = 0;
  auto found = std::make_shared<std::promise<std::string>>();
  options.on_corruption = [found](const base::Error& e) { found->set_value(e.code); };
  auto future = found->get_future();
  auto journal = Open(options);
  ASSERT_NE(journal, nullptr) << "Open itself read the damaged page " << pgno;
  ASSERT_EQ(future.wait_for(std::chrono::seconds(30)), std::future_status::ready);
  EXPECT_EQ(future.get(), "journal_corrupt");
  EXPECT_EQ(journal->health().error().code, "journal_corrupt");
  EXPECT_FALSE(journal->AppendAsync(MakeRequest({})).get().has_value());
  // Reading the damaged rows fails too: nothing of that page is ever served.
  auto reader = Reader();
  ASSERT_NE(reader, nullptr);
  auto rows = reader->VerifyChain();
  ASSERT_FALSE(rows.has_value());
  EXPECT_EQ(rows.error().code, "journal_corrupt");
}

TEST_F(CorruptionTest, AFlipInTheCommittedPartOfAWalIsDetectedOnOpen) {
  std::string db, wal;
  {
    auto journal = Open();
    ASSERT_NE(journal, nullptr);
    AppendMany(*journal, 40);
    // A copy taken while the journal is open is what a SIGKILL leaves: database plus WAL.
    db = ReadAll(db_path());
    wal = ReadAll(db_path().string() + "-wal");
  }
  fs::path copy = Trial(db);
  WriteAll(copy.string() + "-wal", wal);
  auto state = internal::CheckWal(copy.string() + "-wal");
  ASSERT_TRUE(state.has_value()) << state.error().ToString();
  ASSERT_GT(state->committed_frames, 0);
  EXPECT_EQ(OpenCode(copy, Options()), "") << "a clean copy with its WAL opens";
  std::mt19937_64 rng(17);
  int detected = 0;
  const int trials = 40;
  for (int t = 0; t < trials; ++t) {
    std::string damaged = wal;
    const uint64_t bit = rng() % (static_cast<uint64_t>(state->committed_bytes) * 8);
    damaged[bit / 8] = static_cast<char>(damaged[bit / 8] ^ (1 << (bit % 8)));
    fs::path path = Trial(db);
    WriteAll(path.string() + "-wal", damaged);
    std::string code = OpenCode(path, Options());
    EXPECT_EQ(code, "journal_corrupt") << "WAL bit " << bit;
    detected += code == "journal_corrupt";
  }
  EXPECT_EQ(detected, trials);
}

TEST_F(CorruptionTest, AFormatTwoJournalGainsChecksumsAndKeepsEveryRow) {
  JournalOptions plain = Options();
  plain.page_checksums = false;
  {
    auto journal = Open(plain);
    ASSERT_NE(journal, nullptr);
    AppendMany(*journal, 120);
    ASSERT_TRUE(journal->Close().has_value());
  }
  const std::string dump_before = *Reader()->DumpDerived();
  ExecRaw("PRAGMA user_version=2;");  // what a format-2 journal looks like: no reserved bytes
  auto before = internal::ReadDbHeader(db_path().string());
  ASSERT_EQ((*before)->reserved, 0);
  ASSERT_EQ((*before)->user_version, 2);

  auto journal = Open();
  ASSERT_NE(journal, nullptr);
  EXPECT_EQ(journal->head_seq(), 120u);
  ASSERT_TRUE(journal->Close().has_value());
  auto after = internal::ReadDbHeader(db_path().string());
  EXPECT_EQ((*after)->reserved, internal::kPageChecksumBytes);
  EXPECT_EQ((*after)->user_version, 4);
  EXPECT_TRUE(internal::ScrubPages(db_path().string(), nullptr, 0).has_value());
  auto reader = Reader();
  auto chain = reader->VerifyChain();
  ASSERT_TRUE(chain.has_value());
  EXPECT_FALSE(chain->fault.has_value());
  EXPECT_EQ(reader->GetHead()->seq, 120u);
  EXPECT_EQ(*reader->DumpDerived(), dump_before);
}

}  // namespace
}  // namespace relais::journal::testing
