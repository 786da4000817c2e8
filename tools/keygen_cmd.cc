// relais keygen: generates an agency identity and writes DIR/ID.key (0600) and DIR/ID.pub.
#include <filesystem>
#include <iostream>

#include "base/clock.h"
#include "crypto/identity.h"
#include "schema/registry.h"
#include "tools/cli.h"
#include "tools/commands.h"

namespace relais::tools {

int RunKeygen(int argc, char** argv) {
  CommandSpec spec;
  spec.name = "keygen";
  spec.usage = "relais keygen --agency ID --out DIR [--force]";
  spec.description =
      "Generates the identity of one agency: an Ed25519 signing key, an X25519 sealing key and a\n"
      "CURVE (X25519) transport key. Writes DIR/ID.key, the secret keys (mode 0600; keep it on\n"
      "the agency's own machine, never send it), and DIR/ID.pub, the public keys to give to the\n"
      "registry authority (`relais registry add`). Prints the key id and the .pub path; never\n"
      "prints a secret. The registry authority makes its own identity the same way.\n"
      "File formats: docs/keys.md.\n\n"
      "Example:\n"
      "  relais keygen --agency aphp-hopital-nord --out /etc/relais/keys";
  std::string agency;
  std::string out_dir;
  spec.options.add_options()(
      "agency", po::value(&agency)->required(),
      "agency id: 1-64 characters of a-z 0-9 . _ -, starting with a letter or digit")(
      "out", po::value(&out_dir)->required(),
      "directory for ID.key and ID.pub (created with mode 0700 if missing)")(
      "force", "replace an existing identity of that agency (the old keys are lost)");
  int exit_code = kExitOk;
  auto vm = ParseArgs(spec, argc, argv, exit_code);
  if (!vm) return exit_code;

  if (!schema::IsValidAgencyId(agency)) {
    return UsageError(spec.name, "'" + agency +
                                     "' is not a valid agency id (1-64 characters of a-z 0-9 . _ "
                                     "-, starting with a letter or digit)");
  }
  std::filesystem::path dir(out_dir);
  std::error_code ec;
  if (!std::filesystem::exists(dir, ec)) {
    std::filesystem::create_directories(dir, ec);
    if (ec) {
      return Fail(spec.name,
                  base::InvalidInput("cannot_write", "cannot create directory " + dir.string() +
                                                         ": " + ec.message()));
    }
    std::filesystem::permissions(dir, std::filesystem::perms::owner_all, ec);
  } else if (!std::filesystem::is_directory(dir, ec)) {
    return UsageError(spec.name, dir.string() + " exists and is not a directory");
  }

  crypto::AgencyIdentity identity = crypto::GenerateIdentity(agency, base::SystemClock().NowMs());
  base::Status saved = crypto::SaveIdentity(identity, dir, vm->count("force") > 0);
  if (!saved) {
    base::Error error = saved.error();
    if (error.code == "key_file_exists") error.message += " (pass --force to replace it)";
    return Fail(spec.name, error);
  }
  std::cout << "agency:   " << agency << "\n"
            << "key id:   " << identity.pub.key_id << "\n"
            << "public:   " << (dir / (agency + ".pub")).string() << "\n"
            << "secret:   " << (dir / (agency + ".key")).string()
            << " (mode 0600; keep it private)\n";
  return kExitOk;
}

}  // namespace relais::tools
