// Package errmap is the Go client of errmap, the sidecar that translates JD
// Cloud API Gateway errors to gRPC statuses and back.
//
// A service needs two calls:
//
//   - GatewayToGRPC turns what the gateway answered (an HTTP status, and its
//     JSON body or just the code) into the error to return from a gRPC
//     handler, with errmap's rich status attached (ErrorInfo,
//     LocalizedMessage, Help, RetryInfo). The success entry gives nil.
//   - GRPCToGateway turns a gRPC error into the HTTP status, gateway code and
//     gateway JSON error body to send to an HTTP caller.
//
// errmap sits on the caller's path, so neither call ever hangs or fails the
// caller: each has a deadline (DefaultTimeout unless Options.Timeout says
// otherwise), and when errmap is unreachable, slow or answers with a status
// it should not, the answer is built from the status alone with the tables
// errmap itself uses (see fallback.go), marked as a fallback (IsFallback,
// GatewayError.Fallback) and counted (Client.Fallbacks).
//
// The stubs in errmapv1 are generated from errmap's proto/ by generate.sh.
package errmap

//go:generate sh generate.sh

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/errmap/errmap/clients/go/errmapv1"
	rpccode "google.golang.org/genproto/googleapis/rpc/code"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// DefaultTarget is errmap's API address when New is given an empty target:
// the sidecar's own default listen address.
const DefaultTarget = "127.0.0.1:50051"

// ErrHTTPStatus is wrapped by the error GatewayToGRPC returns for an HTTP
// status outside 100-599: the caller's own mistake, not a gateway error.
var ErrHTTPStatus = errors.New("errmap: the HTTP status must be in 100-599")

// DefaultTimeout bounds each call to errmap when Options.Timeout is zero.
// errmap answers over loopback in well under a millisecond; 50 ms leaves
// room for a busy node while keeping a dead sidecar from slowing the
// caller's own request noticeably.
const DefaultTimeout = 50 * time.Millisecond

// Options configure a Client. The zero value is ready to use.
type Options struct {
	// Timeout bounds every call to errmap (DefaultTimeout when zero). The
	// two integration points use the shorter of it and the context's
	// deadline; the helpers use the context's deadline when it has one.
	Timeout time.Duration
	// Locale is sent as accept-language metadata on every call: "zh-CN",
	// "en-US", or an Accept-Language list such as "en-GB,en;q=0.8". Empty:
	// errmap's own default. A call's own locale takes precedence.
	Locale string
	// Conn is an existing connection to use instead of dialling target. The
	// Client does not close it.
	Conn *grpc.ClientConn
	// Domain is the ErrorInfo.domain of fallback errors (FallbackDomain
	// when empty).
	Domain string
	// OnFallback, when set, is called on every fallback with the operation
	// ("GatewayToGRPC" or "GRPCToGateway") and why errmap's answer was not
	// used; a place for a log line or a metric.
	OnFallback func(op string, cause error)
}

// Client calls errmap. It is safe for concurrent use.
type Client struct {
	conn       *grpc.ClientConn
	ownConn    bool
	api        errmapv1.ErrorMapServiceClient
	timeout    time.Duration
	locale     string
	domain     string
	onFallback func(op string, cause error)
	fallbacks  uint64
	// pageSize is AllErrors' page size (errmap's maximum, so one call
	// usually does); tests lower it to exercise the paging.
	pageSize int32
}

// New returns a Client for errmap at target ("host:port", DefaultTarget
// when empty), over plaintext. It does not wait for errmap: a sidecar that
// is not up yet only makes the first calls fall back.
func New(target string, opts Options) (*Client, error) {
	if target == "" {
		target = DefaultTarget
	}
	timeout := opts.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	domain := opts.Domain
	if domain == "" {
		domain = FallbackDomain
	}
	c := &Client{conn: opts.Conn, timeout: timeout, locale: opts.Locale, domain: domain, onFallback: opts.OnFallback, pageSize: 1000}
	if c.conn == nil {
		conn, err := grpc.Dial(target, grpc.WithInsecure())
		if err != nil {
			return nil, fmt.Errorf("errmap: dial %s: %w", target, err)
		}
		c.conn = conn
		c.ownConn = true
	}
	c.api = errmapv1.NewErrorMapServiceClient(c.conn)
	return c, nil
}

// Close closes the connection the Client dialled (not one passed in
// Options.Conn).
func (c *Client) Close() error {
	if c.ownConn {
		return c.conn.Close()
	}
	return nil
}

// API returns the generated stub, for the RPCs' full requests and answers.
func (c *Client) API() errmapv1.ErrorMapServiceClient { return c.api }

// Fallbacks returns how many answers so far were built without errmap.
func (c *Client) Fallbacks() uint64 { return atomic.LoadUint64(&c.fallbacks) }

// GatewayInput is what the gateway answered, besides its HTTP status, and
// how to phrase the answer. All fields are optional.
type GatewayInput struct {
	// Body is the gateway's raw JSON error body; errmap reads the code from
	// it. When set, Code is not sent.
	Body []byte
	// Code is the gateway code, such as "APIGW_NONCE_CONFLICT".
	Code string
	// Locale of the answer for this call ("zh-CN", "en-US"); overrides
	// Options.Locale.
	Locale string
	// Params fill the message's placeholders, such as {"resource": "vpc-1"}.
	Params map[string]string
	// RequestID goes into the gateway error body errmap renders.
	RequestID string
}

// GatewayToGRPC returns the error a gRPC handler should return for what the
// gateway answered: a status error (status.FromError reads it) carrying
// errmap's code, message and details. The success entry (gRPC OK, such as
// APIGATEWAY_SUCCESS or a bare 2xx) gives nil.
//
// When errmap cannot answer (unreachable, past the deadline, or answering
// with any error status, including INVALID_ARGUMENT for an oversized body:
// that is the gateway's data, not the caller's), the error is built from
// httpStatus alone and carries the fallback mark (see IsFallback). Only an
// httpStatus outside 100-599 is the caller's own mistake: the answer is
// then an error wrapping ErrHTTPStatus, not a status error, and errmap is
// not asked.
func (c *Client) GatewayToGRPC(ctx context.Context, httpStatus int, in GatewayInput) error {
	if httpStatus < 100 || httpStatus > 599 {
		return fmt.Errorf("%w, got %d", ErrHTTPStatus, httpStatus)
	}
	hs := int32(httpStatus)
	req := &errmapv1.ResolveGatewayErrorRequest{
		HttpStatus: &hs,
		Locale:     in.Locale,
		Params:     in.Params,
		RequestId:  in.RequestID,
	}
	if in.Body != nil {
		req.Body = in.Body
	} else {
		req.Code = in.Code
	}
	callCtx, cancel := c.pointContext(ctx)
	defer cancel()
	res, err := c.api.ResolveGatewayError(callCtx, req)
	if err != nil {
		c.fellBack("GatewayToGRPC", err)
		return fallbackStatus(httpStatus, c.domain).Err()
	}
	r := res.GetResolution()
	if isSuccess(r) {
		return nil
	}
	if r.GetStatus() == nil {
		// Not expected from errmap; the code and message still say it.
		return status.New(codes.Code(r.GetGrpcCode()), r.GetMessage()).Err()
	}
	return status.FromProto(r.GetStatus()).Err()
}

// isSuccess reports whether r has no error to raise: the success entry,
// a bare 2xx, gRPC OK. errmap says so in r.Success; an errmap that
// predates the field leaves it false, and its grpc_code still says OK.
func isSuccess(r *errmapv1.Resolution) bool {
	return r.GetSuccess() || r.GetGrpcCode() == rpccode.Code_OK
}

// GatewayError is what to send an HTTP caller for a gRPC error.
type GatewayError struct {
	// HTTPStatus is the HTTP status to answer with.
	HTTPStatus int
	// Code is the gateway code, such as "QUOTA_EXCEEDED"; empty in a
	// fallback.
	Code string
	// Body is the gateway's JSON error body:
	// {"requestId":"...","error":{"code":429,"status":"QUOTA_EXCEEDED","message":"..."}}.
	Body string
	// Message is the body's message, in the answer's locale.
	Message string
	// Fallback is true when errmap did not answer and the fields were built
	// from the gRPC code alone; Cause then says why.
	Fallback bool
	// Cause is the error that made this a fallback; nil otherwise.
	Cause error
}

// CallOption sets an optional field of GRPCToGateway's query.
type CallOption func(*errmapv1.ResolveGrpcStatusRequest)

// WithLocale answers in this locale ("zh-CN", "en-US"), overriding
// Options.Locale.
func WithLocale(locale string) CallOption {
	return func(r *errmapv1.ResolveGrpcStatusRequest) { r.Locale = locale }
}

// WithParams fills the message's placeholders.
func WithParams(params map[string]string) CallOption {
	return func(r *errmapv1.ResolveGrpcStatusRequest) { r.Params = params }
}

// WithRequestID puts the request id into the gateway error body.
func WithRequestID(id string) CallOption {
	return func(r *errmapv1.ResolveGrpcStatusRequest) { r.RequestId = id }
}

// WithReason names the gateway code to report when err carries no
// ErrorInfo that does, such as "RATE_LIMIT_EXCEEDED" for RESOURCE_EXHAUSTED.
func WithReason(reason string) CallOption {
	return func(r *errmapv1.ResolveGrpcStatusRequest) { r.Reason = reason }
}

// GRPCToGateway returns the HTTP status, gateway code and gateway JSON body
// for a gRPC error, as received from a call or about to be returned. Its
// details travel to errmap, so an error made by GatewayToGRPC comes back as
// the very entry it was made from. A nil err is OK (HTTP 200, the success
// entry); a context error counts as CANCELLED or DEADLINE_EXCEEDED.
//
// It always returns an answer: when errmap cannot give one, the fields are
// built from the code with google/rpc/code.proto's HTTP mapping, Fallback
// is set and Code is empty.
func (c *Client) GRPCToGateway(ctx context.Context, err error, opts ...CallOption) GatewayError {
	st := statusOf(err)
	req := &errmapv1.ResolveGrpcStatusRequest{
		Code:    rpccode.Code(st.Code()),
		Message: cutUTF8(st.Message(), maxMessageBytes),
	}
	if len(st.Proto().GetDetails()) > 0 {
		sent := st.Proto() // a copy
		sent.Message = req.Message
		req.Status = sent
	}
	for _, opt := range opts {
		opt(req)
	}
	callCtx, cancel := c.pointContext(ctx)
	defer cancel()
	res, callErr := c.api.ResolveGrpcStatus(callCtx, req)
	if callErr != nil {
		c.fellBack("GRPCToGateway", callErr)
		return fallbackGateway(st, req.GetRequestId(), callErr)
	}
	r := res.GetResolution()
	return GatewayError{
		HTTPStatus: int(r.GetHttpStatus()),
		Code:       r.GetEntry().GetCode(),
		Body:       r.GetGatewayErrorBody(),
		Message:    r.GetMessage(),
	}
}

// maxMessageBytes is errmap's limit on a status message it is sent. The
// message plays no part in errmap's answer, so a longer one is cut rather
// than costing the caller errmap's refusal and a fallback.
const maxMessageBytes = 4096

// cutUTF8 returns s cut to at most n bytes, at a character boundary.
func cutUTF8(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// statusOf reads a gRPC status out of any error: nil is OK, a status error
// (wrapped or not) its status, a context error its gRPC code, anything else
// UNKNOWN.
func statusOf(err error) *status.Status {
	if err == nil {
		return status.New(codes.OK, "")
	}
	if st, ok := asStatus(err); ok {
		return st
	}
	if errors.Is(err, context.Canceled) {
		return status.New(codes.Canceled, err.Error())
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return status.New(codes.DeadlineExceeded, err.Error())
	}
	return status.New(codes.Unknown, err.Error())
}

// asStatus finds the gRPC status in err or in an error it wraps
// (fmt.Errorf("...: %w", err)), which grpc-go 1.33's status.FromError does
// not look into.
func asStatus(err error) (*status.Status, bool) {
	var se interface{ GRPCStatus() *status.Status }
	if errors.As(err, &se) {
		if st := se.GRPCStatus(); st != nil {
			return st, true
		}
	}
	return nil, false
}

// pointContext bounds an integration point's call: the client's timeout or
// the caller's deadline, whichever comes first, plus the default locale.
func (c *Client) pointContext(ctx context.Context) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	return c.withLocale(ctx), cancel
}

// helperContext bounds a helper's call: the caller's deadline when there is
// one (a batch or a listing may take longer than one lookup), else the
// client's timeout.
func (c *Client) helperContext(ctx context.Context) (context.Context, context.CancelFunc) {
	cancel := context.CancelFunc(func() {})
	if _, ok := ctx.Deadline(); !ok {
		ctx, cancel = context.WithTimeout(ctx, c.timeout)
	}
	return c.withLocale(ctx), cancel
}

func (c *Client) withLocale(ctx context.Context) context.Context {
	if c.locale == "" {
		return ctx
	}
	return metadata.AppendToOutgoingContext(ctx, "accept-language", c.locale)
}

func (c *Client) fellBack(op string, cause error) {
	atomic.AddUint64(&c.fallbacks, 1)
	if c.onFallback != nil {
		c.onFallback(op, cause)
	}
}

// GRPCCode converts the google.rpc.Code of errmap's answers to grpc-go's
// codes.Code (the numbers are the same).
func GRPCCode(code rpccode.Code) codes.Code { return codes.Code(code) }

// MatchKindName returns the proto enum name of a match kind, such as
// "MATCH_KIND_CODE"; "MATCH_KIND_<number>" for a kind this client's proto
// does not know (a newer errmap).
func MatchKindName(kind errmapv1.MatchKind) string {
	if name, ok := errmapv1.MatchKind_name[int32(kind)]; ok {
		return name
	}
	return fmt.Sprintf("MATCH_KIND_%d", int32(kind))
}
