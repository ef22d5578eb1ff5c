package registryserver_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/mycdn/mycdn/internal/registry"
	"github.com/mycdn/mycdn/internal/registry/pebblestore"
	"github.com/mycdn/mycdn/internal/registry/pgstore"
	"github.com/mycdn/mycdn/internal/registryserver"
	"github.com/mycdn/mycdn/internal/testenv"
)

func TestMain(m *testing.M) { os.Exit(testenv.WithPostgres(m.Run)) }

// stores are the store engines the API is tested over.
var stores = []struct {
	name string
	open func(t testing.TB) registry.Store
}{
	{"pebble", openPebble},
	{"postgres", func(t testing.TB) registry.Store { return openPostgres(t, testenv.PostgresDB(t)) }},
}

func openPebble(t testing.TB) registry.Store {
	s, err := pebblestore.Open(t.TempDir(), pebblestore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Error(err)
		}
	})
	return s
}

func openPostgres(t testing.TB, url string) registry.Store {
	s, err := pgstore.Open(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Error(err)
		}
	})
	return s
}

// serve serves store on a free loopback port until the test ends and
// returns the registry's URL.
func serve(t testing.TB, store registry.Store, opts registryserver.Options) string {
	t.Helper()
	s, err := registryserver.New(store, opts)
	if err != nil {
		t.Fatal(err)
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	return "http://" + ln.Addr().String()
}

// reply is an HTTP answer.
type reply struct {
	code   int
	header http.Header
	body   []byte
}

// errorMessage returns the JSON error of r, failing t if r has none.
func (r reply) errorMessage(t testing.TB) string {
	t.Helper()
	var e registry.ErrorResponse
	if ct := r.header.Get("Content-Type"); ct != "application/json" {
		t.Fatalf("error reply %d with Content-Type %q, want application/json: %q", r.code, ct, r.body)
	}
	if err := json.Unmarshal(r.body, &e); err != nil || e.Error == "" {
		t.Fatalf("error reply %d is not a JSON error: %q (%v)", r.code, r.body, err)
	}
	return e.Error
}

var httpClient = &http.Client{Timeout: 30 * time.Second}

// do makes a request with the given headers ("Key: value" strings).
func do(t testing.TB, method, url string, body io.Reader, headers ...string) reply {
	t.Helper()
	req, err := http.NewRequestWithContext(context.Background(), method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range headers {
		k, v, _ := strings.Cut(h, ": ")
		req.Header.Set(k, v)
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	b, err := io.ReadAll(resp.Body)
	if err := errors.Join(err, resp.Body.Close()); err != nil {
		t.Fatalf("%s %s: reading the body: %v", method, url, err)
	}
	return reply{resp.StatusCode, resp.Header, b}
}

// chunked hides the length of a body, so it is sent chunked.
type chunked struct{ r io.Reader }

func (c chunked) Read(p []byte) (int, error) { return c.r.Read(p) }

func bodyOf(b []byte) io.Reader { return bytes.NewReader(b) }
