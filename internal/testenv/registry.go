package testenv

import (
	"log/slog"
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
	addr, stop := serve(t, "registry", "127.0.0.1:0", srv.Serve, st.Close)
	r := &Registry{URL: "http://" + addr, Addr: addr, stop: stop}
	t.Cleanup(r.stop)
	return r
}
