#include "adapters/hospital/adt_processor.h"

#include "base/log.h"
#include "crypto/random.h"

namespace relais::hospital {

namespace {

// A date/time more than this before now is "in the past" (clock skew between systems).
constexpr base::TimeMs kPastTolerance = 5 * 60 * 1000;

AdtError Err(int hl7_code, std::string location, std::string code, std::string text) {
  return AdtError{AckCode::kError, hl7_code, std::move(location), std::move(code), std::move(text)};
}

bool Active(ReferralState s) {
  return s == ReferralState::kReferred || s == ReferralState::kAccepted ||
         s == ReferralState::kHandedOver;
}

}  // namespace

std::string AdtProcessor::NextAckId() {
  return "RL" + std::to_string(emitter_.clock->NowMs()) + "-" + std::to_string(++ack_counter_);
}

std::string AdtProcessor::FramingError(const base::Error& error) {
  AdtError e{AckCode::kReject, 100, "", error.code, error.message};
  ++stats_.errors;
  base::LogWarn("mllp_frame_refused", {{"code", error.code}});
  return BuildAck(AckContext{}, AckCode::kReject, &e, emitter_.clock->NowMs(), NextAckId());
}

base::Status AdtProcessor::Queue(base::Result<OutboxEntry> entry, base::Bytes& event_id_out) {
  if (!entry) return std::move(entry).error();
  RELAIS_RETURN_IF_ERROR(store_.Enqueue(*entry));
  if (event_id_out.empty()) event_id_out.assign(entry->event_id.begin(), entry->event_id.end());
  ++stats_.events_queued;
  base::LogInfo("event_queued", {{"kind", entry->kind},
                                 {"case", entry->case_ref},
                                 {"event", crypto::FormatUuid(entry->event_id)}});
  return base::Ok();
}

base::Result<AdtProcessor::Outcome> AdtProcessor::Ignore(const Step& s, const char* reason) {
  ++stats_.ignored;
  base::LogInfo("adt_ignored", {{"trigger", s.adt.context.trigger},
                                {"control_id", s.adt.context.control_id},
                                {"case", s.c.case_ref},
                                {"reason", reason}});
  return Outcome{};
}

// A new referral (the first one, or after a cancelled one under a new case ref).
base::Result<AdtProcessor::Outcome> AdtProcessor::Refer(Step& s, base::TimeMs due) {
  CaseRecord& c = s.c;
  if (c.consent_id.empty() || c.recipients.empty()) return Ignore(s, "no_consent_recorded");
  if (c.state == ReferralState::kCancelled) {
    // The broker keeps one referral per case ref: a new one gets a new ref, with the recorded
    // consent re-emitted for it.
    c.case_ref = crypto::NewCaseRef();
    c.consent_id = "consent-" + crypto::FormatUuid(crypto::RandomBytes(16));
    c.acceptor.clear();
    RELAIS_RETURN_IF_ERROR(Queue(ConsentEvent(c, emitter_), s.event_id));
    s.event_id.clear();
  }
  RELAIS_RETURN_IF_ERROR(Queue(ReferralEvent(c, s.adt, due, emitter_), s.event_id));
  c.state = ReferralState::kReferred;
  c.due_at = due;
  return Outcome{};
}

base::Result<AdtProcessor::Outcome> AdtProcessor::MoveDeadline(Step& s, base::TimeMs due) {
  if (due == s.c.due_at) return Ignore(s, "same_date");
  RELAIS_RETURN_IF_ERROR(Queue(DeadlineChangedEvent(s.c, due, emitter_), s.event_id));
  s.c.due_at = due;
  return Outcome{};
}

base::Result<AdtProcessor::Outcome> AdtProcessor::Cancel(Step& s, const char* note) {
  RELAIS_RETURN_IF_ERROR(Queue(CancelledEvent(s.c, note, emitter_), s.event_id));
  s.c.state = ReferralState::kCancelled;
  return Outcome{};
}

base::Result<AdtProcessor::Outcome> AdtProcessor::Discharge(Step& s, base::TimeMs now) {
  CaseRecord& c = s.c;
  if (c.state == ReferralState::kAccepted) {
    RELAIS_RETURN_IF_ERROR(Queue(HandedOverEvent(c, s.adt, emitter_), s.event_id));
    c.state = ReferralState::kHandedOver;
    return Outcome{};
  }
  if (c.state == ReferralState::kHandedOver) return Ignore(s, "already_handed_over");
  // Nobody accepted (or nothing was announced): the exit is now. The broker's accept-by
  // (dueAt - lead) is then past, so it escalates to the territory's SIAO at once.
  base::TimeMs due = s.adt.discharge_time ? std::max(s.adt.discharge_time->ms, now) : now;
  if (c.state == ReferralState::kReferred) return MoveDeadline(s, due);
  return Refer(s, due);
}

base::Result<AdtProcessor::Outcome> AdtProcessor::Apply(const AdtMessage& adt, CaseRecord& c,
                                                        base::Bytes& event_id) {
  const base::TimeMs now = emitter_.clock->NowMs();
  Step s{adt, c, event_id};
  std::optional<base::TimeMs> expected;
  if (adt.expected_discharge) {
    if (adt.expected_discharge->EndMs() < now - kPastTolerance) {
      const std::string& loc = adt.expected_discharge_field;
      return Outcome{AckCode::kError, Err(102, loc, "past_date",
                                          loc + ": the expected discharge date is in the past")};
    }
    expected = adt.expected_discharge->ms;
  }
  switch (adt.action) {
    case AdtAction::kPendingDischarge:
      if (!expected) {
        return Outcome{AckCode::kError,
                       Err(101, "PV2-9", "missing_date",
                           "PV2-9: the expected discharge date is missing (and EVN-3 too)")};
      }
      return Active(c.state) ? MoveDeadline(s, *expected) : Refer(s, *expected);
    case AdtAction::kUpdate:
      if (!expected) return Ignore(s, "no_expected_date");
      if (!Active(c.state)) return Ignore(s, "no_active_referral");
      return MoveDeadline(s, *expected);
    case AdtAction::kCancelPendingDischarge:
      if (c.state != ReferralState::kReferred && c.state != ReferralState::kAccepted)
        return Ignore(s, "no_pending_referral");
      return Cancel(s, "A25: pending discharge cancelled");
    case AdtAction::kDischarge:
      return Discharge(s, now);
    case AdtAction::kCancelDischarge:
      if (!Active(c.state)) return Ignore(s, "no_active_referral");
      return Cancel(s, "A13: discharge cancelled");
    case AdtAction::kIgnore:
      break;
  }
  return Ignore(s, "trigger_not_mapped");
}

base::Result<AdtProcessor::Outcome> AdtProcessor::HandleOne(const AdtResult& read) {
  const AdtMessage& adt = read.message;
  const AckContext& ctx = adt.context;
  if (read.error) {
    base::LogWarn("adt_refused", {{"ack", AckCodeText(read.error->ack)},
                                  {"code", read.error->code},
                                  {"location", read.error->location},
                                  {"trigger", ctx.trigger},
                                  {"control_id", ctx.control_id}});
    return Outcome{read.error->ack, read.error};
  }
  if (adt.action == AdtAction::kIgnore) {
    ++stats_.ignored;
    base::LogInfo(
        "adt_ignored",
        {{"trigger", ctx.trigger}, {"control_id", ctx.control_id}, {"reason", adt.ignore_reason}});
    return Outcome{};
  }
  RELAIS_ASSIGN_OR_RETURN(
      auto dup, store_.FindDedup(ctx.sending_application, ctx.sending_facility, ctx.control_id));
  if (dup) {
    ++stats_.duplicates;
    base::LogInfo("adt_duplicate",
                  {{"trigger", ctx.trigger},
                   {"control_id", ctx.control_id},
                   {"event", dup->event_id.empty() ? "" : crypto::FormatUuid(dup->event_id)}});
    return Outcome{};
  }
  if (adt.patient_id.empty()) {
    return Outcome{AckCode::kError, Err(101, "PID-3", "missing_patient_id",
                                        "PID-3: no patient identifier (other than an INS)")};
  }
  RELAIS_ASSIGN_OR_RETURN(auto found, store_.FindOpenCase(adt.patient_id, adt.visit_number));
  if (!found) {
    // Not a patient of the social service: acknowledged, nothing stored.
    ++stats_.ignored;
    base::LogDebug("adt_no_case", {{"trigger", ctx.trigger}, {"control_id", ctx.control_id}});
    return Outcome{};
  }
  CaseRecord c = *found;
  base::Bytes event_id;
  uint64_t queued_before = stats_.events_queued;
  RELAIS_RETURN_IF_ERROR(store_.Savepoint());
  auto applied = Apply(adt, c, event_id);
  if (!applied && applied.error().kind != base::ErrorKind::kRetryLater) {
    // The event could not be built (registry: recipient cannot receive, kind not allowed...).
    RELAIS_RETURN_IF_ERROR(store_.RollbackToSavepoint());
    stats_.events_queued = queued_before;
    base::LogError("event_not_built", {{"code", applied.error().code}, {"case", c.case_ref}});
    return Outcome{AckCode::kError,
                   Err(207, "", applied.error().code,
                       "the relais event could not be built (" + applied.error().code +
                           "): check the case's recipients and the registry")};
  }
  if (!applied) return std::move(applied).error();
  Outcome out = std::move(*applied);
  if (out.error) {
    RELAIS_RETURN_IF_ERROR(store_.ReleaseSavepoint());
    base::LogWarn("adt_refused", {{"ack", AckCodeText(out.error->ack)},
                                  {"code", out.error->code},
                                  {"location", out.error->location},
                                  {"trigger", ctx.trigger},
                                  {"control_id", ctx.control_id},
                                  {"case", c.case_ref}});
    return out;
  }
  if (stats_.events_queued != queued_before) {
    RELAIS_RETURN_IF_ERROR(store_.UpdateCase(c));
    DedupEntry entry{event_id, "AA"};
    RELAIS_RETURN_IF_ERROR(store_.PutDedup(ctx.sending_application, ctx.sending_facility,
                                           ctx.control_id, entry, emitter_.clock->NowMs()));
  }
  RELAIS_RETURN_IF_ERROR(store_.ReleaseSavepoint());
  return out;
}

std::vector<std::string> AdtProcessor::HandleBatch(const std::vector<std::string>& messages) {
  std::vector<AdtResult> reads;
  reads.reserve(messages.size());
  for (const auto& m : messages) reads.push_back(ReadAdtText(m));
  std::vector<Outcome> outcomes;
  ProcessorStats before = stats_;
  base::Status st = store_.Begin();
  for (size_t i = 0; st && i < reads.size(); ++i) {
    auto out = HandleOne(reads[i]);
    if (!out) {
      st = std::move(out).error();
      break;
    }
    outcomes.push_back(std::move(*out));
  }
  if (st) st = store_.Commit();
  std::vector<std::string> acks;
  acks.reserve(messages.size());
  if (!st) {
    store_.Rollback();
    stats_ = before;
    base::LogError("batch_failed", {{"code", st.error().code}, {"messages", messages.size()}});
    AdtError e = Err(207, "", "store_failed", "the adapter could not store the message: retry");
    for (const auto& r : reads) {
      acks.push_back(
          BuildAck(r.message.context, AckCode::kError, &e, emitter_.clock->NowMs(), NextAckId()));
    }
    stats_.messages += messages.size();
    stats_.errors += messages.size();
    return acks;
  }
  for (size_t i = 0; i < reads.size(); ++i) {
    const Outcome& o = outcomes[i];
    if (o.code != AckCode::kAccept) ++stats_.errors;
    acks.push_back(BuildAck(reads[i].message.context, o.code, o.error ? &*o.error : nullptr,
                            emitter_.clock->NowMs(), NextAckId()));
  }
  stats_.messages += messages.size();
  return acks;
}

}  // namespace relais::hospital
