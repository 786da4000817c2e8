// relais: the command-line tool. main() initialises libsodium and dispatches on the first
// argument through the table in tools/commands.h.
#include <cstring>
#include <iostream>
#include <string_view>

#include "crypto/secret.h"
#include "tools/cli.h"
#include "tools/commands.h"

namespace relais::tools {
namespace {

void PrintTopLevelHelp() {
  std::cout << "Usage: relais <command> [subcommand] [options]\n\n"
               "relais carries consented, signed, end-to-end encrypted referrals between\n"
               "institutions and receiving associations. Commands:\n\n";
  for (const Command& c : kCommands) {
    std::cout << "  " << c.name << std::string(12 - std::min<size_t>(11, std::strlen(c.name)), ' ')
              << c.summary << "\n";
  }
  std::cout << "\nRun `relais <command> --help` for a command's options.\n\n" << kExitCodesHelp;
}

int Main(int argc, char** argv) {
  if (argc < 2) {
    PrintTopLevelHelp();
    return kExitUsage;
  }
  std::string_view name = argv[1];
  if (name == "--help" || name == "-h" || name == "help") {
    PrintTopLevelHelp();
    return kExitOk;
  }
  for (const Command& c : kCommands) {
    if (name == c.name) {
      crypto::Init();
      return c.run(argc - 1, argv + 1);
    }
  }
  std::cerr << "relais: unknown command '" << name << "'. Run `relais --help` for the list.\n";
  return kExitUsage;
}

}  // namespace
}  // namespace relais::tools

int main(int argc, char** argv) { return relais::tools::Main(argc, argv); }
