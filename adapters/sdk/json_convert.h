// Internal to sdk/: conversions between schema structs and nlohmann JSON values, shared by
// json.cc, json_body.cc and json_publish_input.cc. The public interface is sdk/json.h.
#ifndef RELAIS_ADAPTERS_SDK_JSON_CONVERT_H_
#define RELAIS_ADAPTERS_SDK_JSON_CONVERT_H_

#include <string>

#include "adapters/sdk/json_reader.h"
#include "schema/envelope.h"
#include "schema/events.h"
#include "schema/registry.h"

namespace relais::sdk::internal {

inline constexpr EnumNames<schema::EventKind> kEventKindNames{schema::kEventKindCount,
                                                              &schema::EventKindName};
inline constexpr EnumNames<schema::ReferralKind> kReferralKindNames{schema::kReferralKindCount,
                                                                    &schema::ReferralKindName};
inline constexpr EnumNames<schema::Tier> kTierNames{schema::kTierCount, &schema::TierName};
inline constexpr EnumNames<schema::LegalBasis> kLegalBasisNames{schema::kLegalBasisCount,
                                                                &schema::LegalBasisName};
inline constexpr EnumNames<schema::Purpose> kPurposeNames{schema::kPurposeCount,
                                                          &schema::PurposeName};
inline constexpr EnumNames<schema::DeclineReason> kDeclineReasonNames{schema::kDeclineReasonCount,
                                                                      &schema::DeclineReasonName};
inline constexpr EnumNames<schema::ConsentMethod> kConsentMethodNames{schema::kConsentMethodCount,
                                                                      &schema::ConsentMethodName};

Json ConsentTermsToJson(const schema::ConsentTerms& terms);
// Reads consent terms from `value` at `path`; recipient_kinds must be registry agency kinds.
void ReadConsentTerms(const Json& value, const std::string& path, JsonErrors& errors,
                      schema::ConsentTerms& out);

Json HeaderToJsonValue(const schema::Header& header);

// {"type": NAME, ...fields}.
Json BodyToJsonValue(const schema::EventBody& body);
// The "type" name of EventBody alternative `index`.
const char* BodyTypeName(size_t index);

// Reads the fields of EventBody alternative `index` from the object `value` at `path` into
// `out` (which is set to that alternative). A "type" key is accepted if it names `index`.
void ReadBodyFields(const Json& value, const std::string& path, size_t index, JsonErrors& errors,
                    schema::EventBody& out);

}  // namespace relais::sdk::internal

#endif  // RELAIS_ADAPTERS_SDK_JSON_CONVERT_H_
