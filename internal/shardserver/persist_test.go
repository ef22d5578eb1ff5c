package shardserver_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/mycdn/mycdn/internal/testenv"
)

// TestRestart checks that values, databases and grants made at run time,
// and session tokens, survive a restart on the same directory.
func TestRestart(t *testing.T) {
	opts := accessOptions()
	opts.TokenKey = nil // generated once and kept in the store
	dir := t.TempDir()
	s := testenv.StartShard(t, testenv.ShardOptions{Dir: dir, Server: opts})
	a := dial(t, s.Addr)
	a.login(adminKey)
	for _, cmd := range []string{"DB.CREATE 7 private", "ACL.GRANT 7 " + pubHex(writerKey) + " write"} {
		if got := a.do(strings.Fields(cmd)...); got != "+OK" {
			t.Fatalf("%s: %s", cmd, got)
		}
	}
	w := dial(t, s.Addr)
	tok := w.login(writerKey)
	w.do("SELECT", "7")
	big := strings.Repeat("0123456789", 200_000)
	for k, v := range map[string]string{"small": "v", "big": big} {
		if got := w.do("SET", k, v); got != "+OK" {
			t.Fatalf("SET %s: %s", k, got)
		}
	}
	digest := w.do("DIGEST", "big")
	s.Stop()

	s = testenv.StartShard(t, testenv.ShardOptions{Dir: dir, Server: opts})
	w = dial(t, s.Addr)
	if got := w.do("AUTH", tok); got != "+OK" {
		t.Fatalf("token from before the restart: %s", got)
	}
	w.do("SELECT", "7")
	if got := w.do("GET", "small"); got != "$v" {
		t.Errorf("small after restart: %s", got)
	}
	if got := w.do("GET", "big"); got != "$"+big {
		t.Errorf("big after restart: %d bytes", len(got))
	}
	if got := w.do("DIGEST", "big"); got != digest {
		t.Errorf("digest after restart: %s, was %s", got, digest)
	}
	if got := w.do("SET", "more", "x"); got != "+OK" {
		t.Errorf("grant made at run time lost: %s", got)
	}
	anon := dial(t, s.Addr)
	anon.do("SELECT", "7")
	if got := anon.do("GET", "small"); got != "-NOAUTH Authentication required." {
		t.Errorf("database 7 no longer private: %s", got)
	}
	if !bytes.Contains([]byte(dial(t, s.Addr).do("PING")), []byte("PONG")) {
		t.Error("no PONG")
	}
}
