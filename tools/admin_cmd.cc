// relais admin: operator requests to relaisd (docs/protocol.md §6), made with the broker's own key.
#include <iostream>

#include "schema/wire.h"
#include "tools/agency_session.h"
#include "tools/cli.h"
#include "tools/commands.h"

namespace relais::tools {

int RunAdmin(int argc, char** argv) {
  CommandSpec spec;
  spec.name = "admin";
  spec.usage =
      "relais admin reload|dead-letters|requeue [SEQ] --key BROKER.key --registry REG\n"
      "                    --authority-pub AUTH.pub --broker tcp://HOST:7411";
  spec.description =
      "Operator requests to a running relaisd, authenticated with the broker's own key file (run\n"
      "it on the broker host):\n"
      "  reload         re-read and verify the registry; revoked agencies are cut off at once\n"
      "                 (the same as sending SIGHUP to relaisd)\n"
      "  dead-letters   list deliveries that failed their maximum attempts: seq, agency,\n"
      "                 attempts, last reason\n"
      "  requeue SEQ    make the dead letters of journal entry SEQ pending again\n"
      "Prints the broker's answer; no case data is ever part of it.";
  AgencySessionFlags flags;
  std::string op;
  uint64_t seq = 0;
  spec.options.add_options()("op", po::value(&op)->required(), "reload, dead-letters, requeue")(
      "seq", po::value(&seq), "journal seq, for requeue");
  AddAgencySessionOptions(spec.options, flags);
  spec.positionals = {"op", "seq"};
  int exit_code = kExitOk;
  auto vm = ParseArgs(spec, argc, argv, exit_code);
  if (!vm) return exit_code;
  schema::AdminRequest request;
  if (op == "reload") {
    request.op = schema::AdminRequest::Op::kReloadRegistry;
  } else if (op == "dead-letters") {
    request.op = schema::AdminRequest::Op::kListDeadLetters;
  } else if (op == "requeue") {
    if (!vm->count("seq")) return UsageError(spec.name, "requeue needs the journal SEQ");
    request.op = schema::AdminRequest::Op::kRequeueDeadLetter;
    request.seq = seq;
  } else {
    return UsageError(spec.name, "unknown operation '" + op + "' (reload, dead-letters, requeue)");
  }
  auto session = OpenAgencySession(flags);
  if (!session) return Fail(spec.name, session.error());
  auto reply = (*session)->client->Admin(request, sdk::DeadlineAfter(std::chrono::seconds(10)));
  if (!reply) return Fail(spec.name, reply.error());
  if (!reply->ok) return Fail(spec.name, base::NotAuthorised(reply->code, reply->message));
  std::cout << reply->message << "\n";
  for (const auto& line : reply->lines) std::cout << line << "\n";
  return kExitOk;
}

}  // namespace relais::tools
