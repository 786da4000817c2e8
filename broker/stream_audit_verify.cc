#include "broker/stream_audit_verify.h"

#include <algorithm>
#include <optional>
#include <string_view>

#include "broker/stream_audit_record.h"

namespace relais::broker {

namespace {

std::optional<std::string> Header(const LogMessage& m, std::string_view name) {
  for (const auto& [k, v] : m.headers) {
    if (k == name) return v;
  }
  return std::nullopt;
}

// Records of `log` with seq in [from, to] (none when from > to).
base::Result<std::vector<LogRecord>> ReadRange(StreamLog& log, uint64_t from, uint64_t to) {
  if (from > to) return std::vector<LogRecord>{};
  RELAIS_ASSIGN_OR_RETURN(auto records, log.Read(from, to - from + 1));
  records.erase(std::remove_if(records.begin(), records.end(),
                               [to](const LogRecord& r) { return r.seq > to; }),
                records.end());
  return records;
}

class Walk {
 public:
  explicit Walk(StreamAuditReport& report) : report_(report) {}

  void Both(uint64_t seq, const LogRecord& event, const LogRecord& audit) {
    auto record = Decode(seq, audit);
    if (!record) return;
    const bool linked = Link(*record);
    if (record->event_id != event.msg.id) {
      Find(seq, "event_id_mismatch", "the record names another event id");
    } else if (AuditEventHash(event) != record->event_hash) {
      Find(seq, "event_hash_mismatch",
           "the event stored at this seq is not the one audited (changed event or forged record)");
    } else if (!linked) {
      Find(seq, "chain_mismatch", "chain hash is not H(previous chain hash, event hash)");
    } else {
      ++report_.verified;
    }
  }

  void AuditOnly(uint64_t seq, const LogRecord& audit) {
    Gap(seq, "audit_without_event");
    auto record = Decode(seq, audit);
    if (record && !Link(*record)) {
      Find(seq, "chain_mismatch", "chain hash is not H(previous chain hash, event hash)");
    }
  }

  void EventOnly(uint64_t seq) {
    Gap(seq, seq > report_.audit_last ? "not_covered" : "missing_audit");
    prev_.reset();
  }

  void Neither(uint64_t seq) {
    Gap(seq, "missing_event");
    prev_.reset();
  }

 private:
  std::optional<AuditRecord> Decode(uint64_t seq, const LogRecord& audit) {
    auto record = DecodeAuditRecord(audit.msg.data);
    if (!record) {
      Find(seq, "bad_audit_record", record.error().message);
      prev_.reset();
      return std::nullopt;
    }
    if (record->event_seq != seq) {
      Find(seq, "wrong_event_seq",
           "the record covers event seq " + std::to_string(record->event_seq));
      prev_.reset();
      return std::nullopt;
    }
    if (audit.msg.id != AuditMessageId(seq) ||
        Header(audit.msg, kHeaderAuditSeq) != std::to_string(seq) ||
        Header(audit.msg, kHeaderChainHash) != base::HexEncode(crypto::View(record->chain_hash))) {
      Find(seq, "bad_audit_message", "message id or headers disagree with the record");
      prev_ = record->chain_hash;
      return std::nullopt;
    }
    return std::move(record).value();
  }

  // Checks the link to the previous chain hash (true when unknown) and moves on to this one.
  bool Link(const AuditRecord& record) {
    const bool ok = !prev_ || AuditChainHash(*prev_, record.event_hash) == record.chain_hash;
    prev_ = record.chain_hash;
    return ok;
  }

  void Find(uint64_t seq, const char* finding, std::string reason) {
    report_.findings.push_back({seq, finding, std::move(reason)});
  }

  void Gap(uint64_t seq, const char* kind) {
    auto& gaps = report_.gaps;
    if (!gaps.empty() && gaps.back().kind == kind && gaps.back().to + 1 == seq) {
      gaps.back().to = seq;
    } else {
      gaps.push_back({seq, seq, kind});
    }
  }

  StreamAuditReport& report_;
  std::optional<crypto::Digest> prev_ = kAuditGenesis;  // nullopt: unknown (after a gap)
};

}  // namespace

uint64_t StreamAuditReport::NotCovered() const {
  uint64_t n = 0;
  for (const auto& g : gaps) {
    if (g.kind == "not_covered") n += g.to - g.from + 1;
  }
  return n;
}

bool StreamAuditReport::Ok(bool allow_lag) const {
  if (!findings.empty()) return false;
  return std::all_of(gaps.begin(), gaps.end(), [allow_lag](const AuditGap& g) {
    return allow_lag && g.kind == "not_covered";
  });
}

base::Result<StreamAuditReport> VerifyStreamAudit(StreamLog& events, StreamLog& audit,
                                                  const StreamAuditVerifyOptions& options) {
  StreamAuditReport report;
  // The audit stream first: a live writer only appends what the event stream already holds.
  RELAIS_ASSIGN_OR_RETURN(report.audit_last, audit.LastSeq());
  RELAIS_ASSIGN_OR_RETURN(report.event_last, events.LastSeq());
  const uint64_t end = std::max(report.audit_last, report.event_last);
  const uint64_t chunk = std::max<size_t>(options.chunk, 1);
  Walk walk(report);
  for (uint64_t from = 1; from <= end; from += chunk) {
    const uint64_t to = std::min(end, from + chunk - 1);
    RELAIS_ASSIGN_OR_RETURN(auto ev, ReadRange(events, from, std::min(to, report.event_last)));
    RELAIS_ASSIGN_OR_RETURN(auto au, ReadRange(audit, from, std::min(to, report.audit_last)));
    size_t ei = 0, ai = 0;
    for (uint64_t seq = from; seq <= to; ++seq) {
      const LogRecord* e = ei < ev.size() && ev[ei].seq == seq ? &ev[ei++] : nullptr;
      const LogRecord* a = ai < au.size() && au[ai].seq == seq ? &au[ai++] : nullptr;
      if (e != nullptr && a != nullptr) {
        walk.Both(seq, *e, *a);
      } else if (a != nullptr) {
        walk.AuditOnly(seq, *a);
      } else if (e != nullptr) {
        walk.EventOnly(seq);
      } else {
        walk.Neither(seq);
      }
    }
    if (options.progress) options.progress(to, end);
  }
  return report;
}

}  // namespace relais::broker
