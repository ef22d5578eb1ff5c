package testenv

import (
	"context"
	"log/slog"
	"net"
	"reflect"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/mycdn/mycdn/internal/shardserver"
	"github.com/mycdn/mycdn/internal/shardserver/store"
)

// ShardOptions configure [StartShard]. The zero value gives a development
// store: every database public-rw, in a fresh temporary directory.
type ShardOptions struct {
	// Dir holds the store; "" means a new t.TempDir().
	Dir string
	// Addr is the address to listen on; "" means a free loopback port.
	// Restarting a store on its old address keeps metadata that names it
	// valid.
	Addr string
	// Server configures the server. A zero Access means
	// [shardserver.DevAccess]; a nil Logger logs to t.
	Server shardserver.Options
	// Store configures the store.
	Store store.Options
}

// Shard is our shard store served in the test process.
type Shard struct {
	Addr     string // host:port on 127.0.0.1
	Dir      string
	Server   *shardserver.Server
	Store    *store.Store
	Registry *prometheus.Registry // the server's metrics
	stop     func()
}

// StartShard opens a store and serves it on a free loopback port until t
// ends or Stop is called.
func StartShard(t testing.TB, o ShardOptions) *Shard {
	t.Helper()
	if o.Dir == "" {
		o.Dir = t.TempDir()
	}
	if reflect.ValueOf(o.Server.Access).IsZero() {
		o.Server.Access = shardserver.DevAccess()
	}
	if o.Server.Logger == nil {
		o.Server.Logger = slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	reg := prometheus.NewRegistry()
	o.Server.Registerer = reg
	st, err := store.Open(o.Dir, o.Store)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := shardserver.New(st, o.Server)
	if err != nil {
		st.Close()
		t.Fatal(err)
	}
	if o.Addr == "" {
		o.Addr = "127.0.0.1:0"
	}
	addr, stop := serve(t, "shard store", o.Addr, srv.Serve, st.Close)
	s := &Shard{Addr: addr, Dir: o.Dir, Server: srv, Store: st, Registry: reg, stop: stop}
	t.Cleanup(s.Stop)
	return s
}

// serve serves on addr ("127.0.0.1:0" picks a free port) until stop is
// called, then calls release; it returns the address it listens on. stop
// may be called more than once. If listening fails, release is called and
// t fails.
func serve(t testing.TB, what, addr string, serve func(context.Context, net.Listener) error, release func() error) (string, func()) {
	t.Helper()
	var lc net.ListenConfig
	ln, err := lc.Listen(context.Background(), "tcp", addr)
	if err != nil {
		_ = release() // the listen error is the one to report
		t.Fatalf("%s: %v", what, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- serve(ctx, ln) }()
	return ln.Addr().String(), sync.OnceFunc(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("%s: serve: %v", what, err)
		}
		if err := release(); err != nil {
			t.Errorf("%s: close: %v", what, err)
		}
	})
}

// Stop stops serving and closes the store; later calls do nothing.
func (s *Shard) Stop() { s.stop() }

// tWriter sends log output to the test's log.
type tWriter struct{ t testing.TB }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(string(p))
	return len(p), nil
}
