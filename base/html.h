// Escaping text for HTML (the inbox's pages, the auditor's HTML report).
#ifndef RELAIS_BASE_HTML_H_
#define RELAIS_BASE_HTML_H_

#include <string>
#include <string_view>

namespace relais::base {

// `text` with & < > " ' replaced by entities: safe in element content and quoted attributes.
std::string HtmlEscape(std::string_view text);

}  // namespace relais::base

#endif  // RELAIS_BASE_HTML_H_
