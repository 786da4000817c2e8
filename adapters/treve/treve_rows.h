// treve: households under an eviction procedure, at the end of the winter moratorium
// (docs/adapters/treve.md).
#ifndef RELAIS_ADAPTERS_TREVE_TREVE_ROWS_H_
#define RELAIS_ADAPTERS_TREVE_TREVE_ROWS_H_

#include "adapters/importer/row.h"

namespace relais::treve {

// Referral treve_end, dueAt = 1 April of the spring concerned (this year's from January to
// October, next year's in November and December) or the eviction date when later; a new case is
// referred from 1 January of that year (--lead-days does not apply).
const importer::RowSchema& TreveRowSchema();

// The moratorium's end date for `today` (1 April).
importer::CivilDate SpringFor(const importer::CivilDate& today);

}  // namespace relais::treve

#endif  // RELAIS_ADAPTERS_TREVE_TREVE_ROWS_H_
