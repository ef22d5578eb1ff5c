// Package config loads and checks the TOML configuration files of the mycdn
// commands. Only cmd/ uses it, to map configuration into the options of the
// packages that do the work.
package config

import (
	"bytes"
	"crypto/ed25519"
	_ "embed"
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"os"
	"strings"

	"github.com/BurntSushi/toml"
)

// ClientPathEnv names the environment variable that overrides the default
// path of mycdnctl's configuration, ./config.toml.
const ClientPathEnv = "MYCDN_CONFIG"

// DefaultClientPath returns $MYCDN_CONFIG, or config.toml when it is unset.
func DefaultClientPath() string {
	if p := os.Getenv(ClientPathEnv); p != "" {
		return p
	}
	return "config.toml"
}

// Client is mycdnctl's configuration. It reads the reference tool's
// config.toml unchanged, except that metadata goes to a registry.
type Client struct {
	// RequiredShards is k: the number of shards that rebuild a block.
	RequiredShards int `toml:"required_shards"`
	// Backends are the shard stores; shard i of every block goes to
	// Backends[i].
	Backends []Backend `toml:"backends"`
	Metadata Metadata  `toml:"metadata"`
	Gateway  Gateway   `toml:"gateway"`
}

// Backend is a Hero Redis compatible shard store.
type Backend struct {
	// Kind is "hero_redis", the only kind.
	Kind string `toml:"kind"`
	// Host is the store's IP address and port, as recorded in metadata.
	Host string `toml:"host"`
	// DB is the database selected after login.
	DB   int          `toml:"db"`
	Auth *BackendAuth `toml:"auth"`

	addr netip.AddrPort
	key  ed25519.PrivateKey
}

// BackendAuth is how to log in to a shard store: {type = "token", token =
// "..."} sends AUTH <token>; {type = "private_key", private_key = "<64 hex>"}
// logs in with the Ed25519 challenge.
type BackendAuth struct {
	Type       string `toml:"type"`
	Token      string `toml:"token"`
	PrivateKey string `toml:"private_key"`
}

// Metadata says where metadata goes.
type Metadata struct {
	// Kind is "registry". The reference's "holo_kvs" is recognised and
	// refused.
	Kind string `toml:"kind"`
	// URL is the registry's base URL, such as "http://127.0.0.1:8081".
	URL string `toml:"url"`
	// Token is a bearer token for writes.
	Token string `toml:"token"`
	// WriterX25519SKHex is an X25519 private key (64 hex characters,
	// optional 0x) that signs writes, as in the reference.
	WriterX25519SKHex string `toml:"writer_x25519_sk_hex"`
	// KeyPrefix is printed in references as &prefix=, as the reference
	// does; the registry ignores it.
	KeyPrefix string `toml:"key_prefix"`
}

// Gateway makes upload print each reference's gateway URL too.
type Gateway struct {
	// URL is the gateway's base URL, such as "http://127.0.0.1:8080".
	URL string `toml:"url"`
	// Domain, when set, makes URLs use the host form
	// <lookup>.<domain>/?key=<key> instead of the path form.
	Domain string `toml:"domain"`
}

// Addr returns the backend's parsed address.
func (b *Backend) Addr() netip.AddrPort { return b.addr }

// PrivateKey returns the backend's Ed25519 login key, or nil.
func (b *Backend) PrivateKey() ed25519.PrivateKey { return b.key }

// LoadClient reads and checks the configuration at path.
func LoadClient(path string) (*Client, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("config %s: %w (create one with \"mycdnctl init\", or pass --config)", path, err)
		}
		return nil, fmt.Errorf("config: %w", err)
	}
	c, err := ParseClient(data)
	if err != nil {
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	return c, nil
}

// ParseClient parses and checks a configuration. Unknown keys are errors,
// so that a misspelt key is not silently ignored.
func ParseClient(data []byte) (*Client, error) {
	var c Client
	md, err := toml.NewDecoder(bytes.NewReader(data)).Decode(&c)
	if err != nil {
		return nil, err
	}
	if c.Metadata.Kind == "holo_kvs" {
		return nil, errors.New(`metadata.kind "holo_kvs" is not supported (no Holochain conductor): use kind = "registry" with url = "http://host:port"`)
	}
	if undecoded := md.Undecoded(); len(undecoded) > 0 {
		keys := make([]string, len(undecoded))
		for i, k := range undecoded {
			keys[i] = k.String()
		}
		return nil, fmt.Errorf("unknown keys: %s", strings.Join(keys, ", "))
	}
	if err := c.check(); err != nil {
		return nil, err
	}
	return &c, nil
}

// check validates every field that is set.
func (c *Client) check() error {
	seen := map[string]int{}
	for i := range c.Backends {
		b := &c.Backends[i]
		if err := b.check(); err != nil {
			return fmt.Errorf("backends[%d]: %w", i, err)
		}
		id := fmt.Sprintf("%v/%d", b.addr, b.DB)
		if j, dup := seen[id]; dup {
			return fmt.Errorf("backends[%d] and backends[%d] are both %s db %d: each shard needs its own store", j, i, b.addr, b.DB)
		}
		seen[id] = i
	}
	if m := c.Metadata; m.Kind != "" && m.Kind != "registry" {
		return fmt.Errorf(`metadata.kind %q: want "registry"`, m.Kind)
	}
	if c.Metadata.URL != "" {
		if err := checkURL(c.Metadata.URL); err != nil {
			return fmt.Errorf("metadata.url: %w", err)
		}
	}
	if sk := c.Metadata.WriterX25519SKHex; sk != "" {
		if _, err := ParseKeyHex(sk); err != nil {
			return fmt.Errorf("metadata.writer_x25519_sk_hex: %w", err)
		}
	}
	if c.Gateway.URL != "" {
		if err := checkURL(c.Gateway.URL); err != nil {
			return fmt.Errorf("gateway.url: %w", err)
		}
	}
	if c.Gateway.Domain != "" && c.Gateway.URL == "" {
		return errors.New("gateway.domain needs gateway.url (for the scheme)")
	}
	return nil
}

func (b *Backend) check() error {
	if b.Kind != "hero_redis" {
		return fmt.Errorf(`kind %q: want "hero_redis"`, b.Kind)
	}
	addr, err := netip.ParseAddrPort(b.Host)
	if err != nil || addr.Port() == 0 {
		return fmt.Errorf("host %q: want IP:port such as 127.0.0.1:6379 or [::1]:6379 (metadata records the address, so host names are not accepted)", b.Host)
	}
	b.addr = addr
	if b.DB < 0 || b.DB > 0xffff {
		return fmt.Errorf("db %d: want 0 to 65535", b.DB)
	}
	if b.Auth == nil {
		return nil
	}
	switch a := b.Auth; a.Type {
	case "token":
		if a.Token == "" || a.PrivateKey != "" {
			return errors.New(`auth of type "token" needs token and no private_key`)
		}
	case "private_key":
		if a.Token != "" {
			return errors.New(`auth of type "private_key" takes no token`)
		}
		seed, err := ParseKeyHex(a.PrivateKey)
		if err != nil {
			return fmt.Errorf("auth.private_key: %w", err)
		}
		b.key = ed25519.NewKeyFromSeed(seed[:])
	default:
		return fmt.Errorf(`auth.type %q: want "token" or "private_key"`, a.Type)
	}
	return nil
}

// CheckUpload reports whether c can be used to upload: backends with
// 1 <= k < n <= 256 and a registry.
func (c *Client) CheckUpload() error {
	n, k := len(c.Backends), c.RequiredShards
	switch {
	case n == 0:
		return errors.New("no shard stores: add [[backends]] sections")
	case k < 1 || k >= n:
		return fmt.Errorf("required_shards = %d with %d backends: want 1 <= required_shards < backends (any k of n shards rebuild a block)", k, n)
	case n > 256:
		return fmt.Errorf("%d backends: at most 256", n)
	case c.Metadata.URL == "":
		return errors.New(`no registry: set [metadata] kind = "registry" and url = "http://host:port"`)
	}
	return nil
}

// ParseKeyHex parses a 32-byte key written as 64 hexadecimal characters,
// with an optional 0x.
func ParseKeyHex(s string) ([32]byte, error) {
	var key [32]byte
	s = strings.TrimPrefix(strings.TrimSpace(s), "0x")
	if len(s) != 64 {
		return key, fmt.Errorf("want 64 hex characters (32 bytes), got %d", len(s))
	}
	if _, err := hex.Decode(key[:], []byte(s)); err != nil {
		return key, fmt.Errorf("bad hex: %w", err)
	}
	return key, nil
}

func checkURL(s string) error {
	u, err := url.Parse(s)
	if err != nil {
		return err
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%q: want http://host:port or https://host", s)
	}
	return nil
}

// StarterClient is a commented configuration for "mycdnctl init", matching
// the servers that "mycdnd dev" starts by default.
//
//go:embed starter.toml
var StarterClient []byte
