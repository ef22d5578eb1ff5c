// Package config loads the configuration files of the mycdn commands, with
// their defaults, and validates them. Unknown keys are errors.
package config

import (
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
)

// Registry is the configuration of `mycdnd registry`, registry.toml:
//
//	listen = "127.0.0.1:8081"        # address of the API
//	metrics_listen = "127.0.0.1:9081" # /metrics and /healthz; none when empty
//	data = "/var/lib/mycdn/registry"  # embedded store directory, or:
//	postgres = "postgres://mycdn@db/mycdn"
//	tokens = ["..."]                  # bearer tokens that may write
//	writers = ["<64 hex>"]            # X25519 public keys that may write
//	max_blob_size = 67108864
//	max_inflight_bytes = 268697600
//	store_timeout = "30s"
//	read_header_timeout = "10s"
//	read_timeout = "2m"
//	write_timeout = "2m"
//	idle_timeout = "2m"
//
// Zero values mean the server's defaults. Command-line flags override the
// file.
type Registry struct {
	Listen        string `toml:"listen"`
	MetricsListen string `toml:"metrics_listen"`
	Data          string `toml:"data"`
	Postgres      string `toml:"postgres"`

	Tokens  []string `toml:"tokens"`
	Writers []string `toml:"writers"`

	MaxBlobSize       int64         `toml:"max_blob_size"`
	MaxInflightBytes  int64         `toml:"max_inflight_bytes"`
	StoreTimeout      time.Duration `toml:"store_timeout"`
	ReadHeaderTimeout time.Duration `toml:"read_header_timeout"`
	ReadTimeout       time.Duration `toml:"read_timeout"`
	WriteTimeout      time.Duration `toml:"write_timeout"`
	IdleTimeout       time.Duration `toml:"idle_timeout"`
}

// LoadRegistry reads and validates the registry configuration at path.
func LoadRegistry(path string) (*Registry, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("registry config: %w", err)
	}
	r, err := ParseRegistry(b)
	if err != nil {
		return nil, fmt.Errorf("registry config %s: %w", path, err)
	}
	return r, nil
}

// ParseRegistry parses and validates a registry configuration.
func ParseRegistry(b []byte) (*Registry, error) {
	var r Registry
	md, err := toml.Decode(string(b), &r)
	if err != nil {
		return nil, err
	}
	if keys := md.Undecoded(); len(keys) > 0 {
		return nil, fmt.Errorf("unknown key %q", keys[0].String())
	}
	if err := r.Validate(); err != nil {
		return nil, err
	}
	return &r, nil
}

// Validate checks the values that can be checked alone; the server checks
// the rest when it starts.
func (r *Registry) Validate() error {
	if r.Data != "" && r.Postgres != "" {
		return errors.New("set data or postgres, not both")
	}
	for i, tok := range r.Tokens {
		if tok == "" || strings.ContainsAny(tok, " \t\r\n,") {
			return fmt.Errorf("tokens[%d]: empty or holds whitespace or commas", i)
		}
	}
	for i, w := range r.Writers {
		if b, err := hex.DecodeString(w); err != nil || len(b) != 32 {
			return fmt.Errorf("writers[%d]: want an X25519 public key in 64 hex characters, got %.80q", i, w)
		}
	}
	if r.MaxBlobSize < 0 || r.MaxInflightBytes < 0 {
		return errors.New("max_blob_size and max_inflight_bytes must not be negative")
	}
	for name, d := range map[string]time.Duration{
		"store_timeout": r.StoreTimeout, "read_header_timeout": r.ReadHeaderTimeout,
		"read_timeout": r.ReadTimeout, "write_timeout": r.WriteTimeout, "idle_timeout": r.IdleTimeout,
	} {
		if d < 0 {
			return fmt.Errorf("%s must not be negative", name)
		}
	}
	return nil
}
