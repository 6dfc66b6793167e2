package aws

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/smithy-go"

	"github.com/patas/patas-secrets/fetcher"
)

// Errors of this backend besides fetcher.ErrNotFound and fetcher.ErrPermission. Each is
// wrapped with the secret or parameter it concerns; none ever quotes a value.
var (
	// ErrDecryption means AWS could not decrypt the secret with its KMS key (a key that is
	// disabled, deleted, or that the caller may not use).
	ErrDecryption = errors.New("decryption failed")
	// ErrThrottled means AWS kept answering ThrottlingException after every retry. It wraps
	// fetcher.ErrThrottled, which the engine's metrics count as "throttled".
	ErrThrottled = fmt.Errorf("by AWS: %w", fetcher.ErrThrottled)
)

// Error codes mapped to fetcher's sentinels. Authentication failures (a key AWS does not
// know, an expired token, a bad signature) count as permission errors: the engine reports
// them as auth failures rather than retrying them as network trouble.
var (
	notFoundCodes = map[string]bool{
		"ResourceNotFoundException": true, // Secrets Manager
		"ParameterNotFound":         true, // SSM
		"ParameterVersionNotFound":  true,
	}
	permissionCodes = map[string]bool{
		"AccessDeniedException":       true,
		"AccessDenied":                true, // STS AssumeRole
		"UnrecognizedClientException": true,
		"InvalidClientTokenId":        true,
		"ExpiredTokenException":       true,
		"ExpiredToken":                true,
		"InvalidSignatureException":   true,
		"SignatureDoesNotMatch":       true,
		"IncompleteSignature":         true,
	}
	decryptionCodes = map[string]bool{
		"DecryptionFailure": true, // Secrets Manager
		"InvalidKeyId":      true, // SSM: the parameter's KMS key is unusable
	}
)

// sentinelFor returns the sentinel error an AWS error code (and message) maps to, or nil.
func sentinelFor(code, msg string) error {
	switch {
	case code == "InvalidRequestException" && strings.Contains(msg, "marked") && strings.Contains(msg, "delet"):
		// Deleted, within its recovery window. AWS says "marked for deletion", moto
		// "marked deleted"; no code of its own tells this case apart.
		return fetcher.ErrNotFound
	case notFoundCodes[code]:
		return fetcher.ErrNotFound
	case permissionCodes[code]:
		return fetcher.ErrPermission
	case decryptionCodes[code]:
		return ErrDecryption
	case isThrottleCode(code):
		return ErrThrottled
	}
	return nil
}

func isThrottleCode(code string) bool {
	_, ok := retry.DefaultThrottleErrorCodes[code]
	return ok
}

// errorCode returns the AWS error code of err, or "".
func errorCode(err error) string {
	code, _ := apiError(err)
	return code
}

func apiError(err error) (code, msg string) {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode(), ae.ErrorMessage()
	}
	return "", ""
}

func isThrottle(err error) bool { return isThrottleCode(errorCode(err)) }

// wrapErr names what was read (e.g. `secret "patas/production"`) and adds the sentinel the
// AWS error code maps to, so errors.Is works on the result.
func wrapErr(what string, err error) error {
	s := sentinelFor(apiError(err))
	if s == nil {
		s = sentinelForStatus(err)
	}
	if s != nil && !errors.Is(err, s) {
		return fmt.Errorf("%s: %w: %w", what, s, err)
	}
	return fmt.Errorf("%s: %w", what, err)
}

// sentinelForStatus maps an answer that carries no AWS error code the SDK could read (a
// body it could not decode: a proxy's page; moto's XML refusals on JSON services) by its
// HTTP status: 401/403 are refusals, 429 throttling, 404 a missing secret.
func sentinelForStatus(err error) error {
	var re *awshttp.ResponseError
	if !errors.As(err, &re) {
		return nil
	}
	if code, _ := apiError(err); code != "" {
		return nil
	}
	switch re.HTTPStatusCode() {
	case http.StatusUnauthorized, http.StatusForbidden:
		return fetcher.ErrPermission
	case http.StatusTooManyRequests:
		return ErrThrottled
	}
	return nil
}

// entryErr builds the error of one failed entry of a batch answer, which carries a code and a
// message but no Go error.
func entryErr(what, code, msg string) error {
	detail := code
	if msg != "" {
		detail += ": " + msg
	}
	if s := sentinelFor(code, msg); s != nil {
		return fmt.Errorf("%s: %w (%s)", what, s, detail)
	}
	return fmt.Errorf("%s: %s", what, detail)
}
