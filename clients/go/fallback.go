package errmap

import (
	"fmt"
	"strconv"
	"strings"

	rpccode "google.golang.org/genproto/googleapis/rpc/code"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// FallbackDomain is the ErrorInfo.domain of fallback errors: errmap's
// default error domain, so the two kinds read alike to a caller.
const FallbackDomain = "apigateway.jdcloud.com"

// FallbackMetadataKey marks a fallback error: its ErrorInfo has an empty
// reason (no catalog entry was chosen; errmap always names one) and this
// metadata key set to "true", beside "httpStatus". The mark is the same in
// errmap's Go, Java, Python and Node clients and travels in
// grpc-status-details-bin, so any of them can tell a fallback that another
// one built.
const FallbackMetadataKey = "errmapFallback"

// statusOnly is errmap's table for a bare HTTP status under its default
// profile (docs/mapping.md, "HTTP status alone → gRPC"), for the statuses
// it names one by one. Ranges follow in codeForHTTP.
var statusOnly = map[int]codes.Code{
	200: codes.OK,
	400: codes.InvalidArgument,
	401: codes.Unauthenticated,
	403: codes.PermissionDenied,
	404: codes.NotFound,
	409: codes.Aborted,
	429: codes.ResourceExhausted,
	499: codes.Canceled,
	500: codes.Internal,
	501: codes.Unimplemented,
	502: codes.Unavailable,
	503: codes.Unavailable,
	504: codes.DeadlineExceeded,
}

// codeForHTTP is the gRPC code errmap gives a bare HTTP status.
func codeForHTTP(httpStatus int) codes.Code {
	if code, ok := statusOnly[httpStatus]; ok {
		return code
	}
	switch {
	case httpStatus >= 200 && httpStatus < 300:
		return codes.OK
	case httpStatus >= 400 && httpStatus < 500:
		return codes.FailedPrecondition
	default:
		return codes.Unknown
	}
}

// httpForCode is google/rpc/code.proto's HTTP status of each gRPC code, as
// errmap reports it for a code alone (docs/mapping.md, "gRPC → gateway").
var httpForCode = [...]int{
	codes.OK:                 200,
	codes.Canceled:           499,
	codes.Unknown:            500,
	codes.InvalidArgument:    400,
	codes.DeadlineExceeded:   504,
	codes.NotFound:           404,
	codes.AlreadyExists:      409,
	codes.PermissionDenied:   403,
	codes.ResourceExhausted:  429,
	codes.FailedPrecondition: 400,
	codes.Aborted:            409,
	codes.OutOfRange:         400,
	codes.Unimplemented:      501,
	codes.Internal:           500,
	codes.Unavailable:        503,
	codes.DataLoss:           500,
	codes.Unauthenticated:    401,
}

// HTTPStatusForCode is the HTTP status google/rpc/code.proto gives a gRPC
// code; 500 for a code outside 0-16.
func HTTPStatusForCode(code codes.Code) int {
	if int(code) < len(httpForCode) {
		return httpForCode[code]
	}
	return 500
}

// CodeForHTTPStatus is the gRPC code errmap gives an HTTP status that comes
// without a known gateway code (its default profile, PROFILE_GOOGLE).
func CodeForHTTPStatus(httpStatus int) codes.Code { return codeForHTTP(httpStatus) }

// fallbackStatus is GatewayToGRPC's answer without errmap: the code from
// the HTTP status, the message "HTTP status N" (errmap's own wording for a
// status without an entry), and the fallback mark: an ErrorInfo with an
// empty reason, domain, and metadata {"errmapFallback": "true",
// "httpStatus": "N"}.
func fallbackStatus(httpStatus int, domain string) *status.Status {
	code := codeForHTTP(httpStatus)
	st := status.New(code, fmt.Sprintf("HTTP status %d", httpStatus))
	if code == codes.OK {
		return st
	}
	info := &errdetails.ErrorInfo{
		Domain: domain,
		Metadata: map[string]string{
			FallbackMetadataKey: "true",
			"httpStatus":        strconv.Itoa(httpStatus),
		},
	}
	withInfo, err := st.WithDetails(info)
	if err != nil {
		// Only a message that cannot be packed fails here; the bare status
		// still carries the code.
		return st
	}
	return withInfo
}

// FallbackError is the error GatewayToGRPC gives httpStatus when errmap
// cannot answer (nil for a 2xx), with the fallback mark under domain
// (FallbackDomain when empty); an error wrapping ErrHTTPStatus for a status
// outside 100-599.
func FallbackError(httpStatus int, domain string) error {
	if httpStatus < 100 || httpStatus > 599 {
		return fmt.Errorf("%w, got %d", ErrHTTPStatus, httpStatus)
	}
	if domain == "" {
		domain = FallbackDomain
	}
	return fallbackStatus(httpStatus, domain).Err()
}

// IsFallback tells whether err was built by GatewayToGRPC without errmap:
// whether it carries an ErrorInfo with an empty reason and metadata
// errmapFallback "true" (made by any of errmap's clients). It works on the
// error as returned, and on the error a caller of the service received (the
// details travel in grpc-status-details-bin).
func IsFallback(err error) bool {
	st, ok := asStatus(err)
	if !ok {
		return false
	}
	for _, d := range st.Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok && info.GetReason() == "" &&
			info.GetMetadata()[FallbackMetadataKey] == "true" {
			return true
		}
	}
	return false
}

// fallbackGateway is GRPCToGateway's answer without errmap.
func fallbackGateway(st *status.Status, requestID string, cause error) GatewayError {
	httpStatus := HTTPStatusForCode(st.Code())
	return GatewayError{
		HTTPStatus: httpStatus,
		Body:       gatewayBody(requestID, httpStatus, rpccode.Code(st.Code()).String(), st.Message()),
		Message:    st.Message(),
		Fallback:   true,
		Cause:      cause,
	}
}

// gatewayBody renders the gateway's JSON error body in errmap's shape:
// {"requestId":"...","error":{"code":503,"status":"UNAVAILABLE","message":"..."}}.
// Strings are escaped as errmap and the other three clients escape them
// (encoding/json would also escape U+2028, U+2029 and write \b as \u0008).
func gatewayBody(requestID string, httpStatus int, statusName, message string) string {
	var b strings.Builder
	b.WriteString(`{"requestId":`)
	quoteJSON(&b, requestID)
	b.WriteString(`,"error":{"code":`)
	b.WriteString(strconv.Itoa(httpStatus))
	b.WriteString(`,"status":`)
	quoteJSON(&b, statusName)
	b.WriteString(`,"message":`)
	quoteJSON(&b, message)
	b.WriteString("}}")
	return b.String()
}

// quoteJSON writes s as a JSON string: quotes, backslashes and control
// characters escaped, everything else as it is (invalid UTF-8 as U+FFFD).
func quoteJSON(b *strings.Builder, s string) {
	b.WriteByte('"')
	for _, r := range s {
		switch r {
		case '"':
			b.WriteString(`\"`)
		case '\\':
			b.WriteString(`\\`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		case '\b':
			b.WriteString(`\b`)
		case '\f':
			b.WriteString(`\f`)
		default:
			if r < 0x20 {
				fmt.Fprintf(b, `\u%04x`, r)
			} else {
				b.WriteRune(r)
			}
		}
	}
	b.WriteByte('"')
}
