#include "adapters/inbox/subscriber.h"

#include "adapters/sdk/envelope_builder.h"
#include "base/log.h"
#include "crypto/random.h"

namespace relais::inbox {

namespace {

constexpr auto kHousekeepingInterval = std::chrono::seconds(10);
constexpr base::TimeMs kSoon = 48 * base::kMsPerHour;

bool Yes(const base::Result<bool>& r) { return r && *r; }

}  // namespace

base::Status Subscriber::Start() {
  RELAIS_ASSIGN_OR_RETURN(client_, agency_.Connect());
  schema::Subscribe subscribe;
  subscribe.credit = 100;
  RELAIS_RETURN_IF_ERROR(client_->Subscribe(subscribe));
  base::LogInfo("inbox_subscribed", {{"agency", agency_.id()}, {"broker", client_->endpoint()}});
  return base::Ok();
}

base::Status Subscriber::Poll(std::chrono::milliseconds timeout) {
  auto end = std::chrono::steady_clock::now() + timeout;
  while (true) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        end - std::chrono::steady_clock::now());
    auto next = client_->Next(std::max(left, std::chrono::milliseconds(0)));
    if (!next) {
      if (sdk::IsRefusal(next.error())) return next.error();
      base::LogWarn("inbox_receive", {{"code", next.error().code}});
      break;
    }
    if (!next->has_value()) break;
    if (auto st = Handle(**next); !st) {
      // A local failure (disk full, store busy): not acked, the broker redelivers it later.
      base::LogError("inbox_store_failed", {{"seq", (*next)->seq}, {"code", st.error().code}});
      (void)client_->Nack(**next, st.error().code);
      if (st.error().kind == base::ErrorKind::kFailStop) return st;
    }
    if (std::chrono::steady_clock::now() >= end) break;
  }
  auto now = std::chrono::steady_clock::now();
  if (pending_new_ > 0 || now - last_housekeeping_ >= kHousekeepingInterval) {
    last_housekeeping_ = now;
    RetryPurgeReceipts();
    NotifyDue();
  }
  return base::Ok();
}

base::Status Subscriber::Run(const std::atomic<bool>& stop) {
  while (!stop.load()) {
    RELAIS_RETURN_IF_ERROR(Poll(std::chrono::milliseconds(500)));
  }
  return base::Ok();
}

base::Status Subscriber::Handle(const sdk::Delivery& delivery) {
  auto opened = sdk::VerifyAndOpen(delivery.envelope, agency_.registry(), agency_.identity(),
                                   delivery.received_at);
  if (!opened) {
    ++stats_.rejected;
    base::LogWarn("inbox_rejected", {{"seq", delivery.seq}, {"code", opened.error().code}});
    (void)client_->Nack(delivery, opened.error().code);
    return base::Ok();
  }
  const schema::Header& h = opened->header;
  if (h.kind == schema::EventKind::kPurgeRequest) {
    RELAIS_RETURN_IF_ERROR(HandlePurge(h));
    ++stats_.purged;
    return client_->Ack(delivery);
  }
  // Nothing more is kept about a case the person asked to forget (the broker withholds it too).
  RELAIS_ASSIGN_OR_RETURN(auto purges, store_.Purges());
  for (const auto& p : purges) {
    if (p.case_ref == h.case_ref) return client_->Ack(delivery);
  }
  StoredEvent event{delivery.seq, Direction::kIn, delivery.received_at, h, opened->body};
  RELAIS_ASSIGN_OR_RETURN(bool fresh, store_.PutEvent(event));
  // Acknowledge only once the local commit is durable.
  RELAIS_RETURN_IF_ERROR(client_->Ack(delivery));
  if (fresh) {
    ++stats_.stored;
    base::LogInfo(
        "inbox_stored",
        {{"seq", delivery.seq}, {"kind", schema::EventKindName(h.kind)}, {"case", h.case_ref}});
    if (h.kind == schema::EventKind::kReferral) ++pending_new_;
  } else {
    ++stats_.duplicates;
  }
  return base::Ok();
}

base::Status Subscriber::HandlePurge(const schema::Header& header) {
  RELAIS_ASSIGN_OR_RETURN(uint64_t deleted, store_.Purge(header.case_ref, clock_.NowMs()));
  base::LogInfo("inbox_purged", {{"case", header.case_ref}, {"events_deleted", deleted}});
  auto receipt = SendPurgeReceipt(agency_, *client_, header.case_ref, clock_);
  if (!receipt) {
    // Retried by RetryPurgeReceipts; the local copy is already gone.
    base::LogWarn("purge_receipt_failed",
                  {{"case", header.case_ref}, {"code", receipt.error().code}});
    return base::Ok();
  }
  base::LogInfo("purge_receipt_sent", {{"case", header.case_ref}, {"seq", *receipt}});
  return store_.MarkPurgeReceipt(header.case_ref, *receipt);
}

void Subscriber::RetryPurgeReceipts() {
  auto purges = store_.Purges();
  if (!purges) return;
  for (const auto& p : *purges) {
    if (p.receipt_seq != 0) continue;
    auto receipt = SendPurgeReceipt(agency_, *client_, p.case_ref, clock_);
    if (receipt) {
      (void)store_.MarkPurgeReceipt(p.case_ref, *receipt);
    } else if (receipt.error().code == "invalid_transition") {
      // The broker has no pending request any more (already answered): stop retrying.
      (void)store_.MarkPurgeReceipt(p.case_ref, UINT64_MAX);
    }
  }
}

void Subscriber::NotifyDue() {
  auto events = store_.Events();
  if (!events) return;
  int fresh = 0, soon = 0, alerts = 0;
  base::TimeMs now = clock_.NowMs();
  for (const CaseView& c : BuildCases(*events)) {
    if (c.referral && Yes(store_.MarkNotified(c.case_ref, "new"))) ++fresh;
    if (c.state == CaseState::kToAnswer && c.accept_by != 0 && c.accept_by - now < kSoon &&
        Yes(store_.MarkNotified(c.case_ref, "deadline_48h"))) {
      ++soon;
    }
    if (agency_.coordinator() && (c.escalations + c.ruptures) > 0 &&
        Yes(store_.MarkNotified(c.case_ref,
                                "alert" + std::to_string(c.escalations + c.ruptures)))) {
      ++alerts;
    }
  }
  pending_new_ = 0;
  if (notifier_) (void)notifier_->Notify(NotificationText(fresh, soon, alerts));
}

}  // namespace relais::inbox
