package registryclient_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mycdn/mycdn/internal/registry/pebblestore"
	"github.com/mycdn/mycdn/internal/registry/storetest"
	"github.com/mycdn/mycdn/internal/registryclient"
	"github.com/mycdn/mycdn/internal/registryserver"
	"github.com/mycdn/mycdn/internal/retry"
	"github.com/mycdn/mycdn/internal/seal"
	"github.com/mycdn/mycdn/internal/xeddsa"
	"github.com/mycdn/mycdn/meta"
)

const token = "client-token"

var writerKey = xeddsa.GenerateKey()

// registryServer is a real registry on a loopback port whose requests can be
// made to fail: a test sets fault, which sees each request first and
// answers it when it returns true.
type registryServer struct {
	URL      string
	reg      http.Handler // the registry itself, behind the fault
	requests atomic.Int64
	conns    atomic.Int64
	mu       sync.Mutex
	fault    func(w http.ResponseWriter, r *http.Request) bool
}

func newRegistry(t *testing.T, opts registryserver.Options) *registryServer {
	t.Helper()
	store, err := pebblestore.Open(t.TempDir(), pebblestore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := store.Close(); err != nil {
			t.Error(err)
		}
	})
	if opts.Tokens == nil && !opts.Open {
		opts.Tokens = []string{token}
		opts.Writers = []xeddsa.PublicKey{writerKey.PublicKey()}
	}
	reg, err := registryserver.New(store, opts)
	if err != nil {
		t.Fatal(err)
	}
	s := &registryServer{reg: reg}
	hs := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.requests.Add(1)
		s.mu.Lock()
		fault := s.fault
		s.mu.Unlock()
		if fault != nil && fault(w, r) {
			return
		}
		reg.ServeHTTP(w, r)
	}))
	hs.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			s.conns.Add(1)
		}
	}
	hs.Start()
	t.Cleanup(hs.Close)
	s.URL = hs.URL
	return s
}

func (s *registryServer) setFault(f func(w http.ResponseWriter, r *http.Request) bool) {
	s.mu.Lock()
	s.fault = f
	s.mu.Unlock()
}

// failTimes answers the next n requests with code.
func failTimes(n int, code int) func(w http.ResponseWriter, r *http.Request) bool {
	var left atomic.Int64
	left.Store(int64(n))
	return func(w http.ResponseWriter, r *http.Request) bool {
		if left.Add(-1) < 0 {
			return false
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		_, _ = fmt.Fprintf(w, `{"error":"injected %d"}`, code)
		return true
	}
}

func newClient(t *testing.T, url string, opts *registryclient.Options) *registryclient.Client {
	t.Helper()
	if opts == nil {
		opts = &registryclient.Options{Token: token}
	}
	if opts.Retry.Min == 0 {
		opts.Retry.Min, opts.Retry.Max = time.Millisecond, 10*time.Millisecond
	}
	c, err := registryclient.New(url, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

func TestRoundTrip(t *testing.T) {
	s := newRegistry(t, registryserver.Options{MaxBlobSize: 10000})
	ctx := t.Context()
	for name, opts := range map[string]*registryclient.Options{
		"token":  {Token: token},
		"xeddsa": {Key: &writerKey},
	} {
		t.Run(name, func(t *testing.T) {
			c := newClient(t, s.URL, opts)
			data, h := storetest.Blob("round trip "+name, 2048)
			for range 2 {
				if err := c.Put(ctx, h, data); err != nil {
					t.Fatal(err)
				}
			}
			got, err := c.Get(ctx, h)
			if err != nil || string(got) != string(data) {
				t.Fatalf("get: %d bytes, %v", len(got), err)
			}
		})
	}
	c := newClient(t, s.URL, nil)
	info, err := c.Info(ctx)
	if err != nil || info.MaxBlobSize != 10000 || info.Open {
		t.Fatalf("info: %+v, %v", info, err)
	}
	_, err = c.Get(ctx, meta.Hash{1})
	var se *registryclient.StatusError
	if !errors.Is(err, registryclient.ErrNotFound) || !errors.As(err, &se) || se.Code != 404 {
		t.Fatalf("get of an absent blob: %v", err)
	}
	big, bigHash := storetest.Blob("big", 10001)
	if err := c.Put(ctx, bigHash, big); !errors.Is(err, registryclient.ErrTooLarge) {
		t.Fatalf("put over the registry's limit: %v", err)
	}
}

func TestRefused(t *testing.T) {
	s := newRegistry(t, registryserver.Options{})
	data, h := storetest.Blob("refused", 100)
	stranger := xeddsa.GenerateKey()
	for name, tc := range map[string]struct {
		opts *registryclient.Options
		code int
	}{
		"no credentials": {&registryclient.Options{}, 401},
		"bad token":      {&registryclient.Options{Token: "nope"}, 401},
		"unknown key":    {&registryclient.Options{Key: &stranger}, 403},
	} {
		t.Run(name, func(t *testing.T) {
			before := s.requests.Load()
			err := newClient(t, s.URL, tc.opts).Put(t.Context(), h, data)
			var se *registryclient.StatusError
			if !errors.As(err, &se) || se.Code != tc.code || se.Message == "" {
				t.Fatalf("put: %v; want status %d with the registry's message", err, tc.code)
			}
			if n := s.requests.Load() - before; n != 1 {
				t.Fatalf("a refused write was sent %d times", n)
			}
		})
	}
	if _, err := newClient(t, s.URL, nil).Get(t.Context(), h); !errors.Is(err, registryclient.ErrNotFound) {
		t.Fatalf("a refused write stored the blob: %v", err)
	}
	// A blob that does not hash to its lookup hash is refused before sending.
	before := s.requests.Load()
	if err := newClient(t, s.URL, nil).Put(t.Context(), meta.Hash{}, data); !errors.Is(err, registryclient.ErrHashMismatch) {
		t.Fatalf("put under the wrong hash: %v", err)
	}
	if s.requests.Load() != before {
		t.Fatal("a put under the wrong hash was sent")
	}
}

func TestRetries(t *testing.T) {
	s := newRegistry(t, registryserver.Options{})
	c := newClient(t, s.URL, nil)
	ctx := t.Context()
	for i, code := range []int{503, 502, 500, 504, 429} {
		t.Run(fmt.Sprint(code), func(t *testing.T) {
			data, h := storetest.Blob(fmt.Sprint("retried ", i), 100)
			s.setFault(failTimes(2, code))
			before := s.requests.Load()
			if err := c.Put(ctx, h, data); err != nil {
				t.Fatalf("put: %v", err)
			}
			if n := s.requests.Load() - before; n != 3 {
				t.Fatalf("put took %d requests, want 3", n)
			}
			s.setFault(failTimes(2, code))
			before = s.requests.Load()
			if got, err := c.Get(ctx, h); err != nil || string(got) != string(data) {
				t.Fatalf("get: %d bytes, %v", len(got), err)
			}
			if n := s.requests.Load() - before; n != 3 {
				t.Fatalf("get took %d requests, want 3", n)
			}
		})
	}
	t.Run("exhausted", func(t *testing.T) {
		c := newClient(t, s.URL, &registryclient.Options{Token: token, Retry: retry.Policy{Retries: 2}})
		s.setFault(failTimes(100, 503))
		before := s.requests.Load()
		_, err := c.Get(ctx, meta.Hash{})
		var se *registryclient.StatusError
		if !errors.As(err, &se) || se.Code != 503 || se.Message != "injected 503" {
			t.Fatalf("get: %v", err)
		}
		if n := s.requests.Load() - before; n != 3 {
			t.Fatalf("%d requests, want 3", n)
		}
	})
	t.Run("not transient", func(t *testing.T) {
		s.setFault(failTimes(100, 400))
		before := s.requests.Load()
		if _, err := c.Info(ctx); err == nil {
			t.Fatal("info succeeded")
		}
		if n := s.requests.Load() - before; n != 1 {
			t.Fatalf("a 400 was retried: %d requests", n)
		}
	})
	t.Run("cancelled during backoff", func(t *testing.T) {
		c := newClient(t, s.URL, &registryclient.Options{Retry: retry.Policy{Min: time.Minute, Max: time.Minute}})
		s.setFault(failTimes(100, 503))
		ctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
		defer cancel()
		start := time.Now()
		_, err := c.Get(ctx, meta.Hash{})
		if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 5*time.Second {
			t.Fatalf("get: %v after %v", err, time.Since(start))
		}
	})
	t.Run("Retry-After", func(t *testing.T) {
		c := newClient(t, s.URL, &registryclient.Options{Retry: retry.Policy{Min: time.Millisecond, Max: 400 * time.Millisecond}})
		var first atomic.Bool
		s.setFault(func(w http.ResponseWriter, r *http.Request) bool {
			if first.Swap(true) {
				return false
			}
			w.Header().Set("Retry-After", "30")
			w.WriteHeader(503)
			return true
		})
		start := time.Now()
		if _, err := c.Info(ctx); err != nil {
			t.Fatal(err)
		}
		if d := time.Since(start); d < 350*time.Millisecond || d > 5*time.Second {
			t.Fatalf("retried after %v; want Retry-After capped at Retry.Max, 400ms", d)
		}
	})
	s.setFault(nil)
}

func TestTransientNetwork(t *testing.T) {
	s := newRegistry(t, registryserver.Options{})
	data, h := storetest.Blob("network", 500)
	t.Run("timeout", func(t *testing.T) {
		c := newClient(t, s.URL, &registryclient.Options{Token: token, Timeout: 200 * time.Millisecond})
		var first atomic.Bool
		s.setFault(func(w http.ResponseWriter, r *http.Request) bool {
			if first.Swap(true) {
				return false
			}
			_, _ = io.Copy(io.Discard, r.Body) // so the server sees the client go
			select {                           // hang until the client gives up
			case <-r.Context().Done():
			case <-time.After(10 * time.Second):
			}
			return true
		})
		if err := c.Put(t.Context(), h, data); err != nil {
			t.Fatalf("put after a timed-out attempt: %v", err)
		}
	})
	t.Run("dropped connection", func(t *testing.T) {
		c := newClient(t, s.URL, nil)
		var first atomic.Bool
		s.setFault(func(w http.ResponseWriter, r *http.Request) bool {
			if first.Swap(true) {
				return false
			}
			conn, _, err := http.NewResponseController(w).Hijack()
			if err == nil {
				_ = conn.Close()
			}
			return true
		})
		if got, err := c.Get(t.Context(), h); err != nil || string(got) != string(data) {
			t.Fatalf("get after a dropped connection: %d bytes, %v", len(got), err)
		}
	})
	t.Run("no server", func(t *testing.T) {
		var lc net.ListenConfig
		ln, err := lc.Listen(t.Context(), "tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		url := "http://" + ln.Addr().String()
		if err := ln.Close(); err != nil {
			t.Fatal(err)
		}
		c := newClient(t, url, &registryclient.Options{Retry: retry.Policy{Retries: 2}})
		if _, err := c.Get(t.Context(), h); err == nil || errors.Is(err, registryclient.ErrNotFound) {
			t.Fatalf("get with no server: %v", err)
		}
	})
	s.setFault(nil)
}

// TestBadAnswers checks that Get refuses bytes that do not hash to the
// lookup hash, and blobs over its limit, announced or not.
func TestBadAnswers(t *testing.T) {
	s := newRegistry(t, registryserver.Options{})
	data, h := storetest.Blob("honest", 100)
	c := newClient(t, s.URL, &registryclient.Options{Token: token, MaxBlobSize: 1000})
	if err := c.Put(t.Context(), h, data); err != nil {
		t.Fatal(err)
	}
	for name, body := range map[string][]byte{
		"lies":      []byte("other bytes"),
		"too large": make([]byte, 1001),
	} {
		for _, announce := range []bool{true, false} {
			s.setFault(func(w http.ResponseWriter, r *http.Request) bool {
				if !announce {
					w.(http.Flusher).Flush() // chunked: no Content-Length
				} else {
					w.Header().Set("Content-Length", fmt.Sprint(len(body)))
				}
				_, _ = w.Write(body)
				return true
			})
			_, err := c.Get(t.Context(), h)
			want := registryclient.ErrHashMismatch
			if name == "too large" {
				want = registryclient.ErrTooLarge
			}
			if !errors.Is(err, want) {
				t.Errorf("%s (announced %v): %v, want %v", name, announce, err, want)
			}
		}
	}
	s.setFault(nil)
}

func TestConnectionReuse(t *testing.T) {
	s := newRegistry(t, registryserver.Options{})
	c := newClient(t, s.URL, nil)
	data, h := storetest.Blob("reuse", 2048)
	for range 20 {
		if err := c.Put(t.Context(), h, data); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Get(t.Context(), h); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Get(t.Context(), meta.Hash{}); !errors.Is(err, registryclient.ErrNotFound) {
			t.Fatal(err)
		}
	}
	if n := s.conns.Load(); n != 1 {
		t.Fatalf("60 sequential requests opened %d connections, want 1", n)
	}
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 10 {
				if _, err := c.Get(t.Context(), h); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	// A reader may dial while another's connection is being freed, so a few
	// more than 8 can open, never one per request.
	if n := s.conns.Load(); n > 20 {
		t.Fatalf("8 concurrent readers making 80 requests opened %d connections", n)
	}
}

func TestNew(t *testing.T) {
	for _, u := range []string{"", "registry:8081", "ftp://host", "http://", "http://host/?q=1", "http://u:p@host", "http://host/prefix"} {
		if _, err := registryclient.New(u, nil); err == nil {
			t.Errorf("New(%q) accepted", u)
		}
	}
	// A trailing slash is fine.
	s := newRegistry(t, registryserver.Options{})
	c := newClient(t, s.URL+"/", nil)
	if _, err := c.Info(t.Context()); err != nil {
		t.Fatalf("info with a trailing slash: %v", err)
	}
}

// TestEmptyBlob checks that an empty blob, nil or not, is written with
// credentials and read back.
func TestEmptyBlob(t *testing.T) {
	s := newRegistry(t, registryserver.Options{})
	c := newClient(t, s.URL, nil)
	for _, b := range [][]byte{nil, {}} {
		lookup := seal.Sum(b)
		if err := c.Put(t.Context(), lookup, b); err != nil {
			t.Fatalf("put of %#v: %v", b, err)
		}
		if got, err := c.Get(t.Context(), lookup); err != nil || len(got) != 0 {
			t.Fatalf("get: %q, %v", got, err)
		}
	}
}
