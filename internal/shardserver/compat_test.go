package shardserver_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/zeebo/blake3"

	"github.com/mycdn/mycdn/internal/shardproto"
	"github.com/mycdn/mycdn/internal/shardserver/store"
	"github.com/mycdn/mycdn/internal/testenv"
)

// TestGoRedis drives the server with go-redis, a stock client that starts
// with HELLO 3 and falls back to RESP2.
func TestGoRedis(t *testing.T) {
	s := testenv.StartShard(t, testenv.ShardOptions{})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	rdb := redis.NewClient(&redis.Options{Addr: s.Addr, DB: 5, ClientName: "test"})
	defer rdb.Close()

	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	if got, err := rdb.Ping(ctx).Result(); err != nil || got != "PONG" {
		t.Fatalf("PING: %q %v", got, err)
	}
	big := bytes.Repeat([]byte{0, 1, 2, 0xff}, 600_000)
	must(rdb.Set(ctx, "big", big, 0).Err())
	must(rdb.Set(ctx, "small", "v", 0).Err())
	if got, err := rdb.Get(ctx, "big").Bytes(); err != nil || !bytes.Equal(got, big) {
		t.Fatalf("GET big: %d bytes, %v", len(got), err)
	}
	if _, err := rdb.Get(ctx, "missing").Result(); !errors.Is(err, redis.Nil) {
		t.Errorf("GET missing: %v", err)
	}
	if ok, err := rdb.SetNX(ctx, "small", "w", 0).Result(); err != nil || ok {
		t.Errorf("SETNX over a value: %v %v", ok, err)
	}
	if ok, err := rdb.SetXX(ctx, "small", "w", 0).Result(); err != nil || !ok {
		t.Errorf("SETXX over a value: %v %v", ok, err)
	}
	must(rdb.Set(ctx, "ttl", "x", time.Hour).Err())
	if d, err := rdb.TTL(ctx, "ttl").Result(); err != nil || d < 59*time.Minute || d > time.Hour {
		t.Errorf("TTL: %v %v", d, err)
	}
	if d, err := rdb.TTL(ctx, "small").Result(); err != nil || d != -1 {
		t.Errorf("TTL without expiry: %v %v", d, err)
	}
	must(rdb.Do(ctx, "SETEX", "gone", "1", "x").Err())
	must(rdb.Set(ctx, "gone2", "x", 50*time.Millisecond).Err())
	time.Sleep(100 * time.Millisecond)
	if n, err := rdb.Exists(ctx, "big", "small", "gone2", "missing", "big").Result(); err != nil || n != 3 {
		t.Errorf("EXISTS: %d %v", n, err)
	}
	if n, err := rdb.StrLen(ctx, "big").Result(); err != nil || n != int64(len(big)) {
		t.Errorf("STRLEN: %d %v", n, err)
	}
	vals, err := rdb.MGet(ctx, "small", "missing", "big").Result()
	if err != nil || len(vals) != 3 || vals[0] != "w" || vals[1] != nil || vals[2] != string(big) {
		t.Errorf("MGET: %v", err)
	}
	digest, err := rdb.Do(ctx, "DIGEST", "big").Text()
	if sum := blake3.Sum256(big); err != nil || digest != fmt.Sprintf("%x", sum) {
		t.Errorf("DIGEST: %q %v", digest, err)
	}
	if n, err := rdb.DBSize(ctx).Result(); err != nil || n != 4 {
		t.Errorf("DBSIZE: %d %v", n, err)
	}
	if n, err := rdb.Del(ctx, "ttl", "missing").Result(); err != nil || n != 1 {
		t.Errorf("DEL: %d %v", n, err)
	}
	for i := range 25 {
		must(rdb.Set(ctx, fmt.Sprintf("scan:%02d", i), i, 0).Err())
	}
	var keys []string
	for it := rdb.Scan(ctx, 0, "scan:*", 7).Iterator(); it.Next(ctx); {
		keys = append(keys, it.Val())
	}
	slices.Sort(keys)
	if len(keys) != 25 || keys[0] != "scan:00" || keys[24] != "scan:24" {
		t.Errorf("SCAN MATCH scan:* gave %d keys: %v", len(keys), keys)
	}
	// Databases are separate; SELECT switches.
	other := redis.NewClient(&redis.Options{Addr: s.Addr, DB: 6})
	defer other.Close()
	if _, err := other.Get(ctx, "small").Result(); !errors.Is(err, redis.Nil) {
		t.Errorf("database 6 sees database 5: %v", err)
	}
	if err := rdb.Do(ctx, "NOSUCH").Err(); err == nil || !strings.Contains(err.Error(), "unknown command") {
		t.Errorf("unknown command: %v", err)
	}
	if err := rdb.Do(ctx, "GET").Err(); err == nil || !strings.Contains(err.Error(), "wrong number of arguments") {
		t.Errorf("GET without key: %v", err)
	}
	if err := rdb.Set(ctx, strings.Repeat("k", shardproto.MaxKeyLen+1), "v", 0).Err(); err == nil {
		t.Error("overlong key accepted")
	}
	info, err := rdb.Info(ctx).Result()
	if err != nil || !strings.Contains(info, "redis_version:") {
		t.Errorf("INFO: %q %v", info, err)
	}
}

// TestRedisCLI runs redis-cli against the server: PING, SET, GET, SELECT,
// binary values from standard input.
func TestRedisCLI(t *testing.T) {
	cli := testenv.LookPath(t, "redis-cli", "redis-tools")
	s := testenv.StartShard(t, testenv.ShardOptions{})
	host, port, _ := strings.Cut(s.Addr, ":")
	run := func(stdin []byte, args ...string) string {
		t.Helper()
		cmd := exec.Command(cli, append([]string{"-h", host, "-p", port}, args...)...)
		cmd.Stdin = bytes.NewReader(stdin)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("redis-cli %v: %v\n%s", args, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"PING"}, "PONG"},
		{[]string{"SET", "greeting", "hello"}, "OK"},
		{[]string{"GET", "greeting"}, "hello"},
		{[]string{"-n", "3", "GET", "greeting"}, ""},
		{[]string{"-n", "3", "SET", "greeting", "bonjour"}, "OK"},
		{[]string{"-n", "3", "GET", "greeting"}, "bonjour"},
		{[]string{"SELECT", "3"}, "OK"},
		{[]string{"GET", "greeting"}, "hello"},
		{[]string{"EXISTS", "greeting", "nope"}, "1"},
	} {
		if got := run(nil, tc.args...); got != tc.want {
			t.Errorf("redis-cli %v: %q, want %q", tc.args, got, tc.want)
		}
	}
	bin := bytes.Repeat([]byte("\x00\r\n\xff"), 100_000)
	if got := run(bin, "-x", "SET", "binary"); got != "OK" {
		t.Fatalf("SET -x: %q", got)
	}
	v, err := s.Store.Get(0, []byte("binary"))
	if err != nil {
		t.Fatal(err)
	}
	stored, _ := v.AppendTo(nil)
	v.Close()
	if !bytes.Equal(stored, bin) {
		t.Errorf("value from redis-cli -x: %d bytes stored, want %d", len(stored), len(bin))
	}
	if got := run(nil, "--scan", "--pattern", "gre*"); got != "greeting" {
		t.Errorf("redis-cli --scan: %q", got)
	}
}

// TestRedisBenchmark runs a short redis-benchmark of SET and GET.
func TestRedisBenchmark(t *testing.T) {
	bench := testenv.LookPath(t, "redis-benchmark", "redis-tools")
	s := testenv.StartShard(t, testenv.ShardOptions{})
	host, port, _ := strings.Cut(s.Addr, ":")
	out, err := exec.Command(bench, "-h", host, "-p", port, "-t", "set,get", "-n", "2000", "-c", "20", "-r", "500", "-q").CombinedOutput()
	if err != nil {
		t.Fatalf("redis-benchmark: %v\n%s", err, out)
	}
	for _, cmd := range []string{"SET", "GET"} {
		if !regexp.MustCompile(cmd + `: [0-9.]+ requests per second`).Match(out) {
			t.Errorf("redis-benchmark output has no %s rate:\n%s", cmd, out)
		}
	}
	n := 0
	if err := s.Store.Scan(0, nil, func(k []byte, _ store.Info) bool { n++; return true }); err != nil {
		t.Fatal(err)
	}
	if n == 0 || n > 500 {
		t.Errorf("%d keys stored by redis-benchmark -r 500", n)
	}
	t.Logf("%s", bytes.TrimSpace(out))
}
