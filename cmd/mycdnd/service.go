package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"

	"golang.org/x/sync/errgroup"

	"github.com/mycdn/mycdn/internal/opshttp"
)

// service is a server with its listener, ready to serve.
type service struct {
	ln net.Listener
	// serve serves on ln until ctx is done, and closes ln.
	serve func(ctx context.Context, ln net.Listener) error
	// close releases what the server holds once serve has returned, or
	// when it never ran; nil when there is nothing to release.
	close func() error
}

// runServices serves every service until ctx is done or one fails, then
// closes them all, and returns the first error.
func runServices(ctx context.Context, svcs ...*service) error {
	g, ctx := errgroup.WithContext(ctx)
	for _, s := range svcs {
		g.Go(func() error { return s.serve(ctx, s.ln) })
	}
	err := g.Wait()
	for _, s := range svcs {
		if s.close != nil {
			err = errors.Join(err, s.close())
		}
	}
	return err
}

// discard closes services that will not be served, because a later one
// failed to start.
func discard(svcs []*service) {
	for _, s := range svcs {
		s.ln.Close()
		if s.close != nil {
			_ = s.close() // the error that stopped the start is the one to report
		}
	}
}

// listen listens on addr, naming what for in the error.
func listen(ctx context.Context, what, addr string) (net.Listener, error) {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("%s: listen: %w", what, err)
	}
	return ln, nil
}

// withMetrics runs svc, and /metrics and /healthz with h on addr when addr
// is set.
func withMetrics(ctx context.Context, svc *service, addr string, h http.Handler, log *slog.Logger) error {
	if addr == "" {
		return runServices(ctx, svc)
	}
	ln, err := listen(ctx, "metrics", addr)
	if err != nil {
		discard([]*service{svc})
		return err
	}
	metrics := &service{ln: ln, serve: func(ctx context.Context, ln net.Listener) error { return opshttp.Serve(ctx, ln, h, log) }}
	return runServices(ctx, svc, metrics)
}
