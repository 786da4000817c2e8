// prison (SPIP): the planned-release list's row format (docs/adapters/prison.md).
#ifndef RELAIS_ADAPTERS_PRISON_PRISON_ROWS_H_
#define RELAIS_ADAPTERS_PRISON_PRISON_ROWS_H_

#include "adapters/importer/row.h"

namespace relais::prison {

// Referral prison_release, dueAt = date prévisible de libération, default lead 90 days.
const importer::RowSchema& PrisonRowSchema();

}  // namespace relais::prison

#endif  // RELAIS_ADAPTERS_PRISON_PRISON_ROWS_H_
