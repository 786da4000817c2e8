// The commands of `relais-inbox` (main.cc parses the flags and calls these). Each returns the
// process exit code: 0 ok, 1 failure (message on stderr, never case data), 2 usage, 3 refused by
// the broker (retrying will be refused again).
#ifndef RELAIS_ADAPTERS_INBOX_CLI_COMMANDS_H_
#define RELAIS_ADAPTERS_INBOX_CLI_COMMANDS_H_

#include <filesystem>
#include <string>

#include "adapters/inbox/agency.h"
#include "adapters/inbox/notifier.h"
#include "adapters/inbox/store.h"
#include "adapters/inbox/web.h"

namespace relais::inbox {

struct InboxOptions {
  std::filesystem::path store;
  StoreKeySource key;
  AgencyConfig agency;
  NotifierConfig notify;
  WebOptions web;
  bool web_enabled = true;
  bool json = false;
};

int CmdInit(const InboxOptions& options, bool create_key_file);
int CmdRun(const InboxOptions& options);
int CmdList(const InboxOptions& options);
int CmdShow(const InboxOptions& options, const std::string& case_ref);
int CmdAnswer(const InboxOptions& options, const std::string& case_ref, const Answer& answer);
int CmdExportFhir(const InboxOptions& options, const std::string& case_ref);
int CmdPurges(const InboxOptions& options);
// Password read from standard input (first line; echo off on a terminal).
int CmdStaffAdd(const InboxOptions& options, const std::string& login);
int CmdStaffRemove(const InboxOptions& options, const std::string& login);
int CmdStaffList(const InboxOptions& options);

}  // namespace relais::inbox

#endif  // RELAIS_ADAPTERS_INBOX_CLI_COMMANDS_H_
