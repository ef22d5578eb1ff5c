package config_test

import (
	"crypto/ed25519"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mycdn/mycdn/internal/config"
)

func TestStarterClient(t *testing.T) {
	c, err := config.ParseClient(config.StarterClient)
	if err != nil {
		t.Fatalf("the starter configuration does not parse: %v", err)
	}
	if err := c.CheckUpload(); err != nil {
		t.Fatalf("the starter configuration cannot upload: %v", err)
	}
	if c.RequiredShards != 3 || len(c.Backends) != 5 || c.Backends[4].Addr().String() != "127.0.0.1:8094" ||
		c.Metadata.URL != "http://127.0.0.1:8081" || c.Gateway.URL != "http://127.0.0.1:8080" {
		t.Fatalf("starter configuration: %+v", c)
	}
}

// TestReferenceSample parses the reference tool's sample, with its
// Holochain metadata section swapped for a registry and literal addresses.
func TestReferenceConfig(t *testing.T) {
	const sample = `
required_shards = 2
[metadata]
kind = "registry"
url = "https://registry.example.org"
key_prefix = "mycelium-cdn/meta/"
writer_x25519_sk_hex = "0x0000000000000000000000000000000000000000000000000000000000000000"

[[backends]]
kind = "hero_redis"
host = "192.0.2.1:6379"
db = 7
auth = { type = "token", token = "your-session-token" }

[[backends]]
kind = "hero_redis"
host = "[2001:db8::1]:6379"
db = 7
auth = { type = "private_key", private_key = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60" }

[[backends]]
kind = "hero_redis"
host = "192.0.2.3:6379"
db = 7
`
	c, err := config.ParseClient([]byte(sample))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.CheckUpload(); err != nil {
		t.Fatal(err)
	}
	if c.Backends[0].Auth.Token != "your-session-token" || c.Backends[0].PrivateKey() != nil {
		t.Error("token auth not read")
	}
	// RFC 8032 test 1: this seed has this public key.
	pub := c.Backends[1].PrivateKey().Public().(ed25519.PublicKey)
	if got := hex.EncodeToString(pub); got != "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a" {
		t.Errorf("private_key gives public key %s", got)
	}
	if c.Backends[1].Addr().String() != "[2001:db8::1]:6379" || c.Metadata.KeyPrefix != "mycelium-cdn/meta/" {
		t.Errorf("parsed %+v", c)
	}
}

func TestClientRejects(t *testing.T) {
	backend := func(host string, extra string) string {
		return "[[backends]]\nkind = \"hero_redis\"\nhost = \"" + host + "\"\ndb = 1\n" + extra + "\n"
	}
	cases := map[string]struct {
		toml string
		want string
	}{
		"syntax":         {"required_shards = ", "expected"},
		"unknown key":    {"required_shard = 3\n", "unknown keys: required_shard"},
		"unknown nested": {"[metadata]\nkind = \"registry\"\nurll = \"x\"\n", "metadata.urll"},
		"holo_kvs":       {"[metadata]\nkind = \"holo_kvs\"\nhost = \"127.0.0.1\"\nadmin_port = 8888\n", "holo_kvs"},
		"other kind":     {"[metadata]\nkind = \"s3\"\n", `want "registry"`},
		"host name":      {backend("shards.example.org:6379", ""), "want IP:port"},
		"no port":        {backend("127.0.0.1", ""), "want IP:port"},
		"port 0":         {backend("127.0.0.1:0", ""), "want IP:port"},
		"backend kind":   {strings.Replace(backend("127.0.0.1:1", ""), "hero_redis", "zdb", 1), `want "hero_redis"`},
		"db range":       {strings.Replace(backend("127.0.0.1:1", ""), "db = 1", "db = 70000", 1), "db 70000"},
		"duplicate":      {backend("127.0.0.1:1", "") + backend("127.0.0.1:1", ""), "both"},
		"auth type":      {backend("127.0.0.1:1", `auth = { type = "password", token = "x" }`), "auth.type"},
		"token missing":  {backend("127.0.0.1:1", `auth = { type = "token" }`), "needs token"},
		"key short":      {backend("127.0.0.1:1", `auth = { type = "private_key", private_key = "abcd" }`), "64 hex"},
		"key bad hex":    {backend("127.0.0.1:1", `auth = { type = "private_key", private_key = "`+strings.Repeat("zz", 32)+`" }`), "bad hex"},
		"writer key":     {"[metadata]\nwriter_x25519_sk_hex = \"0x12\"\n", "writer_x25519_sk_hex"},
		"registry url":   {"[metadata]\nurl = \"127.0.0.1:8081\"\n", "metadata.url"},
		"gateway url":    {"[gateway]\nurl = \"ftp://x\"\n", "gateway.url"},
		"domain alone":   {"[gateway]\ndomain = \"cdn.example\"\n", "gateway.domain"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := config.ParseClient([]byte(tc.toml))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("ParseClient = %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

func TestCheckUpload(t *testing.T) {
	three := ""
	for _, p := range []string{"1", "2", "3"} {
		three += "[[backends]]\nkind = \"hero_redis\"\nhost = \"127.0.0.1:" + p + "\"\ndb = 0\n"
	}
	reg := "[metadata]\nkind = \"registry\"\nurl = \"http://127.0.0.1:8081\"\n"
	cases := map[string]struct {
		toml string
		want string
	}{
		"no backends": {"required_shards = 1\n" + reg, "no shard stores"},
		"k == n":      {"required_shards = 3\n" + reg + three, "required_shards = 3"},
		"k == 0":      {"required_shards = 0\n" + reg + three, "required_shards = 0"},
		"no registry": {"required_shards = 2\n" + three, "no registry"},
	}
	for name, tc := range cases {
		c, err := config.ParseClient([]byte(tc.toml))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if err := c.CheckUpload(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: CheckUpload = %v, want %q", name, err, tc.want)
		}
	}
}

func TestLoadClient(t *testing.T) {
	dir := t.TempDir()
	if _, err := config.LoadClient(filepath.Join(dir, "missing.toml")); err == nil || !strings.Contains(err.Error(), "mycdnctl init") {
		t.Errorf("missing file: %v", err)
	}
	path := filepath.Join(dir, "config.toml")
	if err := os.WriteFile(path, config.StarterClient, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := config.LoadClient(path); err != nil {
		t.Errorf("LoadClient: %v", err)
	}
	t.Setenv(config.ClientPathEnv, path)
	if config.DefaultClientPath() != path {
		t.Errorf("DefaultClientPath ignores $%s", config.ClientPathEnv)
	}
	t.Setenv(config.ClientPathEnv, "")
	if config.DefaultClientPath() != "config.toml" {
		t.Errorf("DefaultClientPath = %q", config.DefaultClientPath())
	}
}

func FuzzParseClient(f *testing.F) {
	f.Add(config.StarterClient)
	f.Add([]byte("required_shards = 1\n[[backends]]\nkind = \"hero_redis\"\nhost = \"[::1]:1\"\ndb = 0\nauth = { type = \"token\", token = \"t\" }\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := config.ParseClient(data)
		if err != nil {
			return
		}
		for _, b := range c.Backends {
			if !b.Addr().IsValid() || b.Addr().Port() == 0 {
				t.Fatalf("accepted backend %q without a valid address", b.Host)
			}
		}
	})
}
