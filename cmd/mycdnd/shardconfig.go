package main

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/BurntSushi/toml"

	"github.com/mycdn/mycdn/internal/shardproto"
	"github.com/mycdn/mycdn/internal/shardserver"
)

// shardConfig is shard.toml; docs/shard.md documents every key.
type shardConfig struct {
	AdminSecret     string          `toml:"admin_secret"`
	AdminSecretFile string          `toml:"admin_secret_file"`
	Admins          []string        `toml:"admins"`
	TokenTTL        time.Duration   `toml:"token_ttl"`
	TokenKeyFile    string          `toml:"token_key_file"`
	DefaultMode     string          `toml:"default_mode"`
	Limits          shardLimits     `toml:"limits"`
	Databases       []shardDatabase `toml:"databases"`
}

type shardLimits struct {
	MaxValue       byteSize      `toml:"max_value"`
	MaxConnections int           `toml:"max_connections"`
	IdleTimeout    time.Duration `toml:"idle_timeout"`
	PreauthCommand byteSize      `toml:"preauth_command"`
	Inflight       byteSize      `toml:"inflight"`
}

type shardDatabase struct {
	ID    *int     `toml:"id"`
	Mode  string   `toml:"mode"`
	Read  []string `toml:"read"`
	Write []string `toml:"write"`
	Admin []string `toml:"admin"`
}

// maxShardConfig bounds the size of shard.toml.
const maxShardConfig = 1 << 20

// loadShardConfig reads shard.toml at path into server options.
func loadShardConfig(path string) (shardserver.Options, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return shardserver.Options{}, err
	}
	if fi.Size() > maxShardConfig {
		return shardserver.Options{}, fmt.Errorf("%s: larger than %d bytes", path, maxShardConfig)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return shardserver.Options{}, err
	}
	opts, err := parseShardConfig(data, os.ReadFile)
	if err != nil {
		return opts, fmt.Errorf("%s: %w", path, err)
	}
	return opts, nil
}

// parseShardConfig parses the text of shard.toml; readFile reads the files
// it names (admin_secret_file, token_key_file).
func parseShardConfig(data []byte, readFile func(string) ([]byte, error)) (shardserver.Options, error) {
	var c shardConfig
	md, err := toml.Decode(string(data), &c)
	if err != nil {
		return shardserver.Options{}, err
	}
	if und := md.Undecoded(); len(und) > 0 {
		keys := make([]string, len(und))
		for i, k := range und {
			keys[i] = k.String()
		}
		return shardserver.Options{}, fmt.Errorf("unknown keys: %s (see docs/shard.md)", strings.Join(keys, ", "))
	}
	opts := shardserver.Options{
		TokenTTL:      c.TokenTTL,
		MaxValue:      int64(c.Limits.MaxValue),
		MaxConns:      c.Limits.MaxConnections,
		IdleTimeout:   c.Limits.IdleTimeout,
		PreauthBytes:  int64(c.Limits.PreauthCommand),
		InflightBytes: int64(c.Limits.Inflight),
	}
	a := &opts.Access
	a.Databases = map[uint16]shardproto.Mode{}
	switch {
	case c.AdminSecret != "" && c.AdminSecretFile != "":
		return opts, errors.New("admin_secret and admin_secret_file are exclusive")
	case c.AdminSecretFile != "":
		b, err := readFile(c.AdminSecretFile)
		if err != nil {
			return opts, fmt.Errorf("admin_secret_file: %w", err)
		}
		a.AdminSecret = strings.TrimSpace(string(b))
		if a.AdminSecret == "" {
			return opts, fmt.Errorf("admin_secret_file %s is empty", c.AdminSecretFile)
		}
	default:
		a.AdminSecret = c.AdminSecret
	}
	if a.AdminSecret != "" && len(a.AdminSecret) < 16 {
		return opts, errors.New("admin secret shorter than 16 characters")
	}
	if c.TokenKeyFile != "" {
		b, err := readFile(c.TokenKeyFile)
		if err != nil {
			return opts, fmt.Errorf("token_key_file: %w", err)
		}
		if opts.TokenKey, err = shardproto.ParsePrivateKey(strings.TrimSpace(string(b))); err != nil {
			return opts, fmt.Errorf("token_key_file %s: %w", c.TokenKeyFile, err)
		}
	}
	for i, s := range c.Admins {
		k, err := shardproto.ParsePublicKey(s)
		if err != nil {
			return opts, fmt.Errorf("admins[%d]: %w", i, err)
		}
		a.Admins = append(a.Admins, k)
	}
	if c.DefaultMode != "" {
		if a.DefaultMode, err = shardproto.ParseMode(c.DefaultMode); err != nil {
			return opts, fmt.Errorf("default_mode: %w", err)
		}
	}
	for i, d := range c.Databases {
		if d.ID == nil || *d.ID < 0 || *d.ID > shardproto.MaxDB {
			return opts, fmt.Errorf("databases[%d]: id must be set, from 0 to %d", i, shardproto.MaxDB)
		}
		db := uint16(*d.ID)
		if _, dup := a.Databases[db]; dup {
			return opts, fmt.Errorf("databases[%d]: database %d listed twice", i, db)
		}
		m, err := shardproto.ParseMode(d.Mode)
		if err != nil {
			return opts, fmt.Errorf("databases[%d]: %w", i, err)
		}
		a.Databases[db] = m
		seen := map[string]bool{}
		for _, g := range []struct {
			keys  []string
			right shardproto.Right
		}{{d.Read, shardproto.Read}, {d.Write, shardproto.Write}, {d.Admin, shardproto.Admin}} {
			for _, s := range g.keys {
				k, err := shardproto.ParsePublicKey(s)
				if err != nil {
					return opts, fmt.Errorf("databases[%d].%s: %w", i, g.right, err)
				}
				if seen[string(k)] {
					return opts, fmt.Errorf("databases[%d]: key %s listed twice", i, s)
				}
				seen[string(k)] = true
				a.Grants = append(a.Grants, shardserver.Grant{DB: db, User: k, Right: g.right})
			}
		}
	}
	if err := opts.Validate(); err != nil {
		return opts, err
	}
	return opts, nil
}

// byteSize is a size in bytes, written as an integer or as a string with a
// unit: "8MiB", "64 KiB", "1GiB", "512B" (binary units only).
type byteSize int64

func (b *byteSize) UnmarshalTOML(v any) error {
	switch v := v.(type) {
	case int64:
		if v < 0 {
			return fmt.Errorf("negative size %d", v)
		}
		*b = byteSize(v)
		return nil
	case string:
		n, err := parseByteSize(v)
		*b = byteSize(n)
		return err
	default:
		return fmt.Errorf("size must be a number of bytes or a string such as \"8MiB\", got %T", v)
	}
}

func parseByteSize(s string) (int64, error) {
	t := strings.TrimSpace(s)
	i := 0
	for i < len(t) && t[i] >= '0' && t[i] <= '9' {
		i++
	}
	n, err := strconv.ParseInt(t[:i], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("bad size %q: want a number and an optional unit B, KiB, MiB or GiB", s)
	}
	shift := map[string]uint{"": 0, "B": 0, "KiB": 10, "MiB": 20, "GiB": 30}
	sh, ok := shift[strings.TrimSpace(t[i:])]
	if !ok {
		return 0, fmt.Errorf("bad size %q: want a number and an optional unit B, KiB, MiB or GiB", s)
	}
	if n > (1<<62)>>sh {
		return 0, fmt.Errorf("size %q too large", s)
	}
	return n << sh, nil
}
