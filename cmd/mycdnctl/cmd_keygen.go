package main

import (
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/mycdn/mycdn/cmd/internal/cli"
	"github.com/mycdn/mycdn/internal/xeddsa"
)

// maxKeyFile bounds what is read of a key file: 64 hex characters, an
// optional 0x and a newline.
const maxKeyFile = 1024

func newKeygenCmd() *cobra.Command {
	var keyFile string
	c := &cobra.Command{
		Use:   "keygen [--key-file FILE]",
		Short: "Make an X25519 identity to sign names and writes with",
		Long: `keygen makes a new X25519 identity and writes its private key, 64 hexadecimal
characters, to a new file that only its owner may read (mode 0600); it never
overwrites a file. It prints the identity's Mycelium address, the principal
that names' access lists hold, and its public key, which a registry lists in
its writers.

Sign with it with --key-file FILE, or put the key in config.toml as
[metadata] writer_x25519_sk_hex.`,
		Example: `  mycdnctl keygen --key-file ~/.config/mycdn/alice.key
  mycdnctl name set --key-file ~/.config/mycdn/alice.key site holo://...`,
		Args: cli.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			return runKeygen(c.OutOrStdout(), keyFile)
		},
	}
	c.Flags().StringVar(&keyFile, "key-file", "mycdn.key", "file to write the private key to")
	return c
}

func runKeygen(out io.Writer, path string) error {
	k := xeddsa.GenerateKey()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return cli.Usagef("%s exists: keygen never overwrites a key; choose another --key-file", path)
	}
	if err != nil {
		return fmt.Errorf("keygen: %w", err)
	}
	_, err = f.WriteString(hex.EncodeToString(k[:]) + "\n")
	if err == nil {
		err = f.Sync()
	}
	if err = errors.Join(err, f.Close()); err != nil {
		_ = os.Remove(path) // a key file that was not written whole is no key
		return fmt.Errorf("keygen: %w", err)
	}
	pub := k.PublicKey()
	fmt.Fprintf(out, "Mycelium address: %v\nPublic key:       %v\nKey file:         %s\n", pub.Address(), pub, path)
	return nil
}

// readKeyFile reads the private key in path, refusing a file that group or
// others may read or write.
func readKeyFile(path string) (*xeddsa.PrivateKey, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, &cli.UsageError{Err: fmt.Errorf("key file: %w", err)}
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("key file: %w", err)
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return nil, cli.Usagef("key file %s has mode %04o: a private key must be readable by its owner only; run: chmod 600 %s", path, perm, path)
	}
	b, err := io.ReadAll(io.LimitReader(f, maxKeyFile))
	if err != nil {
		return nil, fmt.Errorf("key file %s: %w", path, err)
	}
	k, err := xeddsa.ParsePrivateKey(strings.TrimSpace(string(b)))
	if err != nil {
		return nil, cli.Usagef("key file %s: %v", path, err)
	}
	return &k, nil
}
