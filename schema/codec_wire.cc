// Frame (schema/wire.capnp): one ZeroMQ message between a client and relaisd.
#include "schema/codec.h"
#include "schema/codec_internal.h"
#include "schema/wire.capnp.h"

namespace relais::schema {
namespace {

namespace w = wire;
using internal::DecodeContext;
using internal::ReadStruct;
using internal::ReadText;
using internal::SetText;

static_assert(static_cast<int>(AckStatus::kOk) == static_cast<int>(w::AckStatus::OK));
static_assert(static_cast<int>(AckStatus::kTransient) == static_cast<int>(w::AckStatus::TRANSIENT));
static_assert(static_cast<int>(AckStatus::kFatal) == static_cast<int>(w::AckStatus::FATAL));
static_assert(static_cast<int>(w::AckStatus::FATAL) + 1 == kAckStatusCount);
// The Frame variant's alternatives follow the capnp union's ordinals.
static_assert(static_cast<size_t>(w::Frame::ADMIN_REPLY) + 1 == std::variant_size_v<Frame>);
static_assert(static_cast<int>(Subscribe::Resume::kStoredCursor) ==
              static_cast<int>(w::Subscribe::Resume::STORED_CURSOR));
static_assert(static_cast<int>(Subscribe::Resume::kFromSeq) ==
              static_cast<int>(w::Subscribe::Resume::FROM_SEQ));
static_assert(static_cast<int>(Subscribe::Resume::kFromNow) ==
              static_cast<int>(w::Subscribe::Resume::FROM_NOW));
// AdminRequest's union starts after requestId @0, so Op k is discriminant k.
static_assert(static_cast<int>(AdminRequest::Op::kReloadRegistry) ==
              static_cast<int>(w::AdminRequest::RELOAD_REGISTRY));
static_assert(static_cast<int>(AdminRequest::Op::kListDeadLetters) ==
              static_cast<int>(w::AdminRequest::LIST_DEAD_LETTERS));
static_assert(static_cast<int>(AdminRequest::Op::kRequeueDeadLetter) ==
              static_cast<int>(w::AdminRequest::REQUEUE_DEAD_LETTER));
static_assert(static_cast<int>(AdminRequest::Op::kCaseReceipt) ==
              static_cast<int>(w::AdminRequest::CASE_RECEIPT));

// ---- Encoding ------------------------------------------------------------------------------

struct FrameFiller {
  w::Frame::Builder b;

  void operator()(const Publish& p) {
    internal::FillEnvelope(b.initPublish().initEnvelope(), p.envelope);
  }
  void operator()(const PublishAck& a) {
    auto ab = b.initPublishAck();
    internal::SetData(a.event_id, [&](auto v) { ab.setEventId(v); });
    ab.setSeq(a.seq);
    ab.setStatus(static_cast<w::AckStatus>(a.status));
    SetText(a.code, [&](auto v) { ab.setCode(v); });
    SetText(a.message, [&](auto v) { ab.setMessage(v); });
    ab.setDuplicate(a.duplicate);
  }
  void operator()(const Subscribe& s) {
    auto sb = b.initSubscribe();
    auto resume = sb.initResume();
    switch (s.resume) {
      case Subscribe::Resume::kStoredCursor:
        resume.setStoredCursor();
        break;
      case Subscribe::Resume::kFromSeq:
        resume.setFromSeq(s.from_seq);
        break;
      case Subscribe::Resume::kFromNow:
        resume.setFromNow();
        break;
    }
    sb.setCredit(s.credit);
  }
  void operator()(const Deliver& d) {
    auto db = b.initDeliver();
    db.setSeq(d.seq);
    db.setReceivedAt(d.received_at);
    db.setAttempt(d.attempt);
    internal::FillEnvelope(db.initEnvelope(), d.envelope);
  }
  void operator()(const Ack& a) {
    auto ab = b.initAck();
    ab.setSeq(a.seq);
    if (a.more.empty()) return;
    auto more = ab.initMore(static_cast<unsigned>(a.more.size()));
    for (unsigned i = 0; i < more.size(); ++i) more.set(i, a.more[i]);
  }
  void operator()(const Nack& n) {
    auto nb = b.initNack();
    nb.setSeq(n.seq);
    SetText(n.reason, [&](auto v) { nb.setReason(v); });
  }
  void operator()(const Heartbeat& h) { b.initHeartbeat().setSentAt(h.sent_at); }
  void operator()(const ErrorFrame& e) {
    auto eb = b.initError();
    SetText(e.code, [&](auto v) { eb.setCode(v); });
    SetText(e.message, [&](auto v) { eb.setMessage(v); });
  }
  void operator()(const AdminRequest& r) {
    auto rb = b.initAdminRequest();
    rb.setRequestId(r.request_id);
    switch (r.op) {
      case AdminRequest::Op::kReloadRegistry:
        rb.setReloadRegistry();
        break;
      case AdminRequest::Op::kListDeadLetters:
        rb.setListDeadLetters();
        break;
      case AdminRequest::Op::kRequeueDeadLetter:
        rb.setRequeueDeadLetter(r.seq);
        break;
      case AdminRequest::Op::kCaseReceipt:
        // Always set, even empty: the setter also selects the union alternative (an empty ref
        // left null would encode as reloadRegistry; found by fuzz_frame).
        rb.setCaseReceipt(internal::AsText(r.case_ref));
        break;
    }
  }
  void operator()(const AdminReply& r) {
    auto rb = b.initAdminReply();
    rb.setRequestId(r.request_id);
    rb.setOk(r.ok);
    SetText(r.code, [&](auto v) { rb.setCode(v); });
    SetText(r.message, [&](auto v) { rb.setMessage(v); });
    internal::SetTextList(r.lines, [&](unsigned n) { return rb.initLines(n); });
  }
};

// ---- Decoding ------------------------------------------------------------------------------

base::Status UnknownAlternative(DecodeContext& c, unsigned which) {
  return c.Fail("unknown union alternative " + std::to_string(which) + " (newer schema?)");
}

base::Status ReadPublishAck(DecodeContext& c, w::PublishAck::Reader r, PublishAck& out) {
  RELAIS_RETURN_IF_ERROR(internal::ReadData(
      c, "event_id", [&] { return r.getEventId(); }, out.event_id,
      internal::SizeRule::kEmptyOrExact, kEventIdSize));
  out.seq = r.getSeq();
  RELAIS_RETURN_IF_ERROR(
      internal::ReadEnum(c, "status", r.getStatus(), kAckStatusCount, out.status));
  RELAIS_RETURN_IF_ERROR(ReadText(
      c, "code", [&] { return r.getCode(); }, out.code));
  RELAIS_RETURN_IF_ERROR(ReadText(
      c, "message", [&] { return r.getMessage(); }, out.message));
  out.duplicate = r.getDuplicate();
  return base::Ok();
}

base::Status ReadSubscribe(DecodeContext& c, w::Subscribe::Reader r, Subscribe& out) {
  auto resume = r.getResume();
  out.from_seq = 0;
  switch (resume.which()) {
    case w::Subscribe::Resume::STORED_CURSOR:
      out.resume = Subscribe::Resume::kStoredCursor;
      break;
    case w::Subscribe::Resume::FROM_SEQ:
      out.resume = Subscribe::Resume::kFromSeq;
      out.from_seq = resume.getFromSeq();
      break;
    case w::Subscribe::Resume::FROM_NOW:
      out.resume = Subscribe::Resume::kFromNow;
      break;
    default:
      c.Enter("resume");
      return UnknownAlternative(c, static_cast<unsigned>(resume.which()));
  }
  out.credit = r.getCredit();
  return base::Ok();
}

base::Status ReadAdminRequest(DecodeContext& c, w::AdminRequest::Reader r, AdminRequest& out) {
  out.request_id = r.getRequestId();
  out.seq = 0;
  switch (r.which()) {
    case w::AdminRequest::RELOAD_REGISTRY:
      out.op = AdminRequest::Op::kReloadRegistry;
      return base::Ok();
    case w::AdminRequest::LIST_DEAD_LETTERS:
      out.op = AdminRequest::Op::kListDeadLetters;
      return base::Ok();
    case w::AdminRequest::REQUEUE_DEAD_LETTER:
      out.op = AdminRequest::Op::kRequeueDeadLetter;
      out.seq = r.getRequeueDeadLetter();
      return base::Ok();
    case w::AdminRequest::CASE_RECEIPT:
      out.op = AdminRequest::Op::kCaseReceipt;
      return ReadText(
          c, "case_receipt", [&] { return r.getCaseReceipt(); }, out.case_ref);
  }
  c.Enter("op");
  return UnknownAlternative(c, static_cast<unsigned>(r.which()));
}

base::Status ReadAdminReply(DecodeContext& c, w::AdminReply::Reader r, AdminReply& out) {
  out.request_id = r.getRequestId();
  out.ok = r.getOk();
  RELAIS_RETURN_IF_ERROR(ReadText(
      c, "code", [&] { return r.getCode(); }, out.code));
  RELAIS_RETURN_IF_ERROR(ReadText(
      c, "message", [&] { return r.getMessage(); }, out.message));
  return internal::ReadTextList(
      c, "lines", [&] { return r.getLines(); }, c.limits().max_list_elements, out.lines);
}

// Emplaces alternative T in `out` and reads the struct behind `get` into it.
template <typename T, typename Get, typename ReadFn>
base::Status ReadAlternative(DecodeContext& c, const char* field, Frame& out, Get&& get,
                             ReadFn&& read) {
  T& value = out.emplace<T>();
  return ReadStruct(c, field, get, [&](auto reader) { return read(c, reader, value); });
}

base::Status ReadEnvelopeOf(DecodeContext& c, auto reader, Envelope& out) {
  return ReadStruct(
      c, "envelope", [&] { return reader.getEnvelope(); },
      [&](w::Envelope::Reader er) { return internal::ReadEnvelope(c, er, out); });
}

base::Status ReadFrame(DecodeContext& c, w::Frame::Reader r, Frame& out) {
  switch (r.which()) {
    case w::Frame::PUBLISH:
      return ReadAlternative<Publish>(
          c, "publish", out, [&] { return r.getPublish(); },
          [](DecodeContext& c, auto pr, Publish& v) { return ReadEnvelopeOf(c, pr, v.envelope); });
    case w::Frame::PUBLISH_ACK:
      return ReadAlternative<PublishAck>(
          c, "publish_ack", out, [&] { return r.getPublishAck(); }, ReadPublishAck);
    case w::Frame::SUBSCRIBE:
      return ReadAlternative<Subscribe>(
          c, "subscribe", out, [&] { return r.getSubscribe(); }, ReadSubscribe);
    case w::Frame::DELIVER:
      return ReadAlternative<Deliver>(
          c, "deliver", out, [&] { return r.getDeliver(); },
          [](DecodeContext& c, auto dr, Deliver& v) {
            v.seq = dr.getSeq();
            v.received_at = dr.getReceivedAt();
            v.attempt = dr.getAttempt();
            return ReadEnvelopeOf(c, dr, v.envelope);
          });
    case w::Frame::ACK:
      return ReadAlternative<Ack>(
          c, "ack", out, [&] { return r.getAck(); },
          [](DecodeContext& c, auto ar, Ack& v) {
            v.seq = ar.getSeq();
            return internal::ReadList(
                c, "more", [&] { return ar.getMore(); }, c.limits().max_list_elements,
                [&](auto list, unsigned i) {
                  v.more.push_back(list[i]);
                  return base::Ok();
                });
          });
    case w::Frame::NACK:
      return ReadAlternative<Nack>(
          c, "nack", out, [&] { return r.getNack(); },
          [](DecodeContext& c, auto nr, Nack& v) {
            v.seq = nr.getSeq();
            return ReadText(
                c, "reason", [&] { return nr.getReason(); }, v.reason);
          });
    case w::Frame::HEARTBEAT:
      return ReadAlternative<Heartbeat>(
          c, "heartbeat", out, [&] { return r.getHeartbeat(); },
          [](DecodeContext&, auto hr, Heartbeat& v) {
            v.sent_at = hr.getSentAt();
            return base::Ok();
          });
    case w::Frame::ERROR:
      return ReadAlternative<ErrorFrame>(
          c, "error", out, [&] { return r.getError(); },
          [](DecodeContext& c, auto er, ErrorFrame& v) -> base::Status {
            RELAIS_RETURN_IF_ERROR(ReadText(
                c, "code", [&] { return er.getCode(); }, v.code));
            return ReadText(
                c, "message", [&] { return er.getMessage(); }, v.message);
          });
    case w::Frame::ADMIN_REQUEST:
      return ReadAlternative<AdminRequest>(
          c, "admin_request", out, [&] { return r.getAdminRequest(); }, ReadAdminRequest);
    case w::Frame::ADMIN_REPLY:
      return ReadAlternative<AdminReply>(
          c, "admin_reply", out, [&] { return r.getAdminReply(); }, ReadAdminReply);
  }
  return UnknownAlternative(c, static_cast<unsigned>(r.which()));
}

}  // namespace

const char* AckStatusName(AckStatus s) {
  switch (s) {
    case AckStatus::kOk:
      return "ok";
    case AckStatus::kTransient:
      return "transient";
    case AckStatus::kFatal:
      return "fatal";
  }
  return "invalid";
}

std::optional<AckStatus> ParseAckStatus(std::string_view name) {
  for (int i = 0; i < kAckStatusCount; ++i) {
    auto s = static_cast<AckStatus>(i);
    if (name == AckStatusName(s)) return s;
  }
  return std::nullopt;
}

base::Bytes EncodeFrame(const Frame& frame) {
  return internal::EncodeMessage<w::Frame>(
      [&](w::Frame::Builder b) { std::visit(FrameFiller{b}, frame); });
}

base::Result<Frame> DecodeFrame(base::ByteView bytes, const DecodeLimits& limits) {
  return internal::DecodeMessage<w::Frame, Frame>("Frame", bytes, limits, ReadFrame);
}

}  // namespace relais::schema
