#include "schema/sample_messages.h"

#include "schema/codec.h"

namespace relais::schema::samples {
namespace {

Bytes Pattern(size_t size, uint8_t seed) {
  Bytes out(size);
  for (size_t i = 0; i < size; ++i) out[i] = static_cast<uint8_t>(seed + 31 * i);
  return out;
}

Contact SampleContact() {
  return Contact{"Camille Durand", "assistante sociale", "Service social, Hôpital Nord",
                 "+33 1 00 00 00 00", "service.social@hopital-nord.example"};
}

ReferralBody SampleReferral() {
  ReferralBody r;
  r.person.family_name = "Martin";
  r.person.given_names = "Zoé Anne";
  r.person.used_name = "Lefèvre";
  r.person.birth_date = "1984-02-29";
  r.person.sex = "F";
  r.person.ins = "284029912345678";
  r.person.identifiers = {{"IPP", "000123456"}, {"INS-NIR", "284029912345678"}};
  r.person.phone = "+33 6 00 00 00 00";
  r.person.languages = {"fr", "ar"};
  r.exit_date = 1775001600000;
  r.exit_place = "Hôpital Nord, bâtiment C";
  r.situation = "Hébergée chez un tiers avant l'hospitalisation; plus de solution.";
  r.needs.housing_situation = "hébergée chez un tiers";
  r.needs.housing_need = "LHSS";
  r.needs.health_continuity = "pansements quotidiens pendant 3 semaines";
  r.needs.reduced_mobility = true;
  r.needs.mobility_notes = "fauteuil roulant";
  r.needs.animals = 1;
  r.needs.animal_notes = "un chien";
  r.needs.children = 2;
  r.needs.children_notes = "scolarisés à Paris 18e";
  r.needs.income_and_rights = "RSA, CSS";
  r.needs.addiction_care = true;
  r.needs.id_papers_missing = true;
  r.referrer = SampleContact();
  r.consent_summary = "accepte le partage avec le SIAO 75 et Association Relais jusqu'au 1er mai";
  r.free_text = "Préfère être contactée le matin.";
  r.details = HospitalDetails{"Hôpital Nord", "Médecine interne", "V2026-000042"};
  return r;
}

}  // namespace

Header ReferralHeader() {
  Header h;
  h.version = kHeaderVersion;
  h.event_id = Pattern(kEventIdSize, 0x01);
  h.kind = EventKind::kReferral;
  h.referral_kind = ReferralKind::kHospitalDischarge;
  h.case_ref = "c-7f3a9e21b04d";
  h.emitter = "aphp-hopital-nord";
  h.emitter_key_id = "0a1b2c3d4e5f6071";
  h.actor = "pro-4821";
  h.recipients = {"siao-75", "association-relais"};
  h.consent_ref = "consent-2026-0042";
  h.legal_basis = LegalBasis::kConsent;
  h.tier = Tier::kReferral;
  h.purpose = Purpose::kHousing;
  h.emitted_at = 1774396800000;
  h.due_at = 1775001600000;
  return h;
}

Header ConsentHeader() {
  Header h = ReferralHeader();
  h.event_id = Pattern(kEventIdSize, 0x02);
  h.kind = EventKind::kConsentGranted;
  h.referral_kind = ReferralKind::kNone;
  h.recipients.clear();
  h.due_at = 0;
  h.consent = ConsentTerms{
      .consent_id = "consent-2026-0042",
      .method = ConsentMethod::kAssisted,
      .purposes = {Purpose::kHousing, Purpose::kHealthContinuity},
      .recipient_agencies = {"siao-75", "association-relais"},
      .recipient_kinds = {"shelter", "association"},
      .tier = Tier::kReferral,
      .valid_from = 1774396800000,
      .valid_until = 1777593600000,
      .collected_at = 1774393200000,
      .legal_basis = LegalBasis::kConsent,
  };
  return h;
}

Header FullHeader() {
  Header h = ConsentHeader();
  h.event_id = Pattern(kEventIdSize, 0x03);
  h.kind = EventKind::kDeclined;
  h.referral_kind = ReferralKind::kTreveEnd;
  h.recipients = {"siao-75", "association-relais", "chrs-les-tilleuls"};
  h.legal_basis = LegalBasis::kVitalInterest;
  h.tier = Tier::kNotice;
  h.purpose = Purpose::kSocialSupport;
  h.due_at = 1775001600000;
  h.in_reply_to = Pattern(kEventIdSize, 0x04);
  h.decline_reason = DeclineReason::kPersonUnreachable;
  return h;
}

Envelope FullEnvelope() {
  Envelope e;
  e.header = EncodeHeader(ReferralHeader());
  e.body = Pattern(24 + 16 + 300, 0x10);
  e.wraps = {Wrap{"siao-75", "1111222233334444", Pattern(80, 0x20)},
             Wrap{"association-relais", "5555666677778888", Pattern(80, 0x30)}};
  e.body_digest = Pattern(32, 0x40);
  e.wraps_digest = Pattern(32, 0x50);
  e.signature = Pattern(64, 0x60);
  return e;
}

std::vector<std::pair<std::string, EventBody>> EventBodies() {
  std::vector<std::pair<std::string, EventBody>> out;
  out.emplace_back("empty", std::monostate{});
  out.emplace_back("referral_hospital", SampleReferral());
  ReferralBody none = SampleReferral();
  none.details = std::monostate{};
  out.emplace_back("referral_no_details", none);
  ReferralBody prison = SampleReferral();
  prison.details = PrisonDetails{"Centre pénitentiaire de Fresnes", true};
  out.emplace_back("referral_prison", prison);
  ReferralBody ase = SampleReferral();
  ase.details = AseDetails{"2026-09-30", "93"};
  out.emplace_back("referral_ase", ase);
  ReferralBody treve = SampleReferral();
  treve.details = TreveDetails{"concours de la force publique accordé", 2, 3};
  out.emplace_back("referral_treve", treve);
  out.emplace_back("note", NoteBody{"Date de sortie avancée au 28 mars."});
  out.emplace_back("accepted", AcceptedBody{SampleContact(), "Place en LHSS réservée."});
  out.emplace_back("handed_over", HandedOverBody{"01", "LHSS Les Lilas", "Sortie à 10h."});
  out.emplace_back("picked_up", PickedUpBody{"LHSS Les Lilas", "Arrivée à 11h."});
  out.emplace_back("consent", ConsentBody{"J'accepte que mes informations soient partagées."});
  out.emplace_back("broker_notice", BrokerNoticeBody{"escalation", 1774828800000, 1775088000000,
                                                     "Aucune "
                                                     "acceptation."});
  return out;
}

Registry FullRegistry() {
  Registry r;
  r.version = 1;
  r.serial = 42;
  r.issued_at = 1774396800000;
  r.expires_at = 1777075200000;
  r.authority_key_id = "9f8e7d6c5b4a3921";
  Agency hospital;
  hospital.id = "aphp-hopital-nord";
  hospital.display_name = "AP-HP Hôpital Nord — service social";
  hospital.kind = AgencyKind::kHospital;
  hospital.territory = "75";
  hospital.keys = {AgencyKey{"0a1b2c3d4e5f6071", Pattern(32, 1), Pattern(32, 2), Pattern(32, 3),
                             1767225600000, 1798761600000},
                   AgencyKey{"1a1b2c3d4e5f6071", Pattern(32, 4), Pattern(32, 5), Pattern(32, 6),
                             1774396800000, 0}};
  hospital.may_emit = {EventKind::kReferral, EventKind::kDeadlineChanged, EventKind::kCancelled,
                       EventKind::kHandedOver, EventKind::kConsentGranted};
  hospital.may_receive = true;
  hospital.notice_without_consent = {ReferralKind::kHospitalDischarge,
                                     ReferralKind::kMaternityExit};
  Agency association;
  association.id = "association-relais";
  association.display_name = "Association Relais";
  association.kind = AgencyKind::kAssociation;
  association.territory = "93";
  association.keys = {AgencyKey{"2a1b2c3d4e5f6071", Pattern(32, 7), Pattern(32, 8), Pattern(32, 9),
                                1767225600000, 1798761600000}};
  association.may_emit = {EventKind::kAccepted, EventKind::kDeclined, EventKind::kPickedUp};
  association.may_receive = true;
  association.revoked = true;
  association.revoked_at = 1774483200000;
  r.agencies = {hospital, association};
  return r;
}

SignedRegistry FullSignedRegistry() {
  return SignedRegistry{EncodeRegistry(FullRegistry()), Pattern(64, 0x70), "9f8e7d6c5b4a3921"};
}

std::vector<std::pair<std::string, Frame>> Frames() {
  std::vector<std::pair<std::string, Frame>> out;
  out.emplace_back("publish", Publish{FullEnvelope()});
  out.emplace_back("publish_ack",
                   PublishAck{Pattern(kEventIdSize, 0x01), 1234, AckStatus::kFatal,
                              "consent_missing", "recipient siao-75 is not covered", true});
  out.emplace_back("subscribe_stored_cursor", Subscribe{Subscribe::Resume::kStoredCursor, 0, 64});
  out.emplace_back("subscribe_from_seq", Subscribe{Subscribe::Resume::kFromSeq, 1001, 32});
  out.emplace_back("subscribe_from_now", Subscribe{Subscribe::Resume::kFromNow, 0, 16});
  out.emplace_back("deliver", Deliver{1234, 1774396800123, 3, FullEnvelope()});
  out.emplace_back("ack", Ack{1234, {}});
  out.emplace_back("ack_batch", Ack{1234, {1236, 1237, 1240}});
  out.emplace_back("nack", Nack{1235, "cannot_open"});
  out.emplace_back("heartbeat", Heartbeat{1774396800999});
  out.emplace_back("error", ErrorFrame{"not_authorised", "agency is revoked"});
  out.emplace_back("admin_reload_registry",
                   AdminRequest{7, AdminRequest::Op::kReloadRegistry, 0, ""});
  out.emplace_back("admin_list_dead_letters",
                   AdminRequest{8, AdminRequest::Op::kListDeadLetters, 0, ""});
  out.emplace_back("admin_requeue_dead_letter",
                   AdminRequest{9, AdminRequest::Op::kRequeueDeadLetter, 4321, ""});
  out.emplace_back("admin_case_receipt",
                   AdminRequest{10, AdminRequest::Op::kCaseReceipt, 0, "c-7f3a9e21b04d"});
  out.emplace_back(
      "admin_reply",
      AdminReply{9, true, "ok", "requeued", {"seq 4321 requeued", "1 dead letter left"}});
  return out;
}

}  // namespace relais::schema::samples
