package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/mycdn/mycdn/internal/fetch"
	"github.com/mycdn/mycdn/internal/registryclient"
	"github.com/mycdn/mycdn/internal/shardproto"
	"github.com/mycdn/mycdn/internal/shardserver"
	"github.com/mycdn/mycdn/internal/testenv"
	"github.com/mycdn/mycdn/internal/vectors"
	"github.com/mycdn/mycdn/meta"
	"github.com/mycdn/mycdn/ref"
)

// writeConfig writes a config for the network's stores (with per-store
// extra TOML, such as an auth line) and returns its path.
func writeConfig(t *testing.T, nw *testenv.Network, k int, gateway string, extra map[int]string) string {
	t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "required_shards = %d\n[metadata]\nkind = \"registry\"\nurl = %q\n", k, nw.Registry.URL)
	if gateway != "" {
		fmt.Fprintf(&b, "[gateway]\nurl = %q\n", gateway)
	}
	for i, s := range nw.Shards {
		fmt.Fprintf(&b, "[[backends]]\nkind = \"hero_redis\"\nhost = %q\ndb = 0\n%s\n", s.Addr, extra[i])
	}
	path := filepath.Join(t.TempDir(), "config.toml")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

var objectLine = regexp.MustCompile(`^Object (\S+) saved\. Ref: holo://([0-9a-f]{32})\?key=([0-9a-f]{32})( URL: (\S+))?$`)

func TestUploadCommand(t *testing.T) {
	nw := testenv.StartNetwork(t, 4)
	cfg := writeConfig(t, nw, 2, "http://127.0.0.1:8080", nil)
	dir := t.TempDir()
	file := filepath.Join(dir, "data.bin")
	content := vectors.XOF("cli-upload", 1<<20+5)
	if err := os.WriteFile(file, content, 0o644); err != nil {
		t.Fatal(err)
	}

	code, out, stderr := run(t, nil, "upload", "--config", cfg, "--chunk-size", "1048576", file)
	if code != 0 {
		t.Fatalf("upload: exit %d: %s", code, stderr)
	}
	m := objectLine.FindStringSubmatch(strings.TrimSpace(string(out)))
	if m == nil || m[1] != "data.bin" {
		t.Fatalf("output %q does not match the reference's line", out)
	}
	if want := "http://127.0.0.1:8080/" + m[2] + "/" + m[3] + "/"; m[5] != want {
		t.Fatalf("URL %q, want %q", m[5], want)
	}
	r, err := ref.Parse("holo://" + m[2] + "?key=" + m[3])
	if err != nil {
		t.Fatal(err)
	}
	if got := readRef(t, nw.Registry.URL, r); !bytes.Equal(got, content) {
		t.Fatal("the uploaded file reads back differently")
	}

	// --name, --mime and --json: other metadata, but the same shards,
	// which the stores hold already.
	code, out, stderr = run(t, nil, "upload", "--config", cfg, "--chunk-size", "1048576", "--json", "--name", "renamed.bin", "--mime", "application/x-test", file)
	if code != 0 {
		t.Fatalf("upload --json: exit %d: %s", code, stderr)
	}
	var line uploadLine
	if err := json.Unmarshal(out, &line); err != nil {
		t.Fatalf("output %q: %v", out, err)
	}
	if line.Name != "renamed.bin" || line.Kind != "file" || line.Size != uint64(len(content)) || line.Blocks != 2 ||
		line.Ref == r.String() || !strings.HasPrefix(line.URL, "http://127.0.0.1:8080/") || line.BytesSent != 0 || line.ShardsSkipped != 2*4 {
		t.Fatalf("json line %+v", line)
	}
	code, out, _ = run(t, nil, "upload", "--config", cfg, "--chunk-size", "1048576", "--json", "--name", "renamed.bin", "--mime", "application/x-test", file)
	var again uploadLine
	if code != 0 || json.Unmarshal(out, &again) != nil || again != line {
		t.Fatalf("re-upload: exit %d, %s", code, out)
	}

	// A tree: one JSON line per object, the directory last.
	tree := filepath.Join(dir, "tree")
	for _, name := range []string{"a.txt", "sub/b.txt"} {
		os.MkdirAll(filepath.Dir(filepath.Join(tree, name)), 0o755)
		os.WriteFile(filepath.Join(tree, name), []byte(name), 0o644)
	}
	code, out, stderr = run(t, nil, "upload", "--config", cfg, "--json", tree)
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if code != 0 || len(lines) != 4 {
		t.Fatalf("tree: exit %d, %d lines: %s %s", code, len(lines), out, stderr)
	}
	var top uploadLine
	if err := json.Unmarshal([]byte(lines[3]), &top); err != nil || top.Kind != "directory" || top.Name != "tree" || top.Size != 14 {
		t.Fatalf("last line %s: %v", lines[3], err)
	}
}

func TestUploadCommandErrors(t *testing.T) {
	nw := testenv.StartNetwork(t, 3)
	cfg := writeConfig(t, nw, 2, "", nil)
	file := filepath.Join(t.TempDir(), "f.txt")
	os.WriteFile(file, []byte("hello"), 0o644)
	cases := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"no path", []string{"upload", "--config", cfg}, 2, "at least one PATH"},
		{"chunk size", []string{"upload", "--config", cfg, "--chunk-size", "100", file}, 2, "--chunk-size"},
		{"name for two", []string{"upload", "--config", cfg, "--name", "x", file, file}, 2, "--name"},
		{"no config", []string{"upload", "--config", filepath.Join(t.TempDir(), "none.toml"), file}, 2, "mycdnctl init"},
		{"missing file", []string{"upload", "--config", cfg, filepath.Join(t.TempDir(), "nope")}, 1, "no such file"},
	}
	for _, tc := range cases {
		code, out, stderr := run(t, nil, tc.args...)
		if code != tc.code || len(out) != 0 || !strings.Contains(stderr, tc.want) {
			t.Errorf("%s: exit %d (want %d), stdout %q, stderr %q (want %q)", tc.name, code, tc.code, out, stderr, tc.want)
		}
	}

	nw.Stop(2)
	code, out, stderr := run(t, nil, "upload", "--config", cfg, file)
	if code != 1 || len(out) != 0 || !strings.Contains(stderr, nw.Shards[2].Addr) || !strings.Contains(stderr, "run the same command again") {
		t.Fatalf("store down: exit %d, stdout %q, stderr %q", code, out, stderr)
	}
}

// TestUploadIncludePassword uploads to a store that needs a login: the
// token is embedded in the metadata only with --include-password.
func TestUploadIncludePassword(t *testing.T) {
	nw := testenv.StartNetwork(t, 3)
	nw.Shards[0].Stop()
	nw.Shards[0] = testenv.StartShard(t, testenv.ShardOptions{Server: shardserver.Options{
		Access: shardserver.Access{DefaultMode: shardproto.Private, AdminSecret: "s3cret", LoopbackOnly: true}}})
	cfg := writeConfig(t, nw, 2, "", map[int]string{0: `auth = { type = "token", token = "s3cret" }`})
	file := filepath.Join(t.TempDir(), "f.txt")
	os.WriteFile(file, []byte("private content"), 0o644)
	for _, include := range []bool{false, true} {
		args := []string{"upload", "--config", cfg, file}
		if include {
			args = append(args, "--include-password")
		}
		code, out, stderr := run(t, nil, args...)
		m := objectLine.FindStringSubmatch(strings.TrimSpace(string(out)))
		if code != 0 || m == nil {
			t.Fatalf("include %v: exit %d: %s %s", include, code, out, stderr)
		}
		r, _ := ref.Parse("holo://" + m[2] + "?key=" + m[3])
		file := readMetadata(t, nw.Registry.URL, r).(*meta.File)
		auth := file.Blocks[0].Shards[0].Auth
		if include != (auth != nil && auth.Token == "s3cret") || file.Blocks[0].Shards[1].Auth != nil {
			t.Fatalf("include %v: shard 0 auth %+v", include, auth)
		}
		if include {
			if got := readRef(t, nw.Registry.URL, r); string(got) != "private content" {
				t.Fatalf("read back %q", got)
			}
		}
	}
}

func readMetadata(t *testing.T, registry string, r ref.Ref) meta.Metadata {
	t.Helper()
	m, err := newTestFetcher(t, registry).Metadata(context.Background(), r.Lookup, r.Key)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// readRef reads a file reference through the fetch path.
func readRef(t *testing.T, registry string, r ref.Ref) []byte {
	t.Helper()
	f := newTestFetcher(t, registry)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	m, err := f.Metadata(ctx, r.Lookup, r.Key)
	if err != nil {
		t.Fatal(err)
	}
	rd, err := f.Open(ctx, m.(*meta.File), 0, -1)
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Close()
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(rd); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func newTestFetcher(t *testing.T, registry string) *fetch.Fetcher {
	reg, err := registryclient.New(registry, nil)
	if err != nil {
		t.Fatal(err)
	}
	stores := &fetch.Stores{}
	t.Cleanup(stores.Close)
	return fetch.New(fetch.Options{Registry: reg, Dial: stores.Dial})
}

// TestUploadToStockRedis stores shards in stock redis-server as well: it
// has no DIGEST, so a re-upload compares the stored bytes instead.
func TestUploadToStockRedis(t *testing.T) {
	nw := testenv.StartNetwork(t, 3)
	redis := testenv.StartRedis(t)
	cfg := writeConfig(t, nw, 2, "", nil)
	b, err := os.ReadFile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	b = append(b, fmt.Sprintf("[[backends]]\nkind = \"hero_redis\"\nhost = %q\ndb = 3\n", redis.Addr)...)
	os.WriteFile(cfg, b, 0o600)
	file := filepath.Join(t.TempDir(), "f.bin")
	os.WriteFile(file, vectors.XOF("redis", 3000), 0o644)
	var lines [2]uploadLine
	for i := range lines {
		code, out, stderr := run(t, nil, "upload", "--config", cfg, "--json", file)
		if code != 0 || json.Unmarshal(out, &lines[i]) != nil {
			t.Fatalf("upload %d: exit %d: %s %s", i, code, out, stderr)
		}
	}
	if lines[0].ShardsSkipped != 0 || lines[1].ShardsSkipped != 4 || lines[1].Ref != lines[0].Ref {
		t.Fatalf("uploads %+v", lines)
	}
	r, _ := ref.Parse(lines[0].Ref)
	if got := readRef(t, nw.Registry.URL, r); !bytes.Equal(got, vectors.XOF("redis", 3000)) {
		t.Fatal("read back differs")
	}
}
