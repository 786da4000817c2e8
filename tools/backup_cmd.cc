// relais backup: a hot, consistent copy of a live journal (SQLite's online backup API through
// journal::JournalReader::CopyTo), then a chain check of the copy. See docs/operations.md.
#include <sys/stat.h>

#include <filesystem>
#include <iostream>

#include "broker/journal/reader.h"
#include "tools/cli.h"
#include "tools/commands.h"

namespace relais::tools {

int RunBackup(int argc, char** argv) {
  CommandSpec spec;
  spec.name = "backup";
  spec.usage = "relais backup JOURNAL DEST";
  spec.description =
      "Copies the journal JOURNAL to the new file DEST while relaisd keeps running (SQLite's\n"
      "online backup: one consistent snapshot, the writer is never blocked), gives DEST mode\n"
      "0600, then verifies the copy's hash chain. DEST must not exist. The copy holds the sealed\n"
      "bodies that were not erased at the time of the copy: keep it as private as the journal,\n"
      "and see docs/operations.md for how erasure applies to backups.\n"
      "Prints \"backup DEST: N entries up to seq S, chain intact\". Exit code 2 when the copy's\n"
      "chain does not verify.";
  std::string journal_path, dest;
  spec.options.add_options()("journal", po::value(&journal_path)->required(),
                             "the journal file (relaisd --journal)")(
      "dest", po::value(&dest)->required(), "the new backup file");
  spec.positionals = {"journal", "dest"};
  int exit_code = kExitOk;
  auto vm = ParseArgs(spec, argc, argv, exit_code);
  if (!vm) return exit_code;
  if (std::filesystem::exists(dest)) {
    return Fail(spec.name, base::InvalidInput("dest_exists", dest + " exists; give a new file"));
  }
  if (!std::filesystem::exists(journal_path)) {
    return Fail(spec.name, base::NotFound("journal_not_found", journal_path));
  }
  auto reader = journal::JournalReader::Open({.path = journal_path, .vfs = {}});
  if (!reader) return Fail(spec.name, reader.error());
  {
    // The copy is created with the process umask: make it private before any content lands.
    const mode_t old_mask = ::umask(077);
    base::Status copied = (*reader)->CopyTo(dest);
    ::umask(old_mask);
    if (!copied) return Fail(spec.name, copied.error());
  }
  std::filesystem::permissions(
      dest, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
  auto copy = journal::JournalReader::Open({.path = dest, .vfs = {}});
  if (!copy) return Fail(spec.name, copy.error());
  auto report = (*copy)->VerifyChain();
  if (!report) return Fail(spec.name, report.error());
  if (auto st = report->ToStatus(); !st) {
    Fail(spec.name, st.error());
    return kExitVerify;
  }
  std::cout << "backup " << dest << ": " << report->rows << " entries up to seq "
            << report->verified.seq << ", chain intact\n";
  return kExitOk;
}

}  // namespace relais::tools
