// relais audit rebuild: recomputes the derived state (cases, consents, deliveries, cursors) from
// the journal's entries alone, with the broker's own derivation (broker::CaseEngine::Admit and
// Apply, plus a delivery for every recipient as JournalEventStore::Append does), in a private
// copy of the database, and diffs it against the derived tables the broker keeps.
//
// The live journal is only read (one SQLite online backup into a temporary directory); the
// rebuild runs on the copy through journal::Journal::Rebuild.
#include <stdlib.h>

#include <cstdio>
#include <filesystem>
#include <iostream>
#include <map>
#include <string>
#include <vector>

#include "base/clock.h"
#include "broker/case_engine.h"
#include "broker/journal/journal.h"
#include "broker/journal/reader.h"
#include "broker/publish_check.h"
#include "broker/registry_store.h"
#include "crypto/identity.h"
#include "schema/codec.h"
#include "tools/audit_cmds.h"
#include "tools/audit_progress.h"
#include "tools/cli.h"

namespace relais::tools {

namespace {

// A private temporary directory, removed on destruction.
class ScratchDir {
 public:
  ScratchDir() {
    std::string tmpl =
        (std::filesystem::temp_directory_path() / "relais-audit-rebuild-XXXXXX").string();
    if (mkdtemp(tmpl.data()) != nullptr) path_ = tmpl;
  }
  ~ScratchDir() {
    std::error_code ec;
    if (!path_.empty()) std::filesystem::remove_all(path_, ec);
  }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

// The canonical dump (JournalReader::DumpDerived) as table -> key -> row. The key is the row's
// primary key: the first column, or agency and seq for deliveries.
using Tables = std::map<std::string, std::map<std::string, std::string>>;

Tables ParseDump(const std::string& dump) {
  Tables tables;
  std::string table;
  size_t pos = 0;
  while (pos < dump.size()) {
    size_t end = dump.find('\n', pos);
    if (end == std::string::npos) end = dump.size();
    std::string line = dump.substr(pos, end - pos);
    pos = end + 1;
    if (line.size() > 2 && line.front() == '[' && line.back() == ']') {
      table = line.substr(1, line.size() - 2);
      tables[table];
      continue;
    }
    size_t tab = line.find('\t');
    if (table == "deliveries" && tab != std::string::npos) tab = line.find('\t', tab + 1);
    std::string key = line.substr(0, tab);
    for (char& c : line) c = c == '\t' ? ' ' : c;
    tables[table][key] = line;
  }
  return tables;
}

// Prints every difference; returns how many.
size_t PrintDiff(const Tables& live, const Tables& rebuilt) {
  size_t differences = 0;
  const std::map<std::string, std::string> none;
  std::map<std::string, bool> names;
  for (const auto& [name, rows] : live) names[name] = true;
  for (const auto& [name, rows] : rebuilt) names[name] = true;
  for (const auto& [name, unused] : names) {
    auto l = live.find(name);
    auto r = rebuilt.find(name);
    const auto& lrows = l == live.end() ? none : l->second;
    const auto& rrows = r == rebuilt.end() ? none : r->second;
    std::map<std::string, bool> keys;
    for (const auto& [k, v] : lrows) keys[k] = true;
    for (const auto& [k, v] : rrows) keys[k] = true;
    for (const auto& [key, unused2] : keys) {
      auto lv = lrows.find(key);
      auto rv = rrows.find(key);
      if (lv != lrows.end() && rv != rrows.end() && lv->second == rv->second) continue;
      ++differences;
      std::cout << name << " " << key << ":\n";
      std::cout << "  live:    " << (lv == lrows.end() ? "(no row)" : lv->second) << "\n";
      std::cout << "  rebuilt: " << (rv == rrows.end() ? "(no row)" : rv->second) << "\n";
    }
  }
  return differences;
}

// The broker's derivation of one journaled event, replayed in seq order.
class Derivation {
 public:
  explicit Derivation(std::shared_ptr<const broker::RegistryView> registry)
      : registry_(std::move(registry)), engine_(broker::CaseEngineOptions{}) {}

  std::vector<journal::DerivedMutation> operator()(const journal::StoredEntry& entry) {
    std::vector<journal::DerivedMutation> out;
    auto h = schema::DecodeHeader(entry.envelope.header);
    if (!h) {
      Refused(entry.seq, "malformed_header", "the stored header does not decode");
      return out;
    }
    // Admit decides on the state before the event, at the time the broker received it.
    if (!broker::IsBrokerOnlyKind(h->kind)) {
      auto admitted = engine_.Admit(*h, *registry_, entry.received_at);
      if (admitted) {
        out = std::move(*admitted);
      } else {
        Refused(entry.seq, admitted.error().code, "the broker's rules refuse this event now");
      }
    }
    engine_.Apply(*h, entry.seq, nullptr, entry.received_at);
    for (const std::string& agency : h->recipients) {
      out.push_back(journal::EnqueueDelivery{agency, 0});
    }
    ++events_;
    return out;
  }

  uint64_t events() const { return events_; }
  size_t refused() const { return refused_; }

 private:
  void Refused(uint64_t seq, const std::string& code, const char* why) {
    std::cout << "seq " << seq << ": replay_refused: " << code << ": " << why << "\n";
    ++refused_;
  }

  std::shared_ptr<const broker::RegistryView> registry_;
  broker::CaseEngine engine_;
  uint64_t events_ = 0;
  size_t refused_ = 0;
};

base::Result<std::string> Dump(const std::filesystem::path& path) {
  RELAIS_ASSIGN_OR_RETURN(auto reader, journal::JournalReader::Open({.path = path, .vfs = {}}));
  return reader->DumpDerived();
}

// Copies the journal, rebuilds the copy's derived tables, prints the differences.
base::Result<size_t> RebuildAndDiff(const std::string& journal_path,
                                    std::shared_ptr<const broker::RegistryView> registry,
                                    const std::filesystem::path& scratch, uint64_t& events) {
  const std::filesystem::path copy = scratch / "journal.db";
  uint64_t head = 0;
  {
    RELAIS_ASSIGN_OR_RETURN(auto live,
                            journal::JournalReader::Open({.path = journal_path, .vfs = {}}));
    RELAIS_ASSIGN_OR_RETURN(journal::Head h, live->GetHead());
    head = h.seq;
    RELAIS_RETURN_IF_ERROR(live->CopyTo(copy));
  }
  RELAIS_ASSIGN_OR_RETURN(std::string live_dump, Dump(copy));  // the copied snapshot's tables
  Derivation derive(std::move(registry));
  {
    base::SystemClock clock;
    journal::JournalOptions options;
    options.path = copy;
    options.verify_on_open = false;  // `audit verify` checks the chain; this checks derivation
    RELAIS_ASSIGN_OR_RETURN(auto journal, journal::Journal::Open(options, clock, nullptr));
    AuditProgress progress("rebuild");
    RELAIS_RETURN_IF_ERROR(journal->Rebuild([&](const journal::StoredEntry& e) {
      progress.Update(e.seq, head);
      return derive(e);
    }));
    RELAIS_RETURN_IF_ERROR(journal->Close());
  }
  RELAIS_ASSIGN_OR_RETURN(std::string rebuilt_dump, Dump(copy));
  events = derive.events();
  return PrintDiff(ParseDump(live_dump), ParseDump(rebuilt_dump)) + derive.refused();
}

}  // namespace

int AuditRebuild(int argc, char** argv) {
  CommandSpec spec;
  spec.name = "audit rebuild";
  spec.usage = "relais audit rebuild JOURNAL --registry REG --authority-pub AUTH.pub";
  spec.description =
      "Rebuilds all derived state (cases, consents, deliveries, cursors) from the journal's\n"
      "entries alone, with the broker's own rules, in a private copy of the database (the\n"
      "journal itself is only read), and lists every difference with the derived tables the\n"
      "broker keeps: \"TABLE KEY:\" then the live row and the rebuilt row (\"(no row)\" when one\n"
      "side has none). Acknowledgements, redelivery attempts and dead letters are operational\n"
      "state, not journal events: a rebuild keeps them as stored for the deliveries it recreates.\n"
      "An event the broker's rules would refuse on replay is listed as \"seq N: replay_refused\".\n"
      "Exit code 0 when both agree, 2 when there are differences.";
  std::string journal_path, registry_path, authority_pub;
  spec.options.add_options()("journal", po::value(&journal_path)->required(), "the journal file")(
      "registry", po::value(&registry_path)->required(), "the signed registry file")(
      "authority-pub", po::value(&authority_pub)->required(),
      "the registry authority's public key file (.pub)");
  spec.positionals = {"journal"};
  int exit_code = kExitOk;
  auto vm = ParseArgs(spec, argc, argv, exit_code);
  if (!vm) return exit_code;

  base::SystemClock clock;
  auto authority = crypto::LoadPublicIdentity(authority_pub);
  if (!authority) return Fail(spec.name, authority.error());
  auto store = broker::RegistryStore::Load(registry_path, authority->sign_public, clock);
  if (!store) return Fail(spec.name, store.error());
  if (!std::filesystem::exists(journal_path)) {
    return Fail(spec.name, base::NotFound("journal_not_found", journal_path));
  }
  ScratchDir scratch;
  if (scratch.path().empty()) {
    return Fail(spec.name, base::InvalidInput("cannot_write", "cannot create a temporary dir"));
  }
  uint64_t events = 0;
  auto differences = RebuildAndDiff(journal_path, (*store)->Current(), scratch.path(), events);
  if (!differences) return Fail(spec.name, differences.error());
  std::cout << "rebuilt derived state from " << events << " entries: ";
  if (*differences == 0) {
    std::cout << "identical to the live tables\n";
    return kExitOk;
  }
  std::cout << *differences << (*differences == 1 ? " difference\n" : " differences\n");
  return kExitVerify;
}

}  // namespace relais::tools
