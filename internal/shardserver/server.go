package shardserver

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/mycdn/mycdn/internal/shardproto"
	"github.com/mycdn/mycdn/internal/shardserver/store"
)

// Defaults of [Options].
const (
	DefaultTokenTTL      = 24 * time.Hour
	DefaultPreauthBytes  = 16 << 10
	DefaultIdleTimeout   = 5 * time.Minute
	DefaultMaxConns      = 1024
	DefaultInflightBytes = 256 << 20
	DefaultSweepInterval = time.Hour
)

// Options configure a [Server]. The zero value works, with no databases.
type Options struct {
	// Access says which databases exist and who may do what.
	Access Access
	// TokenKey signs and checks session tokens. nil: a key generated once
	// and kept in the store.
	TokenKey ed25519.PrivateKey
	// TokenTTL is how long a session token from TOKEN is valid. Default
	// [DefaultTokenTTL].
	TokenTTL time.Duration
	// MaxValue is the largest value SET accepts. Default
	// [shardproto.DefaultMaxValue].
	MaxValue int64
	// PreauthBytes bounds each command of a connection that may not write
	// (before login, on a database that is not public-rw). Default
	// [DefaultPreauthBytes].
	PreauthBytes int64
	// IdleTimeout closes a connection that sends nothing, or reads no
	// reply, for this long. Default [DefaultIdleTimeout].
	IdleTimeout time.Duration
	// MaxConns bounds the open connections; more are answered with an error
	// and closed. Default [DefaultMaxConns].
	MaxConns int
	// InflightBytes bounds the memory held by values being received, over
	// all connections. Default [DefaultInflightBytes].
	InflightBytes int64
	// SweepInterval is how often expired values are deleted. Default
	// [DefaultSweepInterval].
	SweepInterval time.Duration
	// Logger gets one line per connection and the server's events; nil
	// discards them.
	Logger *slog.Logger
	// Registerer gets the server's metrics; nil registers them nowhere.
	Registerer prometheus.Registerer
}

func (o *Options) setDefaults() {
	def := func(v *int64, d int64) {
		if *v == 0 {
			*v = d
		}
	}
	def(&o.MaxValue, shardproto.DefaultMaxValue)
	def(&o.PreauthBytes, DefaultPreauthBytes)
	def(&o.InflightBytes, DefaultInflightBytes)
	if o.TokenTTL == 0 {
		o.TokenTTL = DefaultTokenTTL
	}
	if o.IdleTimeout == 0 {
		o.IdleTimeout = DefaultIdleTimeout
	}
	if o.MaxConns == 0 {
		o.MaxConns = DefaultMaxConns
	}
	if o.SweepInterval == 0 {
		o.SweepInterval = DefaultSweepInterval
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
}

// Validate reports options that cannot work (zero values stand for their
// defaults).
func (o Options) Validate() error {
	o.setDefaults()
	switch {
	case o.MaxValue < 1 || o.MaxValue > 1<<maxClass-2:
		return fmt.Errorf("max value %d: want 1 to %d bytes", o.MaxValue, 1<<maxClass-2)
	case o.PreauthBytes < 64 || o.PreauthBytes > smallArgs:
		return fmt.Errorf("pre-login command budget %d: want 64 to %d bytes", o.PreauthBytes, smallArgs)
	case o.InflightBytes < 1<<classOf(int(o.MaxValue)+2):
		return fmt.Errorf("in-flight bytes %d: must hold one value of the maximum size, %d bytes rounded up to a power of two", o.InflightBytes, o.MaxValue)
	case o.TokenTTL < 0 || o.IdleTimeout < 0 || o.SweepInterval < 0 || o.MaxConns < 0:
		return errors.New("negative duration or connection limit")
	case o.TokenKey != nil && len(o.TokenKey) != ed25519.PrivateKeySize:
		return fmt.Errorf("token key of %d bytes, want %d", len(o.TokenKey), ed25519.PrivateKeySize)
	}
	return nil
}

// Server serves a store over the Redis protocol. It is safe for concurrent
// use.
type Server struct {
	opts     Options
	store    *store.Store
	acl      *acl
	tokenKey ed25519.PrivateKey
	tokenPub ed25519.PublicKey
	pool     *pool
	met      *metrics
	log      *slog.Logger
	conns    atomic.Int64
	ids      atomic.Uint64
	started  time.Time
}

// New returns a server for st. The caller closes st after Serve returns.
func New(st *store.Store, opts Options) (*Server, error) {
	if err := opts.Validate(); err != nil {
		return nil, fmt.Errorf("shard server: %w", err)
	}
	opts.setDefaults()
	a, err := newACL(opts.Access, st)
	if err != nil {
		return nil, fmt.Errorf("shard server access: %w", err)
	}
	key := opts.TokenKey
	if key == nil {
		seed, err := st.Secret("token-key", ed25519.SeedSize)
		if err != nil {
			return nil, fmt.Errorf("shard server token key: %w", err)
		}
		key = ed25519.NewKeyFromSeed(seed)
	}
	s := &Server{
		opts:     opts,
		store:    st,
		acl:      a,
		tokenKey: key,
		tokenPub: key.Public().(ed25519.PublicKey),
		pool:     newPool(opts.InflightBytes),
		log:      opts.Logger,
		started:  time.Now(),
	}
	s.met = newMetrics(opts.Registerer, func() float64 { return float64(s.conns.Load()) })
	return s, nil
}

// Healthy reports whether the server can serve; /healthz calls it.
func (s *Server) Healthy(context.Context) error { return s.store.Check() }

// Serve accepts connections on ln until ctx is done, then closes ln and
// every connection and returns nil once they have finished. It returns an
// error if accepting fails for good.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(ctx, func() { ln.Close() })
	defer stop()
	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Go(func() { s.sweep(ctx) })
	if s.acl.loopbackOnly {
		s.log.Warn("no configuration: every database is public-rw and only loopback clients are accepted; write a shard.toml to set access (see docs/shard.md)")
	}
	s.log.Info("serving shard store", "addr", ln.Addr().String())
	var backoff time.Duration
	for {
		nc, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			if errors.Is(err, net.ErrClosed) {
				return fmt.Errorf("accept: %w", err)
			}
			// Out of file descriptors and the like: wait and try again.
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			s.log.Warn("accept", "err", err, "retry_in", backoff)
			select {
			case <-time.After(backoff):
			case <-ctx.Done():
				return nil
			}
			continue
		}
		backoff = 0
		if reason, msg := s.admit(nc); reason != "" {
			s.reject(nc, reason, msg)
			continue
		}
		wg.Go(func() {
			defer s.conns.Add(-1)
			newConn(s, nc).serve(ctx)
		})
	}
}

// admit counts nc in or says why it is refused.
func (s *Server) admit(nc net.Conn) (reason, msg string) {
	if s.acl.loopbackOnly && !isLoopback(nc.RemoteAddr()) {
		return "not_loopback", "DENIED this mycdn shard store runs without configuration, so it accepts clients on loopback only; " +
			"start it with --config shard.toml to set databases and access (see docs/shard.md)"
	}
	if s.conns.Add(1) > int64(s.opts.MaxConns) {
		s.conns.Add(-1)
		return "max_connections", "ERR max number of clients reached"
	}
	s.met.accepted.Inc()
	return "", ""
}

// reject answers nc with an error and closes it.
func (s *Server) reject(nc net.Conn, reason, msg string) {
	s.met.rejected.WithLabelValues(reason).Inc()
	_ = nc.SetWriteDeadline(time.Now().Add(time.Second))
	_, _ = nc.Write(shardproto.AppendError(nil, msg))
	_ = nc.Close()
	s.log.Debug("connection refused", "remote", nc.RemoteAddr().String(), "reason", reason)
}

func (s *Server) sweep(ctx context.Context) {
	t := time.NewTicker(s.opts.SweepInterval)
	defer t.Stop()
	for {
		if n, err := s.store.Sweep(ctx); err != nil {
			s.log.Warn("sweep expired values", "err", err)
		} else if n > 0 {
			s.log.Info("swept expired values", "count", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func isLoopback(a net.Addr) bool {
	if tcp, ok := a.(*net.TCPAddr); ok {
		return tcp.IP.IsLoopback()
	}
	_, ok := a.(*net.UnixAddr)
	return ok
}
