package shardclient_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/mycdn/mycdn/internal/retry"
	"github.com/mycdn/mycdn/internal/shardclient"
	"github.com/mycdn/mycdn/internal/shardproto"
	"github.com/mycdn/mycdn/internal/shardserver"
	"github.com/mycdn/mycdn/internal/testenv"
)

func newClient(t testing.TB, o shardclient.Options) *shardclient.Client {
	t.Helper()
	c, err := shardclient.New(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func randBytes(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, 1))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// TestSuite runs the same checks against our server and a stock
// redis-server.
func TestSuite(t *testing.T) {
	ours := testenv.StartShard(t, testenv.ShardOptions{})
	redis := testenv.StartRedis(t)
	t.Run("ours", func(t *testing.T) { suite(t, ours.Addr, false) })
	t.Run("redis-server", func(t *testing.T) { suite(t, redis.Addr, true) })
	// The suite's two clients: one of 4 connections, one used serially.
	if n := accepted(t, ours.Registry); n > 5 {
		t.Errorf("our server accepted %d connections from clients of 4 and 1", n)
	}
}

// suite checks a client of addr. With measureAllocs the server runs in
// another process, so the allocations of this one are the client's.
func suite(t *testing.T, addr string, measureAllocs bool) {
	ctx := ctxT(t)
	c := newClient(t, shardclient.Options{Addr: addr, DB: 2, PoolSize: 4})
	if err := c.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	for i, n := range []int{0, 1, 1000, 1_782_592, 5<<20 + 17} {
		key := []byte(fmt.Sprintf("value-%d", i))
		v := randBytes(uint64(n), n)
		if err := c.Set(ctx, key, v); err != nil {
			t.Fatalf("set %d bytes: %v", n, err)
		}
		got, err := c.Get(ctx, key, []byte("prefix"))
		if err != nil || string(got[:6]) != "prefix" || !bytes.Equal(got[6:], v) {
			t.Fatalf("get %d bytes: %d bytes, %v", n, len(got), err)
		}
		if ok, err := c.Holds(ctx, key, v); err != nil || !ok {
			t.Errorf("holds %d bytes: %v %v", n, ok, err)
		}
		if n > 0 {
			other := bytes.Clone(v)
			other[n/2] ^= 1
			if ok, err := c.Holds(ctx, key, other); err != nil || ok {
				t.Errorf("holds a changed %d-byte value: %v %v", n, ok, err)
			}
		}
		if ok, err := c.Holds(ctx, key, append(bytes.Clone(v), 0)); err != nil || ok {
			t.Errorf("holds a longer value: %v %v", ok, err)
		}
	}
	_, err := c.Get(ctx, []byte("missing"), nil)
	if !errors.Is(err, shardclient.ErrNotFound) || !strings.Contains(err.Error(), addr) {
		t.Errorf("get missing: %v (want ErrNotFound naming %s)", err, addr)
	}
	if ok, err := c.Holds(ctx, []byte("missing"), []byte("x")); err != nil || ok {
		t.Errorf("holds missing: %v %v", ok, err)
	}
	if ok, err := c.Exists(ctx, []byte("value-2")); err != nil || !ok {
		t.Errorf("exists: %v %v", ok, err)
	}
	if ok, err := c.Del(ctx, []byte("value-2")); err != nil || !ok {
		t.Errorf("del: %v %v", ok, err)
	}
	if ok, err := c.Exists(ctx, []byte("value-2")); err != nil || ok {
		t.Errorf("exists after del: %v %v", ok, err)
	}
	if ok, err := c.Del(ctx, []byte("value-2")); err != nil || ok {
		t.Errorf("second del: %v %v", ok, err)
	}
	// The database is selected: database 3 does not see database 2.
	c3 := newClient(t, shardclient.Options{Addr: addr, DB: 3})
	if _, err := c3.Get(ctx, []byte("value-1"), nil); !errors.Is(err, shardclient.ErrNotFound) {
		t.Errorf("database 3 sees database 2: %v", err)
	}

	// Concurrent calls share the pool.
	var wg sync.WaitGroup
	for g := range 16 {
		wg.Go(func() {
			var buf []byte
			for i := range 10 {
				key := []byte(fmt.Sprintf("c-%d-%d", g, i))
				v := randBytes(uint64(g*100+i), 20_000+g*1000)
				if err := c.Set(ctx, key, v); err != nil {
					t.Error(err)
					return
				}
				var err error
				if buf, err = c.Get(ctx, key, buf[:0]); err != nil || !bytes.Equal(buf, v) {
					t.Errorf("concurrent get: %v", err)
					return
				}
			}
		})
	}
	wg.Wait()

	if !measureAllocs {
		return
	}
	// Reading into a buffer with room allocates nothing in proportion to
	// the value.
	key := []byte("value-3")
	buf := make([]byte, 0, 2<<20)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	const rounds = 20
	for range rounds {
		if buf, err = c.Get(ctx, key, buf[:0]); err != nil {
			t.Fatal(err)
		}
	}
	runtime.ReadMemStats(&after)
	if per := (after.TotalAlloc - before.TotalAlloc) / rounds; per > 16<<10 {
		t.Errorf("Get of 1.7 MiB into a reused buffer allocates %d bytes per call", per)
	}
}

// accepted returns the connections our server accepted.
func accepted(t testing.TB, reg *prometheus.Registry) int {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == "mycdn_shard_connections_accepted_total" {
			return int(mf.GetMetric()[0].GetCounter().GetValue())
		}
	}
	return 0
}

var (
	serverKey = key(1)
	writerKey = key(3)
	readerKey = key(4)
	stranger  = key(5)
)

func key(i byte) ed25519.PrivateKey {
	seed := make([]byte, 32)
	seed[0] = i
	return ed25519.NewKeyFromSeed(seed)
}

func pub(k ed25519.PrivateKey) ed25519.PublicKey { return k.Public().(ed25519.PublicKey) }

// TestLogin logs in every way against a server with access control:
// database 1 public-read, 2 private; writer may write both, reader may read
// 2.
func TestLogin(t *testing.T) {
	s := testenv.StartShard(t, testenv.ShardOptions{Server: shardserver.Options{
		TokenKey: serverKey,
		Access: shardserver.Access{
			Databases: map[uint16]shardproto.Mode{1: shardproto.PublicRead, 2: shardproto.Private},
			Grants: []shardserver.Grant{
				{DB: 1, User: pub(writerKey), Right: shardproto.Write},
				{DB: 2, User: pub(writerKey), Right: shardproto.Write},
				{DB: 2, User: pub(readerKey), Right: shardproto.Read},
			},
		},
	}})
	ctx := ctxT(t)
	token := func(k ed25519.PrivateKey, ttl time.Duration) string {
		return shardproto.IssueToken(serverKey, pub(k), time.Now().Add(ttl))
	}
	k, v := []byte("shard"), []byte("value")
	for _, tc := range []struct {
		name           string
		db             int
		auth           shardclient.Auth
		setErr, getErr error // nil: works
	}{
		{"key writer public-read", 1, shardclient.Auth{Key: writerKey}, nil, nil},
		{"key writer private", 2, shardclient.Auth{Key: writerKey}, nil, nil},
		{"token writer private", 2, shardclient.Auth{Token: token(writerKey, time.Hour)}, nil, nil},
		{"none public-read", 1, shardclient.Auth{}, shardclient.ErrDenied, nil},
		{"none private", 2, shardclient.Auth{}, shardclient.ErrDenied, shardclient.ErrDenied},
		{"key reader private", 2, shardclient.Auth{Key: readerKey}, shardclient.ErrDenied, nil},
		{"token reader private", 2, shardclient.Auth{Token: token(readerKey, time.Hour)}, shardclient.ErrDenied, nil},
		{"wrong key private", 2, shardclient.Auth{Key: stranger}, shardclient.ErrDenied, shardclient.ErrDenied},
		{"bad token", 2, shardclient.Auth{Token: "garbage"}, shardclient.ErrAuth, shardclient.ErrAuth},
		{"expired token", 2, shardclient.Auth{Token: token(writerKey, -time.Minute)}, shardclient.ErrAuth, shardclient.ErrAuth},
		{"forged token", 2, shardclient.Auth{Token: shardproto.IssueToken(stranger, pub(writerKey), time.Now().Add(time.Hour))}, shardclient.ErrAuth, shardclient.ErrAuth},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newClient(t, shardclient.Options{Addr: s.Addr, DB: tc.db, Auth: tc.auth})
			err := c.Set(ctx, k, v)
			if !errors.Is(err, tc.setErr) || (tc.setErr == nil) != (err == nil) {
				t.Errorf("set: %v, want %v", err, tc.setErr)
			}
			if err != nil && !strings.Contains(err.Error(), s.Addr) {
				t.Errorf("error %q does not name the server", err)
			}
			_, err = c.Get(ctx, k, nil)
			if tc.getErr == nil && err != nil || tc.getErr != nil && !errors.Is(err, tc.getErr) {
				t.Errorf("get: %v, want %v", err, tc.getErr)
			}
		})
	}
}

// TestDeadline has calls honour their context against a server that stops
// answering (SIGSTOP), and the client recover once it answers again.
func TestDeadline(t *testing.T) {
	r := testenv.StartRedis(t)
	c := newClient(t, shardclient.Options{Addr: r.Addr, PoolSize: 2, IOTimeout: 500 * time.Millisecond, DialTimeout: 500 * time.Millisecond,
		Retry: retry.Policy{Retries: -1}})
	ctx := ctxT(t)
	if err := c.Set(ctx, []byte("k"), []byte("v")); err != nil {
		t.Fatal(err)
	}
	if err := r.Pause(); err != nil {
		t.Fatal(err)
	}
	defer r.Resume()
	check := func(name string, ctx context.Context, want error, within time.Duration) {
		t.Helper()
		start := time.Now()
		_, err := c.Get(ctx, []byte("k"), nil)
		if d := time.Since(start); d > within {
			t.Errorf("%s: returned after %s", name, d)
		}
		if want != nil && !errors.Is(err, want) || want == nil && err == nil {
			t.Errorf("%s: %v, want %v", name, err, want)
		}
	}
	dctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	check("deadline", dctx, context.DeadlineExceeded, time.Second)
	cancel()
	cctx, cancel := context.WithCancel(ctx)
	time.AfterFunc(100*time.Millisecond, cancel)
	check("cancel", cctx, context.Canceled, time.Second)
	check("io timeout", ctx, nil, 2*time.Second)
	if err := r.Resume(); err != nil {
		t.Fatal(err)
	}
	got, err := c.Get(ctx, []byte("k"), nil)
	if err != nil || string(got) != "v" {
		t.Errorf("after the server answers again: %q %v", got, err)
	}
}

// TestRetry stops a server for a while: a call that keeps timing out
// succeeds once it answers again, with retries, and fails without.
func TestRetry(t *testing.T) {
	r := testenv.StartRedis(t)
	opts := shardclient.Options{Addr: r.Addr, IOTimeout: 100 * time.Millisecond,
		Retry: retry.Policy{Retries: 50, Min: 20 * time.Millisecond, Max: 100 * time.Millisecond}}
	c := newClient(t, opts)
	opts.Retry = retry.Policy{Retries: -1}
	once := newClient(t, opts)
	ctx := ctxT(t)
	if err := r.Pause(); err != nil {
		t.Fatal(err)
	}
	defer r.Resume()
	if err := once.Set(ctx, []byte("k"), []byte("v")); err == nil {
		t.Fatal("Set without retries succeeded against a stopped server")
	}
	time.AfterFunc(500*time.Millisecond, func() { r.Resume() })
	start := time.Now()
	if err := c.Set(ctx, []byte("k"), []byte("v")); err != nil {
		t.Fatalf("Set with retries: %v", err)
	}
	if time.Since(start) < 400*time.Millisecond {
		t.Fatal("Set succeeded before the server answered again")
	}
	// Answers of the server are not retried.
	if _, err := c.Get(ctx, []byte("missing"), nil); !errors.Is(err, shardclient.ErrNotFound) {
		t.Fatalf("Get of a missing key: %v", err)
	}
}

// TestStaleConnection has the server close an idle pooled connection; the
// next call goes through on a new one.
func TestStaleConnection(t *testing.T) {
	s := testenv.StartShard(t, testenv.ShardOptions{Server: shardserver.Options{IdleTimeout: 200 * time.Millisecond}})
	c := newClient(t, shardclient.Options{Addr: s.Addr, PoolSize: 1})
	ctx := ctxT(t)
	if err := c.Set(ctx, []byte("k"), []byte("v")); err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond)
	if got, err := c.Get(ctx, []byte("k"), nil); err != nil || string(got) != "v" {
		t.Fatalf("get on a stale pooled connection: %q %v", got, err)
	}
	if n := accepted(t, s.Registry); n != 2 {
		t.Errorf("%d connections, want 2", n)
	}
}

func TestLimitsAndOptions(t *testing.T) {
	s := testenv.StartShard(t, testenv.ShardOptions{})
	ctx := ctxT(t)
	small := newClient(t, shardclient.Options{Addr: s.Addr, MaxValue: 1000})
	if err := small.Set(ctx, []byte("k"), make([]byte, 1001)); !errors.Is(err, shardclient.ErrTooLarge) {
		t.Errorf("set over MaxValue: %v", err)
	}
	big := newClient(t, shardclient.Options{Addr: s.Addr})
	if err := big.Set(ctx, []byte("k"), make([]byte, 5000)); err != nil {
		t.Fatal(err)
	}
	if _, err := small.Get(ctx, []byte("k"), nil); !errors.Is(err, shardclient.ErrTooLarge) {
		t.Errorf("get over MaxValue: %v", err)
	}
	if err := big.Set(ctx, []byte("k"), make([]byte, shardproto.DefaultMaxValue+1)); !errors.Is(err, shardclient.ErrTooLarge) {
		t.Errorf("set over the default limit: %v", err)
	}
	big.Close()
	if _, err := big.Get(ctx, []byte("k"), nil); !errors.Is(err, shardclient.ErrClosed) {
		t.Errorf("get after close: %v", err)
	}
	for name, o := range map[string]shardclient.Options{
		"no addr":    {},
		"db":         {Addr: "x:1", DB: 70000},
		"both auths": {Addr: "x:1", Auth: shardclient.Auth{Token: "t", Key: key(1)}},
		"short key":  {Addr: "x:1", Auth: shardclient.Auth{Key: key(1)[:10]}},
	} {
		if _, err := shardclient.New(o); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// TestServerRestart restarts a store under a client holding several idle
// connections to it: the next call, with no retries, goes through on a new
// connection instead of failing on the dead ones.
func TestServerRestart(t *testing.T) {
	s := testenv.StartShard(t, testenv.ShardOptions{})
	c := newClient(t, shardclient.Options{Addr: s.Addr, PoolSize: 4, Retry: retry.Policy{Retries: -1}})
	ctx := ctxT(t)
	var wg sync.WaitGroup
	for i := range 4 { // four connections, all idle afterwards
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := c.Set(ctx, []byte{byte(i)}, []byte("v")); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	s.Stop()
	testenv.StartShard(t, testenv.ShardOptions{Dir: s.Dir, Addr: s.Addr})
	if got, err := c.Get(ctx, []byte{2}, nil); err != nil || string(got) != "v" {
		t.Fatalf("get after the server restarted: %q %v", got, err)
	}
}
