package shardclient

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/zeebo/blake3"

	"github.com/mycdn/mycdn/internal/retry"
	"github.com/mycdn/mycdn/internal/shardproto"
)

// Defaults of [Options].
const (
	DefaultPoolSize    = 8
	DefaultDialTimeout = 5 * time.Second
	DefaultIOTimeout   = 30 * time.Second
	DefaultIdleTimeout = 2 * time.Minute
)

// Errors a call may wrap; test with errors.Is.
var (
	// ErrNotFound: the key holds no value.
	ErrNotFound = errors.New("no such key")
	// ErrAuth: the server refused a token, a signature or a secret
	// (WRONGPASS), or the login failed otherwise.
	ErrAuth = errors.New("login refused")
	// ErrDenied: the command needs a login (NOAUTH) or a right the key
	// lacks (NOPERM).
	ErrDenied = errors.New("access denied")
	// ErrTooLarge: a value is larger than Options.MaxValue.
	ErrTooLarge = errors.New("value too large")
	// ErrClosed: the client was closed.
	ErrClosed = errors.New("client closed")
)

// ServerError is an error reply of the server, such as
// "NOPERM this key has no write right on database 7".
type ServerError struct{ Msg string }

// Error returns the server's message.
func (e *ServerError) Error() string { return e.Msg }

// Unwrap maps the reply's prefix to [ErrAuth] or [ErrDenied].
func (e *ServerError) Unwrap() error {
	prefix, _, _ := strings.Cut(e.Msg, " ")
	switch prefix {
	case shardproto.ErrPrefixWrongPass:
		return ErrAuth
	case shardproto.ErrPrefixNoAuth, shardproto.ErrPrefixNoPerm:
		return ErrDenied
	}
	return nil
}

// Auth is how a client logs in. The zero value does not log in; set at most
// one field.
type Auth struct {
	// Token is a session token sent with AUTH (auth type "token" of the
	// reference's config.toml, or the token of a shard location in
	// metadata).
	Token string
	// Key logs in with CHALLENGE, TOKEN and AUTH (auth type "private_key").
	Key ed25519.PrivateKey
}

// Options configure a [Client]. Addr is required; zero values of the others
// mean their defaults.
type Options struct {
	// Addr is the server's host:port.
	Addr string
	// DB is the database to SELECT, 0 to 65535.
	DB int
	// Auth is how to log in.
	Auth Auth
	// PoolSize bounds the connections open at once, and so the calls in
	// flight; more calls wait. Default [DefaultPoolSize].
	PoolSize int
	// DialTimeout bounds connecting and logging in. Default
	// [DefaultDialTimeout].
	DialTimeout time.Duration
	// IOTimeout bounds each call when its context has no earlier deadline.
	// Default [DefaultIOTimeout].
	IOTimeout time.Duration
	// IdleTimeout closes pooled connections unused for this long, before a
	// server's own idle timeout does. Default [DefaultIdleTimeout].
	IdleTimeout time.Duration
	// MaxValue bounds the values Get accepts and Set sends. Default
	// [shardproto.DefaultMaxValue].
	MaxValue int
	// Retry says how failures of the connection (dialing, I/O, timeouts;
	// not errors the server replies) are retried. The zero value retries 3
	// times with backoff; Retries -1 turns retries off, for readers that
	// rather ask another store.
	Retry retry.Policy
	// Logger gets a debug line per connection opened; nil discards.
	Logger *slog.Logger
}

// Validate reports options that cannot work.
func (o *Options) Validate() error {
	switch {
	case o.Addr == "":
		return errors.New("shard client: no address")
	case o.DB < 0 || o.DB > shardproto.MaxDB:
		return fmt.Errorf("shard client %s: database %d out of range 0 to %d", o.Addr, o.DB, shardproto.MaxDB)
	case o.Auth.Token != "" && o.Auth.Key != nil:
		return fmt.Errorf("shard client %s: auth has both a token and a key", o.Addr)
	case o.Auth.Key != nil && len(o.Auth.Key) != ed25519.PrivateKeySize:
		return fmt.Errorf("shard client %s: ed25519 key of %d bytes", o.Addr, len(o.Auth.Key))
	case o.PoolSize < 0 || o.DialTimeout < 0 || o.IOTimeout < 0 || o.IdleTimeout < 0 || o.MaxValue < 0:
		return fmt.Errorf("shard client %s: negative option", o.Addr)
	}
	return nil
}

// Client is a pooled client of one shard store. It is safe for concurrent
// use.
type Client struct {
	opts  Options
	log   *slog.Logger
	slots chan struct{} // one per connection that may be open

	mu     sync.Mutex
	idle   []*conn // most recently used last
	closed bool

	// digest is whether the server has DIGEST: 0 unknown, 1 yes, 2 no.
	digest atomic.Int32
	bufs   sync.Pool // *[]byte for Holds without DIGEST
}

// New returns a client for opts.Addr. It connects lazily, on the first call.
func New(opts Options) (*Client, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	if opts.PoolSize == 0 {
		opts.PoolSize = DefaultPoolSize
	}
	if opts.DialTimeout == 0 {
		opts.DialTimeout = DefaultDialTimeout
	}
	if opts.IOTimeout == 0 {
		opts.IOTimeout = DefaultIOTimeout
	}
	if opts.IdleTimeout == 0 {
		opts.IdleTimeout = DefaultIdleTimeout
	}
	if opts.MaxValue == 0 {
		opts.MaxValue = shardproto.DefaultMaxValue
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Client{opts: opts, log: log, slots: make(chan struct{}, opts.PoolSize)}, nil
}

// Addr returns the server's address.
func (c *Client) Addr() string { return c.opts.Addr }

// Close closes the pooled connections; connections in use close when their
// call ends. Calls after Close fail with [ErrClosed].
func (c *Client) Close() error {
	c.mu.Lock()
	idle := c.idle
	c.idle, c.closed = nil, true
	c.mu.Unlock()
	for _, cn := range idle {
		cn.close()
	}
	return nil
}

// Get appends the value under key to dst and returns the extended slice, or
// an error matching [ErrNotFound]. The value is read straight into dst's
// spare capacity when it has room.
func (c *Client) Get(ctx context.Context, key, dst []byte) ([]byte, error) {
	out := dst
	err := c.do(ctx, "get", key, func(cn *conn) error {
		cn.command(cmdGet, key)
		var err error
		out, err = cn.readBulk(dst, c.opts.MaxValue)
		return err
	})
	if err != nil {
		return dst, err
	}
	return out, nil
}

// Set stores value under key. Our server acknowledges only once the value
// is on stable storage.
func (c *Client) Set(ctx context.Context, key, value []byte) error {
	if len(value) > c.opts.MaxValue {
		return c.wrap("set", key, fmt.Errorf("%w: %d bytes, limit %d", ErrTooLarge, len(value), c.opts.MaxValue))
	}
	return c.do(ctx, "set", key, func(cn *conn) error {
		cn.command(cmdSet, key, value)
		return cn.readOK()
	})
}

// Del deletes key and reports whether it held a value.
func (c *Client) Del(ctx context.Context, key []byte) (bool, error) {
	var n int64
	err := c.do(ctx, "del", key, func(cn *conn) error {
		cn.command(cmdDel, key)
		var err error
		n, err = cn.readInt()
		return err
	})
	return n > 0, err
}

// Exists reports whether key holds a value.
func (c *Client) Exists(ctx context.Context, key []byte) (bool, error) {
	var n int64
	err := c.do(ctx, "exists", key, func(cn *conn) error {
		cn.command(cmdExists, key)
		var err error
		n, err = cn.readInt()
		return err
	})
	return n > 0, err
}

// Ping checks that the server answers (and that logging in works).
func (c *Client) Ping(ctx context.Context) error {
	return c.do(ctx, "ping", nil, func(cn *conn) error {
		cn.command(cmdPing)
		return cn.readStatus("PONG")
	})
}

// Holds reports whether the store holds exactly value under key. On a
// server with DIGEST (ours) it compares BLAKE3-256 digests without reading
// the value back; elsewhere (stock Redis) it reads the value and compares.
// Which one the server has is found out on the first call.
func (c *Client) Holds(ctx context.Context, key, value []byte) (bool, error) {
	if c.digest.Load() != 2 {
		var (
			found     bool
			supported = true
			got       [shardproto.DigestSize]byte
		)
		err := c.do(ctx, "digest", key, func(cn *conn) error {
			cn.command(cmdDigest, key)
			var err error
			found, supported, err = cn.readDigest(&got)
			return err
		})
		if err != nil {
			return false, err
		}
		if supported {
			if found {
				c.digest.Store(1)
			}
			return found && got == blake3.Sum256(value), nil
		}
		c.digest.Store(2)
		c.log.Debug("shard store has no DIGEST; comparing values", "addr", c.opts.Addr)
	}
	bp, _ := c.bufs.Get().(*[]byte)
	if bp == nil {
		bp = new([]byte)
	}
	defer c.bufs.Put(bp)
	got, err := c.Get(ctx, key, (*bp)[:0])
	*bp = got
	if errors.Is(err, ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return bytes.Equal(got, value), nil
}

// do runs fn on a pooled connection under ctx, and once more on a new
// connection when a pooled one turns out to have been closed by the server
// while idle. Failures of the connection are retried as Options.Retry says.
func (c *Client) do(ctx context.Context, op string, key []byte, fn func(*conn) error) error {
	err := c.opts.Retry.Do(ctx, func(ctx context.Context) error {
		err := c.once(ctx, fn)
		if err != nil && c.transient(ctx, err) {
			return retry.Transient(err)
		}
		return err
	})
	if err != nil {
		return c.wrap(op, key, err)
	}
	return nil
}

// ctxErr returns ctx's error, or DeadlineExceeded once its deadline has
// passed: a connection deadline set from it can fire before ctx's own timer.
func ctxErr(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if dl, ok := ctx.Deadline(); ok && !time.Now().Before(dl) {
		return context.DeadlineExceeded
	}
	return nil
}

// transient reports whether err is a failure of the connection rather than
// an answer of the server, a limit or the caller's context.
func (c *Client) transient(ctx context.Context, err error) bool {
	var se *ServerError
	return ctxErr(ctx) == nil && !errors.As(err, &se) && !errors.Is(err, ErrNotFound) &&
		!errors.Is(err, ErrTooLarge) && !errors.Is(err, ErrClosed) && !errors.Is(err, ErrAuth) && !errors.Is(err, ErrDenied)
}

func (c *Client) once(ctx context.Context, fn func(*conn) error) error {
	select {
	case c.slots <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-c.slots }()
	for attempt := 0; ; attempt++ {
		cn, reused, err := c.get(ctx)
		if err != nil {
			return err
		}
		stop := cn.arm(ctx, c.opts.IOTimeout)
		err = fn(cn)
		cancelled := !stop()
		var se *ServerError
		if (err == nil || errors.As(err, &se) || errors.Is(err, ErrNotFound)) && !cancelled && cn.healthy() {
			c.put(cn)
		} else {
			cn.close()
		}
		if err != nil {
			if cerr := ctxErr(ctx); cerr != nil {
				err = fmt.Errorf("%w (%w)", cerr, err)
			}
		}
		if err != nil && reused && attempt == 0 && !cn.replied && ctx.Err() == nil && !isTimeout(err) {
			// A stale pooled connection: the server closed it, and likely
			// the other idle ones too (it restarted); try a new one.
			c.dropIdle()
			continue
		}
		return err
	}
}

func (c *Client) wrap(op string, key []byte, err error) error {
	if key != nil {
		return fmt.Errorf("shard store %s db %d: %s %s: %w", c.opts.Addr, c.opts.DB, op, hex.EncodeToString(key), err)
	}
	return fmt.Errorf("shard store %s db %d: %s: %w", c.opts.Addr, c.opts.DB, op, err)
}

// get returns a pooled connection or a new, logged-in one.
func (c *Client) get(ctx context.Context) (*conn, bool, error) {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil, false, ErrClosed
	}
	var stale []*conn
	for len(c.idle) > 0 {
		cn := c.idle[len(c.idle)-1]
		c.idle = c.idle[:len(c.idle)-1]
		if time.Since(cn.used) < c.opts.IdleTimeout {
			c.mu.Unlock()
			closeAll(stale)
			return cn, true, nil
		}
		stale = append(stale, cn)
	}
	c.mu.Unlock()
	closeAll(stale)
	cn, err := c.dial(ctx)
	return cn, false, err
}

// dropIdle closes the idle connections.
func (c *Client) dropIdle() {
	c.mu.Lock()
	idle := c.idle
	c.idle = nil
	c.mu.Unlock()
	closeAll(idle)
}

func closeAll(conns []*conn) {
	for _, cn := range conns {
		cn.close()
	}
}

func (c *Client) put(cn *conn) {
	cn.used = time.Now()
	c.mu.Lock()
	if !c.closed {
		c.idle = append(c.idle, cn)
		cn = nil
	}
	c.mu.Unlock()
	if cn != nil {
		cn.close()
	}
}

// dial connects and logs in as the reference client does.
func (c *Client) dial(ctx context.Context) (*conn, error) {
	dctx, cancel := context.WithTimeout(ctx, c.opts.DialTimeout)
	defer cancel()
	d := net.Dialer{}
	nc, err := d.DialContext(dctx, "tcp", c.opts.Addr)
	if err != nil {
		return nil, err
	}
	cn := newConn(nc)
	stop := cn.arm(dctx, c.opts.DialTimeout)
	err = c.login(cn)
	if !stop() && err == nil {
		err = dctx.Err()
	}
	if err != nil {
		cn.close()
		if ctx.Err() != nil {
			return nil, fmt.Errorf("%w (log in: %w)", ctx.Err(), err)
		}
		return nil, fmt.Errorf("log in: %w", err)
	}
	c.log.Debug("shard connection", "addr", c.opts.Addr, "db", c.opts.DB)
	return cn, nil
}

func (c *Client) login(cn *conn) error {
	a := c.opts.Auth
	token := a.Token
	if a.Key != nil {
		cn.command(cmdChallenge)
		challenge, err := cn.readString(2 * 32)
		if err != nil {
			return fmt.Errorf("CHALLENGE: %w", err)
		}
		pub, sig, err := shardproto.SignChallenge(a.Key, challenge)
		if err != nil {
			return fmt.Errorf("%w: %w", ErrAuth, err)
		}
		cn.command(cmdToken, []byte(pub), []byte(sig))
		if token, err = cn.readString(shardproto.MaxTokenLen * 2); err != nil {
			return fmt.Errorf("TOKEN: %w", err)
		}
	}
	// AUTH and SELECT go out together.
	if token != "" {
		cn.queue(cmdAuth, []byte(token))
	}
	cn.command(cmdSelect, strconv.AppendInt(nil, int64(c.opts.DB), 10))
	if token != "" {
		if err := cn.readOK(); err != nil {
			if !errors.Is(err, ErrAuth) {
				err = fmt.Errorf("%w: %w", ErrAuth, err)
			}
			return fmt.Errorf("AUTH: %w", err)
		}
	}
	if err := cn.readOK(); err != nil {
		return fmt.Errorf("SELECT %d: %w", c.opts.DB, err)
	}
	return nil
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
