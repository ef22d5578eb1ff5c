package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/mycdn/mycdn/internal/names"
	"github.com/mycdn/mycdn/internal/registryserver"
	"github.com/mycdn/mycdn/internal/testenv"
	"github.com/mycdn/mycdn/internal/xeddsa"
)

const (
	nameRef1 = "holo://00112233445566778899aabbccddeeff?key=ffeeddccbbaa99887766554433221100"
	nameRef2 = "holo://0123456789abcdef0123456789abcdef?key=fedcba9876543210fedcba9876543210&prefix=p/"
)

var keygenOut = regexp.MustCompile(`^Mycelium address: (\S+)\nPublic key:       ([0-9a-f]{64})\nKey file:         (.+)\n$`)

// keygen runs mycdnctl keygen into dir/name and returns the key file, the
// key and its address as printed.
func keygen(t *testing.T, dir, name string) (string, xeddsa.PrivateKey, string) {
	t.Helper()
	path := filepath.Join(dir, name)
	code, out, stderr := run(t, nil, "keygen", "--key-file", path)
	if code != 0 {
		t.Fatalf("keygen: exit %d: %s", code, stderr)
	}
	m := keygenOut.FindStringSubmatch(string(out))
	if m == nil || m[3] != path {
		t.Fatalf("keygen printed %q", out)
	}
	k, err := readKeyFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if pub := k.PublicKey(); m[1] != pub.Address().String() || m[2] != pub.String() {
		t.Fatalf("keygen printed %s and %s for a key whose address is %v and public key %v", m[1], m[2], pub.Address(), pub)
	}
	return path, *k, m[1]
}

func TestKeygen(t *testing.T) {
	dir := t.TempDir()
	path, k, _ := keygen(t, dir, "a.key")
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode %v, %v; want 0600", fi.Mode(), err)
	}
	before, _ := os.ReadFile(path)
	if code, _, stderr := run(t, nil, "keygen", "--key-file", path); code != 2 || !strings.Contains(stderr, "never overwrites") {
		t.Fatalf("keygen over a key: exit %d, %s", code, stderr)
	}
	if after, _ := os.ReadFile(path); string(after) != string(before) {
		t.Fatal("keygen overwrote a key")
	}
	_, k2, _ := keygen(t, dir, "b.key")
	if k == k2 {
		t.Fatal("two keygens made the same key")
	}
	if code, _, _ := run(t, nil, "keygen", "--key-file", filepath.Join(dir, "no", "such", "dir")); code != 1 {
		t.Fatalf("keygen into a missing directory: exit %d, want 1", code)
	}
	if code, _, _ := run(t, nil, "keygen", "extra"); code != 2 {
		t.Fatalf("keygen with an argument: exit %d, want 2", code)
	}
}

// nameConfig writes a configuration for the registry at url, with the
// given extra lines under [metadata].
func nameConfig(t *testing.T, url, extra string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "config.toml")
	if err := os.WriteFile(path, []byte(fmt.Sprintf("[metadata]\nkind = \"registry\"\nurl = %q\n%s\n", url, extra)), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// getState runs "name get --json" and returns the state.
func getState(t *testing.T, cfg, name string) names.State {
	t.Helper()
	code, out, stderr := run(t, nil, "name", "get", "--config", cfg, "--json", name)
	var st names.State
	if code != 0 || json.Unmarshal(out, &st) != nil {
		t.Fatalf("name get --json %s: exit %d, %q, %s", name, code, out, stderr)
	}
	return st
}

// mustRun runs mycdnctl, failing t unless it exits with code, and returns
// stdout and stderr.
func mustRun(t *testing.T, code int, args ...string) (string, string) {
	t.Helper()
	got, out, stderr := run(t, nil, args...)
	if got != code {
		t.Fatalf("mycdnctl %s: exit %d, want %d: %s%s", strings.Join(args, " "), got, code, out, stderr)
	}
	return string(out), stderr
}

func TestNameCommands(t *testing.T) {
	reg := testenv.StartRegistry(t, registryserver.Options{})
	dir := t.TempDir()
	_, alice, aliceAddr := keygen(t, dir, "alice.key")
	bobKey, _, bobAddr := keygen(t, dir, "bob.key")
	aliceKey := filepath.Join(dir, "alice.key")
	// alice signs with the key in the configuration, bob with --key-file.
	cfg := nameConfig(t, reg.URL, fmt.Sprintf("writer_x25519_sk_hex = \"0x%x\"", alice[:]))

	if _, stderr := mustRun(t, 1, "name", "get", "--config", cfg, "site"); !strings.Contains(stderr, "name not found") {
		t.Fatalf("get of a new name: %s", stderr)
	}
	out, _ := mustRun(t, 0, "name", "set", "--config", cfg, "site", nameRef1)
	if !strings.Contains(out, "value:   "+nameRef1) || !strings.Contains(out, "admins:  "+aliceAddr) || !strings.Contains(out, "nonce:   1") {
		t.Fatalf("set printed %q", out)
	}
	out, _ = mustRun(t, 0, "name", "get", "--config", cfg, "site")
	want := fmt.Sprintf("name:    site\nvalue:   %s\nnonce:   1\nwriters: none\nadmins:  %s\nlast:    write by %s\n", nameRef1, aliceAddr, aliceAddr)
	if out != want {
		t.Fatalf("get printed\n%s\nwant\n%s", out, want)
	}
	if st := getState(t, cfg, "site"); st.Value != nameRef1 || st.Nonce != 1 || st.Deleted || len(st.ACL.Admin) != 1 || st.ACL.Admin[0].String() != aliceAddr {
		t.Fatalf("get --json: %+v", st)
	}

	// A gateway URL is accepted and stored in holo:// form.
	mustRun(t, 0, "name", "set", "--config", cfg, "site", "http://127.0.0.1:8080/0123456789abcdef0123456789abcdef/fedcba9876543210fedcba9876543210/")
	if st := getState(t, cfg, "site"); st.Value != "holo://0123456789abcdef0123456789abcdef?key=fedcba9876543210fedcba9876543210" {
		t.Fatalf("value %q", st.Value)
	}

	// bob may not write until alice lets him, nor after she stops.
	if _, stderr := mustRun(t, 1, "name", "set", "--config", cfg, "--key-file", bobKey, "site", nameRef2); !strings.Contains(stderr, "neither a writer nor an admin") {
		t.Fatalf("a stranger's set: %s", stderr)
	}
	mustRun(t, 0, "name", "acl", "--config", cfg, "site", "--add-writer", bobAddr)
	mustRun(t, 0, "name", "set", "--config", cfg, "--key-file", bobKey, "site", nameRef2)
	if st := getState(t, cfg, "site"); st.Value != nameRef2 || st.Pub.Address().String() != bobAddr {
		t.Fatalf("after bob's set: %+v", st)
	}
	if _, stderr := mustRun(t, 1, "name", "rm", "--config", cfg, "--key-file", bobKey, "site"); !strings.Contains(stderr, "only admins may delete") {
		t.Fatalf("a writer's rm: %s", stderr)
	}
	mustRun(t, 0, "name", "acl", "--config", cfg, "site", "--remove-writer", bobAddr)
	mustRun(t, 1, "name", "set", "--config", cfg, "--key-file", bobKey, "site", nameRef1)

	// Hand-over: alice makes bob an admin, bob removes alice.
	mustRun(t, 0, "name", "acl", "--config", cfg, "site", "--add-admin", bobAddr)
	out, _ = mustRun(t, 0, "name", "acl", "--config", cfg, "--key-file", bobKey, "site", "--remove-admin", aliceAddr, "--add-writer", aliceAddr)
	if !strings.Contains(out, "writers: "+aliceAddr+"\nadmins:  "+bobAddr+"\n") {
		t.Fatalf("acl printed %q", out)
	}
	mustRun(t, 0, "name", "set", "--config", cfg, "--key-file", aliceKey, "site", nameRef1) // a writer now
	mustRun(t, 1, "name", "rm", "--config", cfg, "site")

	// Delete, then re-create: only bob, the admin, may.
	out, _ = mustRun(t, 0, "name", "rm", "--config", cfg, "--key-file", bobKey, "site")
	if !strings.Contains(out, "value:   (deleted)") {
		t.Fatalf("rm printed %q", out)
	}
	if st := getState(t, cfg, "site"); !st.Deleted || st.Value != "" {
		t.Fatalf("after rm: %+v", st)
	}
	mustRun(t, 1, "name", "rm", "--config", cfg, "--key-file", bobKey, "site")
	mustRun(t, 1, "name", "set", "--config", cfg, "site", nameRef1)
	mustRun(t, 0, "name", "set", "--config", cfg, "--key-file", bobKey, "site", nameRef1)
	if st := getState(t, cfg, "site"); st.Deleted || st.Value != nameRef1 || st.Nonce != 10 {
		t.Fatalf("re-created: %+v", st)
	}
}

func TestNameCommandErrors(t *testing.T) {
	reg := testenv.StartRegistry(t, registryserver.Options{})
	dir := t.TempDir()
	keyFile, _, addr := keygen(t, dir, "k.key")
	cfg := nameConfig(t, reg.URL, "")
	open := filepath.Join(dir, "open.key")
	b, _ := os.ReadFile(keyFile)
	if err := os.WriteFile(open, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(open, 0o640); err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(dir, "bad.key")
	if err := os.WriteFile(bad, []byte("not a key\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	noRegistry := nameConfig(t, "http://127.0.0.1:1", "")
	if err := os.WriteFile(noRegistry, []byte("required_shards = 1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	down := nameConfig(t, "http://127.0.0.1:1", "")
	for _, tc := range []struct {
		name string
		args []string
		code int
		msg  string
	}{
		{"bad name", []string{"name", "set", "--config", cfg, "--key-file", keyFile, "Site", nameRef1}, 2, "a-z, 0-9"},
		{"hex name", []string{"name", "get", "--config", cfg, "0123456789abcdef0123456789abcdef"}, 2, "lookup hash"},
		{"bad ref", []string{"name", "set", "--config", cfg, "--key-file", keyFile, "site", "holo://nope"}, 2, "invalid reference"},
		{"ref with a path", []string{"name", "set", "--config", cfg, "--key-file", keyFile, "site",
			"http://gw/0123456789abcdef0123456789abcdef/fedcba9876543210fedcba9876543210/index.html"}, 2, "points at the object"},
		{"no key", []string{"name", "set", "--config", cfg, "site", nameRef1}, 2, "no key to sign with"},
		{"key readable by others", []string{"name", "set", "--config", cfg, "--key-file", open, "site", nameRef1}, 2, "chmod 600 " + open},
		{"missing key file", []string{"name", "rm", "--config", cfg, "--key-file", filepath.Join(dir, "none"), "site"}, 2, "no such file"},
		{"bad key file", []string{"name", "rm", "--config", cfg, "--key-file", bad, "site"}, 2, "x25519 private key"},
		{"acl without changes", []string{"name", "acl", "--config", cfg, "--key-file", keyFile, "site"}, 2, "nothing to change"},
		{"acl bad address", []string{"name", "acl", "--config", cfg, "--key-file", keyFile, "site", "--add-writer", "10.0.0.1"}, 2, "Mycelium address"},
		{"acl not mycelium", []string{"name", "acl", "--config", cfg, "--key-file", keyFile, "site", "--add-admin", "2001:db8::1"}, 2, "400::/7"},
		{"acl of a new name", []string{"name", "acl", "--config", cfg, "--key-file", keyFile, "site", "--add-writer", addr}, 1, "name not found"},
		{"rm of a new name", []string{"name", "rm", "--config", cfg, "--key-file", keyFile, "site"}, 1, "name not found"},
		{"no registry", []string{"name", "get", "--config", noRegistry, "site"}, 2, "no registry"},
		{"missing config", []string{"name", "get", "--config", filepath.Join(dir, "none.toml"), "site"}, 2, "mycdnctl init"},
		{"registry down", []string{"name", "get", "--config", down, "site"}, 1, "connect"},
		{"two args", []string{"name", "get", "--config", cfg, "a", "b"}, 2, "takes 1 argument"},
		{"unknown", []string{"name", "frob"}, 2, "unknown command"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, stderr := run(t, nil, tc.args...)
			if code != tc.code || len(out) != 0 || !strings.Contains(stderr, tc.msg) {
				t.Fatalf("exit %d (want %d), stdout %q, stderr %q (want %q in it)", code, tc.code, out, stderr, tc.msg)
			}
		})
	}
}
