// The per-case key store (broker/case_keys.h) on a JetStream KV bucket: file storage, history 1,
// R1 or R3 like the stream. GetOrCreate uses the KV's create-if-absent (kvStore_Create), so
// concurrent instances agree on one key; Destroy puts a tombstone value ("destroyed") over the key:
// with history 1 the server removes the key's previous revision on every replica, and the
// tombstone keeps the key from being created again. Key names are CaseKeyName()s, never case refs.
//
// What removal means on disk: the server drops the message from the bucket's stream; the file
// store may keep the removed bytes in a block file until the block is compacted or rewritten
// (docs/scale-out.md section 9).
#ifndef RELAIS_BROKER_JETSTREAM_JETSTREAM_CASE_KEYS_H_
#define RELAIS_BROKER_JETSTREAM_JETSTREAM_CASE_KEYS_H_

#include <memory>
#include <string>

#include "base/status.h"
#include "broker/case_keys.h"
#include "broker/jetstream/jetstream_stream_log.h"

namespace relais::jetstream {

// Connects with `connection` (urls, replicas, deadline, request_timeout; its stream and subjects
// are ignored) and creates or binds the bucket `bucket` ([A-Za-z0-9_-]).
base::Result<std::unique_ptr<broker::CaseKeyStore>> OpenJetStreamCaseKeys(
    const JetStreamOptions& connection, const std::string& bucket);

}  // namespace relais::jetstream

#endif  // RELAIS_BROKER_JETSTREAM_JETSTREAM_CASE_KEYS_H_
