#include "tools/cli.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <random>

namespace relais::tools {

const char kExitCodesHelp[] =
    "Exit codes:\n"
    "  0  success\n"
    "  1  bad usage or bad input: unknown option, missing argument, malformed file, file not\n"
    "     found or not writable\n"
    "  2  a verification failed: bad or missing signature, wrong authority, expired registry,\n"
    "     key file readable by group or others\n";

void PrintHelp(const CommandSpec& spec) {
  std::cout << "Usage: " << spec.usage << "\n\n" << spec.description << "\n\n";
  std::cout << spec.options << "\n" << kExitCodesHelp;
}

std::optional<po::variables_map> ParseArgs(CommandSpec& spec, int argc, char** argv,
                                           int& exit_code) {
  spec.options.add_options()("help,h", "show this help");
  po::positional_options_description positional;
  for (const std::string& name : spec.positionals) positional.add(name.c_str(), 1);
  po::variables_map vm;
  try {
    po::store(
        po::command_line_parser(argc, argv)  // skips argv[0], the command word
            .options(spec.options)
            .positional(positional)
            .style(po::command_line_style::unix_style ^ po::command_line_style::allow_guessing)
            .run(),
        vm);
    if (vm.count("help")) {
      PrintHelp(spec);
      exit_code = kExitOk;
      return std::nullopt;
    }
    po::notify(vm);
  } catch (const po::error& e) {
    exit_code = UsageError(spec.name, e.what());
    return std::nullopt;
  }
  return vm;
}

int Fail(std::string_view command, const base::Error& error) {
  std::cerr << "relais " << command << ": " << error.ToString() << "\n";
  switch (error.kind) {
    case base::ErrorKind::kUnauthenticated:
    case base::ErrorKind::kNotAuthorised:
      return kExitVerify;
    default:
      return kExitUsage;
  }
}

int UsageError(std::string_view command, std::string_view message) {
  std::cerr << "relais " << command << ": " << message << "\n"
            << "Run `relais " << command << " --help` for usage.\n";
  return kExitUsage;
}

base::Result<base::Bytes> ReadFileBytes(const std::filesystem::path& path) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) {
    return base::NotFound("no_such_file", "no file at " + path.string());
  }
  if (std::filesystem::is_directory(path, ec)) {
    return base::InvalidInput("cannot_read", path.string() + " is a directory");
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) return base::InvalidInput("cannot_read", "cannot open " + path.string());
  base::Bytes out((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) return base::InvalidInput("cannot_read", "cannot read " + path.string());
  return out;
}

base::Status ReplaceFile(const std::filesystem::path& path, base::ByteView content, unsigned mode) {
  std::filesystem::path dir = path.parent_path();
  if (dir.empty()) dir = ".";
  std::random_device rd;
  std::filesystem::path tmp =
      dir / ("." + path.filename().string() + ".tmp-" + std::to_string(rd()));
  auto fail = [&](const char* what) {
    int err = errno;
    ::unlink(tmp.c_str());
    return base::InvalidInput(
        "cannot_write", "cannot write " + path.string() + " (" + what + "): " + std::strerror(err));
  };
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return fail("create");
  size_t done = 0;
  while (done < content.size()) {
    ssize_t n = ::write(fd, content.data() + done, content.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      ::close(fd);
      return fail("write");
    }
    done += static_cast<size_t>(n);
  }
  if (::fchmod(fd, static_cast<mode_t>(mode)) != 0 || ::fsync(fd) != 0) {
    ::close(fd);
    return fail("fsync");
  }
  if (::close(fd) != 0) return fail("close");
  if (::rename(tmp.c_str(), path.c_str()) != 0) return fail("rename");
  int dir_fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd >= 0) {
    ::fsync(dir_fd);
    ::close(dir_fd);
  }
  return base::Ok();
}

std::vector<std::string> SplitCommaList(std::string_view text) {
  std::vector<std::string> out;
  while (!text.empty()) {
    size_t comma = text.find(',');
    std::string_view item = text.substr(0, comma);
    while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
    while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
    if (!item.empty()) out.emplace_back(item);
    if (comma == std::string_view::npos) break;
    text.remove_prefix(comma + 1);
  }
  return out;
}

std::string JsonString(std::string_view text) {
  std::string out = "\"";
  for (char c : text) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(c));
          out += buf;
        } else {
          out += c;
        }
    }
  }
  return out + "\"";
}

int RunSubcommand(std::string_view group, std::string_view intro,
                  std::span<const Subcommand> subcommands, int argc, char** argv) {
  auto help = [&] {
    std::cout << "Usage: relais " << group << " <subcommand> [options]\n\n" << intro << "\n\n";
    for (const Subcommand& s : subcommands) {
      std::string name = s.name;
      std::cout << "  " << name << std::string(name.size() < 8 ? 8 - name.size() : 1, ' ')
                << s.summary << "\n";
    }
    std::cout << "\nRun `relais " << group << " <subcommand> --help` for its options.\n\n"
              << kExitCodesHelp;
  };
  if (argc < 2) {
    help();
    return kExitUsage;
  }
  std::string_view sub = argv[1];
  if (sub == "--help" || sub == "-h" || sub == "help") {
    help();
    return kExitOk;
  }
  for (const Subcommand& s : subcommands) {
    if (sub == s.name) return s.run(argc - 1, argv + 1);
  }
  return UsageError(group, "unknown subcommand '" + std::string(sub) + "'");
}

}  // namespace relais::tools
