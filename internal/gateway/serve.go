package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
)

// maxHeaderBytes bounds a request's headers.
const maxHeaderBytes = 64 << 10

// Serve answers requests on ln until ctx is done, then shuts down
// gracefully: it stops accepting, lets requests in progress finish for up to
// ShutdownTimeout, then closes the connections left. It speaks HTTP/1.1 and
// h2c, or HTTP/1.1 and HTTP/2 over TLS when Options.TLS is set. It closes
// ln.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	var protocols http.Protocols
	protocols.SetHTTP1(true)
	if s.opts.TLS != nil {
		protocols.SetHTTP2(true)
	} else {
		protocols.SetUnencryptedHTTP2(true)
	}
	srv := &http.Server{
		Handler:           s,
		ReadHeaderTimeout: s.opts.ReadHeaderTimeout,
		ReadTimeout:       s.opts.ReadTimeout,
		// The whole response of HTTP/1.1, each stream's of HTTP/2: only
		// until the handler renews it, before the headers and each piece of
		// a body.
		WriteTimeout:   s.opts.WriteTimeout,
		IdleTimeout:    s.opts.IdleTimeout,
		MaxHeaderBytes: maxHeaderBytes,
		TLSConfig:      s.opts.TLS,
		Protocols:      &protocols,
		ErrorLog:       slog.NewLogLogger(s.log.Handler(), slog.LevelDebug), // handshake errors and the like
		BaseContext:    func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	done := make(chan error, 1)
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.opts.ShutdownTimeout)
		defer cancel()
		err := srv.Shutdown(sctx)
		if err != nil {
			s.log.Warn("gateway: requests still running at the end of the shutdown timeout: closing them", "err", err)
			err = srv.Close()
		}
		done <- err
	}()
	s.log.Info("serving gateway", "addr", ln.Addr().String(), "tls", s.opts.TLS != nil, "domain", s.opts.Domain)
	var err error
	if s.opts.TLS != nil {
		err = srv.ServeTLS(ln, "", "")
	} else {
		err = srv.Serve(ln)
	}
	if !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("gateway: %w", err)
	}
	return <-done
}
