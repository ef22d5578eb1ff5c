package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mycdn/mycdn/internal/registryclient"
	"github.com/mycdn/mycdn/internal/seal"
	"github.com/mycdn/mycdn/internal/testenv"
	"github.com/mycdn/mycdn/internal/upload"
	"github.com/mycdn/mycdn/internal/vectors"
	"github.com/mycdn/mycdn/meta"
	"github.com/mycdn/mycdn/ref"
)

// uploadJSON uploads path with mycdnctl and returns its JSON lines.
func uploadJSON(t *testing.T, cfg string, args ...string) []uploadLine {
	t.Helper()
	code, out, stderr := run(t, nil, append([]string{"upload", "--config", cfg, "--json", "--chunk-size", "1048576"}, args...)...)
	if code != 0 {
		t.Fatalf("upload %v: exit %d: %s", args, code, stderr)
	}
	var lines []uploadLine
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		var u uploadLine
		if err := json.Unmarshal([]byte(l), &u); err != nil {
			t.Fatal(err)
		}
		lines = append(lines, u)
	}
	return lines
}

func TestGetAndCatRoundTrips(t *testing.T) {
	nw := testenv.StartNetwork(t, 5)
	cfg := writeConfig(t, nw, 3, "", nil)
	dir := t.TempDir()
	const chunk = upload.MinChunkSize
	for _, size := range []int{0, 1, chunk - 1, chunk, chunk + 1, 64 << 20} {
		content := vectors.XOF("get", size)
		src := filepath.Join(dir, "src.bin")
		os.WriteFile(src, content, 0o644)
		ref := uploadJSON(t, cfg, src)[0].Ref

		code, out, stderr := run(t, nil, "cat", "--config", cfg, ref)
		if code != 0 || !bytes.Equal(out, content) {
			t.Fatalf("cat of %d bytes: exit %d, %d bytes: %s", size, code, len(out), stderr)
		}
		dst := filepath.Join(dir, "dst.bin")
		code, _, stderr = run(t, nil, "get", "--config", cfg, "--verify-all", "--force", "-o", dst, ref)
		if got, _ := os.ReadFile(dst); code != 0 || !bytes.Equal(got, content) {
			t.Fatalf("get of %d bytes: exit %d: %s", size, code, stderr)
		}
	}
}

func TestGetTree(t *testing.T) {
	nw := testenv.StartNetwork(t, 4)
	cfg := writeConfig(t, nw, 2, "", map[int]string{})
	src := filepath.Join(t.TempDir(), "tree")
	files := map[string][]byte{
		"index.html":        []byte("<p>hi</p>"),
		"docs/a.txt":        []byte("a"),
		"docs/deep/b.bin":   vectors.XOF("tree", 1<<20+3),
		"docs/deep/c/empty": {},
	}
	for name, data := range files {
		p := filepath.Join(src, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		os.WriteFile(p, data, 0o644)
	}
	os.Mkdir(filepath.Join(src, "emptydir"), 0o755)
	lines := uploadJSON(t, cfg, src)
	top := lines[len(lines)-1]

	// Without a configuration: the reference and --registry are enough.
	out := filepath.Join(t.TempDir(), "out")
	none := filepath.Join(t.TempDir(), "none.toml")
	code, _, stderr := run(t, nil, "get", "--config", none, "--registry", nw.Registry.URL, "-o", out, top.Ref)
	if code != 0 {
		t.Fatalf("get tree: exit %d: %s", code, stderr)
	}
	for name, data := range files {
		if got, err := os.ReadFile(filepath.Join(out, name)); err != nil || !bytes.Equal(got, data) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if fi, err := os.Stat(filepath.Join(out, "emptydir")); err != nil || !fi.IsDir() {
		t.Errorf("emptydir: %v", err)
	}
	code, _, stderr = run(t, nil, "get", "--config", cfg, "-o", out, top.Ref)
	if code != 1 || !strings.Contains(stderr, "--force") {
		t.Errorf("get over an existing tree: exit %d: %s", code, stderr)
	}

	// ls, ls -R, ls --json, and a path into the tree through a gateway URL.
	code, ls, _ := run(t, nil, "ls", "--config", cfg, top.Ref)
	if code != 0 || string(ls) != "d            -  docs/\nd            -  emptydir/\nf            9  index.html\n" {
		t.Errorf("ls: exit %d:\n%s", code, ls)
	}
	code, ls, _ = run(t, nil, "ls", "--config", cfg, "-R", top.Ref)
	if code != 0 || !strings.Contains(string(ls), "f      1048579  docs/deep/b.bin\n") || strings.Count(string(ls), "\n") != 8 {
		t.Errorf("ls -R: exit %d:\n%s", code, ls)
	}
	code, ls, _ = run(t, nil, "ls", "--config", cfg, "-R", "--json", top.Ref)
	var first lsEntry
	if code != 0 || json.Unmarshal([]byte(strings.SplitN(string(ls), "\n", 2)[0]), &first) != nil ||
		first.Path != "docs" || first.Kind != "directory" || !strings.HasPrefix(first.Ref, "holo://") {
		t.Errorf("ls --json: exit %d:\n%s", code, ls)
	}
	r, _ := ref.Parse(top.Ref)
	url := "http://gw.example/" + r.Lookup.String() + "/" + r.Key.String() + "/docs/deep/b.bin"
	code, cat, stderr := run(t, nil, "cat", "--config", cfg, url)
	if code != 0 || !bytes.Equal(cat, files["docs/deep/b.bin"]) {
		t.Errorf("cat through a gateway URL path: exit %d: %s", code, stderr)
	}
	code, _, stderr = run(t, nil, "cat", "--config", cfg, top.Ref)
	if code != 1 || !strings.Contains(stderr, "is a directory") {
		t.Errorf("cat of a directory: exit %d: %s", code, stderr)
	}
}

func TestStat(t *testing.T) {
	nw := testenv.StartNetwork(t, 3)
	cfg := writeConfig(t, nw, 2, "", nil)
	src := filepath.Join(t.TempDir(), "report.txt")
	os.WriteFile(src, []byte("hello report"), 0o644)
	line := uploadJSON(t, cfg, src)[0]
	code, out, stderr := run(t, nil, "stat", "--config", cfg, line.Ref)
	if code != 0 || !strings.Contains(string(out), "name:     report.txt\n") || !strings.Contains(string(out), "size:     12 bytes\n") ||
		!strings.Contains(string(out), "mime:     text/plain; charset=utf-8\n") || !strings.Contains(string(out), "any 2 of 3") {
		t.Fatalf("stat: exit %d: %s %s", code, out, stderr)
	}
	code, out, _ = run(t, nil, "stat", "--config", cfg, "--json", line.Ref)
	var st struct {
		Ref      string          `json:"ref"`
		Size     int64           `json:"size"`
		Metadata json.RawMessage `json:"metadata"`
	}
	if code != 0 || json.Unmarshal(out, &st) != nil || st.Ref != line.Ref || st.Size != 12 {
		t.Fatalf("stat --json: exit %d: %s", code, out)
	}
	if m, err := meta.ParseJSON(st.Metadata); err != nil || m.(*meta.File).Name != "report.txt" {
		t.Fatalf("stat --json metadata: %v", err)
	}
}

func TestStatRedactsTokens(t *testing.T) {
	f := &meta.File{Blocks: []meta.Block{{Shards: []meta.ShardLocation{{Auth: &meta.Auth{Token: "secret"}}}}}}
	r := redact(f).(*meta.File)
	if r.Blocks[0].Shards[0].Auth.Token != redacted || f.Blocks[0].Shards[0].Auth.Token != "secret" {
		t.Fatal("redact did not replace the token in a copy")
	}
}

func TestGetFailures(t *testing.T) {
	nw := testenv.StartNetwork(t, 5)
	cfg := writeConfig(t, nw, 3, "", nil)
	dir := t.TempDir()
	src := filepath.Join(dir, "f.bin")
	os.WriteFile(src, vectors.XOF("fail", 2<<20), 0o644)
	good := uploadJSON(t, cfg, src)[0].Ref
	r, _ := ref.Parse(good)

	wrongKey := ref.Ref{Lookup: r.Lookup, Key: meta.Hash{1}}.String()
	cases := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"bad reference", []string{"cat", "--config", cfg, "holo://nothex"}, 2, "invalid reference"},
		{"wrong key", []string{"cat", "--config", cfg, wrongKey}, 1, "wrong key"},
		{"unknown reference", []string{"cat", "--config", cfg, ref.Ref{Lookup: meta.Hash{2}, Key: r.Key}.String()}, 1, "not found"},
		{"no registry", []string{"cat", "--config", filepath.Join(dir, "none.toml"), good}, 2, "--registry"},
		{"missing path", []string{"cat", "--config", cfg, r.PathURL("http://gw") + "nope"}, 1, "no such entry"},
	}
	for _, tc := range cases {
		code, out, stderr := run(t, nil, tc.args...)
		if code != tc.code || len(out) != 0 || !strings.Contains(stderr, tc.want) {
			t.Errorf("%s: exit %d (want %d), stdout %d bytes, stderr %q (want %q)", tc.name, code, tc.code, len(out), stderr, tc.want)
		}
	}

	// Three of five stores down: a clear error, and no file, not even a
	// temporary one.
	for _, i := range []int{0, 2, 4} {
		nw.Stop(i)
	}
	out := filepath.Join(dir, "out")
	os.Mkdir(out, 0o755)
	code, _, stderr := run(t, nil, "get", "--config", cfg, "-o", filepath.Join(out, "f.bin"), good)
	if code != 1 || !strings.Contains(stderr, "too few shards") {
		t.Fatalf("three stores down: exit %d: %s", code, stderr)
	}
	if ents, _ := os.ReadDir(out); len(ents) != 0 {
		t.Fatalf("files left behind: %v", ents)
	}
}

// TestGetRefusesUnsafeNames publishes a directory whose entry is named
// "../evil": get must not write outside its target.
func TestGetRefusesUnsafeNames(t *testing.T) {
	nw := testenv.StartNetwork(t, 3)
	cfg := writeConfig(t, nw, 2, "", nil)
	reg, err := registryclient.New(nw.Registry.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	put := func(m meta.Metadata) ref.Ref {
		blob, err := meta.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		sealed, lookup, key := seal.SealMetadata(blob, seal.MetadataNonce(blob))
		if err := reg.Put(context.Background(), lookup, sealed); err != nil {
			t.Fatal(err)
		}
		return ref.Ref{Lookup: lookup, Key: key}
	}
	evil := put(&meta.File{Name: "../evil", ContentHash: seal.Sum(nil)})
	dir := put(&meta.Directory{Name: "innocent", Entries: []meta.Entry{{Lookup: evil.Lookup, Key: &evil.Key}}})
	base := t.TempDir()
	code, _, stderr := run(t, nil, "get", "--config", cfg, "-o", filepath.Join(base, "out"), dir.String())
	if code != 1 || !strings.Contains(stderr, "not a valid file name") {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if _, err := os.Stat(filepath.Join(base, "evil")); err == nil {
		t.Fatal("get wrote outside its target")
	}
}
