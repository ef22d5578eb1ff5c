// Package registryclient is the Go client of the registry's HTTP API, used
// by upload, fetch and the gateway: blobs, and names (see names.go), which
// the gateway resolves with [Client.Resolve].
//
// Every call takes a context and each attempt has its own timeout. Calls are
// retried, with exponential backoff and jitter, on transient errors only:
// network errors, attempts that time out, and the statuses 429, 500, 502,
// 503 and 504; a Retry-After header is honoured up to the longest backoff.
// Writes of blobs are idempotent, so retrying them is safe; a change to a
// name whose answer was lost is recognised as applied when its retry is
// refused as stale. Connections are kept
// alive and reused. A Client is safe for concurrent use.
package registryclient

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/mycdn/mycdn/internal/names"
	"github.com/mycdn/mycdn/internal/registry"
	"github.com/mycdn/mycdn/internal/retry"
	"github.com/mycdn/mycdn/internal/seal"
	"github.com/mycdn/mycdn/internal/xeddsa"
	"github.com/mycdn/mycdn/meta"
)

// Errors of the client, for [errors.Is]. They are the registry's own.
var (
	// ErrNotFound means the registry has no blob under the lookup hash.
	ErrNotFound = registry.ErrNotFound
	// ErrTooLarge means a blob is over the client's or the registry's limit.
	ErrTooLarge = registry.ErrTooLarge
	// ErrHashMismatch means a blob does not hash to its lookup hash.
	ErrHashMismatch = registry.ErrHashMismatch
)

// Options configure a Client. The zero value works: it reads, and writes
// only to an open registry.
type Options struct {
	// Token is the bearer token that writes carry.
	Token string
	// Key, when set, signs writes (XEdDSA) instead of Token.
	Key *xeddsa.PrivateKey
	// MaxBlobSize is the largest blob Get accepts (default
	// [registry.DefaultMaxBlobSize]).
	MaxBlobSize int64
	// Timeout bounds each attempt (default 30 s).
	Timeout time.Duration
	// Retry says how transient failures are retried: network errors,
	// timeouts, and answers 429, 500, 502, 503 and 504 (whose Retry-After is
	// honoured up to Retry.Max). The zero value retries 3 times with backoff.
	Retry retry.Policy
	// HTTPClient makes the requests (default: a client of its own, which
	// keeps connections alive). Its Timeout should be zero: Timeout applies.
	HTTPClient *http.Client
}

// expectContinueSize is the size above which a write waits for the
// registry's go-ahead before sending its body.
const expectContinueSize = 1 << 20

// Client talks to one registry.
type Client struct {
	base string // scheme://host[:port]
	opts Options
	hc   *http.Client
}

// New returns a client of the registry at baseURL, http(s)://host[:port].
// opts may be nil.
func New(baseURL string, opts *Options) (*Client, error) {
	u, err := url.Parse(strings.TrimRight(baseURL, "/"))
	if err != nil {
		return nil, fmt.Errorf("registryclient: %w", err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Path != "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return nil, fmt.Errorf("registryclient: registry URL %q: want http(s)://host[:port]", baseURL)
	}
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.MaxBlobSize <= 0 {
		o.MaxBlobSize = registry.DefaultMaxBlobSize
	}
	if o.Timeout <= 0 {
		o.Timeout = 30 * time.Second
	}
	hc := o.HTTPClient
	if hc == nil {
		hc = &http.Client{Transport: &http.Transport{
			Proxy:                 http.ProxyFromEnvironment,
			DialContext:           (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			ForceAttemptHTTP2:     true,
			MaxIdleConns:          100,
			MaxIdleConnsPerHost:   64,
			IdleConnTimeout:       90 * time.Second,
			TLSHandshakeTimeout:   10 * time.Second,
			ExpectContinueTimeout: time.Second,
		}}
	}
	return &Client{base: u.String(), opts: o, hc: hc}, nil
}

// Close closes the client's idle connections.
func (c *Client) Close() { c.hc.CloseIdleConnections() }

// Get returns the blob stored under lookup, after checking that it hashes
// to lookup. Errors match [ErrNotFound] when the registry has no such blob,
// [ErrTooLarge] when it is over MaxBlobSize and [ErrHashMismatch] when the
// registry sent other bytes.
func (c *Client) Get(ctx context.Context, lookup meta.Hash) ([]byte, error) {
	var data []byte
	err := c.do(ctx, http.MethodGet, registry.BlobPath(lookup), nil, func(resp *http.Response) error {
		var err error
		data, err = readLimited(resp, c.opts.MaxBlobSize)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("registry: get %v: %w", lookup, err)
	}
	if got := seal.Sum(data); got != lookup {
		return nil, fmt.Errorf("registry: get %v: %w (got %v)", lookup, ErrHashMismatch, got)
	}
	return data, nil
}

// Put stores sealed under lookup, which must be its hash, with the
// client's credentials. Storing a blob that is there already succeeds.
func (c *Client) Put(ctx context.Context, lookup meta.Hash, sealed []byte) error {
	if got := seal.Sum(sealed); got != lookup {
		return fmt.Errorf("registry: put %v: %w (the blob hashes to %v)", lookup, ErrHashMismatch, got)
	}
	err := c.do(ctx, http.MethodPut, registry.BlobPath(lookup), sealed, func(resp *http.Response) error {
		_, err := io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10))
		return err
	})
	if err != nil {
		return fmt.Errorf("registry: put %v: %w", lookup, err)
	}
	return nil
}

// Info returns the registry's limits.
func (c *Client) Info(ctx context.Context) (registry.Info, error) {
	var info registry.Info
	err := c.do(ctx, http.MethodGet, registry.InfoPath, nil, func(resp *http.Response) error {
		return json.NewDecoder(io.LimitReader(resp.Body, 64<<10)).Decode(&info)
	})
	if err != nil {
		return info, fmt.Errorf("registry: info: %w", err)
	}
	return info, nil
}

// readLimited reads a response's body of at most limit bytes.
func readLimited(resp *http.Response, limit int64) ([]byte, error) {
	if resp.ContentLength > limit {
		return nil, fmt.Errorf("%w: %d bytes, over the limit of %d", ErrTooLarge, resp.ContentLength, limit)
	}
	var buf bytes.Buffer
	buf.Grow(int(max(resp.ContentLength, 0)) + bytes.MinRead)
	if _, err := buf.ReadFrom(io.LimitReader(resp.Body, limit+1)); err != nil {
		return nil, retry.Transient(err)
	}
	if int64(buf.Len()) > limit {
		return nil, fmt.Errorf("%w: over the limit of %d bytes", ErrTooLarge, limit)
	}
	return buf.Bytes(), nil
}

// StatusError is an error answer of the registry. For a blob it matches
// [ErrNotFound] for 404 and [ErrTooLarge] for 413; for a name, the errors
// of package names: [names.ErrInvalid] for 400, [names.ErrBadSignature]
// for 401, [names.ErrDenied] for 403, [names.ErrNotFound] for 404 and
// [names.ErrConflict] for 409.
type StatusError struct {
	Method, URL string
	// Code is the HTTP status code.
	Code int
	// Message is the registry's JSON error, or the start of its body.
	Message string

	name bool // the request was about a name
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("%s %s: %d %s: %s", e.Method, e.URL, e.Code, http.StatusText(e.Code), e.Message)
}

// Unwrap returns the sentinel error of the status code, if any.
func (e *StatusError) Unwrap() error {
	if e.name {
		return nameErrors[e.Code]
	}
	switch e.Code {
	case http.StatusNotFound:
		return ErrNotFound
	case http.StatusRequestEntityTooLarge:
		return ErrTooLarge
	}
	return nil
}

// nameErrors are the errors of package names by the status code the
// registry answers them with.
var nameErrors = map[int]error{
	http.StatusBadRequest:   names.ErrInvalid,
	http.StatusUnauthorized: names.ErrBadSignature,
	http.StatusForbidden:    names.ErrDenied,
	http.StatusNotFound:     names.ErrNotFound,
	http.StatusConflict:     names.ErrConflict,
}

// retryable reports whether an answer with this status may succeed later.
func retryable(code int) bool {
	switch code {
	case http.StatusTooManyRequests, http.StatusInternalServerError, http.StatusBadGateway,
		http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return true
	}
	return false
}

// do makes a request, retrying on transient errors, and hands a 2xx
// response to read, whose transient errors are retried too.
func (c *Client) do(ctx context.Context, method, path string, body []byte, read func(*http.Response) error) error {
	return c.opts.Retry.Do(ctx, func(ctx context.Context) error {
		return c.attempt(ctx, method, path, body, read)
	})
}

// attempt makes one request, and marks transient errors for retry.
func (c *Client) attempt(ctx context.Context, method, path string, body []byte, read func(*http.Response) error) error {
	actx, cancel := context.WithTimeout(ctx, c.opts.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(actx, method, c.base+path, bytes.NewReader(body))
	if err != nil {
		return err
	}
	switch method {
	case http.MethodPut:
		req.Header.Set("Content-Type", "application/octet-stream")
		if len(body) > expectContinueSize {
			req.Header.Set("Expect", "100-continue") // a refusal comes before the upload
		}
		c.authorize(req, method, path, body)
	case http.MethodPost: // a signed change to a name; a token lets it create one
		req.Header.Set("Content-Type", "application/json")
		if c.opts.Token != "" {
			req.Header.Set("Authorization", registry.SchemeBearer+" "+c.opts.Token)
		}
	default:
		req.Body, req.ContentLength = http.NoBody, 0
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return err // the caller's context, not a transient failure
		}
		return retry.Transient(err)
	}
	defer func() {
		// Drain what is left, so the connection is reused; an error only
		// means it is not.
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		_ = resp.Body.Close()
	}()
	if resp.StatusCode/100 != 2 {
		serr := &StatusError{Method: method, URL: c.base + path, Code: resp.StatusCode, Message: message(resp),
			name: strings.HasPrefix(path, registry.NamesPath+"/")}
		if retryable(resp.StatusCode) {
			return retry.After(serr, retryAfter(resp))
		}
		return serr
	}
	return read(resp)
}

// authorize sets the credentials of a write.
func (c *Client) authorize(req *http.Request, method, path string, body []byte) {
	switch {
	case c.opts.Key != nil:
		a := registry.Sign(c.opts.Key, method, path, seal.Sum(body), time.Now())
		req.Header.Set("Authorization", a.String())
	case c.opts.Token != "":
		req.Header.Set("Authorization", registry.SchemeBearer+" "+c.opts.Token)
	}
}

// message returns the registry's error message from a response.
func message(resp *http.Response) string {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
	var e registry.ErrorResponse
	if json.Unmarshal(b, &e) == nil && e.Error != "" {
		return e.Error
	}
	return strings.TrimSpace(string(b))
}

// retryAfter returns the wait a Retry-After header in seconds asks for, or
// zero; retry.Policy caps it.
func retryAfter(resp *http.Response) time.Duration {
	s, err := strconv.Atoi(resp.Header.Get("Retry-After"))
	if err != nil || s < 0 {
		return 0
	}
	return time.Duration(s) * time.Second
}
