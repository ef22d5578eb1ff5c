package main

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/mycdn/mycdn/internal/config"
)

func TestInit(t *testing.T) {
	path := filepath.Join(t.TempDir(), "config.toml")
	if code, _, stderr := run(t, nil, "init", path); code != 0 {
		t.Fatalf("init: exit %d: %s", code, stderr)
	}
	if c, err := config.LoadClient(path); err != nil || c.CheckUpload() != nil {
		t.Fatalf("init wrote an unusable config: %v", err)
	}
	if err := os.WriteFile(path, []byte("mine"), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, _, _ := run(t, nil, "init", path); code != 2 {
		t.Fatalf("init over an existing file: exit %d, want 2", code)
	}
	if b, _ := os.ReadFile(path); string(b) != "mine" {
		t.Fatal("init overwrote an existing file without --force")
	}
	if code, _, _ := run(t, nil, "init", "--force", path); code != 0 {
		t.Fatalf("init --force: exit %d", code)
	}
	if b, _ := os.ReadFile(path); !bytes.Equal(b, config.StarterClient) {
		t.Fatal("init --force did not write the starter config")
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm()&0o077 != 0 {
		t.Errorf("config is readable by others: %v", fi.Mode())
	}
}
