#include "adapters/inbox/agency.h"

#include "adapters/sdk/envelope_builder.h"
#include "crypto/random.h"

namespace relais::inbox {

namespace {

using namespace std::chrono_literals;

base::Result<sdk::PublishOutcome> BuildAndPublish(const InboxAgency& agency, sdk::Client& client,
                                                  schema::Header& header,
                                                  const schema::EventBody& body,
                                                  const base::Clock& clock) {
  header.event_id = crypto::NewEventId(clock.NowMs());
  RELAIS_ASSIGN_OR_RETURN(
      schema::Envelope envelope,
      sdk::BuildEnvelope(header, body, agency.registry(), agency.identity(), clock));
  return client.Publish(envelope, sdk::DeadlineAfter(30s));
}

}  // namespace

base::Result<std::unique_ptr<InboxAgency>> InboxAgency::Load(const AgencyConfig& config,
                                                             const base::Clock& clock) {
  std::unique_ptr<InboxAgency> agency(new InboxAgency());
  agency->config_ = config;
  RELAIS_ASSIGN_OR_RETURN(agency->identity_, crypto::LoadIdentity(config.key_file));
  RELAIS_ASSIGN_OR_RETURN(
      agency->registry_,
      sdk::LoadRegistry(config.registry_file, config.authority_pub, clock.NowMs()));
  RELAIS_ASSIGN_OR_RETURN(agency->broker_key_,
                          sdk::BrokerCurveKey(agency->registry_, clock.NowMs(), config.broker_id));
  const schema::Agency* me = agency->registry_.Find(agency->id());
  if (!me) {
    return base::NotAuthorised("unknown_emitter",
                               "agency '" + agency->id() + "' is not in the registry");
  }
  agency->coordinator_ =
      me->kind == schema::AgencyKind::kSiao || me->kind == schema::AgencyKind::kCoordinator;
  return agency;
}

std::string InboxAgency::display_name() const {
  const schema::Agency* me = registry_.Find(id());
  return me && !me->display_name.empty() ? me->display_name : id();
}

base::Result<std::unique_ptr<sdk::Client>> InboxAgency::Connect() const {
  sdk::ClientOptions options;
  options.endpoints = config_.brokers;
  options.broker_curve_public = broker_key_;
  options.identity = &identity_;
  return sdk::Client::Connect(options);
}

base::Result<AnswerOutcome> SendAnswer(const InboxAgency& agency, sdk::Client& client, Store& store,
                                       const CaseView& c, const Answer& answer,
                                       const base::Clock& clock) {
  bool pickup = answer.kind == schema::EventKind::kPickedUp;
  if (pickup ? !CanPickUp(c) : !CanAnswer(c)) {
    return base::InvalidInput("not_answerable", std::string("case ") + c.case_ref + " is '" +
                                                    CaseStateName(c.state) + "': cannot send " +
                                                    schema::EventKindName(answer.kind));
  }
  if (answer.kind == schema::EventKind::kDeclined &&
      answer.reason == schema::DeclineReason::kNone) {
    return base::InvalidInput("missing_reason", "a decline needs a reason");
  }
  schema::Header h;
  h.kind = answer.kind;
  h.case_ref = c.case_ref;
  h.recipients = {c.emitter};
  h.in_reply_to = c.referral->header.event_id;
  h.decline_reason =
      answer.kind == schema::EventKind::kDeclined ? answer.reason : schema::DeclineReason::kNone;
  schema::EventBody body;
  switch (answer.kind) {
    case schema::EventKind::kAccepted:
      body = schema::AcceptedBody{agency.config().contact, answer.note};
      break;
    case schema::EventKind::kPickedUp:
      body = schema::PickedUpBody{answer.place, answer.note};
      break;
    case schema::EventKind::kDeclined:
      body = schema::NoteBody{answer.note};
      break;
    default:
      return base::InvalidInput("bad_answer", "only accepted, declined and picked_up");
  }
  h.event_id = crypto::NewEventId(clock.NowMs());
  RELAIS_ASSIGN_OR_RETURN(schema::Envelope envelope,
                          sdk::BuildEnvelope(h, body, agency.registry(), agency.identity(), clock));
  RELAIS_ASSIGN_OR_RETURN(sdk::PublishOutcome outcome,
                          client.Publish(envelope, sdk::DeadlineAfter(std::chrono::seconds(30))));
  StoredEvent stored;
  stored.seq = outcome.seq;
  stored.direction = Direction::kOut;
  stored.received_at = clock.NowMs();
  stored.header = h;
  stored.header.emitter = agency.id();
  stored.header.emitted_at = stored.received_at;
  stored.body = body;
  RELAIS_RETURN_IF_ERROR(store.PutEvent(stored));
  return AnswerOutcome{outcome.seq, outcome.duplicate, crypto::FormatUuid(h.event_id)};
}

base::Result<uint64_t> SendPurgeReceipt(const InboxAgency& agency, sdk::Client& client,
                                        const std::string& case_ref, const base::Clock& clock) {
  schema::Header h;
  h.kind = schema::EventKind::kPurgeReceipt;
  h.case_ref = case_ref;
  RELAIS_ASSIGN_OR_RETURN(sdk::PublishOutcome outcome,
                          BuildAndPublish(agency, client, h, schema::EventBody(), clock));
  return outcome.seq;
}

}  // namespace relais::inbox
