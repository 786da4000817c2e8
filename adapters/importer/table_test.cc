#include "adapters/importer/table.h"

#include <gtest/gtest.h>

namespace relais::importer {
namespace {

TEST(Csv, ReadsQuotedFieldsSeparatorsAndNewlinesWithTheirStartLine) {
  auto t = ReadCsv(
      "Person_ID ,Name,Note\r\n1,\"Dupont, Jean\",\"two\nlines\"\r\n\r\n2,Martin,\"say "
      "\"\"hi\"\"\"\r\n");
  ASSERT_TRUE(t) << t.error().ToString();
  ASSERT_EQ(t->columns, (std::vector<std::string>{"person_id", "name", "note"}));
  ASSERT_EQ(t->records.size(), 2u);
  EXPECT_EQ(t->records[0].line, 2);
  EXPECT_EQ(t->records[0].Get("name"), "Dupont, Jean");
  EXPECT_EQ(t->records[0].Get("note"), "two\nlines");
  EXPECT_EQ(t->records[1].line, 5);
  EXPECT_EQ(t->records[1].Get("note"), "say \"hi\"");
  EXPECT_TRUE(t->problems.empty());
}

TEST(Csv, ALoneCarriageReturnEndsARowOnTheSameLine) {
  auto t = ReadCsv("a,b\r1,2\n3,4\n");
  ASSERT_TRUE(t);
  ASSERT_EQ(t->records.size(), 2u);
  EXPECT_EQ(t->records[0].line, 1);
  EXPECT_EQ(t->records[0].Get("b"), "2");
  EXPECT_EQ(t->records[1].line, 2);
}

TEST(Csv, GuessesTheSemicolonSeparator) {
  auto t = ReadCsv("person_id;name\n1;Dupont, Jean\n");
  ASSERT_TRUE(t);
  ASSERT_EQ(t->records.size(), 1u);
  EXPECT_EQ(t->records[0].Get("name"), "Dupont, Jean");
}

TEST(Csv, SetsAsideRowsWithTheWrongFieldCountOrBadQuotingAndGoesOn) {
  auto t = ReadCsv("a,b\n1,2\n3\n4,\"x\"y\n5,6\n");
  ASSERT_TRUE(t);
  ASSERT_EQ(t->records.size(), 2u);
  EXPECT_EQ(t->records[1].Get("a"), "5");
  EXPECT_EQ(t->records[1].line, 5);
  ASSERT_EQ(t->problems.size(), 2u);
  EXPECT_EQ(t->problems[0].line, 3);
  EXPECT_NE(t->problems[0].reason.find("expected 2 fields"), std::string::npos);
  EXPECT_EQ(t->problems[1].line, 4);
  EXPECT_NE(t->problems[1].reason.find("quoting"), std::string::npos);
}

TEST(Csv, ReportsAnUnterminatedQuoteAtItsRow) {
  auto t = ReadCsv("a,b\n1,2\n3,\"never closed\n");
  ASSERT_TRUE(t);
  EXPECT_EQ(t->records.size(), 1u);
  ASSERT_EQ(t->problems.size(), 1u);
  EXPECT_EQ(t->problems[0].line, 3);
}

TEST(Csv, RefusesEmptyFilesAndBadHeaders) {
  EXPECT_EQ(ReadCsv("").error().code, "empty_file");
  EXPECT_EQ(ReadCsv("a,a\n1,2\n").error().code, "bad_header");
  EXPECT_EQ(ReadCsv("a,,b\n1,2,3\n").error().code, "bad_header");
}

TEST(JsonLines, ReadsFlatObjectsAndSetsAsideBadLines) {
  Table t = ReadJsonLines(
      "{\"person_id\": \"1\", \"adults\": 2, \"firm\": true, \"x\": null}\n\n"
      "{bad\n"
      "{\"person_id\": {\"nested\": 1}}\n"
      "{\"Person_Id\": \"3\"}\n");
  ASSERT_EQ(t.records.size(), 2u);
  EXPECT_EQ(t.records[0].Get("adults"), "2");
  EXPECT_EQ(t.records[0].Get("firm"), "true");
  EXPECT_TRUE(t.records[0].Has("x"));
  EXPECT_EQ(t.records[1].line, 5);
  EXPECT_EQ(t.records[1].Get("person_id"), "3");
  ASSERT_EQ(t.problems.size(), 2u);
  EXPECT_EQ(t.problems[0].line, 3);
  EXPECT_EQ(t.problems[1].line, 4);
  EXPECT_NE(t.problems[1].reason.find("person_id"), std::string::npos);
}

TEST(JsonLines, IsChosenByExtension) {
  EXPECT_TRUE(IsJsonLinesPath("a/list.jsonl"));
  EXPECT_TRUE(IsJsonLinesPath("list.ndjson"));
  EXPECT_FALSE(IsJsonLinesPath("list.csv"));
}

}  // namespace
}  // namespace relais::importer
