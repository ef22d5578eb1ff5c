package main

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/mycdn/mycdn/cmd/internal/cli"
	"github.com/mycdn/mycdn/internal/vectors"
	"github.com/mycdn/mycdn/meta"
)

// run runs mycdnctl with args and stdin, returning exit code, stdout and
// stderr.
func run(t *testing.T, stdin []byte, args ...string) (int, []byte, string) {
	t.Helper()
	root := newRootCmd()
	var out, errOut bytes.Buffer
	root.SetIn(bytes.NewReader(stdin))
	root.SetOut(&out)
	root.SetErr(&errOut)
	code := cli.Run(context.Background(), root, args, &errOut)
	return code, out.Bytes(), errOut.String()
}

func TestMetaDecodeEncodeVectors(t *testing.T) {
	v := vectors.LoadMCDN(t)
	dir := t.TempDir()
	for _, tc := range v.MetadataEncoding {
		t.Run(tc.Name, func(t *testing.T) {
			file := filepath.Join(dir, tc.Name+".bin")
			if err := os.WriteFile(file, tc.Blob, 0o600); err != nil {
				t.Fatal(err)
			}
			code, js, stderr := run(t, nil, "meta", "decode", file)
			if code != 0 {
				t.Fatalf("decode exit %d: %s", code, stderr)
			}
			code, jsHex, _ := run(t, []byte(hex.EncodeToString(tc.Blob)+"\n"), "meta", "decode", "--hex", "-")
			if code != 0 || !bytes.Equal(js, jsHex) {
				t.Fatalf("decode --hex exit %d, or output differs from the raw decode", code)
			}
			want := tc.Value
			if tc.Lossy {
				want = tc.RoundtripValue
			}
			wantM, _ := meta.ParseJSON(want)
			gotM, err := meta.ParseJSON(js)
			if err != nil || !reflect.DeepEqual(gotM, wantM) {
				t.Fatalf("decode printed %s (%v)", js, err)
			}

			code, blob, stderr := run(t, tc.Value, "meta", "encode")
			if code != 0 || !bytes.Equal(blob, tc.Blob) {
				t.Fatalf("encode exit %d (%s): got %x want %x", code, stderr, blob, tc.Blob)
			}
			code, blobHex, _ := run(t, js, "meta", "encode", "--hex")
			if code != 0 || string(blobHex) != hex.EncodeToString(tc.Blob)+"\n" {
				t.Fatalf("encode --hex exit %d: %s", code, blobHex)
			}
		})
	}
}

func TestMetaDecodeSealed(t *testing.T) {
	v := vectors.LoadMCDN(t)
	tc := v.MetadataEncrypted[0]
	sealed := hex.EncodeToString(tc.Encrypted)
	code, js, stderr := run(t, []byte(sealed), "meta", "decode", "--hex", "--key", hex.EncodeToString(tc.PlaintextHash))
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var got map[string]any
	if err := json.Unmarshal(js, &got); err != nil || got["File"] == nil && got["Directory"] == nil {
		t.Fatalf("output %s", js)
	}
	wrong := bytes.Clone(tc.PlaintextHash)
	wrong[0] ^= 1
	code, out, stderr := run(t, []byte(sealed), "meta", "decode", "--hex", "--key", hex.EncodeToString(wrong))
	if code != 1 || len(out) != 0 || !strings.Contains(stderr, "authentication failed") {
		t.Fatalf("wrong key: exit %d, stdout %q, stderr %q", code, out, stderr)
	}
}

func TestMetaErrors(t *testing.T) {
	v := vectors.LoadMCDN(t)
	for _, tc := range v.DecodeNegative {
		if tc.Error == nil {
			continue
		}
		code, out, stderr := run(t, tc.Blob, "meta", "decode")
		if code != 1 || len(out) != 0 || !strings.Contains(stderr, "meta: decode") {
			t.Errorf("%s: exit %d, stdout %q, stderr %q", tc.Name, code, out, stderr)
		}
	}
	cases := []struct {
		name  string
		stdin string
		args  []string
		code  int
	}{
		{"bad hex", "zz", []string{"meta", "decode", "--hex"}, 1},
		{"bad json", "{", []string{"meta", "encode"}, 1},
		{"invalid metadata json", `{"File":{}}`, []string{"meta", "encode"}, 1},
		{"missing file", "", []string{"meta", "decode", "/nonexistent/blob"}, 1},
		{"bad key", "", []string{"meta", "decode", "--key", "abc"}, 2},
		{"unknown flag", "", []string{"meta", "decode", "--nope"}, 2},
		{"two files", "", []string{"meta", "decode", "a", "b"}, 2},
		{"unknown command", "", []string{"meta", "frobnicate"}, 2},
	}
	for _, tc := range cases {
		code, out, stderr := run(t, []byte(tc.stdin), tc.args...)
		if code != tc.code || len(out) != 0 || stderr == "" {
			t.Errorf("%s: exit %d (want %d), stdout %q, stderr %q", tc.name, code, tc.code, out, stderr)
		}
	}
	// Trailing bytes are accepted with a warning, as the reference does.
	blob := append(bytes.Clone(v.MetadataEncoding[0].Blob), 0, 1, 2)
	code, out, stderr := run(t, blob, "meta", "decode")
	if code != 0 || len(out) == 0 || !strings.Contains(stderr, "3 trailing bytes") {
		t.Errorf("trailing bytes: exit %d, stderr %q", code, stderr)
	}
}
