// AWS Signature Version 4: verification of incoming requests (Authorization header and presigned
// query-string forms) and client-side signing. Canonicalisation follows AWS and botocore: S3
// signs the path encoded once and un-normalised, every other service the normalised path encoded
// twice; the query is sorted by encoded key then value; header values are trimmed with runs of
// spaces collapsed.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/clock.h"
#include "base/status.h"
#include "server/http_server.h"

namespace kiln {

// Why a request failed authentication. The API layers map these to their wire errors.
enum class SigV4Error {
  kNone,
  kMissingAuthentication,  // neither an Authorization header nor X-Amz-Algorithm in the query
  kIncompleteSignature,    // the signature parts are missing, malformed or of another algorithm
  kUnknownAccessKey,       // the access key id is not known
  kScopeMismatch,          // credential scope date/region/service does not fit the request
  kSignatureMismatch,      // the signature is wrong
  kRequestTimeTooSkewed,   // X-Amz-Date is more than the allowed skew from the server clock
  kRequestExpired,         // a presigned URL past X-Amz-Expires
  kPayloadHashMismatch,    // x-amz-content-sha256 is invalid or does not match the body
};

struct SigV4Result {
  bool ok = false;
  SigV4Error error = SigV4Error::kNone;
  // The AWS JSON-protocol error code: "MissingAuthenticationToken", "IncompleteSignature",
  // "UnrecognizedClientException" or "InvalidSignatureException" (the latter also for expired and
  // skewed requests, with a "Signature expired" message, as AWS JSON services do).
  std::string code;
  std::string message;
  // From the credential, filled as soon as it parsed (also on most failures).
  std::string access_key;
  std::string region;
  std::string service;
  // Filled on success; what a later verifier of aws-chunked bodies needs.
  bool presigned = false;
  std::string session_token;  // X-Amz-Security-Token, not validated here
  std::string amz_date;       // "20260807T120000Z"
  std::string scope;          // "20260807/us-east-1/s3/aws4_request"
  std::string signature;      // the verified (seed) signature, lowercase hex
  std::string signing_key;    // the derived 32-byte HMAC key for the scope
  std::string payload_hash;   // the payload hash that was signed, e.g. "UNSIGNED-PAYLOAD"

  // OK, or PermissionDenied("<code>: <message>").
  Status ToStatus() const;
  // The S3 REST error code for this failure, e.g. "SignatureDoesNotMatch".
  std::string S3ErrorCode() const;
};

// Returns the secret access key for an access key id, or nullopt if the key is unknown.
using SecretLookup = std::function<std::optional<std::string>(const std::string& access_key_id)>;

struct SigV4VerifyOptions {
  SecretLookup lookup_secret;
  const Clock* clock = nullptr;  // nullptr: the system clock
  int64_t max_skew_seconds = 15 * 60;
  std::string expected_region;                // empty: any region
  std::vector<std::string> allowed_services;  // empty: any service
  // Compare a hex x-amz-content-sha256 with the SHA-256 of request.body. Turn off when the body
  // has not been read yet (streaming); the caller then checks it.
  bool verify_payload_hash = true;
};

// Verifies `request` (method, target, headers and body as received). Never throws.
SigV4Result VerifySigV4(const HttpRequest& request, const SigV4VerifyOptions& options);

struct SigV4Credentials {
  std::string access_key_id;
  std::string secret_access_key;
  std::string session_token;  // optional
};

struct SigV4SignOptions {
  std::string region = "us-east-1";
  std::string service;
  int64_t time_ms = -1;  // signing time; -1 means now
  // Sign "UNSIGNED-PAYLOAD" instead of the body hash.
  bool unsigned_payload = false;
  // Send X-Amz-Content-Sha256; botocore does for S3 only. nullopt: only when service is "s3".
  std::optional<bool> content_sha256_header;
};

// Signs `request` in place like botocore: sets X-Amz-Date (and X-Amz-Security-Token,
// X-Amz-Content-Sha256 when applicable) and Authorization, signing every header except the
// hop-by-hop ones botocore skips. `request.target` must be what will be sent and a Host header
// must be present (InvalidArgument otherwise).
Status SignRequest(HttpRequest& request, const SigV4Credentials& credentials,
                   const SigV4SignOptions& options);

// Presigns `request` in place: appends the X-Amz-* parameters and X-Amz-Signature to
// request.target (and refreshes request.query), signing only the host header. S3 signs
// UNSIGNED-PAYLOAD, other services the body hash. `expires_seconds` is 1..604800.
Status PresignRequest(HttpRequest& request, const SigV4Credentials& credentials,
                      const SigV4SignOptions& options, int64_t expires_seconds);

// Building blocks, also used by tests and by the S3 chunk-signature verifier.
std::string HexEncode(std::string_view bytes);
std::string Sha256Hex(std::string_view data);
std::string HmacSha256(std::string_view key, std::string_view data);  // raw 32 bytes
std::string DeriveSigningKey(std::string_view secret, std::string_view date,
                             std::string_view region, std::string_view service);
// How the path and query of the target enter the canonical request. Clients sign what they send
// (botocore does), so kAsSent is tried first; kNormalized re-encodes with AWS's canonical escaping
// (unreserved characters plain, everything else upper-case %XX) for clients that sign the canonical
// form of a sloppily encoded target. Both name the same resource.
enum class SigV4Encoding { kAsSent, kNormalized };

// The canonical request for `request`, signing `signed_headers` (lowercase names, in order).
// With `presigned`, X-Amz-Signature is left out of the canonical query.
std::string CanonicalRequest(const HttpRequest& request,
                             const std::vector<std::string>& signed_headers,
                             std::string_view payload_hash, std::string_view service,
                             bool presigned, SigV4Encoding encoding = SigV4Encoding::kAsSent);
std::string StringToSign(std::string_view amz_date, std::string_view scope,
                         std::string_view canonical_request);
// "20260807T120000Z" for epoch milliseconds.
std::string FormatAmzDate(int64_t epoch_ms);

}  // namespace kiln
