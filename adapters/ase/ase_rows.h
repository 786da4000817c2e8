// ase (aide sociale à l'enfance): the list of young people in care (docs/adapters/ase.md).
#ifndef RELAIS_ADAPTERS_ASE_ASE_ROWS_H_
#define RELAIS_ADAPTERS_ASE_ASE_ROWS_H_

#include "adapters/importer/row.h"

namespace relais::ase {

// Referral ase_exit, dueAt = the 18th birthday, or the end of the contrat jeune majeur (between
// the 18th and the 21st birthday) when there is one; default lead 183 days (6 months). From the
// 17th birthday to the 18th, a local reminder lists the mandatory interview.
const importer::RowSchema& AseRowSchema();

inline constexpr const char* kInterviewReminder =
    "entretien obligatoire un an avant la majorite (CASF art. L222-5-1)";

}  // namespace relais::ase

#endif  // RELAIS_ADAPTERS_ASE_ASE_ROWS_H_
