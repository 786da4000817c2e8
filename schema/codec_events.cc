// EventBody (schema/events.capnp): the sealed plaintext of an envelope.
#include "schema/codec.h"
#include "schema/codec_internal.h"
#include "schema/events.capnp.h"

namespace relais::schema {
namespace {

namespace w = wire;
using internal::DecodeContext;
using internal::ReadList;
using internal::ReadStruct;
using internal::ReadText;
using internal::ReadTextList;
using internal::SetText;

// The variant alternatives follow the capnp union's ordinals, so the variant index is the
// discriminant (EventBody) or the discriminant minus none (ReferralBody.details).
static_assert(static_cast<size_t>(w::EventBody::BROKER_NOTICE) + 1 ==
              std::variant_size_v<EventBody>);
static_assert(static_cast<size_t>(w::ReferralBody::Details::TREVE) + 1 ==
              std::variant_size_v<decltype(ReferralBody::details)>);

// ---- Encoding ------------------------------------------------------------------------------

void FillContact(w::Contact::Builder b, const Contact& c) {
  SetText(c.name, [&](auto v) { b.setName(v); });
  SetText(c.role, [&](auto v) { b.setRole(v); });
  SetText(c.service, [&](auto v) { b.setService(v); });
  SetText(c.phone, [&](auto v) { b.setPhone(v); });
  SetText(c.email, [&](auto v) { b.setEmail(v); });
}

void FillPerson(w::Person::Builder b, const Person& p) {
  SetText(p.family_name, [&](auto v) { b.setFamilyName(v); });
  SetText(p.given_names, [&](auto v) { b.setGivenNames(v); });
  SetText(p.used_name, [&](auto v) { b.setUsedName(v); });
  SetText(p.birth_date, [&](auto v) { b.setBirthDate(v); });
  SetText(p.sex, [&](auto v) { b.setSex(v); });
  SetText(p.ins, [&](auto v) { b.setIns(v); });
  if (!p.identifiers.empty()) {
    auto list = b.initIdentifiers(static_cast<unsigned>(p.identifiers.size()));
    for (unsigned i = 0; i < p.identifiers.size(); ++i) {
      auto ib = list[i];
      SetText(p.identifiers[i].system, [&](auto v) { ib.setSystem(v); });
      SetText(p.identifiers[i].value, [&](auto v) { ib.setValue(v); });
    }
  }
  SetText(p.phone, [&](auto v) { b.setPhone(v); });
  internal::SetTextList(p.languages, [&](unsigned n) { return b.initLanguages(n); });
}

void FillNeeds(w::Needs::Builder b, const Needs& n) {
  SetText(n.housing_situation, [&](auto v) { b.setHousingSituation(v); });
  SetText(n.housing_need, [&](auto v) { b.setHousingNeed(v); });
  SetText(n.health_continuity, [&](auto v) { b.setHealthContinuity(v); });
  b.setReducedMobility(n.reduced_mobility);
  SetText(n.mobility_notes, [&](auto v) { b.setMobilityNotes(v); });
  b.setAnimals(n.animals);
  SetText(n.animal_notes, [&](auto v) { b.setAnimalNotes(v); });
  b.setChildren(n.children);
  SetText(n.children_notes, [&](auto v) { b.setChildrenNotes(v); });
  SetText(n.income_and_rights, [&](auto v) { b.setIncomeAndRights(v); });
  b.setAddictionCare(n.addiction_care);
  b.setIdPapersMissing(n.id_papers_missing);
}

void FillDetails(w::ReferralBody::Details::Builder b, const ReferralBody& r) {
  struct Visitor {
    w::ReferralBody::Details::Builder b;
    void operator()(const std::monostate&) { b.setNone(); }
    void operator()(const HospitalDetails& d) {
      auto hb = b.initHospital();
      SetText(d.facility, [&](auto v) { hb.setFacility(v); });
      SetText(d.ward, [&](auto v) { hb.setWard(v); });
      SetText(d.visit_number, [&](auto v) { hb.setVisitNumber(v); });
    }
    void operator()(const PrisonDetails& d) {
      auto pb = b.initPrison();
      SetText(d.establishment, [&](auto v) { pb.setEstablishment(v); });
      pb.setDateFirm(d.date_firm);
    }
    void operator()(const AseDetails& d) {
      auto ab = b.initAse();
      SetText(d.contrat_jeune_majeur_end, [&](auto v) { ab.setContratJeuneMajeurEnd(v); });
      SetText(d.department, [&](auto v) { ab.setDepartment(v); });
    }
    void operator()(const TreveDetails& d) {
      auto tb = b.initTreve();
      SetText(d.procedure_stage, [&](auto v) { tb.setProcedureStage(v); });
      tb.setHouseholdAdults(d.household_adults);
      tb.setHouseholdChildren(d.household_children);
    }
  };
  std::visit(Visitor{b}, r.details);
}

void FillReferral(w::ReferralBody::Builder b, const ReferralBody& r) {
  FillPerson(b.initPerson(), r.person);
  b.setExitDate(r.exit_date);
  SetText(r.exit_place, [&](auto v) { b.setExitPlace(v); });
  SetText(r.situation, [&](auto v) { b.setSituation(v); });
  FillNeeds(b.initNeeds(), r.needs);
  FillContact(b.initReferrer(), r.referrer);
  SetText(r.consent_summary, [&](auto v) { b.setConsentSummary(v); });
  SetText(r.free_text, [&](auto v) { b.setFreeText(v); });
  FillDetails(b.initDetails(), r);
}

void FillEventBody(w::EventBody::Builder b, const EventBody& body) {
  struct Visitor {
    w::EventBody::Builder b;
    void operator()(const std::monostate&) { b.setEmpty(); }
    void operator()(const ReferralBody& r) { FillReferral(b.initReferral(), r); }
    void operator()(const NoteBody& n) {
      auto nb = b.initNote();
      SetText(n.note, [&](auto v) { nb.setNote(v); });
    }
    void operator()(const AcceptedBody& a) {
      auto ab = b.initAccepted();
      FillContact(ab.initContact(), a.contact);
      SetText(a.note, [&](auto v) { ab.setNote(v); });
    }
    void operator()(const HandedOverBody& h) {
      auto hb = b.initHandedOver();
      SetText(h.disposition, [&](auto v) { hb.setDisposition(v); });
      SetText(h.discharged_to, [&](auto v) { hb.setDischargedTo(v); });
      SetText(h.note, [&](auto v) { hb.setNote(v); });
    }
    void operator()(const PickedUpBody& p) {
      auto pb = b.initPickedUp();
      SetText(p.place_name, [&](auto v) { pb.setPlaceName(v); });
      SetText(p.note, [&](auto v) { pb.setNote(v); });
    }
    void operator()(const ConsentBody& cb) {
      auto sb = b.initConsent();
      SetText(cb.statement, [&](auto v) { sb.setStatement(v); });
    }
    void operator()(const BrokerNoticeBody& n) {
      auto nb = b.initBrokerNotice();
      SetText(n.stage, [&](auto v) { nb.setStage(v); });
      nb.setAcceptBy(n.accept_by);
      nb.setPickupBy(n.pickup_by);
      SetText(n.note, [&](auto v) { nb.setNote(v); });
    }
  };
  std::visit(Visitor{b}, body);
}

// ---- Decoding ------------------------------------------------------------------------------

base::Status ReadContact(DecodeContext& c, w::Contact::Reader r, Contact& out) {
  RELAIS_RETURN_IF_ERROR(ReadText(
      c, "name", [&] { return r.getName(); }, out.name));
  RELAIS_RETURN_IF_ERROR(ReadText(
      c, "role", [&] { return r.getRole(); }, out.role));
  RELAIS_RETURN_IF_ERROR(ReadText(
      c, "service", [&] { return r.getService(); }, out.service));
  RELAIS_RETURN_IF_ERROR(ReadText(
      c, "phone", [&] { return r.getPhone(); }, out.phone));
  return ReadText(
      c, "email", [&] { return r.getEmail(); }, out.email);
}

base::Status ReadPerson(DecodeContext& c, w::Person::Reader r, Person& out) {
  RELAIS_RETURN_IF_ERROR(ReadText(
      c, "family_name", [&] { return r.getFamilyName(); }, out.family_name));
  RELAIS_RETURN_IF_ERROR(ReadText(
      c, "given_names", [&] { return r.getGivenNames(); }, out.given_names));
  RELAIS_RETURN_IF_ERROR(ReadText(
      c, "used_name", [&] { return r.getUsedName(); }, out.used_name));
  RELAIS_RETURN_IF_ERROR(ReadText(
      c, "birth_date", [&] { return r.getBirthDate(); }, out.birth_date));
  RELAIS_RETURN_IF_ERROR(ReadText(
      c, "sex", [&] { return r.getSex(); }, out.sex));
  RELAIS_RETURN_IF_ERROR(ReadText(
      c, "ins", [&] { return r.getIns(); }, out.ins));
  out.identifiers.clear();
  RELAIS_RETURN_IF_ERROR(ReadList(
      c, "identifiers", [&] { return r.getIdentifiers(); }, c.limits().max_list_elements,
      [&](auto list, unsigned i) -> base::Status {
        w::Identifier::Reader ir = list[i];
        Identifier& id = out.identifiers.emplace_back();
        RELAIS_RETURN_IF_ERROR(ReadText(
            c, "system", [&] { return ir.getSystem(); }, id.system));
        return ReadText(
            c, "value", [&] { return ir.getValue(); }, id.value);
      }));
  RELAIS_RETURN_IF_ERROR(ReadText(
      c, "phone", [&] { return r.getPhone(); }, out.phone));
  return ReadTextList(
      c, "languages", [&] { return r.getLanguages(); }, c.limits().max_list_elements,
      out.languages);
}

base::Status ReadNeeds(DecodeContext& c, w::Needs::Reader r, Needs& out) {
  RELAIS_RETURN_IF_ERROR(ReadText(
      c, "housing_situation", [&] { return r.getHousingSituation(); }, out.housing_situation));
  RELAIS_RETURN_IF_ERROR(ReadText(
      c, "housing_need", [&] { return r.getHousingNeed(); }, out.housing_need));
  RELAIS_RETURN_IF_ERROR(ReadText(
      c, "health_continuity", [&] { return r.getHealthContinuity(); }, out.health_continuity));
  out.reduced_mobility = r.getReducedMobility();
  RELAIS_RETURN_IF_ERROR(ReadText(
      c, "mobility_notes", [&] { return r.getMobilityNotes(); }, out.mobility_notes));
  out.animals = r.getAnimals();
  RELAIS_RETURN_IF_ERROR(ReadText(
      c, "animal_notes", [&] { return r.getAnimalNotes(); }, out.animal_notes));
  out.children = r.getChildren();
  RELAIS_RETURN_IF_ERROR(ReadText(
      c, "children_notes", [&] { return r.getChildrenNotes(); }, out.children_notes));
  RELAIS_RETURN_IF_ERROR(ReadText(
      c, "income_and_rights", [&] { return r.getIncomeAndRights(); }, out.income_and_rights));
  out.addiction_care = r.getAddictionCare();
  out.id_papers_missing = r.getIdPapersMissing();
  return base::Ok();
}

base::Status ReadDetails(DecodeContext& c, w::ReferralBody::Details::Reader r, ReferralBody& out) {
  switch (r.which()) {
    case w::ReferralBody::Details::NONE:
      out.details = std::monostate{};
      return base::Ok();
    case w::ReferralBody::Details::HOSPITAL: {
      HospitalDetails& d = out.details.emplace<HospitalDetails>();
      return ReadStruct(
          c, "hospital", [&] { return r.getHospital(); },
          [&](w::HospitalDetails::Reader hr) -> base::Status {
            RELAIS_RETURN_IF_ERROR(ReadText(
                c, "facility", [&] { return hr.getFacility(); }, d.facility));
            RELAIS_RETURN_IF_ERROR(ReadText(
                c, "ward", [&] { return hr.getWard(); }, d.ward));
            return ReadText(
                c, "visit_number", [&] { return hr.getVisitNumber(); }, d.visit_number);
          });
    }
    case w::ReferralBody::Details::PRISON: {
      PrisonDetails& d = out.details.emplace<PrisonDetails>();
      return ReadStruct(
          c, "prison", [&] { return r.getPrison(); },
          [&](w::PrisonDetails::Reader pr) -> base::Status {
            d.date_firm = pr.getDateFirm();
            return ReadText(
                c, "establishment", [&] { return pr.getEstablishment(); }, d.establishment);
          });
    }
    case w::ReferralBody::Details::ASE: {
      AseDetails& d = out.details.emplace<AseDetails>();
      return ReadStruct(
          c, "ase", [&] { return r.getAse(); },
          [&](w::AseDetails::Reader ar) -> base::Status {
            RELAIS_RETURN_IF_ERROR(ReadText(
                c, "contrat_jeune_majeur_end", [&] { return ar.getContratJeuneMajeurEnd(); },
                d.contrat_jeune_majeur_end));
            return ReadText(
                c, "department", [&] { return ar.getDepartment(); }, d.department);
          });
    }
    case w::ReferralBody::Details::TREVE: {
      TreveDetails& d = out.details.emplace<TreveDetails>();
      return ReadStruct(
          c, "treve", [&] { return r.getTreve(); },
          [&](w::TreveDetails::Reader tr) -> base::Status {
            d.household_adults = tr.getHouseholdAdults();
            d.household_children = tr.getHouseholdChildren();
            return ReadText(
                c, "procedure_stage", [&] { return tr.getProcedureStage(); }, d.procedure_stage);
          });
    }
  }
  c.Enter("details");
  return c.Fail("unknown union alternative " + std::to_string(static_cast<unsigned>(r.which())) +
                " (newer schema?)");
}

base::Status ReadReferral(DecodeContext& c, w::ReferralBody::Reader r, ReferralBody& out) {
  RELAIS_RETURN_IF_ERROR(ReadStruct(
      c, "person", [&] { return r.getPerson(); },
      [&](auto pr) { return ReadPerson(c, pr, out.person); }));
  out.exit_date = r.getExitDate();
  RELAIS_RETURN_IF_ERROR(ReadText(
      c, "exit_place", [&] { return r.getExitPlace(); }, out.exit_place));
  RELAIS_RETURN_IF_ERROR(ReadText(
      c, "situation", [&] { return r.getSituation(); }, out.situation));
  RELAIS_RETURN_IF_ERROR(ReadStruct(
      c, "needs", [&] { return r.getNeeds(); },
      [&](auto nr) { return ReadNeeds(c, nr, out.needs); }));
  RELAIS_RETURN_IF_ERROR(ReadStruct(
      c, "referrer", [&] { return r.getReferrer(); },
      [&](auto cr) { return ReadContact(c, cr, out.referrer); }));
  RELAIS_RETURN_IF_ERROR(ReadText(
      c, "consent_summary", [&] { return r.getConsentSummary(); }, out.consent_summary));
  RELAIS_RETURN_IF_ERROR(ReadText(
      c, "free_text", [&] { return r.getFreeText(); }, out.free_text));
  return ReadDetails(c, r.getDetails(), out);
}

template <typename T, typename Get, typename ReadFn>
base::Status ReadAlternative(DecodeContext& c, const char* field, EventBody& out, Get&& get,
                             ReadFn&& read) {
  T& value = out.emplace<T>();
  return ReadStruct(c, field, get, [&](auto reader) { return read(reader, value); });
}

base::Status ReadEventBody(DecodeContext& c, w::EventBody::Reader r, EventBody& out) {
  switch (r.which()) {
    case w::EventBody::EMPTY:
      out = std::monostate{};
      return base::Ok();
    case w::EventBody::REFERRAL:
      return ReadAlternative<ReferralBody>(
          c, "referral", out, [&] { return r.getReferral(); },
          [&](auto rr, ReferralBody& v) { return ReadReferral(c, rr, v); });
    case w::EventBody::NOTE:
      return ReadAlternative<NoteBody>(
          c, "note", out, [&] { return r.getNote(); },
          [&](auto nr, NoteBody& v) {
            return ReadText(
                c, "note", [&] { return nr.getNote(); }, v.note);
          });
    case w::EventBody::ACCEPTED:
      return ReadAlternative<AcceptedBody>(
          c, "accepted", out, [&] { return r.getAccepted(); },
          [&](auto ar, AcceptedBody& v) -> base::Status {
            RELAIS_RETURN_IF_ERROR(ReadStruct(
                c, "contact", [&] { return ar.getContact(); },
                [&](auto cr) { return ReadContact(c, cr, v.contact); }));
            return ReadText(
                c, "note", [&] { return ar.getNote(); }, v.note);
          });
    case w::EventBody::HANDED_OVER:
      return ReadAlternative<HandedOverBody>(
          c, "handed_over", out, [&] { return r.getHandedOver(); },
          [&](auto hr, HandedOverBody& v) -> base::Status {
            RELAIS_RETURN_IF_ERROR(ReadText(
                c, "disposition", [&] { return hr.getDisposition(); }, v.disposition));
            RELAIS_RETURN_IF_ERROR(ReadText(
                c, "discharged_to", [&] { return hr.getDischargedTo(); }, v.discharged_to));
            return ReadText(
                c, "note", [&] { return hr.getNote(); }, v.note);
          });
    case w::EventBody::PICKED_UP:
      return ReadAlternative<PickedUpBody>(
          c, "picked_up", out, [&] { return r.getPickedUp(); },
          [&](auto pr, PickedUpBody& v) -> base::Status {
            RELAIS_RETURN_IF_ERROR(ReadText(
                c, "place_name", [&] { return pr.getPlaceName(); }, v.place_name));
            return ReadText(
                c, "note", [&] { return pr.getNote(); }, v.note);
          });
    case w::EventBody::CONSENT:
      return ReadAlternative<ConsentBody>(
          c, "consent", out, [&] { return r.getConsent(); },
          [&](auto sr, ConsentBody& v) {
            return ReadText(
                c, "statement", [&] { return sr.getStatement(); }, v.statement);
          });
    case w::EventBody::BROKER_NOTICE:
      return ReadAlternative<BrokerNoticeBody>(
          c, "broker_notice", out, [&] { return r.getBrokerNotice(); },
          [&](auto nr, BrokerNoticeBody& v) -> base::Status {
            v.accept_by = nr.getAcceptBy();
            v.pickup_by = nr.getPickupBy();
            RELAIS_RETURN_IF_ERROR(ReadText(
                c, "stage", [&] { return nr.getStage(); }, v.stage));
            return ReadText(
                c, "note", [&] { return nr.getNote(); }, v.note);
          });
  }
  return c.Fail("unknown union alternative " + std::to_string(static_cast<unsigned>(r.which())) +
                " (newer schema?)");
}

}  // namespace

base::Bytes EncodeEventBody(const EventBody& body) {
  return internal::EncodeMessage<w::EventBody>(
      [&](w::EventBody::Builder b) { FillEventBody(b, body); });
}

base::Result<EventBody> DecodeEventBody(base::ByteView bytes, const DecodeLimits& limits) {
  return internal::DecodeMessage<w::EventBody, EventBody>("EventBody", bytes, limits,
                                                          ReadEventBody);
}

}  // namespace relais::schema
