// Internal to the journal: helpers shared by journal.cc and journal_open.cc.
#ifndef RELAIS_BROKER_JOURNAL_JOURNAL_INTERNAL_H_
#define RELAIS_BROKER_JOURNAL_JOURNAL_INTERNAL_H_

#include "base/status.h"
#include "broker/journal/batch_writer.h"
#include "broker/journal/checkpoint.h"
#include "broker/journal/db.h"
#include "broker/journal/entry.h"

namespace relais::journal::internal {

// The checks an append gets on the caller's thread, and the move into the writer's form.
// kInvalidInput "bad_envelope" (sizes, empty fields), "digest_mismatch", "header_mismatch"
// (the last two only when `check`).
base::Result<PreparedAppend> PrepareAppend(AppendRequest& request, bool check);

// Verifies the last checkpoint (signature by a key in `keys`, head hash equal to the stored
// entry's) and the chain from it to the last row.
base::Status VerifyTail(Db& db, const KeySet& keys);

}  // namespace relais::journal::internal

#endif  // RELAIS_BROKER_JOURNAL_JOURNAL_INTERNAL_H_
