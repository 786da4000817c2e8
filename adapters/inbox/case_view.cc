#include "adapters/inbox/case_view.h"

#include <algorithm>
#include <map>
#include <variant>

namespace relais::inbox {

namespace {

using schema::EventKind;
using schema::ReferralKind;

constexpr base::TimeMs kHour = base::kMsPerHour;
constexpr base::TimeMs kDay = base::kMsPerDay;

struct Policy {
  base::TimeMs lead;
  base::TimeMs grace;
};

Policy PolicyFor(ReferralKind kind) {
  switch (kind) {
    case ReferralKind::kPrisonRelease:
      return {30 * kDay, 3 * kDay};
    case ReferralKind::kAseExit:
      return {90 * kDay, 7 * kDay};
    case ReferralKind::kTreveEnd:
      return {31 * kDay, 7 * kDay};
    default:
      return {48 * kHour, 24 * kHour};
  }
}

void Apply(CaseView& c, const StoredEvent& e) {
  const schema::Header& h = e.header;
  bool ours = e.direction == Direction::kOut;
  switch (h.kind) {
    case EventKind::kReferral:
      c.referral = e;
      c.referral_kind = h.referral_kind;
      c.emitter = h.emitter;
      c.due_at = h.due_at;
      if (c.state == CaseState::kAlertOnly) c.state = CaseState::kToAnswer;
      break;
    case EventKind::kDeadlineChanged:
      if (h.due_at != 0) c.due_at = h.due_at;
      c.accept_by = 0;  // re-armed: recompute from the new date
      c.pickup_by = 0;
      break;
    case EventKind::kAccepted:
      if (ours) c.state = CaseState::kAccepted, c.answer_seq = e.seq;
      break;
    case EventKind::kDeclined:
      if (ours) c.state = CaseState::kDeclined, c.answer_seq = e.seq;
      break;
    case EventKind::kPickedUp:
      if (ours) c.state = CaseState::kPickedUp, c.answer_seq = e.seq;
      break;
    case EventKind::kOfferTaken:
      if (c.state == CaseState::kToAnswer) c.state = CaseState::kTakenByOther;
      break;
    case EventKind::kHandedOver:
      if (c.state == CaseState::kAccepted) c.state = CaseState::kHandedOver;
      break;
    case EventKind::kCancelled:
      c.state = CaseState::kCancelled;
      break;
    case EventKind::kClosed:
      c.state = CaseState::kClosed;
      break;
    case EventKind::kEscalation:
    case EventKind::kRupture:
    case EventKind::kReminder:
      if (h.kind == EventKind::kEscalation) ++c.escalations;
      if (h.kind == EventKind::kRupture) ++c.ruptures;
      if (h.due_at != 0 && c.due_at == 0) c.due_at = h.due_at;
      if (h.referral_kind != ReferralKind::kNone && c.referral_kind == ReferralKind::kNone) {
        c.referral_kind = h.referral_kind;
      }
      if (const auto* n = std::get_if<schema::BrokerNoticeBody>(&e.body)) {
        if (n->accept_by != 0) c.accept_by = n->accept_by;
        if (n->pickup_by != 0) c.pickup_by = n->pickup_by;
        if (h.kind != EventKind::kReminder && !n->stage.empty()) c.last_stage = n->stage;
      }
      break;
    default:
      break;
  }
}

}  // namespace

base::TimeMs DefaultAcceptBy(ReferralKind kind, base::TimeMs due_at) {
  return due_at == 0 ? 0 : due_at - PolicyFor(kind).lead;
}
base::TimeMs DefaultPickupBy(ReferralKind kind, base::TimeMs due_at) {
  return due_at == 0 ? 0 : due_at + PolicyFor(kind).grace;
}

std::vector<CaseView> BuildCases(const std::vector<StoredEvent>& events) {
  std::map<std::string, CaseView> by_case;
  for (const StoredEvent& e : events) {
    auto [it, fresh] = by_case.try_emplace(e.header.case_ref);
    CaseView& c = it->second;
    if (fresh) {
      c.case_ref = e.header.case_ref;
      c.state = CaseState::kAlertOnly;
    }
    c.events.push_back(e);
  }
  std::vector<CaseView> out;
  for (auto& [ref, c] : by_case) {
    // Answers first in time order; the referral may arrive after a notice on a catch-up.
    std::stable_sort(c.events.begin(), c.events.end(), [](const auto& a, const auto& b) {
      return (a.header.kind == EventKind::kReferral) > (b.header.kind == EventKind::kReferral);
    });
    for (const StoredEvent& e : c.events) Apply(c, e);
    if (c.accept_by == 0) c.accept_by = DefaultAcceptBy(c.referral_kind, c.due_at);
    if (c.pickup_by == 0) c.pickup_by = DefaultPickupBy(c.referral_kind, c.due_at);
    out.push_back(std::move(c));
  }
  std::sort(out.begin(), out.end(), [](const CaseView& a, const CaseView& b) {
    if (a.due_at != b.due_at) return a.due_at < b.due_at;
    return a.case_ref < b.case_ref;
  });
  return out;
}

bool CanAnswer(const CaseView& c) { return c.referral && c.state == CaseState::kToAnswer; }
bool CanPickUp(const CaseView& c) {
  return c.state == CaseState::kAccepted || c.state == CaseState::kHandedOver;
}

const char* CaseStateLabel(CaseState state) {
  switch (state) {
    case CaseState::kToAnswer:
      return "À traiter";
    case CaseState::kAccepted:
      return "Acceptée";
    case CaseState::kDeclined:
      return "Refusée";
    case CaseState::kTakenByOther:
      return "Prise par une autre structure";
    case CaseState::kPickedUp:
      return "Prise en charge confirmée";
    case CaseState::kHandedOver:
      return "Sortie effectuée vers nous";
    case CaseState::kCancelled:
      return "Annulée par l'émetteur";
    case CaseState::kClosed:
      return "Clôturée";
    case CaseState::kAlertOnly:
      return "Alerte territoriale";
  }
  return "?";
}

const char* CaseStateName(CaseState state) {
  switch (state) {
    case CaseState::kToAnswer:
      return "to_answer";
    case CaseState::kAccepted:
      return "accepted";
    case CaseState::kDeclined:
      return "declined";
    case CaseState::kTakenByOther:
      return "taken_by_other";
    case CaseState::kPickedUp:
      return "picked_up";
    case CaseState::kHandedOver:
      return "handed_over";
    case CaseState::kCancelled:
      return "cancelled";
    case CaseState::kClosed:
      return "closed";
    case CaseState::kAlertOnly:
      return "alert_only";
  }
  return "invalid";
}

const char* ReferralKindLabel(ReferralKind kind) {
  switch (kind) {
    case ReferralKind::kHospitalDischarge:
      return "Sortie d'hôpital";
    case ReferralKind::kPrisonRelease:
      return "Sortie de détention";
    case ReferralKind::kAseExit:
      return "Sortie de l'ASE";
    case ReferralKind::kTreveEnd:
      return "Fin de trêve hivernale";
    case ReferralKind::kMaternityExit:
      return "Sortie de maternité";
    case ReferralKind::kOther:
      return "Autre sortie";
    case ReferralKind::kNone:
      break;
  }
  return "Non précisé";
}

const char* DeclineReasonLabel(schema::DeclineReason reason) {
  switch (reason) {
    case schema::DeclineReason::kNoCapacity:
      return "Pas de place disponible";
    case schema::DeclineReason::kNotEligible:
      return "Ne relève pas de notre accompagnement";
    case schema::DeclineReason::kPersonUnreachable:
      return "Personne injoignable";
    case schema::DeclineReason::kOther:
      return "Autre motif";
    case schema::DeclineReason::kNone:
      break;
  }
  return "Non précisé";
}

const char* EventKindLabel(EventKind kind) {
  switch (kind) {
    case EventKind::kReferral:
      return "Orientation reçue";
    case EventKind::kDeadlineChanged:
      return "Date de sortie modifiée";
    case EventKind::kCancelled:
      return "Orientation annulée";
    case EventKind::kAccepted:
      return "Acceptation envoyée";
    case EventKind::kDeclined:
      return "Refus envoyé";
    case EventKind::kHandedOver:
      return "Sortie effectuée";
    case EventKind::kPickedUp:
      return "Prise en charge confirmée";
    case EventKind::kClosed:
      return "Dossier clôturé";
    case EventKind::kReminder:
      return "Rappel du relais";
    case EventKind::kEscalation:
      return "Alerte : pas de solution à l'échéance";
    case EventKind::kRupture:
      return "Rupture : personne non prise en charge";
    case EventKind::kOfferTaken:
      return "Prise par une autre structure";
    default:
      return schema::EventKindName(kind);
  }
}

std::string CountdownText(base::TimeMs deadline, base::TimeMs now) {
  if (deadline == 0) return "—";
  base::TimeMs d = deadline - now;
  bool past = d < 0;
  if (past) d = -d;
  int64_t days = d / kDay, hours = (d % kDay) / kHour, minutes = (d % kHour) / 60000;
  std::string text;
  if (days > 0) {
    text = std::to_string(days) + " j " + std::to_string(hours) + " h";
  } else if (hours > 0) {
    text = std::to_string(hours) + " h " + std::to_string(minutes) + " min";
  } else {
    text = std::to_string(minutes) + " min";
  }
  return past ? "dépassée de " + text : text;
}

}  // namespace relais::inbox
