package testenv

import (
	"context"
	"log/slog"
	"net"
	"testing"

	"github.com/mycdn/mycdn/internal/registry/pebblestore"
	"github.com/mycdn/mycdn/internal/registryserver"
)

// Registry is our registry on its embedded store, served in the test
// process.
type Registry struct {
	URL  string // http://127.0.0.1:port
	Addr string
	stop func()
}

// StartRegistry serves a registry on a fresh embedded store on a free
// loopback port until t ends. The zero Options make it open to writes.
func StartRegistry(t testing.TB, opts registryserver.Options) *Registry {
	t.Helper()
	if len(opts.Tokens) == 0 && len(opts.Writers) == 0 {
		opts.Open = true
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	st, err := pebblestore.Open(t.TempDir(), pebblestore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := registryserver.New(st, opts)
	if err != nil {
		st.Close()
		t.Fatal(err)
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		st.Close()
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	r := &Registry{URL: "http://" + ln.Addr().String(), Addr: ln.Addr().String()}
	r.stop = func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("registry: serve: %v", err)
		}
		if err := st.Close(); err != nil {
			t.Errorf("registry: close store: %v", err)
		}
	}
	t.Cleanup(r.stop)
	return r
}
