package gateway_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mycdn/mycdn/internal/fetch"
	"github.com/mycdn/mycdn/internal/gateway"
	"github.com/mycdn/mycdn/internal/registryclient"
	"github.com/mycdn/mycdn/internal/retry"
	"github.com/mycdn/mycdn/internal/shardclient"
	"github.com/mycdn/mycdn/internal/testenv"
	"github.com/mycdn/mycdn/internal/upload"
	"github.com/mycdn/mycdn/ref"
)

// chunk is the chunk size of uploads in tests: the smallest allowed, so
// that files of a few MiB have several blocks.
const chunk = upload.MinChunkSize

// env is a network of shard stores and a registry, an uploader into it, and
// a gateway over it serving on a loopback port.
type env struct {
	t       testing.TB
	nw      *testenv.Network
	up      *upload.Uploader
	fetcher *fetch.Fetcher
	reg     *registryclient.Client
	caches  *gateway.Caches
	gw      *gateway.Server
	url     string // http://127.0.0.1:port
	addr    string
	log     *testenv.Buffer
	client  *http.Client
	stop    func()
}

type envOptions struct {
	n, k int
	// nw, when set, is the network to use instead of a new one.
	nw *testenv.Network
	// caches, when set, gives the fetcher caches.
	caches *gateway.Caches
	// gateway options besides the fetcher and the log.
	gw gateway.Options
	// sendBuffer, when set, is the socket send buffer of the gateway's
	// connections, to make it block sooner on slow clients.
	sendBuffer int
	// names makes the gateway resolve names with the registry.
	names bool
}

func newEnv(t testing.TB, o envOptions) *env {
	t.Helper()
	if o.n == 0 {
		o.n, o.k = 3, 2
	}
	e := &env{t: t, nw: o.nw, log: &testenv.Buffer{}}
	if e.nw == nil {
		e.nw = testenv.StartNetwork(t, o.n)
	}
	reg, err := registryclient.New(e.nw.Registry.URL, &registryclient.Options{Retry: retry.Policy{Retries: -1}})
	if err != nil {
		t.Fatal(err)
	}
	var stores []upload.ShardStore
	for _, s := range e.nw.Shards {
		c, err := shardclient.New(shardclient.Options{Addr: s.Addr})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		stores = append(stores, c)
	}
	if e.up, err = upload.New(upload.Options{ChunkSize: chunk, K: o.k, Shards: e.nw.Locations(), Stores: stores, Registry: reg}); err != nil {
		t.Fatal(err)
	}
	e.reg = reg
	if o.names {
		o.gw.Names = reg
	}
	readers := &fetch.Stores{}
	t.Cleanup(readers.Close)
	fo := fetch.Options{Registry: reg, Dial: readers.Dial}
	if o.caches != nil {
		e.caches = o.caches
		fo.Cache, fo.MetadataCache = o.caches, o.caches
	}
	if o.gw.Metrics != nil {
		fo.Observe = o.gw.Metrics.ObserveShardRead
		fo.Registry = o.gw.Metrics.Registry(reg)
	}
	e.fetcher = fetch.New(fo)
	o.gw.Fetcher = e.fetcher
	o.gw.Log = slog.New(slog.NewTextHandler(e.log, nil))
	if e.gw, err = gateway.New(o.gw); err != nil {
		t.Fatal(err)
	}
	ln, err := (&net.ListenConfig{}).Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if o.sendBuffer > 0 {
		ln = &smallSendBuffer{ln.(*net.TCPListener), o.sendBuffer}
	}
	e.addr = ln.Addr().String()
	e.url = "http://" + e.addr
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.gw.Serve(ctx, ln) }()
	e.stop = sync.OnceFunc(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("gateway: serve: %v", err)
		}
	})
	t.Cleanup(e.stop)
	e.client = &http.Client{
		Transport:     &http.Transport{MaxIdleConnsPerHost: 16},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	t.Cleanup(e.client.CloseIdleConnections)
	return e
}

// put uploads data as a file named name and returns its reference.
func (e *env) put(name, mime string, data []byte) ref.Ref {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	obj, err := e.up.Reader(ctx, bytes.NewReader(data), name, mime)
	if err != nil {
		e.t.Fatal(err)
	}
	return obj.Ref
}

// putDir uploads the tree at path and returns its reference.
func (e *env) putDir(path string) ref.Ref {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	obj, err := e.up.Path(ctx, path, "", "", nil)
	if err != nil {
		e.t.Fatal(err)
	}
	return obj.Ref
}

// pathURL returns the path-form URL of path under r.
func (e *env) pathURL(r ref.Ref, path string) string {
	return e.url + "/" + r.Lookup.String() + "/" + r.Key.String() + "/" + path
}

// response is a whole response.
type response struct {
	*http.Response
	body []byte
	err  error // of reading the body
}

// do sends a request with the given headers ("Name: value") and reads the
// whole response.
func (e *env) do(method, url string, headers ...string) *response {
	e.t.Helper()
	req, err := http.NewRequestWithContext(context.Background(), method, url, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	for _, h := range headers {
		k, v, _ := strings.Cut(h, ":")
		req.Header.Set(k, strings.TrimSpace(v))
	}
	return e.send(req)
}

func (e *env) send(req *http.Request) *response {
	e.t.Helper()
	resp, err := e.client.Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return &response{Response: resp, body: body, err: err}
}

// gets returns the GETs the stores have served so far.
func (e *env) gets() int {
	n := 0
	for i := range e.nw.Shards {
		n += e.nw.Commands(i, "GET")
	}
	return n
}

// random returns n reproducible random bytes.
func random(n int, seed uint64) []byte {
	b := make([]byte, n)
	r := rand.NewChaCha8([32]byte{byte(seed), byte(seed >> 8)})
	_, _ = r.Read(b)
	return b
}

type smallSendBuffer struct {
	*net.TCPListener
	size int
}

func (l *smallSendBuffer) Accept() (net.Conn, error) {
	c, err := l.AcceptTCP()
	if err != nil {
		return nil, err
	}
	return c, c.SetWriteBuffer(l.size)
}
