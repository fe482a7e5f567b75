package errmap

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"
)

// testTimeout is the clients' per-call deadline in tests: longer than the
// default, because the test machine may be busy; the fallback tests use the
// default.
const testTimeout = 5 * time.Second

var listening = regexp.MustCompile(`listening on (\S+:\d+)`)

// errmapServer is an errmap process started by a test.
type errmapServer struct {
	addr string
	cmd  *exec.Cmd
	done chan error
}

// startErrmap starts ERRMAP_BINARY on a free loopback port and returns its
// API address. Without the binary the test fails under CI=true and is
// skipped elsewhere.
func startErrmap(t *testing.T) *errmapServer {
	t.Helper()
	bin := os.Getenv("ERRMAP_BINARY")
	if bin == "" {
		missing(t, "ERRMAP_BINARY (the errmap binary to start) is not set")
	}
	cmd := exec.Command(bin, "--listen", "127.0.0.1:0", "--admin-listen", "off",
		"--http-listen", "off", "--shutdown-grace", "1s")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", bin, err)
	}
	s := &errmapServer{cmd: cmd, done: make(chan error, 1)}
	found := make(chan string, 1)
	go func() {
		scanner := bufio.NewScanner(out)
		sent := false
		for scanner.Scan() {
			if m := listening.FindStringSubmatch(scanner.Text()); m != nil && !sent {
				found <- m[1]
				sent = true
			}
		}
		_, _ = io.Copy(io.Discard, out)
		s.done <- cmd.Wait()
	}()
	t.Cleanup(func() { s.stop(t) })
	select {
	case s.addr = <-found:
	case err := <-s.done:
		s.done = nil
		t.Fatalf("errmap exited during start-up: %v", err)
	case <-time.After(20 * time.Second):
		t.Fatal("errmap did not log its address within 20s")
	}
	return s
}

// stop ends the server with SIGTERM and waits for it; SIGKILL after 10s.
func (s *errmapServer) stop(t *testing.T) {
	if s.done == nil {
		return
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(10 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.done
		t.Error("errmap still ran 10s after SIGTERM")
	}
	s.done = nil
}

func missing(t *testing.T, what string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s; under CI=true this fails", what)
	}
	t.Skip(what)
}

var (
	sharedOnce sync.Once
	sharedAddr string
	sharedErr  string
)

// sharedErrmap returns the address of an errmap for tests that do not stop
// it: ERRMAP_ADDR when set, else one started from ERRMAP_BINARY for the
// whole test binary (stopped by TestMain).
func sharedErrmap(t *testing.T) string {
	t.Helper()
	if addr := os.Getenv("ERRMAP_ADDR"); addr != "" {
		return addr
	}
	sharedOnce.Do(func() {
		sharedAddr, sharedErr = startShared()
	})
	if sharedErr != "" {
		missing(t, sharedErr)
	}
	return sharedAddr
}

var sharedCmd *exec.Cmd

func startShared() (string, string) {
	bin := os.Getenv("ERRMAP_BINARY")
	if bin == "" {
		return "", "neither ERRMAP_ADDR nor ERRMAP_BINARY is set"
	}
	port, err := freePort()
	if err != nil {
		return "", err.Error()
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	cmd := exec.Command(bin, "--listen", addr, "--admin-listen", "off", "--http-listen", "off")
	if err := cmd.Start(); err != nil {
		return "", fmt.Sprintf("start %s: %v", bin, err)
	}
	sharedCmd = cmd
	for i := 0; i < 200; i++ {
		if conn, err := net.DialTimeout("tcp", addr, 100*time.Millisecond); err == nil {
			conn.Close()
			return addr, ""
		}
		time.Sleep(50 * time.Millisecond)
	}
	return "", "errmap did not accept connections on " + addr + " within 10s"
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func TestMain(m *testing.M) {
	code := m.Run()
	if sharedCmd != nil {
		_ = sharedCmd.Process.Signal(syscall.SIGTERM)
		_ = sharedCmd.Wait()
	}
	os.Exit(code)
}

// newClient returns a client of the shared errmap with the test timeout.
func newClient(t *testing.T, opts Options) *Client {
	t.Helper()
	if opts.Timeout == 0 {
		opts.Timeout = testTimeout
	}
	c, err := New(sharedErrmap(t), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// relay is a tiny grpc-go server of the test's own: every call fails with
// the error registered under the x-case metadata value, as a service's
// handler would return it. Calls reach it as any client's would, so what
// the caller sees is what travelled over the wire.
type relay struct {
	mu   sync.Mutex
	errs map[string]error
	conn *grpc.ClientConn
	addr string
}

func startRelay(t *testing.T) *relay {
	t.Helper()
	r := &relay{errs: map[string]error{}}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer(grpc.UnknownServiceHandler(func(_ interface{}, stream grpc.ServerStream) error {
		md, _ := metadata.FromIncomingContext(stream.Context())
		key := ""
		if v := md.Get("x-case"); len(v) > 0 {
			key = v[0]
		}
		if err := stream.RecvMsg(&emptypb.Empty{}); err != nil {
			return err
		}
		r.mu.Lock()
		e := r.errs[key]
		r.mu.Unlock()
		if e != nil {
			return e
		}
		return stream.SendMsg(&emptypb.Empty{})
	}))
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(srv.Stop)
	conn, err := grpc.Dial(lis.Addr().String(), grpc.WithInsecure())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	r.conn = conn
	r.addr = lis.Addr().String()
	return r
}

// through returns the error a caller of the relay receives when its
// handler returns err.
func (r *relay) through(t *testing.T, key string, err error) error {
	t.Helper()
	r.mu.Lock()
	r.errs[key] = err
	r.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	ctx = metadata.AppendToOutgoingContext(ctx, "x-case", key)
	got := r.conn.Invoke(ctx, "/demo.v1.Orders/Place", &emptypb.Empty{}, &emptypb.Empty{})
	if got != nil {
		if _, ok := status.FromError(got); !ok {
			t.Fatalf("relay call %s: not a status error: %v", key, got)
		}
	}
	return got
}
