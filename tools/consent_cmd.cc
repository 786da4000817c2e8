// relais consent: the collecting professional records or withdraws a person's consent.
#include <iostream>

#include "adapters/sdk/envelope_builder.h"
#include "adapters/sdk/receipt.h"
#include "base/clock.h"
#include "crypto/random.h"
#include "schema/events.h"
#include "tools/agency_session.h"
#include "tools/cli.h"
#include "tools/commands.h"

namespace relais::tools {

namespace {

constexpr int kExitRefused = 3;

base::Result<std::vector<schema::Purpose>> ParsePurposes(const std::string& text) {
  std::vector<schema::Purpose> out;
  for (const auto& name : SplitCommaList(text)) {
    auto p = schema::ParsePurpose(name);
    if (!p) {
      return base::InvalidInput("bad_purpose", "--purposes: unknown purpose '" + name +
                                                   "' (housing, health_continuity, "
                                                   "social_support, employment, other)");
    }
    out.push_back(*p);
  }
  return out;
}

int Publish(const std::string& name, AgencySession& session, const schema::Header& header,
            const schema::EventBody& body) {
  base::SystemClock clock;
  auto envelope = sdk::BuildEnvelope(header, body, session.registry, session.identity, clock);
  if (!envelope) return Fail(name, envelope.error());
  auto outcome = session.client->Publish(*envelope, sdk::DeadlineAfter(std::chrono::seconds(30)));
  if (!outcome) {
    Fail(name, outcome.error());
    return sdk::IsRefusal(outcome.error()) ? kExitRefused : kExitUsage;
  }
  std::cout << "ok seq=" << outcome->seq << " case=" << header.case_ref
            << " consent=" << header.consent_ref << (outcome->duplicate ? " (duplicate)" : "")
            << "\n";
  return kExitOk;
}

// The person's receipt: asks the broker, as the agency that referred the case or recorded its
// consent, who was sent what and when, and which purges are unconfirmed.
int ShowReceipt(const std::string& name, AgencySession& session, const std::string& case_ref,
                bool json) {
  schema::AdminRequest request;
  request.op = schema::AdminRequest::Op::kCaseReceipt;
  request.case_ref = case_ref;
  auto reply = session.client->Admin(request, sdk::DeadlineAfter(std::chrono::seconds(30)));
  if (!reply) return Fail(name, reply.error());
  if (!reply->ok) {
    Fail(name, base::NotAuthorised(reply->code, reply->message));
    return kExitRefused;
  }
  auto receipt = sdk::ParseReceipt(case_ref, *reply);
  if (!receipt) return Fail(name, receipt.error());
  std::cout << (json ? sdk::ReceiptToJson(*receipt) + "\n" : sdk::FormatReceipt(*receipt));
  return kExitOk;
}

}  // namespace

int RunConsent(int argc, char** argv) {
  CommandSpec spec;
  spec.name = "consent";
  spec.usage =
      "relais consent grant --case REF [--consent-id ID] --recipients a,b | --recipient-kinds K\n"
      "                     [--purposes housing,...] [--tier referral|notice] [--valid-days N]\n"
      "                     [--method written|oral|assisted] [--statement TEXT] [--actor ID]\n"
      "                     --key KEY --registry REG --authority-pub PUB --broker tcp://...\n"
      "       relais consent withdraw --case REF --consent-id ID [--statement TEXT] ...\n"
      "       relais consent show --case REF [--json] ...";
  spec.description =
      "Records (grant) or withdraws (withdraw) the consent a person gave to share their "
      "situation,\n"
      "as the agency that collected it. The terms (purposes, recipients, tier, validity) travel "
      "in\n"
      "clear so the broker can enforce them; the person's own words (--statement) are sealed and\n"
      "readable only by the recipients of the consent event. A referral-tier referral is accepted\n"
      "by the broker only for recipients an active consent covers.\n\n"
      "Withdrawal takes effect at once: the broker stops every delivery of the case, asks every\n"
      "agency that received something about it to purge it, and erases the sealed contents from\n"
      "its journal (docs/lifecycle.md). Prints `ok seq=N case=REF consent=ID`.\n\n"
      "show prints the person's receipt: every event of the case sent to an agency, when, and\n"
      "when that agency's system acknowledged it; after a withdrawal, which agencies confirmed\n"
      "the purge and which have not yet. Only the agency that referred the case or recorded\n"
      "its consent may read it.\n\n"
      "Exit code 3 (in addition to those below): the broker refused the event.";
  AgencySessionFlags flags;
  std::string op, case_ref, consent_id, recipients, kinds, purposes = "housing", tier = "referral",
                                                           method = "written", statement, actor;
  int valid_days = 365;
  bool json = false;
  spec.options.add_options()("op", po::value(&op)->required(), "grant, withdraw or show")(
      "case", po::value(&case_ref)->required(), "the case reference (c-...)")(
      "consent-id", po::value(&consent_id), "the consent's id (grant: a new one if absent)")(
      "recipients", po::value(&recipients), "agency ids the person agreed to, comma-separated")(
      "recipient-kinds", po::value(&kinds),
      "or agency kinds, comma-separated (association, shelter, siao, ...)")(
      "purposes", po::value(&purposes)->default_value("housing"),
      "housing, health_continuity, social_support, employment, other")(
      "tier", po::value(&tier)->default_value("referral"),
      "referral (situation and needs) or notice (exit date and contact only)")(
      "valid-days", po::value(&valid_days)->default_value(365), "validity from now, in days")(
      "method", po::value(&method)->default_value("written"), "written, oral or assisted")(
      "statement", po::value(&statement), "the person's own words, sealed")(
      "actor", po::value(&actor), "the collecting professional's pseudonymous id")(
      "json", po::bool_switch(&json), "show: one JSON object instead of a table");
  AddAgencySessionOptions(spec.options, flags);
  spec.positionals = {"op"};
  int exit_code = kExitOk;
  auto vm = ParseArgs(spec, argc, argv, exit_code);
  if (!vm) return exit_code;
  if (op != "grant" && op != "withdraw" && op != "show") {
    return UsageError(spec.name, "the operation is grant, withdraw or show, not '" + op + "'");
  }
  if (op == "show") {
    auto session = OpenAgencySession(flags);
    if (!session) return Fail(spec.name, session.error());
    return ShowReceipt(spec.name, **session, case_ref, json);
  }
  base::SystemClock clock;
  schema::Header h;
  h.case_ref = case_ref;
  h.actor = actor;
  h.tier = schema::Tier::kNotice;
  h.legal_basis = schema::LegalBasis::kConsent;
  if (op == "grant") {
    schema::ConsentTerms terms;
    terms.consent_id =
        consent_id.empty() ? "consent-" + crypto::FormatUuid(crypto::RandomBytes(16)) : consent_id;
    terms.recipient_agencies = SplitCommaList(recipients);
    terms.recipient_kinds = SplitCommaList(kinds);
    if (terms.recipient_agencies.empty() && terms.recipient_kinds.empty()) {
      return UsageError(spec.name, "grant needs --recipients or --recipient-kinds");
    }
    auto parsed = ParsePurposes(purposes);
    if (!parsed) return Fail(spec.name, parsed.error());
    terms.purposes = *parsed;
    auto t = schema::ParseTier(tier);
    auto m = schema::ParseConsentMethod(method);
    if (!t) return UsageError(spec.name, "--tier is referral or notice");
    if (!m) return UsageError(spec.name, "--method is written, oral or assisted");
    if (valid_days <= 0) return UsageError(spec.name, "--valid-days must be above 0");
    terms.tier = *t;
    terms.method = *m;
    terms.collected_at = clock.NowMs();
    terms.valid_from = terms.collected_at;
    terms.valid_until = terms.collected_at + valid_days * base::kMsPerDay;
    h.kind = schema::EventKind::kConsentGranted;
    h.consent_ref = terms.consent_id;
    h.consent = terms;
  } else {
    if (consent_id.empty()) return UsageError(spec.name, "withdraw needs --consent-id");
    h.kind = schema::EventKind::kConsentWithdrawn;
    h.consent_ref = consent_id;
  }
  auto session = OpenAgencySession(flags);
  if (!session) return Fail(spec.name, session.error());
  schema::EventBody body = schema::ConsentBody{statement};
  return Publish(spec.name, **session, h, body);
}

}  // namespace relais::tools
