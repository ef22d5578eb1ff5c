package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const writer = "42a93869397fef6c30b43ae7b46ffcd691ec3ecca3b3a2fcd7d4aa80d5376f04"

func TestParseRegistry(t *testing.T) {
	r, err := ParseRegistry([]byte(`
listen = "0.0.0.0:8081"
metrics_listen = "127.0.0.1:9081"
postgres = "postgres://db/mycdn"
tokens = ["a", "b"]
writers = ["` + writer + `"]
max_blob_size = 1048576
read_timeout = "90s"
idle_timeout = "1m"
`))
	if err != nil {
		t.Fatal(err)
	}
	if r.Listen != "0.0.0.0:8081" || r.MetricsListen != "127.0.0.1:9081" || r.Postgres != "postgres://db/mycdn" ||
		len(r.Tokens) != 2 || r.Writers[0] != writer || r.MaxBlobSize != 1<<20 ||
		r.ReadTimeout != 90*time.Second || r.IdleTimeout != time.Minute || r.WriteTimeout != 0 {
		t.Fatalf("parsed %+v", r)
	}
	for _, bad := range []string{
		`listen = 8081`,
		`unknown = 1`,
		`[limits]` + "\n" + `max_blob_size = 1`,
		`data = "/d"` + "\n" + `postgres = "postgres://x"`,
		`tokens = [""]`,
		`tokens = ["two words"]`,
		`writers = ["00"]`,
		`writers = ["` + strings.Repeat("zz", 32) + `"]`,
		`max_blob_size = -1`,
		`read_timeout = "soon"`,
		`read_timeout = "-1s"`,
		`tokens = "a"`,
		`listen = "a"` + "\n" + `listen = "b"`,
	} {
		if _, err := ParseRegistry([]byte(bad)); err == nil {
			t.Errorf("accepted %q", bad)
		}
	}
}

func TestLoadRegistry(t *testing.T) {
	path := filepath.Join(t.TempDir(), "registry.toml")
	if err := os.WriteFile(path, []byte(`tokens = ["x"]`), 0o600); err != nil {
		t.Fatal(err)
	}
	if r, err := LoadRegistry(path); err != nil || r.Tokens[0] != "x" {
		t.Fatalf("load: %+v, %v", r, err)
	}
	if _, err := LoadRegistry(path + ".missing"); err == nil || !strings.Contains(err.Error(), "registry config") {
		t.Fatalf("load of a missing file: %v", err)
	}
}

// FuzzParseRegistry checks that parsing never panics and that what it
// accepts is valid.
func FuzzParseRegistry(f *testing.F) {
	f.Add([]byte(`listen = "127.0.0.1:8081"` + "\n" + `tokens = ["t"]` + "\n" + `writers = ["` + writer + `"]`))
	f.Add([]byte(`read_timeout = "2m"` + "\n" + `max_blob_size = 67108864`))
	f.Add([]byte(`x = [[1]]`))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := ParseRegistry(b)
		if err == nil {
			if err := r.Validate(); err != nil {
				t.Fatalf("accepted an invalid config: %v", err)
			}
		}
	})
}
