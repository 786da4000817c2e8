#include "broker/case_engine.h"

#include <algorithm>
#include <charconv>
#include <limits>

#include "base/log.h"
#include "broker/publish_check.h"
#include "crypto/hash.h"

namespace relais::broker {

namespace {

using schema::EventKind;
using State = HandoverState;

bool Contains(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

bool IsTerminal(State s) {
  return s == State::kClosed || s == State::kCancelled || s == State::kPickedUp;
}

std::string Join(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : ", ") + s;
  return out;
}

base::Error Transition(const std::string& what) {
  return base::NotAuthorised("invalid_transition", what);
}

}  // namespace

DeadlinePolicy DefaultPolicy(schema::ReferralKind kind) {
  using K = schema::ReferralKind;
  const base::TimeMs h = base::kMsPerHour, d = base::kMsPerDay;
  switch (kind) {
    case K::kHospitalDischarge:
    case K::kMaternityExit:
      return {48 * h, 24 * h};
    case K::kPrisonRelease:
      return {30 * d, 3 * d};
    case K::kAseExit:
      return {90 * d, 7 * d};
    case K::kTreveEnd:
      return {31 * d, 7 * d};  // accepted by 1 March for a 1 April exit
    default:
      return {48 * h, 24 * h};
  }
}

base::Status ParsePolicyOverride(std::string_view text,
                                 std::map<schema::ReferralKind, DeadlinePolicy>& policies) {
  auto bad = [&](const std::string& why) {
    return base::InvalidInput("bad_deadline_policy",
                              "'" + std::string(text) + "': " + why +
                                  " (expected KIND=ACCEPT_LEAD_HOURS:PICKUP_GRACE_HOURS)");
  };
  auto eq = text.find('=');
  auto colon = text.find(':', eq == std::string_view::npos ? 0 : eq);
  if (eq == std::string_view::npos || colon == std::string_view::npos) return bad("missing = or :");
  auto kind = schema::ParseReferralKind(text.substr(0, eq));
  if (!kind) return bad("unknown referral kind");
  int64_t lead = 0, grace = 0;
  auto l = text.substr(eq + 1, colon - eq - 1);
  auto g = text.substr(colon + 1);
  auto whole = [](std::string_view digits, int64_t& out) {
    auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), out);
    return ec == std::errc() && end == digits.data() + digits.size() && out >= 0;
  };
  if (!whole(l, lead) || !whole(g, grace)) return bad("hours must be non-negative integers");
  if (lead > kMaxPolicyHours || grace > kMaxPolicyHours) {
    return bad("hours must be at most " + std::to_string(kMaxPolicyHours));
  }
  policies[*kind] = {lead * base::kMsPerHour, grace * base::kMsPerHour};
  return base::Ok();
}

const char* HandoverStateName(HandoverState state) {
  switch (state) {
    case State::kReferred:
      return "referred";
    case State::kAccepted:
      return "accepted";
    case State::kHandedOver:
      return "handed_over";
    case State::kPickedUp:
      return "picked_up";
    case State::kClosed:
      return "closed";
    case State::kCancelled:
      return "cancelled";
    case State::kUnplaced:
      return "unplaced";
  }
  return "unknown";
}

DeadlinePolicy CaseEngine::Policy(schema::ReferralKind kind) const {
  auto it = options_.policies.find(kind);
  return it != options_.policies.end() ? it->second : DefaultPolicy(kind);
}

bool CaseEngine::MayReadReceipt(const std::string& case_ref, const std::string& agency) const {
  const CaseState* c = Case(case_ref);
  if (c != nullptr && c->emitter == agency) return true;
  for (const ConsentState* consent : ConsentsOf(case_ref)) {
    if (consent->case_ref == case_ref && consent->collector == agency) return true;
  }
  return false;
}

std::vector<const ConsentState*> CaseEngine::ConsentsOf(const std::string& case_ref) const {
  std::vector<const ConsentState*> out;
  auto ids = consents_of_case_.find(case_ref);
  if (ids == consents_of_case_.end()) return out;
  for (const std::string& id : ids->second) {
    auto it = consents_.find(id);
    if (it != consents_.end()) out.push_back(&it->second);
  }
  return out;
}

const CaseState* CaseEngine::Case(const std::string& case_ref) const {
  auto it = cases_.find(case_ref);
  return it == cases_.end() ? nullptr : &it->second;
}

base::Bytes CaseEngine::EmissionId(const std::string& case_ref, schema::EventKind kind,
                                   const base::Bytes& in_reply_to, const std::string& stage) {
  base::Bytes kind_byte = {static_cast<uint8_t>(kind)};
  crypto::Digest d = crypto::Blake2b({base::AsBytes("relais-emission-v1"), base::AsBytes(case_ref),
                                      kind_byte, in_reply_to, base::AsBytes(stage)});
  base::Bytes id(d.begin(), d.begin() + 16);
  id[6] = static_cast<uint8_t>(0x80 | (id[6] & 0x0f));  // UUID version 8 (custom)
  id[8] = static_cast<uint8_t>(0x80 | (id[8] & 0x3f));  // variant 10
  return id;
}

// How far ahead of the broker's clock an agency's clock may be for a consent's start.
constexpr base::TimeMs kConsentClockSkew = 5 * 60 * 1000;

bool CaseEngine::Covers(const ConsentState& consent, const std::string& case_ref,
                        const schema::Agency& agency, schema::Purpose purpose, schema::Tier tier,
                        base::TimeMs now) const {
  const schema::ConsentTerms& t = consent.terms;
  if (!consent.active || consent.case_ref != case_ref) return false;
  // A consent collected "now" on an agency's clock a little ahead of the broker's still covers
  // the referral that follows it (docs/lifecycle.md §4).
  if (now + kConsentClockSkew < t.valid_from || (t.valid_until != 0 && now > t.valid_until)) {
    return false;
  }
  if (tier == schema::Tier::kReferral && t.tier != schema::Tier::kReferral) return false;
  if (purpose != schema::Purpose::kUnspecified && !t.purposes.empty() &&
      std::find(t.purposes.begin(), t.purposes.end(), purpose) == t.purposes.end()) {
    return false;
  }
  return Contains(t.recipient_agencies, agency.id) ||
         Contains(t.recipient_kinds, schema::AgencyKindName(agency.kind));
}

base::Status CaseEngine::CheckConsent(const schema::Header& h, const RegistryView& registry,
                                      base::TimeMs now) const {
  const schema::Agency* emitter = registry.Find(h.emitter);
  bool notice_allowed =
      h.tier == schema::Tier::kNotice && h.legal_basis != schema::LegalBasis::kConsent &&
      emitter != nullptr &&
      std::find(emitter->notice_without_consent.begin(), emitter->notice_without_consent.end(),
                h.referral_kind) != emitter->notice_without_consent.end();
  if (notice_allowed) return base::Ok();
  std::vector<std::string> uncovered;
  const std::vector<const ConsentState*> consents = ConsentsOf(h.case_ref);
  for (const auto& r : h.recipients) {
    const schema::Agency* agency = registry.Find(r);
    bool covered = false;
    for (const ConsentState* consent : consents) {
      if (agency != nullptr && Covers(*consent, h.case_ref, *agency, h.purpose, h.tier, now)) {
        covered = true;
        break;
      }
    }
    if (!covered) uncovered.push_back(r);
  }
  if (uncovered.empty()) return base::Ok();
  std::string why = h.legal_basis == schema::LegalBasis::kConsent
                        ? "no active consent of the person covers "
                        : std::string("the registry allows '") +
                              schema::LegalBasisName(h.legal_basis) +
                              "' only at notice tier for "
                              "the kinds it lists, and no active consent covers ";
  return base::NotAuthorised("consent_missing", why + Join(uncovered) + " for " +
                                                    schema::PurposeName(h.purpose) + " at " +
                                                    schema::TierName(h.tier) + " tier");
}

base::Status CaseEngine::CheckTransition(const schema::Header& h, const CaseState* c) const {
  if (c == nullptr) {
    return base::NotFound("unknown_case", std::string(schema::EventKindName(h.kind)) +
                                              " for a case with no referral");
  }
  const std::string& who = h.emitter;
  // After a withdrawal the case is erased and its recipients asked to purge: nothing about it may
  // be disclosed again, only the purge receipts come in.
  if (c->withdrawn && h.kind != EventKind::kPurgeReceipt) {
    return Transition("the consent of the case was withdrawn");
  }
  switch (h.kind) {
    case EventKind::kDeadlineChanged:
    case EventKind::kCancelled:
    case EventKind::kHandedOver:
      if (who != c->emitter) {
        return base::NotAuthorised("not_emitter", "only the referring agency may do this");
      }
      if (IsTerminal(c->state) || c->state == State::kUnplaced) {
        return Transition(std::string("the case is ") + HandoverStateName(c->state));
      }
      if (h.kind == EventKind::kHandedOver && c->state != State::kAccepted) {
        return Transition("handed_over needs an accepted case; it is " +
                          std::string(HandoverStateName(c->state)));
      }
      if (h.kind == EventKind::kDeadlineChanged && h.due_at <= 0) {
        return base::InvalidInput("malformed_header", "deadline_changed: dueAt must be set");
      }
      return base::Ok();
    case EventKind::kAccepted:
    case EventKind::kDeclined:
      if (!Contains(c->candidates, who)) {
        return base::NotAuthorised("not_candidate",
                                   "'" + who + "' is not a recipient of the referral");
      }
      if (c->state == State::kAccepted || c->state == State::kHandedOver ||
          c->state == State::kPickedUp) {
        return base::NotAuthorised("already_accepted", "the referral was already accepted");
      }
      if (c->state != State::kReferred) {
        return Transition(std::string("the case is ") + HandoverStateName(c->state));
      }
      if (h.kind == EventKind::kDeclined && h.decline_reason == schema::DeclineReason::kNone) {
        return base::InvalidInput("malformed_header", "declined: declineReason must be set");
      }
      return base::Ok();
    case EventKind::kPickedUp:
      if (who != c->acceptor) {
        return base::NotAuthorised("not_acceptor", "only the agency that accepted confirms pickup");
      }
      if (c->state != State::kAccepted && c->state != State::kHandedOver) {
        return Transition(std::string("the case is ") + HandoverStateName(c->state));
      }
      return base::Ok();
    case EventKind::kClosed:
      if (who != c->emitter && who != c->acceptor) {
        return base::NotAuthorised("not_emitter", "only the referring or accepting agency closes");
      }
      if (c->state == State::kClosed || c->state == State::kCancelled) {
        return Transition(std::string("the case is ") + HandoverStateName(c->state));
      }
      return base::Ok();
    case EventKind::kPurgeReceipt:
      if (!c->purge_pending.count(who)) {
        return Transition("no purge request is pending for '" + who + "'");
      }
      return base::Ok();
    default:
      return base::Ok();
  }
}

base::Result<std::vector<journal::DerivedMutation>> CaseEngine::Admit(const schema::Header& h,
                                                                      const RegistryView& registry,
                                                                      base::TimeMs now) const {
  std::vector<journal::DerivedMutation> mutations;
  const CaseState* c = Case(h.case_ref);
  switch (h.kind) {
    case EventKind::kReferral:
      if (c != nullptr) return Transition("the case already has a referral");
      if (h.due_at <= 0)
        return base::InvalidInput("malformed_header", "referral: dueAt must be set");
      RELAIS_RETURN_IF_ERROR(CheckConsent(h, registry, now));
      mutations.push_back(journal::SetCaseState{"referred", h.due_at});
      return mutations;
    case EventKind::kConsentGranted: {
      if (!h.consent || h.consent->consent_id.empty()) {
        return base::InvalidInput("malformed_header", "consent_granted: consent terms must be set");
      }
      auto existing = consents_.find(h.consent->consent_id);
      if (existing != consents_.end() && existing->second.case_ref != h.case_ref) {
        return Transition("consent id already used for another case");
      }
      mutations.push_back(journal::GrantConsent{h.consent->consent_id, base::Bytes()});
      return mutations;
    }
    case EventKind::kConsentWithdrawn: {
      auto it = consents_.find(h.consent_ref);
      if (it == consents_.end() || it->second.case_ref != h.case_ref || !it->second.active) {
        return base::NotFound("unknown_consent", "consentRef names no active consent of this case");
      }
      if (it->second.collector != h.emitter) {
        return base::NotAuthorised("not_collector",
                                   "only the agency that recorded the consent withdraws it");
      }
      mutations.push_back(journal::WithdrawConsent{h.consent_ref});
      mutations.push_back(journal::StopCaseDeliveries{"consent_withdrawn"});
      return mutations;
    }
    case EventKind::kReminder:
    case EventKind::kEscalation:
    case EventKind::kRupture:
    case EventKind::kOfferTaken:
    case EventKind::kPurgeRequest:
      return mutations;  // the broker's own; the registry check already limited who emits them
    default:
      break;
  }
  RELAIS_RETURN_IF_ERROR(CheckTransition(h, c));
  if (c != nullptr) {
    State next = c->state;
    base::TimeMs due = c->due_at;
    switch (h.kind) {
      case EventKind::kDeadlineChanged:
        due = h.due_at;
        break;
      case EventKind::kCancelled:
        next = State::kCancelled;
        break;
      case EventKind::kAccepted:
        next = State::kAccepted;
        break;
      case EventKind::kDeclined: {
        size_t declined = c->declined.size() + (c->declined.count(h.emitter) ? 0 : 1);
        if (declined >= c->candidates.size()) next = State::kUnplaced;
        break;
      }
      case EventKind::kHandedOver:
        next = State::kHandedOver;
        break;
      case EventKind::kPickedUp:
        next = State::kPickedUp;
        break;
      case EventKind::kClosed:
        next = State::kClosed;
        break;
      default:
        return mutations;
    }
    mutations.push_back(journal::SetCaseState{HandoverStateName(next), due});
  }
  return mutations;
}

Emission CaseEngine::MakeEmission(const CaseState& c, schema::EventKind kind,
                                  const std::string& stage, std::vector<std::string> recipients,
                                  const base::Bytes& in_reply_to) const {
  Emission e;
  e.header.event_id = EmissionId(c.case_ref, kind, in_reply_to, stage);
  e.header.kind = kind;
  e.header.referral_kind = schema::ReferralKind::kNone;
  e.header.case_ref = c.case_ref;
  e.header.recipients = std::move(recipients);
  e.header.tier = schema::Tier::kNotice;
  e.header.legal_basis = schema::LegalBasis::kNoticeAllowed;
  e.header.due_at = c.due_at;
  e.header.in_reply_to = in_reply_to;
  const DeadlinePolicy p = Policy(c.referral_kind);
  e.body.stage = stage;
  e.body.accept_by = c.due_at - p.accept_lead;
  e.body.pickup_by = c.due_at + p.pickup_grace;
  return e;
}

std::vector<std::string> CaseEngine::Escalees(const CaseState& c,
                                              const RegistryView& registry) const {
  std::vector<std::string> out;
  for (auto kind : {schema::AgencyKind::kSiao, schema::AgencyKind::kCoordinator}) {
    for (const schema::Agency* a : registry.OfKind(kind, c.territory)) {
      if (a->may_receive && !Contains(out, a->id)) out.push_back(a->id);
    }
  }
  if (out.empty()) {
    base::LogWarn("no_coordinator", {{"territory", c.territory}, {"case", c.case_ref}});
  }
  if (!Contains(out, c.emitter)) out.push_back(c.emitter);
  return out;
}

void CaseEngine::ApplyBrokerEvent(const schema::Header& h, CaseState& c) {
  // A broker event answers the arming event it was computed for; older ones change nothing.
  if (h.in_reply_to != c.arming_event_id) return;
  switch (h.kind) {
    case EventKind::kReminder:
      c.reminder_fired = true;
      break;
    case EventKind::kEscalation:
      c.escalation_fired = true;
      c.reminder_fired = true;  // as FireDue: no reminder after an escalation
      if (!loading_) ++counts_.escalations;
      if (c.state == State::kReferred && !c.withdrawn) escalated_open_.insert(c.case_ref);
      break;
    case EventKind::kRupture:
      c.rupture_fired = true;
      if (!loading_) ++counts_.ruptures;
      break;
    default:
      break;
  }
}

Effects CaseEngine::Apply(const schema::Header& h, uint64_t seq, const RegistryView* registry,
                          base::TimeMs now) {
  (void)now;  // part of the contract for future time-dependent effects; state uses header times
  if (store_ == nullptr) return ApplyOne(h, seq, registry);
  // Read back first if it was evicted: its entries up to applied_seq_, which precede this one.
  auto st = EnsureCase(h.case_ref);
  max_applied_ = std::max(max_applied_, seq);
  // While replaying, the recovery sets the position; the live events of pinned cases jump ahead.
  if (pinned_ == nullptr) applied_seq_ = max_applied_;
  if (!st) {
    // The case stays evicted; the next read-back includes this entry. Its effects are lost.
    base::LogError("case_read_back_failed", {{"seq", seq}, {"code", st.error().code}});
    return {};
  }
  return ApplyOne(h, seq, registry);  // EnsureCase already evicted beyond the bound
}

Effects CaseEngine::ApplyOne(const schema::Header& h, uint64_t seq, const RegistryView* registry) {
  Effects fx = ApplyEvent(h, seq, registry);
  Rearm(h.case_ref);
  if (auto it = cases_.find(h.case_ref);
      it != cases_.end() && (it->second.state != State::kReferred || it->second.withdrawn)) {
    escalated_open_.erase(h.case_ref);
  }
  return fx;
}

Effects CaseEngine::ApplyEvent(const schema::Header& h, uint64_t seq,
                               const RegistryView* registry) {
  Effects fx;
  if (h.kind == EventKind::kConsentGranted && h.consent) {
    const std::string& id = h.consent->consent_id;
    const bool fresh =
        consents_.insert_or_assign(id, ConsentState{*h.consent, h.case_ref, h.emitter, true})
            .second;
    std::vector<std::string>& ids = consents_of_case_[h.case_ref];
    if (fresh || std::find(ids.begin(), ids.end(), id) == ids.end()) ids.push_back(id);
  }
  auto it = cases_.find(h.case_ref);
  if (h.kind == EventKind::kReferral && it == cases_.end()) {
    CaseState c;
    c.case_ref = h.case_ref;
    c.emitter = h.emitter;
    if (registry != nullptr) {
      if (const schema::Agency* a = registry->Find(h.emitter)) c.territory = a->territory;
    }
    c.referral_kind = h.referral_kind;
    c.referral_event_id = h.event_id;
    c.arming_event_id = h.event_id;
    c.candidates = h.recipients;
    c.referred_at = h.emitted_at;
    c.due_at = h.due_at;
    if (auto early = early_.find(h.case_ref); early != early_.end()) {
      c.seqs = std::move(early->second.seqs);
      c.informed = std::move(early->second.informed);
      early_.erase(early);
    }
    it = cases_.emplace(h.case_ref, std::move(c)).first;
  }
  if (it == cases_.end()) {
    EarlyEntries& early = early_[h.case_ref];
    early.seqs.push_back(seq);
    for (const auto& r : h.recipients) early.informed.insert(r);
    if (h.kind == EventKind::kConsentWithdrawn) {
      // Withdrawn before any referral: stop and erase what was recorded, ask who got it to purge.
      auto consent = consents_.find(h.consent_ref);
      if (consent != consents_.end()) consent->second.active = false;
      fx.withhold = early.seqs;
      fx.erase = h.case_ref;
      std::vector<std::string> informed;
      for (const auto& a : early.informed) {
        if (a != h.emitter) informed.push_back(a);
      }
      if (registry != nullptr && !informed.empty()) {
        CaseState stub;
        stub.case_ref = h.case_ref;
        fx.emissions.push_back(
            MakeEmission(stub, EventKind::kPurgeRequest, "purge_request", informed, h.event_id));
      }
    }
    return fx;
  }
  CaseState& c = it->second;
  c.seqs.push_back(seq);
  if (!IsBrokerOnlyKind(h.kind)) {
    for (const auto& r : h.recipients) c.informed.insert(r);
  }
  switch (h.kind) {
    case EventKind::kDeadlineChanged:
      c.due_at = h.due_at;
      c.arming_event_id = h.event_id;
      c.reminder_fired = c.escalation_fired = c.rupture_fired = false;
      break;
    case EventKind::kCancelled:
      c.state = State::kCancelled;
      break;
    case EventKind::kAccepted: {
      c.state = State::kAccepted;
      c.acceptor = h.emitter;
      const DeadlinePolicy p = Policy(c.referral_kind);
      if (h.emitted_at <= c.due_at - p.accept_lead && !loading_) ++counts_.accepted_in_time;
      std::vector<std::string> others;
      for (const auto& cand : c.candidates) {
        if (cand != h.emitter && !c.declined.count(cand)) others.push_back(cand);
      }
      if (registry != nullptr && !others.empty()) {
        fx.emissions.push_back(
            MakeEmission(c, EventKind::kOfferTaken, "offer_taken", others, h.event_id));
      }
      break;
    }
    case EventKind::kDeclined:
      c.declined.insert(h.emitter);
      if (c.declined.size() >= c.candidates.size()) {
        c.state = State::kUnplaced;
        if (registry != nullptr && !c.escalation_fired) {
          c.escalation_fired = true;
          fx.emissions.push_back(MakeEmission(c, EventKind::kEscalation, "unplaced",
                                              Escalees(c, *registry), c.arming_event_id));
        }
      }
      break;
    case EventKind::kHandedOver:
      c.state = State::kHandedOver;
      break;
    case EventKind::kPickedUp:
      c.state = State::kPickedUp;
      break;
    case EventKind::kClosed:
      c.state = State::kClosed;
      break;
    case EventKind::kConsentWithdrawn: {
      auto consent = consents_.find(h.consent_ref);
      if (consent != consents_.end()) consent->second.active = false;
      c.withdrawn = true;
      fx.withhold = c.seqs;
      fx.erase = c.case_ref;
      std::vector<std::string> informed;
      for (const auto& a : c.informed) {
        if (a != h.emitter) informed.push_back(a);
      }
      if (registry != nullptr && !informed.empty()) {
        fx.emissions.push_back(
            MakeEmission(c, EventKind::kPurgeRequest, "purge_request", informed, h.event_id));
      }
      break;
    }
    case EventKind::kPurgeRequest:
      for (const auto& r : h.recipients) c.purge_pending.insert(r);
      break;
    case EventKind::kPurgeReceipt:
      c.purge_pending.erase(h.emitter);
      break;
    case EventKind::kReminder:
    case EventKind::kEscalation:
    case EventKind::kRupture:
      ApplyBrokerEvent(h, c);
      break;
    default:
      break;
  }
  return fx;
}

std::vector<Emission> CaseEngine::DueTimers(base::TimeMs now, const RegistryView& registry) {
  std::vector<Emission> out;
  if (store_ != nullptr) {
    // Bounded, so that a long outage's backlog of deadlines does not fill memory at once: the
    // rest wake on the next ticks (NextTimer).
    if (auto st = WakeDormant(now, kWakePerTick); !st) {
      base::LogError("case_read_back_failed", {{"code", st.error().code}});
    }
  }
  std::vector<std::string> due;
  for (auto it = timers_.begin(); it != timers_.end() && it->first <= now; ++it) {
    due.push_back(it->second);
  }
  for (const auto& ref : due) {
    FireDue(cases_.at(ref), now, registry, out);
    Rearm(ref);
  }
  if (store_ != nullptr) EvictBeyondBound();
  return out;
}

std::vector<Emission> CaseEngine::DueTimersOf(const std::unordered_set<std::string>& case_refs,
                                              base::TimeMs now, const RegistryView& registry) {
  std::vector<Emission> out;
  std::vector<std::string> due;
  for (const auto& ref : case_refs) {
    auto it = timer_of_.find(ref);
    if (it != timer_of_.end() && it->second <= now) due.push_back(ref);
  }
  for (const auto& ref : due) {
    FireDue(cases_.at(ref), now, registry, out);
    Rearm(ref);
  }
  return out;
}

void CaseEngine::FireDue(CaseState& c, base::TimeMs now, const RegistryView& registry,
                         std::vector<Emission>& out) {
  if (IsTerminal(c.state) || c.withdrawn) return;
  const DeadlinePolicy p = Policy(c.referral_kind);
  base::TimeMs accept_by = c.due_at - p.accept_lead;
  base::TimeMs reminder_at = accept_by - p.accept_lead / 2;
  base::TimeMs pickup_by = c.due_at + p.pickup_grace;
  if (c.state == State::kReferred) {
    if (!c.reminder_fired && now >= reminder_at && now < accept_by) {
      c.reminder_fired = true;
      std::vector<std::string> pending;
      for (const auto& cand : c.candidates) {
        if (!c.declined.count(cand)) pending.push_back(cand);
      }
      if (!pending.empty()) {
        out.push_back(
            MakeEmission(c, EventKind::kReminder, "reminder", pending, c.arming_event_id));
      }
    }
    if (!c.escalation_fired && now >= accept_by) {
      c.escalation_fired = true;
      c.reminder_fired = true;
      out.push_back(MakeEmission(c, EventKind::kEscalation, "not_accepted", Escalees(c, registry),
                                 c.arming_event_id));
    }
  }
  bool awaiting_pickup = c.state == State::kReferred || c.state == State::kAccepted ||
                         c.state == State::kHandedOver || c.state == State::kUnplaced;
  if (awaiting_pickup && !c.rupture_fired && now >= pickup_by) {
    c.rupture_fired = true;
    std::vector<std::string> to = Escalees(c, registry);
    if (!c.acceptor.empty() && !Contains(to, c.acceptor)) to.push_back(c.acceptor);
    out.push_back(MakeEmission(c, EventKind::kRupture, "rupture", to, c.arming_event_id));
  }
}

void CaseEngine::Unfire(const Emission& e) {
  if (store_ != nullptr) {
    // Evicted since it fired: read back from the journal, where the emission is not, it is armed
    // again as it should be.
    if (auto st = EnsureCase(e.header.case_ref); !st) {
      base::LogError("case_read_back_failed", {{"code", st.error().code}});
    }
  }
  auto it = cases_.find(e.header.case_ref);
  if (it == cases_.end() || e.header.in_reply_to != it->second.arming_event_id) return;
  switch (e.header.kind) {
    case EventKind::kReminder:
      it->second.reminder_fired = false;
      break;
    case EventKind::kEscalation:
      it->second.escalation_fired = false;
      break;
    case EventKind::kRupture:
      it->second.rupture_fired = false;
      break;
    default:
      break;
  }
  Rearm(e.header.case_ref);
}

base::TimeMs CaseEngine::NextTimer() const {
  base::TimeMs next =
      timers_.empty() ? std::numeric_limits<base::TimeMs>::max() : timers_.begin()->first;
  return dormant_.empty() ? next : std::min(next, dormant_.top().due());
}

// Mirrors FireDue's conditions: the earliest of the timers that can still fire.
base::TimeMs CaseEngine::NextDue(const CaseState& c) const {
  base::TimeMs next = std::numeric_limits<base::TimeMs>::max();
  if (IsTerminal(c.state) || c.withdrawn) return next;
  const DeadlinePolicy p = Policy(c.referral_kind);
  base::TimeMs accept_by = c.due_at - p.accept_lead;
  if (c.state == State::kReferred) {
    if (!c.reminder_fired && !c.escalation_fired) {
      next = std::min(next, accept_by - p.accept_lead / 2);
    }
    if (!c.escalation_fired) next = std::min(next, accept_by);
  }
  bool awaiting_pickup = c.state == State::kReferred || c.state == State::kAccepted ||
                         c.state == State::kHandedOver || c.state == State::kUnplaced;
  if (awaiting_pickup && !c.rupture_fired) next = std::min(next, c.due_at + p.pickup_grace);
  return next;
}

void CaseEngine::Rearm(const std::string& case_ref) {
  if (auto old = timer_of_.find(case_ref); old != timer_of_.end()) {
    timers_.erase({old->second, case_ref});
    timer_of_.erase(old);
  }
  auto it = cases_.find(case_ref);
  if (it == cases_.end()) return;
  base::TimeMs next = NextDue(it->second);
  if (next == std::numeric_limits<base::TimeMs>::max()) return;
  timers_.insert({next, case_ref});
  timer_of_[case_ref] = next;
}

}  // namespace relais::broker
