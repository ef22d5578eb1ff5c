package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mycdn/mycdn/cmd/internal/cli"
	"github.com/mycdn/mycdn/internal/shardproto"
)

const (
	adminHex  = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"
	writerHex = "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c"
)

func noFiles(name string) ([]byte, error) { return nil, os.ErrNotExist }

func TestShardConfig(t *testing.T) {
	files := map[string]string{"/secret": "a-secret-of-enough-length\n", "/tokenkey": strings.Repeat("ab", 32) + "\n"}
	read := func(name string) ([]byte, error) {
		if s, ok := files[name]; ok {
			return []byte(s), nil
		}
		return nil, os.ErrNotExist
	}
	opts, err := parseShardConfig([]byte(`
admin_secret_file = "/secret"
admins = ["`+adminHex+`"]
token_ttl = "2h"
token_key_file = "/tokenkey"
default_mode = "public-read"

[limits]
max_value = "6MiB"
max_connections = 50
idle_timeout = "30s"
preauth_command = 4096
inflight = "64 MiB"

[[databases]]
id = 7
mode = "private"
read = ["`+adminHex+`"]
write = ["`+writerHex+`"]

[[databases]]
id = 0
mode = "public-rw"
`), read)
	if err != nil {
		t.Fatal(err)
	}
	a := opts.Access
	switch {
	case a.AdminSecret != "a-secret-of-enough-length":
		t.Errorf("admin secret %q", a.AdminSecret)
	case len(a.Admins) != 1 || len(opts.TokenKey) == 0 || opts.TokenTTL != 2*time.Hour:
		t.Errorf("admins, token key or ttl not read: %+v", opts)
	case a.DefaultMode != shardproto.PublicRead || a.Databases[7] != shardproto.Private || a.Databases[0] != shardproto.PublicRW || len(a.Databases) != 2:
		t.Errorf("modes: %v %v", a.DefaultMode, a.Databases)
	case len(a.Grants) != 2 || a.Grants[0].Right != shardproto.Read || a.Grants[1].Right != shardproto.Write || a.Grants[1].DB != 7:
		t.Errorf("grants: %+v", a.Grants)
	case opts.MaxValue != 6<<20 || opts.MaxConns != 50 || opts.IdleTimeout != 30*time.Second || opts.PreauthBytes != 4096 || opts.InflightBytes != 64<<20:
		t.Errorf("limits: %+v", opts)
	case a.LoopbackOnly:
		t.Error("a configured server is loopback-only")
	}

	for name, tc := range map[string]struct{ toml, err string }{
		"unknown key":     {`colour = "blue"`, "unknown keys: colour"},
		"unknown nested":  {"[limits]\nmax_values = 3", "unknown keys: limits.max_values"},
		"bad mode":        {"[[databases]]\nid = 1\nmode = \"open\"", "unknown database mode"},
		"no id":           {"[[databases]]\nmode = \"private\"", "id must be set"},
		"big id":          {"[[databases]]\nid = 65536\nmode = \"private\"", "id must be set"},
		"twice":           {"[[databases]]\nid = 1\nmode = \"private\"\n[[databases]]\nid = 1\nmode = \"private\"", "listed twice"},
		"bad key":         {"admins = [\"abc\"]", "admins[0]"},
		"key twice":       {"[[databases]]\nid = 1\nmode = \"private\"\nread = [\"" + adminHex + "\"]\nwrite = [\"" + adminHex + "\"]", "listed twice"},
		"both secrets":    {"admin_secret = \"0123456789abcdef\"\nadmin_secret_file = \"/x\"", "exclusive"},
		"short secret":    {`admin_secret = "short"`, "shorter than 16"},
		"missing file":    {`admin_secret_file = "/nope"`, "admin_secret_file"},
		"bad size":        {"[limits]\nmax_value = \"8MB\"", "bad size"},
		"negative size":   {"[limits]\nmax_value = -1", "negative size"},
		"value too large": {"[limits]\nmax_value = \"1GiB\"", "max value"},
		"bad duration":    {"[limits]\nidle_timeout = \"soon\"", "soon"},
		"syntax":          {"admins = [", "toml"},
	} {
		_, err := parseShardConfig([]byte(tc.toml), noFiles)
		if err == nil || !strings.Contains(err.Error(), tc.err) {
			t.Errorf("%s: %v, want %q", name, err, tc.err)
		}
	}
}

func TestParseByteSize(t *testing.T) {
	for in, want := range map[string]int64{"0": 0, "512": 512, "512B": 512, "64KiB": 64 << 10, "8 MiB": 8 << 20, "1GiB": 1 << 30} {
		if got, err := parseByteSize(in); err != nil || got != want {
			t.Errorf("parseByteSize(%q) = %d, %v", in, got, err)
		}
	}
	for _, in := range []string{"", "MiB", "8MB", "-1", "1.5MiB", "99999999999999999999", "17179869184GiB"} {
		if _, err := parseByteSize(in); err == nil {
			t.Errorf("parseByteSize(%q) accepted", in)
		}
	}
}

// FuzzShardConfig checks that any shard.toml is either rejected or gives
// options that validate, without panics.
func FuzzShardConfig(f *testing.F) {
	f.Add([]byte("default_mode = \"public-read\"\n[limits]\nmax_value = \"8MiB\"\n[[databases]]\nid = 1\nmode = \"private\"\nwrite = [\"" + writerHex + "\"]\n"))
	f.Add([]byte("admins = [\"" + adminHex + "\"]\ntoken_ttl = \"1h\"\n"))
	f.Add([]byte("[limits]\ninflight = \"1 GiB\"\nidle_timeout = 5\n"))
	f.Add([]byte(""))
	f.Fuzz(func(t *testing.T, data []byte) {
		opts, err := parseShardConfig(data, noFiles)
		if err != nil {
			return
		}
		if err := opts.Validate(); err != nil {
			t.Fatalf("accepted config does not validate: %v", err)
		}
	})
}

// TestRunShard runs the command: development mode answers on loopback, a
// bad config is a usage error, SIGINT-style cancellation stops it cleanly.
func TestRunShard(t *testing.T) {
	var log bytes.Buffer
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- runShard(ctx, shardOptions{listen: "127.0.0.1:0", data: t.TempDir(), logLevel: "info"}, &log)
	}()
	time.Sleep(300 * time.Millisecond)
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("run: %v\n%s", err, log.String())
	}
	if !strings.Contains(log.String(), "no configuration: every database is public-rw") {
		t.Errorf("development mode not announced:\n%s", log.String())
	}

	cfg := filepath.Join(t.TempDir(), "shard.toml")
	_ = os.WriteFile(cfg, []byte("nonsense = 1\n"), 0o600)
	err := runShard(context.Background(), shardOptions{listen: "127.0.0.1:0", data: t.TempDir(), config: cfg, logLevel: "info"}, &bytes.Buffer{})
	if err == nil || !strings.Contains(err.Error(), "unknown keys: nonsense") {
		t.Errorf("bad config: %v", err)
	}
	var usage *cli.UsageError
	if !errors.As(err, &usage) {
		t.Errorf("bad config is not a usage error: %T", err)
	}
	if err := runShard(context.Background(), shardOptions{listen: "127.0.0.1:0", logLevel: "info"}, &bytes.Buffer{}); err == nil || !strings.Contains(err.Error(), "--data") {
		t.Errorf("no --data: %v", err)
	}
}
