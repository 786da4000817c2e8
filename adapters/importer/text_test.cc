#include "adapters/importer/text.h"

#include <gtest/gtest.h>

namespace relais::importer {
namespace {

TEST(Text, StripsTheBomAndKeepsUtf8) {
  auto t = DecodeText("\xef\xbb\xbfperson_id,nom\n1,Zo\xc3\xa9\n", Charset::kAuto);
  ASSERT_TRUE(t);
  EXPECT_EQ(*t, "person_id,nom\n1,Zo\xc3\xa9\n");
}

TEST(Text, ConvertsLatin1IncludingWindows1252Punctuation) {
  // "Zoé " + right single quote (0x92) + euro (0x80) in Windows-1252.
  auto t = DecodeText("Zo\xe9 \x92\x80", Charset::kAuto);
  ASSERT_TRUE(t);
  EXPECT_EQ(*t, "Zo\xc3\xa9 \xe2\x80\x99\xe2\x82\xac");
  EXPECT_TRUE(IsValidUtf8(*t));
  EXPECT_EQ(*DecodeText("\xe9", Charset::kLatin1), "\xc3\xa9");
}

TEST(Text, StrictUtf8NamesTheLineWithoutTheBytes) {
  auto t = DecodeText("a\nb\nZo\xe9\n", Charset::kUtf8);
  ASSERT_FALSE(t);
  EXPECT_EQ(t.error().code, "bad_charset");
  EXPECT_NE(t.error().message.find("line 3"), std::string::npos);
  EXPECT_EQ(t.error().message.find("Zo"), std::string::npos);
}

TEST(Text, ParsesCharsetNames) {
  EXPECT_EQ(ParseCharset("latin-1"), Charset::kLatin1);
  EXPECT_EQ(ParseCharset("utf-8"), Charset::kUtf8);
  EXPECT_FALSE(ParseCharset("ebcdic").has_value());
}

}  // namespace
}  // namespace relais::importer
