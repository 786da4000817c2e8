#include "tests/conformance/backend.h"

#include "broker/jetstream/jetstream_stream_log.h"
#include "broker/journal/sqlite_stream_log.h"

namespace relais::conformance {

base::Status Backend::Start() {
  if (spec_.nodes > 0) {
    RELAIS_ASSIGN_OR_RETURN(cluster_, testing::NatsCluster::Start(spec_.nodes, dir_.path()));
  }
  return Open();
}

base::Status Backend::Open() {
  if (spec_.nodes == 0) {
    RELAIS_ASSIGN_OR_RETURN(log_, journal::OpenSqliteStreamLog({dir_.path() / "stream.db"}));
    return base::Ok();
  }
  jetstream::JetStreamOptions o;
  o.urls = cluster_->urls();
  o.stream = kStream;
  o.subjects = {kSubjects};
  o.replicas = spec_.nodes;
  o.duplicates = std::chrono::minutes(2);
  // Long enough for a 3-node cluster restarted as a whole to elect its leaders on a loaded
  // 2-core machine (5 s idle, over 20 s seen under the full test run).
  o.deadline = std::chrono::seconds(45);
  RELAIS_ASSIGN_OR_RETURN(log_, jetstream::OpenJetStreamLog(o));
  return base::Ok();
}

base::Status Backend::Reopen() {
  log_.reset();
  return Open();
}

base::Status Backend::RestartEngine() {
  log_.reset();
  if (cluster_ != nullptr) RELAIS_RETURN_IF_ERROR(cluster_->RestartAll());
  return Open();
}

}  // namespace relais::conformance
