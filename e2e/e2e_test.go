// Package e2e tests mycdn as its users run it: the mycdnd and mycdnctl
// binaries as separate processes, talking over loopback.
package e2e_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/zeebo/blake3"

	"github.com/mycdn/mycdn/internal/testenv"
)

// object is a line of "mycdnctl upload --json".
type object struct {
	Name          string `json:"name"`
	Kind          string `json:"kind"`
	Size          int64  `json:"size"`
	Ref           string `json:"ref"`
	URL           string `json:"url"`
	ShardsSkipped int    `json:"shards_skipped"`
}

// network is five shard stores, a registry and a gateway, each a process.
type network struct {
	t       *testing.T
	mycdnd  string
	ctl     string
	shards  []*testenv.Process
	gateway *testenv.Process
	config  string
}

func start(t *testing.T) *network {
	nw := &network{t: t, mycdnd: testenv.Build(t, "mycdnd"), ctl: testenv.Build(t, "mycdnctl")}
	reg := testenv.StartServer(t, nw.mycdnd, "registry", "--listen", "127.0.0.1:0", "--data", t.TempDir(), "--open")
	// A one-byte cache keeps nothing: every read goes to the stores.
	nw.gateway = testenv.StartServer(t, nw.mycdnd, "gateway", "--listen", "127.0.0.1:0",
		"--registry", "http://"+reg.Addr, "--cache-size", "1")
	var cfg strings.Builder
	fmt.Fprintf(&cfg, "required_shards = 3\n[metadata]\nkind = \"registry\"\nurl = \"http://%s\"\n[gateway]\nurl = \"http://%s\"\n",
		reg.Addr, nw.gateway.Addr)
	for range 5 {
		p := testenv.StartShardProcess(t, nw.mycdnd, t.TempDir())
		nw.shards = append(nw.shards, p)
		fmt.Fprintf(&cfg, "[[backends]]\nkind = \"hero_redis\"\nhost = %q\ndb = 0\n", p.Addr)
	}
	nw.config = filepath.Join(t.TempDir(), "config.toml")
	if err := os.WriteFile(nw.config, []byte(cfg.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return nw
}

// kill kills shard store i, as a crash would.
func (nw *network) kill(i int) { nw.shards[i].Kill() }

// restart starts shard store i again, on its address and its data.
func (nw *network) restart(i int) {
	old := nw.shards[i]
	nw.shards[i] = testenv.StartServer(nw.t, nw.mycdnd, "shard", "--data", old.Dir, "--listen", old.Addr)
	nw.shards[i].Dir = old.Dir
}

// ctl runs mycdnctl and returns its standard output, failing the test if it
// fails.
func (nw *network) ctlRun(args ...string) []byte {
	nw.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, nw.ctl, args...)
	cmd.Env = append(os.Environ(), "MYCDN_CONFIG="+nw.config)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		nw.t.Fatalf("mycdnctl %v: %v\n%s", args, err, stderr.String())
	}
	return out
}

// tree writes the site that is uploaded: pages, a stylesheet, a file of
// several blocks, an empty file and an empty directory.
func tree(t *testing.T) (string, map[string][]byte) {
	root := filepath.Join(t.TempDir(), "site")
	big := make([]byte, 3<<20+12345)
	h := blake3.New()
	h.WriteString("e2e")
	h.Digest().Read(big)
	files := map[string][]byte{
		"index.html":           []byte(`<link rel="stylesheet" href="css/site.css"><a href="docs/">docs</a>`),
		"css/site.css":         []byte("body{color:#123}"),
		"docs/index.html":      []byte("<p>docs</p>"),
		"docs/data/blocks.bin": big,
		"docs/empty.txt":       {},
	}
	for name, data := range files {
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(root, "empty"), 0o755); err != nil {
		t.Fatal(err)
	}
	return root, files
}

// checkAll reads every file through the gateway and the CLI, and the whole
// tree with "mycdnctl get", and compares them with what was uploaded.
func (nw *network) checkAll(when string, site object, files map[string][]byte) {
	nw.t.Helper()
	for name, want := range files {
		resp, err := http.Get(site.URL + name)
		if err != nil {
			nw.t.Fatalf("%s: gateway GET %s: %v", when, name, err)
		}
		got, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != 200 || !bytes.Equal(got, want) {
			nw.t.Fatalf("%s: gateway GET %s: %d, %d bytes, %v\n%s", when, name, resp.StatusCode, len(got), err, nw.gateway.Log())
		}
		if got := nw.ctlRun("cat", site.URL+name); !bytes.Equal(got, want) {
			nw.t.Fatalf("%s: mycdnctl cat %s: %d bytes differ", when, name, len(got))
		}
	}
	out := filepath.Join(nw.t.TempDir(), "copy")
	nw.ctlRun("get", "--verify-all", "-o", out, site.Ref)
	n := 0
	err := filepath.WalkDir(out, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(out, p)
		got, err := os.ReadFile(p)
		if err != nil || !bytes.Equal(got, files[filepath.ToSlash(rel)]) {
			return fmt.Errorf("%s differs", rel)
		}
		n++
		return nil
	})
	if err != nil || n != len(files) {
		nw.t.Fatalf("%s: mycdnctl get: %d files, %v", when, n, err)
	}
	if fi, err := os.Stat(filepath.Join(out, "empty")); err != nil || !fi.IsDir() {
		nw.t.Fatalf("%s: mycdnctl get: no empty directory: %v", when, err)
	}
}

func TestEndToEnd(t *testing.T) {
	nw := start(t)
	root, files := tree(t)
	var objects []object
	for _, line := range bytes.Split(bytes.TrimSpace(nw.ctlRun("upload", "--json", "--chunk-size", "1048576", root)), []byte("\n")) {
		var o object
		if err := json.Unmarshal(line, &o); err != nil {
			t.Fatal(err)
		}
		objects = append(objects, o)
	}
	site := objects[len(objects)-1]
	if site.Name != "site" || site.Kind != "directory" || len(objects) != 10 || !strings.HasSuffix(site.URL, "/") {
		t.Fatalf("uploaded %+v", objects)
	}
	nw.checkAll("all stores up", site, files)

	// Two stores crash: everything still reads, byte for byte.
	nw.kill(1)
	nw.kill(3)
	nw.checkAll("stores 1 and 3 down", site, files)

	// They come back on the same data: nothing was lost. To show it, two
	// other stores go down, so reads need the ones that came back.
	nw.restart(1)
	nw.restart(3)
	nw.kill(0)
	nw.kill(4)
	nw.checkAll("stores 1 and 3 back, 0 and 4 down", site, files)
	nw.restart(0)
	nw.restart(4)

	// Uploading again sends nothing: every shard is still where it was.
	var again object
	lines := bytes.Split(bytes.TrimSpace(nw.ctlRun("upload", "--json", "--chunk-size", "1048576", root)), []byte("\n"))
	if err := json.Unmarshal(lines[len(lines)-1], &again); err != nil || again.Ref != site.Ref || again.ShardsSkipped == 0 {
		t.Fatalf("re-upload: %+v, %v", again, err)
	}
}
