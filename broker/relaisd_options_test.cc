#include "broker/relaisd_options.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace relais::broker {
namespace {

constexpr const char* kRequired = "registry = reg.bin\nauthority-pub = auth.pub\nkey = b.key\n";

TEST(RelaisdOptionsTest, ConfigTextGivesValuesAndDefaults) {
  auto c =
      ParseRelaisdConfigText(std::string(kRequired) +
                                 "# comment\nmax-attempts = 3\ndeadline = prison_release=720:168\n"
                                 "deadline = hospital_discharge=24:12\n",
                             false);
  ASSERT_TRUE(c) << c.error().ToString();
  EXPECT_EQ(c->registry, "reg.bin");
  EXPECT_EQ(c->key, "b.key");
  EXPECT_EQ(c->max_attempts, 3u);
  EXPECT_EQ(c->listen, "tcp://127.0.0.1:7411");
  EXPECT_EQ(c->log_level, "info");
  EXPECT_EQ(c->deadlines.size(), 2u);
  EXPECT_FALSE(c->help);
}

TEST(RelaisdOptionsTest, ConfigTextErrors) {
  auto missing = ParseRelaisdConfigText("registry = r\nkey = k\n", false);
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, "missing_option");
  for (std::string bad : {std::string(kRequired) + "no-such-option = 1\n",
                          std::string(kRequired) + "max-attempts = lots\n",
                          std::string(kRequired) + "[unterminated\n",
                          std::string(kRequired) + "test-fault-file = f\n"}) {
    auto c = ParseRelaisdConfigText(bad, false);
    ASSERT_FALSE(c) << bad;
    EXPECT_EQ(c.error().code, "bad_option") << bad;
  }
  auto hooks = ParseRelaisdConfigText(std::string(kRequired) + "test-fault-file = f\n", true);
  ASSERT_TRUE(hooks) << hooks.error().ToString();
  EXPECT_EQ(hooks->test_fault_file, "f");
  EXPECT_FALSE(
      ParseRelaisdConfigText(std::string(kRequired) + "test-replay-hold-file = h\n", false));
  auto hold = ParseRelaisdConfigText(std::string(kRequired) + "test-replay-hold-file = h\n", true);
  ASSERT_TRUE(hold) << hold.error().ToString();
  EXPECT_EQ(hold->test_replay_hold_file, "h");
}

// The example shipped in the package (/etc/relais/relaisd.conf) is a valid config.
TEST(RelaisdOptionsTest, PackagedExampleParses) {
  std::ifstream in(std::string(RELAIS_SOURCE_DIR) + "/packaging/examples/relaisd.conf");
  ASSERT_TRUE(in);
  std::stringstream text;
  text << in.rdbuf();
  auto c = ParseRelaisdConfigText(text.str(), false);
  ASSERT_TRUE(c) << c.error().ToString();
  EXPECT_FALSE(c->registry.empty());
}

// Found by fuzz_relaisd_config: Boost's message formatting looped forever on these.
TEST(RelaisdOptionsTest, PlaceholderTextInOptionsDoesNotHang) {
  for (std::string bad : {std::string(kRequired) + "reg'%canonical_option%' = 1\n",
                          std::string(kRequired) + "max-attempts = %value%\n",
                          std::string(kRequired) + "%option% = %original_token%\n"}) {
    auto c = ParseRelaisdConfigText(bad, false);
    ASSERT_FALSE(c) << bad;
    EXPECT_EQ(c.error().code, "bad_option") << bad;
  }
  std::vector<const char*> argv = {"relaisd", "--x%canonical_option%", "--max-credit=%value%"};
  auto c = ParseRelaisdOptions(static_cast<int>(argv.size()), argv.data(), false);
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().code, "bad_option");
}

TEST(RelaisdOptionsTest, CommandLineWinsOverConfigFileAndHelpSkipsValidation) {
  std::vector<const char*> help = {"relaisd", "--help"};
  auto h = ParseRelaisdOptions(static_cast<int>(help.size()), help.data(), false);
  ASSERT_TRUE(h) << h.error().ToString();
  EXPECT_TRUE(h->help);
  EXPECT_NE(h->help_text.find("--max-attempts"), std::string::npos);
  EXPECT_EQ(h->help_text.find("--test-fault-file"), std::string::npos);

  std::vector<const char*> argv = {"relaisd", "--registry",   "r", "--authority-pub", "a", "--key",
                                   "k",       "--max-credit", "7"};
  auto c = ParseRelaisdOptions(static_cast<int>(argv.size()), argv.data(), false);
  ASSERT_TRUE(c) << c.error().ToString();
  EXPECT_EQ(c->max_credit, 7u);

  std::vector<const char*> nofile = {"relaisd", "--config", "/nonexistent/relaisd.conf"};
  auto n = ParseRelaisdOptions(static_cast<int>(nofile.size()), nofile.data(), false);
  ASSERT_FALSE(n);
  EXPECT_EQ(n.error().code, "no_config");
}

}  // namespace
}  // namespace relais::broker
