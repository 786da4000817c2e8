// The `relais` command groups. One Run* function per group, each in its own *_cmd.cc file; main()
// dispatches on the first argument through kCommands.
//
// Adding a group: declare `int RunFoo(int argc, char** argv);` here, add a row to kCommands, add
// foo_cmd.cc to tools/CMakeLists.txt. argv[0] is the group name ("foo"); the function returns the
// process exit code (tools/cli.h: 0 ok, 1 bad usage or input, 2 verification failed).
#ifndef RELAIS_TOOLS_COMMANDS_H_
#define RELAIS_TOOLS_COMMANDS_H_

namespace relais::tools {

int RunKeygen(int argc, char** argv);
int RunRegistry(int argc, char** argv);
int RunPublish(int argc, char** argv);
int RunTail(int argc, char** argv);
int RunAudit(int argc, char** argv);
int RunAdmin(int argc, char** argv);
int RunConsent(int argc, char** argv);
int RunDoctor(int argc, char** argv);
int RunBackup(int argc, char** argv);

struct Command {
  const char* name;
  const char* summary;  // one line, shown by `relais --help`
  int (*run)(int argc, char** argv);
};

inline constexpr Command kCommands[] = {
    {"keygen", "generate an agency identity (signing, sealing and CURVE keys)", RunKeygen},
    {"registry", "create, edit, sign, show and verify the agency registry", RunRegistry},
    {"publish", "publish one event from a JSON document and wait for its acknowledgement",
     RunPublish},
    {"tail", "receive this agency's events, verified and opened, as JSON lines", RunTail},
    {"consent", "record or withdraw a person's consent (as the collecting agency)", RunConsent},
    {"admin", "operator requests to relaisd: reload the registry, list and requeue dead letters",
     RunAdmin},
    {"audit", "verify, replay, report on and rebuild from a journal; witness checkpoints",
     RunAudit},
    {"doctor", "check a deployment (keys, registry, broker, journal, disk) and say what to fix",
     RunDoctor},
    {"backup", "hot copy of a live journal (SQLite online backup), chain-checked", RunBackup},
};

}  // namespace relais::tools

#endif  // RELAIS_TOOLS_COMMANDS_H_
