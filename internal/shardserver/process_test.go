package shardserver_test

import (
	"bytes"
	"context"
	crand "crypto/rand"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mycdn/mycdn/internal/shardclient"
	"github.com/mycdn/mycdn/internal/testenv"
)

// crashValue is the value writer w puts under its i-th key: sizes from a
// small inline value to the largest shard.
func crashValue(w, i int) []byte {
	sizes := []int{100, 60_000, 300_000, 1_782_592, 5<<20 + 17}
	r := rand.New(rand.NewPCG(uint64(w), uint64(i)))
	b := make([]byte, sizes[r.IntN(len(sizes))])
	for j := 0; j < len(b); j += 8 {
		v := r.Uint64()
		for k := 0; k < 8 && j+k < len(b); k++ {
			b[j+k] = byte(v >> (8 * k))
		}
	}
	return b
}

// TestCrash kills the server process with SIGKILL in the middle of a stream
// of SETs, restarts it on the same directory, and finds every acknowledged
// value intact and no partial value.
func TestCrash(t *testing.T) {
	bin := testenv.Build(t, "mycdnd")
	dir := t.TempDir()
	p := testenv.StartShardProcess(t, bin, dir)
	c, err := shardclient.New(shardclient.Options{Addr: p.Addr, PoolSize: 4})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()

	const writers = 4
	var (
		mu       sync.Mutex
		acked    = map[string]bool{}
		tried    = map[string][2]int{}
		wg       sync.WaitGroup
		stopping = make(chan struct{})
	)
	for w := range writers {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stopping:
					return
				default:
				}
				k := fmt.Sprintf("k-%d-%d", w, i)
				mu.Lock()
				tried[k] = [2]int{w, i}
				mu.Unlock()
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				err := c.Set(ctx, []byte(k), crashValue(w, i))
				cancel()
				if err != nil {
					return // the server died
				}
				mu.Lock()
				acked[k] = true
				mu.Unlock()
			}
		})
	}
	// Kill once enough values are acknowledged, in the middle of writes.
	deadline := time.Now().Add(60 * time.Second)
	for {
		mu.Lock()
		n := len(acked)
		mu.Unlock()
		if n >= 40 || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	p.Kill()
	close(stopping)
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	if len(acked) < 40 {
		t.Fatalf("only %d values acknowledged in 60s", len(acked))
	}

	p = testenv.StartShardProcess(t, bin, dir)
	c2, err := shardclient.New(shardclient.Options{Addr: p.Addr})
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var buf []byte
	present, partial := 0, 0
	for k, wi := range tried {
		buf, err = c2.Get(ctx, []byte(k), buf[:0])
		if errors.Is(err, shardclient.ErrNotFound) {
			if acked[k] {
				t.Errorf("%s: acknowledged value lost", k)
			}
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		present++
		if !bytes.Equal(buf, crashValue(wi[0], wi[1])) {
			partial++
			t.Errorf("%s: %d bytes that are not the value written (acknowledged: %v)", k, len(buf), acked[k])
		}
	}
	t.Logf("%d SETs tried, %d acknowledged, %d present after SIGKILL and restart", len(tried), len(acked), present)
}

const limitsConfig = `
default_mode = "public-read"
admin_secret = "an-admin-secret-for-tests"

[limits]
max_connections = 300
idle_timeout = "2s"
inflight = "32MiB"
max_value = "8MiB"

[[databases]]
id = 3
mode = "public-rw"
`

// TestLimits attacks a server process with a 1 GiB bulk string, random
// bytes, unterminated commands, large values beyond the in-flight budget
// and thousands of connections, and checks that each gets an error or a
// closed connection, that the server keeps serving, and that its peak RSS
// stays bounded.
func TestLimits(t *testing.T) {
	bin := testenv.Build(t, "mycdnd")
	cfg := filepath.Join(t.TempDir(), "shard.toml")
	if err := os.WriteFile(cfg, []byte(limitsConfig), 0o600); err != nil {
		t.Fatal(err)
	}
	p := testenv.StartShardProcess(t, bin, t.TempDir(), "--config", cfg)
	base, err := p.PeakRSS()
	if err != nil {
		t.Fatal(err)
	}

	t.Run("1GiB bulk string", func(t *testing.T) {
		c := dial(t, p.Addr)
		c.do("SELECT", "3")
		c.send("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1073741824\r\n")
		go func() { _, _ = c.c.Write(make([]byte, 1<<20)) }()
		if got := c.reply(); got != "-ERR value of 1073741824 bytes is larger than the limit of 8388608 bytes" {
			t.Errorf("reply: %s", got)
		}
		if !c.closed(5 * time.Second) {
			t.Error("connection left open")
		}
	})
	t.Run("large command before login", func(t *testing.T) {
		c := dial(t, p.Addr) // database 0 is public-read: no write access
		c.send("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$100000\r\n" + strings.Repeat("x", 100_000) + "\r\n")
		if got := c.reply(); !strings.HasPrefix(got, "-ERR command too large: a connection without write access (log in first) may send at most 16384 bytes") {
			t.Errorf("reply: %s", got)
		}
		if !c.closed(5 * time.Second) {
			t.Error("connection left open")
		}
	})
	t.Run("random bytes", func(t *testing.T) {
		for range 4 {
			c := dial(t, p.Addr)
			junk := make([]byte, 2<<20)
			_, _ = crand.Read(junk)
			go func() { _, _ = c.c.Write(junk) }()
			if !c.closed(10 * time.Second) {
				t.Error("connection left open after 2 MiB of random bytes")
			}
		}
	})
	t.Run("unterminated command", func(t *testing.T) {
		c := dial(t, p.Addr)
		c.do("SELECT", "3")
		start := time.Now()
		c.send("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$10\r\nabc")
		if c.closed(time.Second) {
			t.Fatal("closed before the idle timeout")
		}
		if !c.closed(5 * time.Second) {
			t.Fatal("not closed after the idle timeout of 2s")
		}
		if d := time.Since(start); d < 1900*time.Millisecond {
			t.Errorf("closed after %s, before the idle timeout", d)
		}
	})
	t.Run("values beyond the in-flight budget", func(t *testing.T) {
		// 60 clients send 6 MiB each at once: 360 MiB that would all be in
		// memory without the 32 MiB budget.
		var wg sync.WaitGroup
		val := bytes.Repeat([]byte("v"), 6<<20)
		start := make(chan struct{})
		for i := range 60 {
			wg.Go(func() {
				<-start
				c := dial(t, p.Addr)
				key := "big" + strconv.Itoa(i)
				c.send(fmt.Sprintf("*2\r\n$6\r\nSELECT\r\n$1\r\n3\r\n*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$%d\r\n", len(key), key, len(val)))
				_ = c.c.SetWriteDeadline(time.Now().Add(time.Minute))
				if _, err := c.c.Write(val); err != nil {
					t.Errorf("SET %d: %v", i, err)
					return
				}
				c.send("\r\n")
				if got := c.reply() + " " + c.reply(); got != "+OK +OK" {
					t.Errorf("SELECT, SET %d: %s", i, got)
				}
			})
		}
		close(start)
		wg.Wait()
	})
	t.Run("thousands of connections", func(t *testing.T) {
		var conns []net.Conn
		defer func() {
			for _, c := range conns {
				c.Close()
			}
		}()
		refused := 0
		for range 3000 {
			c, err := net.DialTimeout("tcp", p.Addr, 5*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			conns = append(conns, c)
			// Half a command, to hold the connection open.
			_, _ = io.WriteString(c, "*2\r\n$3\r\nGET\r\n$16\r\n")
		}
		for _, c := range conns {
			_ = c.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
			b, _ := io.ReadAll(io.LimitReader(c, 100))
			if strings.HasPrefix(string(b), "-ERR max number of clients reached") {
				refused++
			}
		}
		if refused < 3000-300 {
			t.Errorf("%d of 3000 connections refused; the limit is 300", refused)
		}
		for _, c := range conns {
			c.Close()
		}
		conns = nil
	})

	// Still serving, with everything stored.
	c := dial(t, p.Addr)
	if got := c.do("PING"); got != "+PONG" {
		t.Fatalf("PING after the attacks: %s", got)
	}
	c.do("SELECT", "3")
	if got := c.do("DBSIZE"); got != ":60" {
		t.Errorf("DBSIZE: %s, want 60", got)
	}
	peak, err := p.PeakRSS()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("peak RSS %d MiB (%d MiB before the attacks)", peak>>20, base>>20)
	if peak > 120<<20 {
		t.Errorf("peak RSS %d MiB: memory not bounded", peak>>20)
	}
	metrics := httpGet(t, "http://"+p.MetricsAddr+"/metrics")
	if !regexp.MustCompile(`mycdn_shard_connections_rejected_total\{reason="max_connections"\} [1-9]`).MatchString(metrics) {
		t.Errorf("/metrics does not count refused connections:\n%s", grep(metrics, "rejected"))
	}
}

// TestOpsEndpoints checks /healthz and /metrics of the process.
func TestOpsEndpoints(t *testing.T) {
	bin := testenv.Build(t, "mycdnd")
	p := testenv.StartShardProcess(t, bin, t.TempDir())
	c := dial(t, p.Addr)
	c.do("SET", "k", "value")
	c.do("GET", "k")
	c.do("GET", "missing")
	c.do("NOSUCH")
	if got := httpGet(t, "http://"+p.MetricsAddr+"/healthz"); got != "ok\n" {
		t.Errorf("/healthz: %q", got)
	}
	m := httpGet(t, "http://"+p.MetricsAddr+"/metrics")
	for _, want := range []string{
		`mycdn_shard_commands_total{command="GET",result="ok"} 2`,
		`mycdn_shard_commands_total{command="SET",result="ok"} 1`,
		`mycdn_shard_commands_total{command="unknown",result="error"} 1`,
		`mycdn_shard_value_bytes_total{direction="in"} 5`,
		`mycdn_shard_value_bytes_total{direction="out"} 5`,
		`mycdn_shard_connections 1`,
		`go_goroutines`,
	} {
		if !strings.Contains(m, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	p.Stop(t)
	// One log line per connection, none per command.
	if n := strings.Count(p.Log(), "msg=connection "); n != 1 {
		t.Errorf("%d connection log lines, want 1:\n%s", n, p.Log())
	}
}

func httpGet(t *testing.T, url string) string {
	t.Helper()
	req, _ := http.NewRequestWithContext(context.Background(), http.MethodGet, url, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

func grep(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
