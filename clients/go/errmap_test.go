package errmap

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/errmap/errmap/clients/go/errmapv1"
	rpccode "google.golang.org/genproto/googleapis/rpc/code"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

func errorInfo(t *testing.T, err error) *errdetails.ErrorInfo {
	t.Helper()
	st, ok := status.FromError(err)
	if !ok {
		t.Fatalf("not a status error: %v", err)
	}
	for _, d := range st.Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok {
			return info
		}
	}
	t.Fatalf("no ErrorInfo in %v (details %v)", st.Proto(), st.Details())
	return nil
}

func TestGatewayToGRPC(t *testing.T) {
	c := newClient(t, Options{})
	ctx := context.Background()

	err := c.GatewayToGRPC(ctx, 403, GatewayInput{Code: "APIGW_NONCE_CONFLICT", RequestID: "req-1"})
	if got := status.Code(err); got != codes.PermissionDenied {
		t.Fatalf("code %v, want PermissionDenied (err %v)", got, err)
	}
	if info := errorInfo(t, err); info.GetReason() != "APIGW_NONCE_CONFLICT" || info.GetMetadata()["httpStatus"] != "403" {
		t.Fatalf("ErrorInfo %v", info)
	}
	if IsFallback(err) {
		t.Fatal("errmap's answer reads as a fallback")
	}

	// The body as the gateway sent it: errmap reads the code from it.
	body := []byte(`{"requestId":"r9","error":{"code":429,"status":"RATE_LIMIT_EXCEEDED","message":"x"}}`)
	err = c.GatewayToGRPC(ctx, 429, GatewayInput{Body: body})
	if got := status.Code(err); got != codes.ResourceExhausted {
		t.Fatalf("body: code %v, want ResourceExhausted", got)
	}
	if info := errorInfo(t, err); info.GetReason() != "RATE_LIMIT_EXCEEDED" {
		t.Fatalf("body: reason %q", info.GetReason())
	}

	// An unknown code answers by its HTTP status (errmap's own fallback).
	err = c.GatewayToGRPC(ctx, 404, GatewayInput{Code: "NO_SUCH_CODE_AT_ALL"})
	if got := status.Code(err); got != codes.NotFound || IsFallback(err) {
		t.Fatalf("unknown code: %v fallback=%v", err, IsFallback(err))
	}

	// Params fill the placeholders.
	err = c.GatewayToGRPC(ctx, 404, GatewayInput{Code: "RESOURCE_NOT_EXIST", Locale: "en-US", Params: map[string]string{"resource": "vpc-7"}})
	if !strings.Contains(localized(t, err), "vpc-7") {
		t.Fatalf("params: localized message %q lacks vpc-7", localized(t, err))
	}

	// The success entry and any 2xx are no error.
	for _, tc := range []struct {
		status int
		code   string
	}{{200, "APIGATEWAY_SUCCESS"}, {200, ""}, {204, ""}} {
		if err := c.GatewayToGRPC(ctx, tc.status, GatewayInput{Code: tc.code}); err != nil {
			t.Fatalf("%d %q: %v, want nil", tc.status, tc.code, err)
		}
	}

	// errmap says success plainly; an errmap that predates the field
	// says it by grpc_code alone, and either is enough.
	for _, tc := range []struct {
		code     string
		status   int32
		success  bool
		grpcCode rpccode.Code
	}{{"APIGATEWAY_SUCCESS", 200, true, rpccode.Code_OK}, {"APIGW_NONCE_CONFLICT", 403, false, rpccode.Code_PERMISSION_DENIED}} {
		res, err := c.API().ResolveGatewayError(ctx, &errmapv1.ResolveGatewayErrorRequest{Code: tc.code, HttpStatus: proto.Int32(tc.status)})
		if err != nil {
			t.Fatal(err)
		}
		r := res.GetResolution()
		if r.GetSuccess() != tc.success || r.GetGrpcCode() != tc.grpcCode || isSuccess(r) != tc.success {
			t.Fatalf("%s: success %v, grpc_code %v", tc.code, r.GetSuccess(), r.GetGrpcCode())
		}
	}
	for _, r := range []*errmapv1.Resolution{
		{Success: true, GrpcCode: rpccode.Code_UNAVAILABLE},
		{Success: false, GrpcCode: rpccode.Code_OK},
	} {
		if !isSuccess(r) {
			t.Fatalf("%v is not read as success", r)
		}
	}
	if isSuccess(&errmapv1.Resolution{GrpcCode: rpccode.Code_UNAVAILABLE}) {
		t.Fatal("UNAVAILABLE without success is read as success")
	}

	// An HTTP status outside 100-599 is the caller's own mistake: an
	// argument error, not a status error, and no fallback.
	for _, hs := range []int{700, 99, 0, -1, 1 << 40} {
		err = c.GatewayToGRPC(ctx, hs, GatewayInput{})
		if !errors.Is(err, ErrHTTPStatus) || IsFallback(err) {
			t.Fatalf("HTTP %d: %v, want ErrHTTPStatus", hs, err)
		}
		if _, ok := status.FromError(err); ok {
			t.Fatalf("HTTP %d: %v is a status error", hs, err)
		}
	}
	if c.Fallbacks() != 0 {
		t.Fatalf("%d fallbacks with errmap up", c.Fallbacks())
	}

	// errmap refusing the gateway's own data (a body over 64 KiB) is a
	// fallback: the caller still gets the error of the HTTP status.
	err = c.GatewayToGRPC(ctx, 403, GatewayInput{Body: []byte(strings.Repeat("x", 65*1024))})
	if status.Code(err) != codes.PermissionDenied || !IsFallback(err) || c.Fallbacks() != 1 {
		t.Fatalf("oversized body: %v, fallback %v, %d fallbacks", err, IsFallback(err), c.Fallbacks())
	}
}

func localized(t *testing.T, err error) string {
	t.Helper()
	for _, d := range status.Convert(err).Details() {
		if m, ok := d.(*errdetails.LocalizedMessage); ok {
			return m.GetLocale() + " " + m.GetMessage()
		}
	}
	t.Fatalf("no LocalizedMessage in %v", err)
	return ""
}

func TestGRPCToGateway(t *testing.T) {
	c := newClient(t, Options{})
	ctx := context.Background()

	g := c.GRPCToGateway(ctx, status.Error(codes.ResourceExhausted, "slow down"), WithRequestID("req-2"))
	if g.HTTPStatus != 429 || g.Code != "QUOTA_EXCEEDED" || g.Fallback {
		t.Fatalf("%+v", g)
	}
	var body struct {
		RequestID string `json:"requestId"`
		Error     struct {
			Code    int    `json:"code"`
			Status  string `json:"status"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if err := json.Unmarshal([]byte(g.Body), &body); err != nil {
		t.Fatalf("body %q: %v", g.Body, err)
	}
	if body.RequestID != "req-2" || body.Error.Code != 429 || body.Error.Status != "QUOTA_EXCEEDED" || body.Error.Message != g.Message {
		t.Fatalf("body %q, message %q", g.Body, g.Message)
	}

	// A status error wrapped by the service keeps its details.
	made := c.GatewayToGRPC(ctx, 409, GatewayInput{Code: "FAILED_PRECONDITION"})
	wrapped := fmt.Errorf("placing the order: %w", made)
	if g := c.GRPCToGateway(ctx, wrapped); g.Code != "FAILED_PRECONDITION" || g.HTTPStatus != 409 || g.Fallback {
		t.Fatalf("wrapped: %+v", g)
	}

	// A reason picks the entry.
	g = c.GRPCToGateway(ctx, status.Error(codes.ResourceExhausted, ""), WithReason("RATE_LIMIT_EXCEEDED"))
	if g.Code != "RATE_LIMIT_EXCEEDED" || g.HTTPStatus != 429 {
		t.Fatalf("reason: %+v", g)
	}
	// A message over errmap's 4096 bytes is cut, not a reason to fall back;
	// the caller's error keeps it whole.
	long := strings.Repeat("é", 5000)
	withInfo, err := status.New(codes.ResourceExhausted, long).WithDetails(&errdetails.ErrorInfo{Reason: "RATE_LIMIT_EXCEEDED", Domain: FallbackDomain})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range []error{status.Error(codes.NotFound, long), withInfo.Err()} {
		g = c.GRPCToGateway(ctx, e)
		if g.Fallback || g.HTTPStatus != HTTPStatusForCode(status.Code(e)) {
			t.Fatalf("long message: %+v", g)
		}
	}
	if status.Convert(withInfo.Err()).Message() != long {
		t.Fatal("the caller's status was changed")
	}
	if got := cutUTF8(long, 4096); len(got) != 4096 || !utf8.ValidString(got) {
		t.Fatalf("cut to %d bytes, valid %v", len(got), utf8.ValidString(got))
	}
	if got := cutUTF8("aé", 2); got != "a" {
		t.Fatalf("cut %q", got)
	}

	// errmap refusing the input (a control character in the request id)
	// still gives an answer, from the code, saying why.
	g = c.GRPCToGateway(ctx, status.Error(codes.NotFound, "gone"), WithRequestID("a\x01b"))
	if !g.Fallback || status.Code(g.Cause) != codes.InvalidArgument || g.HTTPStatus != 404 || c.Fallbacks() != 1 {
		t.Fatalf("refused input: %+v, %d fallbacks", g, c.Fallbacks())
	}

	// nil is OK, context errors their codes, other errors UNKNOWN.
	for _, tc := range []struct {
		err  error
		http int
		code string
	}{
		{nil, 200, "APIGATEWAY_SUCCESS"},
		{context.DeadlineExceeded, 504, "DEADLINE_EXCEEDED"},
		{fmt.Errorf("wrapped: %w", context.Canceled), 499, "CANCELLED"},
		{errors.New("plain"), 500, "UNKNOWN"},
		{status.Error(codes.DataLoss, "lost"), 500, "INTERNAL"},
	} {
		g := c.GRPCToGateway(ctx, tc.err)
		if g.HTTPStatus != tc.http || g.Code != tc.code || g.Fallback {
			t.Fatalf("%v: %+v, want %d %s", tc.err, g, tc.http, tc.code)
		}
	}
}

func TestLocale(t *testing.T) {
	ctx := context.Background()
	zh := newClient(t, Options{})
	en := newClient(t, Options{Locale: "en-US"})
	enList := newClient(t, Options{Locale: "en-GB,en;q=0.8,zh;q=0.5"})
	unavailable := status.Error(codes.Unavailable, "")

	if g := zh.GRPCToGateway(ctx, unavailable); g.Message != "服务不可用" {
		t.Fatalf("default locale: %q", g.Message)
	}
	for _, c := range []*Client{en, enList} {
		if g := c.GRPCToGateway(ctx, unavailable); g.Message != "Service is unavailable" {
			t.Fatalf("accept-language %q: %q", c.locale, g.Message)
		}
	}
	// The call's own locale wins over the client's accept-language.
	if g := en.GRPCToGateway(ctx, unavailable, WithLocale("zh-CN")); g.Message != "服务不可用" {
		t.Fatalf("call locale: %q", g.Message)
	}
	err := en.GatewayToGRPC(ctx, 503, GatewayInput{Code: "UNAVAILABLE"})
	if got := localized(t, err); got != "en-US Service is unavailable" {
		t.Fatalf("gateway, accept-language: %q", got)
	}
	err = en.GatewayToGRPC(ctx, 503, GatewayInput{Code: "UNAVAILABLE", Locale: "zh"})
	if got := localized(t, err); got != "zh-CN 服务不可用" {
		t.Fatalf("gateway, call locale: %q", got)
	}
}

func TestHelpers(t *testing.T) {
	c := newClient(t, Options{})
	ctx := context.Background()

	results, err := c.ResolveBatch(ctx,
		GatewayQuery(&errmapv1.ResolveGatewayErrorRequest{Code: "APIGW_SIGN_RESULT_NOT_SAME"}),
		GRPCQuery(&errmapv1.ResolveGrpcStatusRequest{Code: rpccode.Code_DEADLINE_EXCEEDED}),
		GatewayQuery(&errmapv1.ResolveGatewayErrorRequest{HttpStatus: proto.Int32(700)}),
	)
	if err != nil {
		t.Fatal(err)
	}
	if len(results) != 3 || results[0].Resolution == nil || results[1].Resolution == nil || results[2].Err == nil {
		t.Fatalf("results %v", results)
	}
	if GRPCCode(results[0].Resolution.GetGrpcCode()) != codes.Unauthenticated ||
		results[1].Resolution.GetHttpStatus() != 504 ||
		results[2].Err.Code() != codes.InvalidArgument {
		t.Fatalf("results %v", results)
	}
	if got := MatchKindName(results[0].Resolution.GetMatchKind()); got != "MATCH_KIND_CODE" {
		t.Fatalf("match kind %q", got)
	}
	if got := MatchKindName(results[1].Resolution.GetMatchKind()); got != "MATCH_KIND_GRPC_CODE" {
		t.Fatalf("match kind %q", got)
	}
	if _, err := c.ResolveBatch(ctx, Query{}); status.Code(err) != codes.InvalidArgument {
		t.Fatalf("empty query: %v", err)
	}

	all, err := c.AllErrors(ctx, Filter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 82 {
		t.Fatalf("%d entries, want 82", len(all))
	}
	conflicts, err := c.AllErrors(ctx, Filter{HTTPStatus: 409, GRPCCode: Code(codes.AlreadyExists)})
	if err != nil {
		t.Fatal(err)
	}
	want := 0
	for _, e := range all {
		if e.GetHttpStatus() == 409 && e.GetGrpcCode() == rpccode.Code_ALREADY_EXISTS {
			want++
		}
	}
	if want == 0 || len(conflicts) != want {
		t.Fatalf("409 ALREADY_EXISTS: %d entries, want %d", len(conflicts), want)
	}
	sdk, err := c.AllErrors(ctx, Filter{Table: errmapv1.Table_TABLE_SDK})
	if err != nil || len(sdk) != 20 {
		t.Fatalf("TABLE_SDK: %d entries (%v), want 20", len(sdk), err)
	}
	ok, err := c.AllErrors(ctx, Filter{GRPCCode: Code(codes.OK)})
	if err != nil || len(ok) != 1 || ok[0].GetCode() != "APIGATEWAY_SUCCESS" {
		t.Fatalf("OK: %v (%v)", ok, err)
	}
	// The paging loop, with pages of 7.
	small := newClient(t, Options{})
	small.pageSize = 7
	paged, err := small.AllErrors(ctx, Filter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(paged) != 82 {
		t.Fatalf("pages of 7: %d entries", len(paged))
	}
	for i := range paged {
		if !proto.Equal(paged[i], all[i]) {
			t.Fatalf("entry %d differs between page sizes: %v vs %v", i, paged[i], all[i])
		}
	}

	got, err := c.GetError(ctx, "FAILED_PRECONDITION", 409)
	if err != nil || got.GetEntry().GetHttpStatus() != 409 || len(got.GetOtherRows()) != 1 || got.GetOtherRows()[0].GetHttpStatus() != 400 {
		t.Fatalf("GetError: %v (%v)", got, err)
	}
	if _, err := c.GetError(ctx, "NO_SUCH_CODE_AT_ALL", 0); status.Code(err) != codes.NotFound {
		t.Fatalf("GetError unknown: %v", err)
	}
}

// Every catalog entry makes a round trip: the library builds the error from
// the entry, a grpc-go handler returns it, its caller decodes the status
// from the wire, and errmap translates it back to the same entry.
func TestRoundTripAllEntries(t *testing.T) {
	c := newClient(t, Options{})
	ctx := context.Background()
	all, err := c.AllErrors(ctx, Filter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 82 {
		t.Fatalf("%d entries, want 82", len(all))
	}
	r := startRelay(t)
	for i, e := range all {
		key := fmt.Sprintf("%d-%s-%d", i, e.GetCode(), e.GetHttpStatus())
		made := c.GatewayToGRPC(ctx, int(e.GetHttpStatus()), GatewayInput{Code: e.GetCode()})
		received := r.through(t, key, made)
		if status.Code(received) != GRPCCode(e.GetGrpcCode()) {
			t.Fatalf("%s: received %v, want %v", key, status.Code(received), e.GetGrpcCode())
		}
		if received != nil {
			if info := errorInfo(t, received); info.GetReason() != e.GetCode() {
				t.Fatalf("%s: ErrorInfo.reason %q", key, info.GetReason())
			}
		}
		back := c.GRPCToGateway(ctx, received)
		if back.Fallback || back.Code != e.GetCode() || back.HTTPStatus != int(e.GetHttpStatus()) {
			t.Fatalf("%s: back as %+v", key, back)
		}
	}
	if c.Fallbacks() != 0 {
		t.Fatalf("%d fallbacks", c.Fallbacks())
	}
}

// The fallback tables are errmap's own: compared with its answers for every
// HTTP status the catalog uses (and a few it does not), and every code.
func TestFallbackTablesMatchServer(t *testing.T) {
	c := newClient(t, Options{})
	ctx := context.Background()
	all, err := c.AllErrors(ctx, Filter{})
	if err != nil {
		t.Fatal(err)
	}
	statuses := map[int]bool{100: true, 204: true, 302: true, 418: true, 451: true, 505: true, 599: true}
	for _, e := range all {
		statuses[int(e.GetHttpStatus())] = true
	}
	for hs := range statuses {
		res, err := c.API().ResolveGatewayError(ctx, &errmapv1.ResolveGatewayErrorRequest{HttpStatus: proto.Int32(int32(hs))})
		if err != nil {
			t.Fatalf("HTTP %d: %v", hs, err)
		}
		if got, want := CodeForHTTPStatus(hs), GRPCCode(res.GetResolution().GetGrpcCode()); got != want {
			t.Errorf("HTTP %d: table says %v, errmap %v", hs, got, want)
		}
	}
	for code := codes.OK; code <= codes.Unauthenticated; code++ {
		res, err := c.API().ResolveGrpcStatus(ctx, &errmapv1.ResolveGrpcStatusRequest{Code: rpccode.Code(code)})
		if err != nil {
			t.Fatalf("%v: %v", code, err)
		}
		if got, want := HTTPStatusForCode(code), int(res.GetResolution().GetHttpStatus()); got != want {
			t.Errorf("%v: table says %d, errmap %d", code, got, want)
		}
	}
}

// Stopping errmap mid-run: the calls that follow fall back, within the
// deadline, and say so.
func TestFallbackWhenStopped(t *testing.T) {
	s := startErrmap(t)
	var causes []string
	var mu sync.Mutex
	c, err := New(s.addr, Options{OnFallback: func(op string, cause error) {
		mu.Lock()
		causes = append(causes, op+": "+status.Code(cause).String())
		mu.Unlock()
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	// Up: real answers (retried while the first connection warms up, since
	// the default deadline is short).
	var up error
	for i := 0; i < 100; i++ {
		up = c.GatewayToGRPC(ctx, 403, GatewayInput{Code: "APIGW_NONCE_CONFLICT"})
		if !IsFallback(up) {
			break
		}
	}
	if IsFallback(up) || errorInfo(t, up).GetReason() != "APIGW_NONCE_CONFLICT" {
		t.Fatalf("errmap up: %v", up)
	}
	real := c.GRPCToGateway(ctx, status.Error(codes.Unavailable, "db down"), WithRequestID("r-1"))
	if real.Fallback {
		t.Fatalf("errmap up: %+v", real)
	}
	before := c.Fallbacks()

	s.stop(t)

	r := startRelay(t)
	for i := 0; i < 20; i++ {
		start := time.Now()
		err := c.GatewayToGRPC(ctx, 403, GatewayInput{Code: "APIGW_NONCE_CONFLICT"})
		g := c.GRPCToGateway(ctx, status.Error(codes.Unavailable, "db down"), WithRequestID("r-1"))
		if took := time.Since(start); took > 2*time.Second {
			t.Fatalf("two calls with errmap down took %v", took)
		}
		if status.Code(err) != codes.PermissionDenied || !IsFallback(err) || !IsFallback(fmt.Errorf("wrapped: %w", err)) {
			t.Fatalf("gateway→gRPC with errmap down: %v", err)
		}
		info := errorInfo(t, err)
		want := map[string]string{"errmapFallback": "true", "httpStatus": "403"}
		if info.GetReason() != "" || info.GetDomain() != FallbackDomain || !equalMaps(info.GetMetadata(), want) || status.Convert(err).Message() != "HTTP status 403" {
			t.Fatalf("fallback %v, ErrorInfo %v", err, info)
		}
		// The mark survives the wire.
		if received := r.through(t, fmt.Sprintf("fallback-%d", i), err); !IsFallback(received) || status.Code(received) != codes.PermissionDenied {
			t.Fatalf("fallback through a server: %v", received)
		}
		if !g.Fallback || g.Cause == nil || g.HTTPStatus != 503 || g.Code != "" || g.Message != "db down" {
			t.Fatalf("gRPC→gateway with errmap down: %+v", g)
		}
		if sameShape(t, g.Body, real.Body); !strings.Contains(g.Body, `"status":"UNAVAILABLE"`) || !strings.Contains(g.Body, `"requestId":"r-1"`) {
			t.Fatalf("fallback body %s", g.Body)
		}
		if err := c.GatewayToGRPC(ctx, 200, GatewayInput{Code: "APIGATEWAY_SUCCESS"}); err != nil {
			t.Fatalf("success with errmap down: %v", err)
		}
	}
	if got := c.Fallbacks() - before; got != 60 {
		t.Fatalf("fallbacks counted %d, want 60", got)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(causes) != int(c.Fallbacks()) || !strings.HasPrefix(causes[len(causes)-1], "GatewayToGRPC: ") {
		t.Fatalf("OnFallback calls %d (last %q), fallbacks %d", len(causes), causes[len(causes)-1], c.Fallbacks())
	}
}

// sameShape checks that two gateway bodies have the same keys, nested.
func sameShape(t *testing.T, got, want string) {
	t.Helper()
	var g, w map[string]interface{}
	if err := json.Unmarshal([]byte(got), &g); err != nil {
		t.Fatalf("%s: %v", got, err)
	}
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatalf("%s: %v", want, err)
	}
	if keys(g) != keys(w) || keys(g["error"].(map[string]interface{})) != keys(w["error"].(map[string]interface{})) {
		t.Fatalf("shape of %s differs from %s", got, want)
	}
	if strings.Index(got, "requestId") > strings.Index(got, "error") {
		t.Fatalf("%s: key order differs from %s", got, want)
	}
}

func keys(m map[string]interface{}) string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	for i := range ks {
		for j := i + 1; j < len(ks); j++ {
			if ks[j] < ks[i] {
				ks[i], ks[j] = ks[j], ks[i]
			}
		}
	}
	return strings.Join(ks, ",")
}

// fakeErrmap serves the API with a handler of the test's choosing, for an
// errmap that is slow or answers with the wrong statuses.
type fakeErrmap struct {
	errmapv1.UnimplementedErrorMapServiceServer
	answer func(ctx context.Context) error
}

func (f *fakeErrmap) ResolveGatewayError(ctx context.Context, _ *errmapv1.ResolveGatewayErrorRequest) (*errmapv1.ResolveGatewayErrorResponse, error) {
	return nil, f.answer(ctx)
}

func (f *fakeErrmap) ResolveGrpcStatus(ctx context.Context, _ *errmapv1.ResolveGrpcStatusRequest) (*errmapv1.ResolveGrpcStatusResponse, error) {
	return nil, f.answer(ctx)
}

func serveFake(t *testing.T, register func(*grpc.Server)) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	register(srv)
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(srv.Stop)
	return lis.Addr().String()
}

func TestFallbackSlowOrConfused(t *testing.T) {
	slow := func(ctx context.Context) error { <-ctx.Done(); return ctx.Err() }
	internal := func(context.Context) error { return status.Error(codes.Internal, "confused") }
	cases := map[string]func(*grpc.Server){
		"slow":          func(s *grpc.Server) { errmapv1.RegisterErrorMapServiceServer(s, &fakeErrmap{answer: slow}) },
		"INTERNAL":      func(s *grpc.Server) { errmapv1.RegisterErrorMapServiceServer(s, &fakeErrmap{answer: internal}) },
		"UNIMPLEMENTED": func(*grpc.Server) {},
	}
	dead, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	deadAddr := dead.Addr().String()
	dead.Close()
	addrs := map[string]string{"nothing listening": deadAddr}
	for name, register := range cases {
		addrs[name] = serveFake(t, register)
	}
	for name, addr := range addrs {
		c, err := New(addr, Options{})
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		err = c.GatewayToGRPC(context.Background(), 503, GatewayInput{Code: "UNAVAILABLE"})
		g := c.GRPCToGateway(context.Background(), status.Error(codes.NotFound, "gone"))
		took := time.Since(start)
		c.Close()
		if !IsFallback(err) || status.Code(err) != codes.Unavailable {
			t.Errorf("%s: gateway→gRPC %v", name, err)
		}
		if !g.Fallback || g.HTTPStatus != 404 {
			t.Errorf("%s: gRPC→gateway %+v", name, g)
		}
		if took > 2*time.Second {
			t.Errorf("%s: two calls took %v", name, took)
		}
		if c.Fallbacks() != 2 {
			t.Errorf("%s: %d fallbacks counted", name, c.Fallbacks())
		}
	}
}

func TestMatchKindName(t *testing.T) {
	if got := MatchKindName(errmapv1.MatchKind_MATCH_KIND_STATUS_FALLBACK); got != "MATCH_KIND_STATUS_FALLBACK" {
		t.Fatal(got)
	}
	if got := MatchKindName(errmapv1.MatchKind(99)); got != "MATCH_KIND_99" {
		t.Fatal(got)
	}
}

func equalMaps(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// The fallback body is rendered the way errmap renders its own.
func TestFallbackBody(t *testing.T) {
	c := newClient(t, Options{})
	id := `r"1\/<&>é中` + "\u2028"
	real := c.GRPCToGateway(context.Background(), status.Error(codes.Unavailable, ""), WithRequestID(id))
	if real.Fallback {
		t.Fatalf("errmap did not answer: %+v", real)
	}
	if got := gatewayBody(id, real.HTTPStatus, real.Code, real.Message); got != real.Body {
		t.Fatalf("rendered %s\nerrmap   %s", got, real.Body)
	}
}
