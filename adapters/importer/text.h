// Input text of list files: byte-order mark and character set (UTF-8, or Latin-1 / Windows-1252
// as written by older office software), normalised to UTF-8.
#ifndef RELAIS_ADAPTERS_IMPORTER_TEXT_H_
#define RELAIS_ADAPTERS_IMPORTER_TEXT_H_

#include <optional>
#include <string>
#include <string_view>

#include "base/status.h"

namespace relais::importer {

enum class Charset { kAuto = 0, kUtf8, kLatin1 };
std::optional<Charset> ParseCharset(std::string_view name);  // "auto", "utf-8", "latin-1"

bool IsValidUtf8(std::string_view text);

// Latin-1 to UTF-8; bytes 0x80-0x9f are read as Windows-1252 (euro sign, curly quotes, dashes,
// oe ligature), which is what "Latin-1" files from office software really contain.
std::string Latin1ToUtf8(std::string_view text);

// Strips a UTF-8 BOM, then decodes: kUtf8 refuses invalid UTF-8 (kInvalidInput "bad_charset",
// naming the line), kLatin1 converts, kAuto keeps valid UTF-8 as is and converts anything else.
base::Result<std::string> DecodeText(std::string_view bytes, Charset charset);

}  // namespace relais::importer

#endif  // RELAIS_ADAPTERS_IMPORTER_TEXT_H_
