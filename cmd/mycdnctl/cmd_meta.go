package main

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/mycdn/mycdn/cmd/internal/cli"
	"github.com/mycdn/mycdn/internal/seal"
	"github.com/mycdn/mycdn/meta"
)

// maxMetaInput bounds what "meta decode" and "meta encode" read.
const maxMetaInput = 256 << 20

func newMetaCmd() *cobra.Command {
	c := cli.Group(&cobra.Command{
		Use:   "meta",
		Short: "Convert metadata between its binary and JSON forms",
		Long: `meta converts MCDN v1 metadata blobs to and from their JSON form: externally
tagged enums ({"File": ...} or {"Directory": ...}), u64 values as decimal
strings, hashes as lowercase hex, hosts as {"V4": {"ip", "port"}} or
{"V6": {"ip", "port", "flowinfo", "scope_id"}}.`,
	})
	c.AddCommand(newMetaDecodeCmd(), newMetaEncodeCmd())
	return c
}

type metaDecodeOptions struct {
	hex bool
	key string
}

func newMetaDecodeCmd() *cobra.Command {
	var opts metaDecodeOptions
	c := &cobra.Command{
		Use:   "decode [FILE|-]",
		Short: "Print a metadata blob as JSON",
		Long: `decode reads a metadata blob from FILE, or from standard input when FILE is
"-" or absent, and prints its JSON form on standard output.

With --key it first opens a sealed blob (as stored in a registry: ciphertext,
tag, nonce) with that key, the key= of a reference, and checks that the
opened blob hashes to it.`,
		Example: `  mycdnctl meta decode blob.bin
  echo 4d43444e01... | mycdnctl meta decode --hex
  mycdnctl meta decode --key bba8b861662aabf83a2ac2f6ed85b41a sealed.bin`,
		Args: cli.RangeArgs(0, 1),
		RunE: func(c *cobra.Command, args []string) error {
			return runMetaDecode(c, opts, args)
		},
	}
	c.Flags().BoolVar(&opts.hex, "hex", false, "read the blob as one line of hexadecimal")
	c.Flags().StringVar(&opts.key, "key", "", "open a sealed blob with this key (32 hex characters)")
	return c
}

func runMetaDecode(c *cobra.Command, opts metaDecodeOptions, args []string) error {
	var key meta.Hash
	if opts.key != "" {
		var err error
		if key, err = meta.ParseHash(opts.key); err != nil {
			return cli.Usagef("--key: %v", err)
		}
	}
	blob, err := readInput(c, args, opts.hex)
	if err != nil {
		return err
	}
	if opts.key != "" {
		// The lookup hash is what the registry is asked for; a blob read from
		// a file has no other, so only the key is checked.
		if blob, err = seal.OpenMetadata(blob, seal.Sum(blob), key); err != nil {
			return err
		}
	}
	m, used, err := meta.Unmarshal(blob)
	if err != nil {
		return err
	}
	if used < len(blob) {
		fmt.Fprintf(c.ErrOrStderr(), "warning: %d trailing bytes after the metadata ignored\n", len(blob)-used)
	}
	out, err := meta.JSON(m)
	if err != nil {
		return err
	}
	var pretty bytes.Buffer
	if err := json.Indent(&pretty, out, "", "  "); err != nil {
		return err
	}
	pretty.WriteByte('\n')
	_, err = c.OutOrStdout().Write(pretty.Bytes())
	return err
}

func newMetaEncodeCmd() *cobra.Command {
	var asHex bool
	c := &cobra.Command{
		Use:   "encode [FILE|-]",
		Short: "Turn JSON metadata into a metadata blob",
		Long: `encode reads the JSON form of metadata from FILE, or from standard input when
FILE is "-" or absent, and writes the binary blob to standard output: raw
bytes, or one line of hexadecimal with --hex.`,
		Example: `  mycdnctl meta encode --hex file.json
  mycdnctl meta decode blob.bin | mycdnctl meta encode > same-blob.bin`,
		Args: cli.RangeArgs(0, 1),
		RunE: func(c *cobra.Command, args []string) error {
			in, err := readInput(c, args, false)
			if err != nil {
				return err
			}
			m, err := meta.ParseJSON(in)
			if err != nil {
				return err
			}
			blob, err := meta.Marshal(m)
			if err != nil {
				return err
			}
			if asHex {
				blob = append(hex.AppendEncode(nil, blob), '\n')
			}
			_, err = c.OutOrStdout().Write(blob)
			return err
		},
	}
	c.Flags().BoolVar(&asHex, "hex", false, "write the blob as one line of hexadecimal")
	return c
}

// readInput reads the file named by args[0], or standard input when it is
// "-" or absent, up to maxMetaInput bytes; with asHex it decodes one line of
// hexadecimal.
func readInput(c *cobra.Command, args []string, asHex bool) ([]byte, error) {
	r := c.InOrStdin()
	name := "standard input"
	if len(args) == 1 && args[0] != "-" {
		f, err := os.Open(args[0])
		if err != nil {
			return nil, err
		}
		defer f.Close()
		r, name = f, args[0]
	}
	b, err := io.ReadAll(io.LimitReader(r, maxMetaInput+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	if len(b) > maxMetaInput {
		return nil, fmt.Errorf("read %s: larger than %d MiB", name, maxMetaInput>>20)
	}
	if asHex {
		if b, err = hex.DecodeString(string(bytes.TrimSpace(b))); err != nil {
			return nil, fmt.Errorf("read %s: bad hex: %w", name, err)
		}
	}
	return b, nil
}
