package errmap

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"io/ioutil"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/golang/protobuf/proto"
	"golang.org/x/net/http2"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

const errorInfoURL = "type.googleapis.com/google.rpc.ErrorInfo"

// rawDetails calls the relay over plain HTTP/2, not through grpc-go (which
// decodes grpc-status-details-bin and keeps it from the caller's metadata),
// and returns the trailer's bytes as they came on the wire.
func rawDetails(t *testing.T, r *relay, key string) []byte {
	t.Helper()
	client := &http.Client{Timeout: testTimeout, Transport: &http2.Transport{
		AllowHTTP: true,
		DialTLS: func(network, addr string, _ *tls.Config) (net.Conn, error) {
			return net.Dial(network, addr)
		},
	}}
	req, err := http.NewRequest("POST", "http://"+r.addr+"/demo.v1.Orders/Place", bytes.NewReader([]byte{0, 0, 0, 0, 0}))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("content-type", "application/grpc")
	req.Header.Set("te", "trailers")
	req.Header.Set("x-case", key)
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if _, err := ioutil.ReadAll(resp.Body); err != nil {
		t.Fatal(err)
	}
	// A trailers-only answer carries it in the headers.
	value := resp.Trailer.Get("grpc-status-details-bin")
	if value == "" {
		value = resp.Header.Get("grpc-status-details-bin")
	}
	if value == "" {
		t.Fatalf("no grpc-status-details-bin (headers %v, trailers %v)", resp.Header, resp.Trailer)
	}
	// Binary metadata is base64, padded or not.
	raw, err := base64.RawStdEncoding.DecodeString(strings.TrimRight(value, "="))
	if err != nil {
		t.Fatalf("grpc-status-details-bin %q: %v", value, err)
	}
	return raw
}

// checkMark decodes raw grpc-status-details-bin bytes and checks the
// fallback mark the four clients share.
func checkMark(t *testing.T, raw []byte, code codes.Code, httpStatus int, domain string) {
	t.Helper()
	var st spb.Status
	if err := proto.Unmarshal(raw, &st); err != nil {
		t.Fatalf("grpc-status-details-bin does not decode: %v", err)
	}
	if codes.Code(st.GetCode()) != code || st.GetMessage() != fmt.Sprintf("HTTP status %d", httpStatus) {
		t.Fatalf("status %d %q, want %v %q", st.GetCode(), st.GetMessage(), code, fmt.Sprintf("HTTP status %d", httpStatus))
	}
	if len(st.GetDetails()) != 1 || st.GetDetails()[0].GetTypeUrl() != errorInfoURL {
		t.Fatalf("details %v, want one ErrorInfo", st.GetDetails())
	}
	var info errdetails.ErrorInfo
	if err := proto.Unmarshal(st.GetDetails()[0].GetValue(), &info); err != nil {
		t.Fatalf("ErrorInfo does not decode: %v", err)
	}
	want := map[string]string{"errmapFallback": "true", "httpStatus": fmt.Sprint(httpStatus)}
	if info.GetReason() != "" || info.GetDomain() != domain || !equalMaps(info.GetMetadata(), want) {
		t.Fatalf("ErrorInfo reason %q domain %q metadata %v, want \"\" %q %v", info.GetReason(), info.GetDomain(), info.GetMetadata(), domain, want)
	}
}

// The fallback mark, read from the raw bytes, as returned and as a caller
// of the service receives it.
func TestFallbackMark(t *testing.T) {
	dead, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := dead.Addr().String()
	dead.Close()
	c, err := New(addr, Options{Timeout: testTimeout, Domain: "orders.example.com"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	made := c.GatewayToGRPC(context.Background(), 429, GatewayInput{Code: "QUOTA_EXCEEDED"})
	if !IsFallback(made) || FallbackMetadataKey != "errmapFallback" {
		t.Fatalf("not a fallback: %v", made)
	}
	// What grpc-go puts on the wire for it.
	sent, err := proto.Marshal(status.Convert(made).Proto())
	if err != nil {
		t.Fatal(err)
	}
	checkMark(t, sent, codes.ResourceExhausted, 429, "orders.example.com")

	// FallbackError builds the same (its bytes may differ: map entries
	// are marshalled in no fixed order).
	direct, err := proto.Marshal(status.Convert(FallbackError(429, "orders.example.com")).Proto())
	if err != nil {
		t.Fatal(err)
	}
	checkMark(t, direct, codes.ResourceExhausted, 429, "orders.example.com")
	if FallbackError(204, "") != nil || !errors.Is(FallbackError(600, ""), ErrHTTPStatus) {
		t.Fatal("FallbackError: 204 is no error, 600 the caller's mistake")
	}

	r := startRelay(t)
	r.errs["mark"] = made
	checkMark(t, rawDetails(t, r, "mark"), codes.ResourceExhausted, 429, "orders.example.com")
	if received := r.through(t, "mark", made); !IsFallback(received) {
		t.Fatalf("received %v is not a fallback", received)
	}
}

// IsFallback wants the whole mark; errmap's own answers never carry it.
func TestIsFallbackNeedsTheWholeMark(t *testing.T) {
	with := func(info *errdetails.ErrorInfo) error {
		st, err := status.New(codes.Internal, "x").WithDetails(info)
		if err != nil {
			t.Fatal(err)
		}
		return st.Err()
	}
	mark := map[string]string{"errmapFallback": "true", "httpStatus": "500"}
	if !IsFallback(with(&errdetails.ErrorInfo{Domain: "d", Metadata: mark})) {
		t.Fatal("the mark is not read")
	}
	for _, info := range []*errdetails.ErrorInfo{
		{Domain: "d", Metadata: map[string]string{"httpStatus": "500"}},
		{Reason: "INTERNAL", Domain: "d", Metadata: mark},
		{Domain: "d", Metadata: map[string]string{"errmapFallback": "1"}},
	} {
		if IsFallback(with(info)) {
			t.Fatalf("%v reads as a fallback", info)
		}
	}

	c := newClient(t, Options{})
	for _, tc := range []struct {
		status int
		code   string
	}{{500, "INTERNAL"}, {418, ""}, {403, "APIGW_NONCE_CONFLICT"}} {
		err := c.GatewayToGRPC(context.Background(), tc.status, GatewayInput{Code: tc.code})
		if IsFallback(err) || errorInfo(t, err).GetMetadata()[FallbackMetadataKey] != "" {
			t.Fatalf("%d %q: errmap's answer %v carries the mark", tc.status, tc.code, err)
		}
	}
	if c.Fallbacks() != 0 {
		t.Fatalf("%d fallbacks with errmap up", c.Fallbacks())
	}
}

// The fallback body escapes strings as errmap and the other three clients
// do: the same input and expected text are in each client's tests.
func TestFallbackBodyEscapes(t *testing.T) {
	got := gatewayBody("r-1", 500, "INTERNAL", "a\"b\\c\b\f\n\r\t\x01\x1f\u2028中")
	want := `{"requestId":"r-1","error":{"code":500,"status":"INTERNAL","message":"a\"b\\c\b\f\n\r\t\u0001\u001f` + "\u2028" + `中"}}`
	if got != want {
		t.Fatalf("rendered %s\nwant     %s", got, want)
	}
}
