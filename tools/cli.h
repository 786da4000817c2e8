// Helpers shared by the `relais` command groups: option parsing with --help, error reporting with
// the documented exit codes, small file helpers. Boost.Program_options stays inside tools/.
#ifndef RELAIS_TOOLS_CLI_H_
#define RELAIS_TOOLS_CLI_H_

#include <boost/program_options.hpp>
#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/bytes.h"
#include "base/status.h"

namespace relais::tools {

namespace po = boost::program_options;

constexpr int kExitOk = 0;
constexpr int kExitUsage = 1;   // bad usage, bad input, unreadable or unwritable files
constexpr int kExitVerify = 2;  // a signature, registry or permission check failed

// The paragraph every --help ends with.
extern const char kExitCodesHelp[];

// What one (sub)command accepts, for parsing and for its --help text.
struct CommandSpec {
  std::string name;         // "registry add", used in messages
  std::string usage;        // "relais registry add REG --pub FILE.pub ..."
  std::string description;  // paragraphs shown by --help
  po::options_description options{"Options", 100};
  std::vector<std::string> positionals;  // option names bound to positional arguments, in order
};

// Parses argv[1..] (argv[0] is the command word). On success returns the variables; on --help
// prints the help and sets exit_code to 0; on a usage error prints it with a hint and sets
// exit_code to 1; in both cases returns nullopt. `--help`/`-h` is added to the spec's options.
std::optional<po::variables_map> ParseArgs(CommandSpec& spec, int argc, char** argv,
                                           int& exit_code);

void PrintHelp(const CommandSpec& spec);

// Prints "relais <command>: <code>: <message>" to stderr. Returns 2 for unauthenticated and
// not-authorised errors (signatures, registry validity, key file permissions), 1 otherwise.
int Fail(std::string_view command, const base::Error& error);
// Prints a usage error and the --help hint; returns 1.
int UsageError(std::string_view command, std::string_view message);

// Whole-file read (kNotFound "no_such_file", kInvalidInput "cannot_read").
base::Result<base::Bytes> ReadFileBytes(const std::filesystem::path& path);
// Writes through a temporary file in the same directory, fsync and rename: readers see the old
// or the new file, never a half-written one. kInvalidInput "cannot_write".
base::Status ReplaceFile(const std::filesystem::path& path, base::ByteView content, unsigned mode);

// "a,b, c" -> {"a", "b", "c"}; empty items are dropped.
// A command made of subcommands (`relais registry add ...`, `relais audit verify ...`).
struct Subcommand {
  const char* name;
  const char* summary;  // one line in the group's help
  int (*run)(int argc, char** argv);
};

// Prints the group's help (`intro` then the subcommand table) for no argument (exit 1) or
// --help/-h/help (exit 0); otherwise runs the named subcommand with argv shifted by one.
int RunSubcommand(std::string_view group, std::string_view intro,
                  std::span<const Subcommand> subcommands, int argc, char** argv);

std::vector<std::string> SplitCommaList(std::string_view text);
// JSON string literal (quotes included) with the required escapes.
std::string JsonString(std::string_view text);

}  // namespace relais::tools

#endif  // RELAIS_TOOLS_CLI_H_
