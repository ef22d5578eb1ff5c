package meta_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/netip"
	"reflect"
	"runtime"
	"strings"
	"testing"

	"github.com/zeebo/blake3"

	"github.com/mycdn/mycdn/internal/vectors"
	"github.com/mycdn/mycdn/meta"
)

func sum16(b []byte) []byte {
	s := blake3.Sum256(b)
	return s[:16]
}

func TestEncodingVectors(t *testing.T) {
	v := vectors.LoadMCDN(t)
	if len(v.MetadataEncoding) == 0 {
		t.Fatal("no metadata_encoding vectors")
	}
	for _, tc := range v.MetadataEncoding {
		t.Run(tc.Name, func(t *testing.T) {
			m, err := meta.ParseJSON(tc.Value)
			if err != nil {
				t.Fatalf("ParseJSON: %v", err)
			}
			blob, err := meta.Marshal(m)
			if err != nil {
				t.Fatalf("Marshal: %v", err)
			}
			if !bytes.Equal(blob, tc.Blob) {
				t.Fatalf("Marshal:\n got %x\nwant %x", blob, tc.Blob)
			}
			if len(blob) != tc.BlobLen || !bytes.Equal(blob[5:], tc.Payload) {
				t.Fatalf("blob length %d or payload differs from the vector", len(blob))
			}
			if got := sum16(blob); !bytes.Equal(got, tc.BlobHash) {
				t.Fatalf("blake3_16(blob) = %x, want %x", got, tc.BlobHash)
			}

			dec, used, err := meta.Unmarshal(tc.Blob)
			if err != nil || used != len(tc.Blob) {
				t.Fatalf("Unmarshal: used %d of %d, err %v", used, len(tc.Blob), err)
			}
			want := tc.Value
			if tc.Lossy {
				want = tc.RoundtripValue
			}
			wantM, err := meta.ParseJSON(want)
			if err != nil {
				t.Fatalf("ParseJSON(roundtrip value): %v", err)
			}
			if !reflect.DeepEqual(dec, wantM) {
				t.Fatalf("Unmarshal = %+v, want %+v", dec, wantM)
			}
			out, err := meta.JSON(dec)
			if err != nil {
				t.Fatalf("JSON: %v", err)
			}
			assertSameJSON(t, out, want)
		})
	}
}

// assertSameJSON checks that got and want hold the same JSON values with
// their object keys in the same order, ignoring want's informational
// host_display and host_octets_hex keys.
func assertSameJSON(t *testing.T, got, want []byte) {
	t.Helper()
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatalf("our JSON does not parse: %v", err)
	}
	if err := json.Unmarshal(want, &w); err != nil {
		t.Fatal(err)
	}
	w = dropInfoKeys(w)
	if !reflect.DeepEqual(g, w) {
		t.Fatalf("JSON differs:\n got %s\nwant %s", got, want)
	}
	if gk, wk := keyOrder(t, got), keyOrder(t, want); !reflect.DeepEqual(gk, wk) {
		t.Fatalf("JSON key order:\n got %v\nwant %v", gk, wk)
	}
}

func dropInfoKeys(v any) any {
	switch v := v.(type) {
	case map[string]any:
		delete(v, "host_display")
		delete(v, "host_octets_hex")
		for k, x := range v {
			v[k] = dropInfoKeys(x)
		}
	case []any:
		for i, x := range v {
			v[i] = dropInfoKeys(x)
		}
	}
	return v
}

// keyOrder lists the object keys of a JSON document in the order they
// appear, without the informational keys of the vectors.
func keyOrder(t *testing.T, b []byte) []string {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(b))
	var keys []string
	var stack []bool // true for an object expecting a key
	for {
		tok, err := dec.Token()
		if err != nil {
			break
		}
		inObject := len(stack) > 0 && stack[len(stack)-1]
		switch tok {
		case json.Delim('{'):
			stack = append(stack, true)
			continue
		case json.Delim('['):
			stack = append(stack, false)
			continue
		case json.Delim('}'), json.Delim(']'):
			stack = stack[:len(stack)-1]
			continue
		}
		if s, ok := tok.(string); ok && inObject {
			if s != "host_display" && s != "host_octets_hex" {
				keys = append(keys, s)
			}
			// Skip the value: read it whole.
			var skip json.RawMessage
			if err := dec.Decode(&skip); err != nil {
				t.Fatal(err)
			}
			if len(skip) > 0 && (skip[0] == '{' || skip[0] == '[') {
				keys = append(keys, keyOrder(t, skip)...)
			}
		}
	}
	return keys
}

func TestDecodeNegativeVectors(t *testing.T) {
	v := vectors.LoadMCDN(t)
	sentinels := map[string]error{
		"TooShort":          meta.ErrTooShort,
		"BadMagic":          meta.ErrBadMagic,
		"BadVersion":        meta.ErrBadVersion,
		"UnexpectedEnd":     meta.ErrUnexpectedEnd,
		"UnexpectedVariant": meta.ErrUnexpectedVariant,
		"Utf8":              meta.ErrUTF8,
	}
	for _, tc := range v.DecodeNegative {
		t.Run(tc.Name, func(t *testing.T) {
			m, used, err := meta.Unmarshal(tc.Blob)
			if tc.Error == nil {
				if err != nil {
					t.Fatalf("Unmarshal: %v", err)
				}
				if used != tc.Used {
					t.Fatalf("used %d bytes, want %d", used, tc.Used)
				}
				want, err := meta.ParseJSON(tc.Value)
				if err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(m, want) {
					t.Fatalf("got %+v, want %+v", m, want)
				}
				return
			}
			want, ok := sentinels[*tc.Error]
			if !ok {
				t.Fatalf("vector names unknown error %q", *tc.Error)
			}
			var de *meta.DecodeError
			if !errors.Is(err, want) || !errors.As(err, &de) {
				t.Fatalf("Unmarshal error = %v, want %v (%s)", err, want, tc.Why)
			}
			if m != nil || used != 0 {
				t.Fatalf("Unmarshal returned a value with error %v", err)
			}
		})
	}
}

// TestHugeLengthsDoNotAllocate feeds length prefixes far beyond the input in
// every place a length is read, and checks that decoding fails without
// allocating for them.
func TestHugeLengthsDoNotAllocate(t *testing.T) {
	hash := strings.Repeat("\x01", 16)
	u64max := "\xff\xff\xff\xff\xff\xff\xff\xff"
	u64big := "\x00\x00\x00\x10\x00\x00\x00\x00" // 64 GiB
	head := meta.Magic + "\x01"
	file := head + "\x00\x00\x00\x00" + hash
	cases := map[string]string{
		"name":          file + u64max,
		"name_big":      file + u64big + "abc",
		"mime":          file + "\x00\x00\x00\x00\x00\x00\x00\x00" + "\x01" + u64big,
		"blocks":        file + "\x00\x00\x00\x00\x00\x00\x00\x00" + "\x00" + u64max,
		"blocks_big":    file + "\x00\x00\x00\x00\x00\x00\x00\x00" + "\x00" + u64big + strings.Repeat("\x00", 100),
		"shards":        file + "\x00\x00\x00\x00\x00\x00\x00\x00" + "\x00" + "\x00\x00\x00\x00\x00\x00\x00\x01" + u64big + strings.Repeat("\x00", 70),
		"dir_entries":   head + "\x00\x00\x00\x01" + u64max,
		"dir_entries_b": head + "\x00\x00\x00\x01" + u64big + strings.Repeat("\x00", 17),
	}
	for name, blob := range cases {
		t.Run(name, func(t *testing.T) {
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			_, _, err := meta.Unmarshal([]byte(blob))
			runtime.ReadMemStats(&after)
			if !errors.Is(err, meta.ErrUnexpectedEnd) {
				t.Fatalf("err = %v, want ErrUnexpectedEnd", err)
			}
			if grew := after.TotalAlloc - before.TotalAlloc; grew > 64<<10 {
				t.Fatalf("decoding allocated %d bytes for a %d-byte input", grew, len(blob))
			}
		})
	}
}

func TestMarshalRejectsWhatCannotBeRead(t *testing.T) {
	bad := "bad\xff"
	loc := meta.ShardLocation{Host: netip.MustParseAddrPort("127.0.0.1:1")}
	cases := map[string]meta.Metadata{
		"nil":           nil,
		"nil file":      (*meta.File)(nil),
		"nil directory": (*meta.Directory)(nil),
		"file name":     &meta.File{Name: bad},
		"mime":          &meta.File{Mime: &bad},
		"directory":     &meta.Directory{Name: bad},
		"token": &meta.File{Blocks: []meta.Block{{Shards: []meta.ShardLocation{
			{Host: loc.Host, Auth: &meta.Auth{Token: bad}}}}}},
		"host": &meta.File{Blocks: []meta.Block{{Shards: []meta.ShardLocation{{}}}}},
	}
	for name, m := range cases {
		t.Run(name, func(t *testing.T) {
			if b, err := meta.Marshal(m); err == nil {
				t.Fatalf("Marshal = %x, want an error", b)
			}
		})
	}
}

func TestIPv6ZoneAndMappedAddresses(t *testing.T) {
	zoned := netip.AddrPortFrom(netip.MustParseAddr("fe80::1%eth0"), 7)
	mapped := netip.MustParseAddrPort("[::ffff:10.0.0.1]:9")
	f := &meta.File{Blocks: []meta.Block{{Shards: []meta.ShardLocation{{Host: zoned}, {Host: mapped}}}}}
	blob, err := meta.Marshal(f)
	if err != nil {
		t.Fatal(err)
	}
	m, _, err := meta.Unmarshal(blob)
	if err != nil {
		t.Fatal(err)
	}
	got := m.(*meta.File).Blocks[0].Shards
	if got[0].Host != netip.AddrPortFrom(zoned.Addr().WithZone(""), 7) {
		t.Errorf("zoned host decoded as %v", got[0].Host)
	}
	if got[1].Host != mapped || !got[1].Host.Addr().Is4In6() {
		t.Errorf("mapped host decoded as %v, want it to stay IPv6", got[1].Host)
	}
}

func TestParseJSONRejects(t *testing.T) {
	const h = `"00112233445566778899aabbccddeeff"`
	shard := func(host string) string {
		return `{"File":{"content_hash":` + h + `,"name":"a","mime":null,"blocks":[{"shards":[{"host":` + host +
			`,"db":1,"auth":null}],"required_shards":1,"start_offset":"0","end_offset":"0","content_hash":` + h +
			`,"encrypted_hash":` + h + `,"nonce":"00112233445566778899aabb"}]}}`
	}
	cases := map[string]string{
		"not json":          `{`,
		"no variant":        `{}`,
		"two variants":      `{"File":{},"Directory":{}}`,
		"unknown variant":   `{"Link":{}}`,
		"null body":         `{"File":null}`,
		"missing key":       `{"File":{"content_hash":` + h + `,"name":"a","blocks":[]}}`,
		"short hash":        `{"File":{"content_hash":"0011","name":"a","mime":null,"blocks":[]}}`,
		"bad hex":           `{"File":{"content_hash":"zz112233445566778899aabbccddeeff","name":"a","mime":null,"blocks":[]}}`,
		"entry of one":      `{"Directory":{"files":[[` + h + `]],"name":""}}`,
		"u64 as number":     strings.Replace(shard(`{"V4":{"ip":"1.2.3.4","port":1}}`), `"start_offset":"0"`, `"start_offset":0`, 1),
		"u64 negative":      strings.Replace(shard(`{"V4":{"ip":"1.2.3.4","port":1}}`), `"start_offset":"0"`, `"start_offset":"-1"`, 1),
		"u64 overflow":      strings.Replace(shard(`{"V4":{"ip":"1.2.3.4","port":1}}`), `"start_offset":"0"`, `"start_offset":"18446744073709551616"`, 1),
		"v4 with ipv6":      shard(`{"V4":{"ip":"::1","port":1}}`),
		"v6 with ipv4":      shard(`{"V6":{"ip":"1.2.3.4","port":1,"flowinfo":0,"scope_id":0}}`),
		"v6 with zone":      shard(`{"V6":{"ip":"fe80::1%eth0","port":1,"flowinfo":0,"scope_id":0}}`),
		"both hosts":        shard(`{"V4":{"ip":"1.2.3.4","port":1},"V6":{"ip":"::1","port":1}}`),
		"no host":           shard(`{}`),
		"bad ip":            shard(`{"V4":{"ip":"1.2.3","port":1}}`),
		"port out of range": shard(`{"V4":{"ip":"1.2.3.4","port":65536}}`),
		"auth without key":  strings.Replace(shard(`{"V4":{"ip":"1.2.3.4","port":1}}`), `"auth":null`, `"auth":{}`, 1),
	}
	if _, err := meta.ParseJSON([]byte(shard(`{"V4":{"ip":"1.2.3.4","port":1}}`))); err != nil {
		t.Fatalf("the valid base case fails: %v", err)
	}
	for name, in := range cases {
		t.Run(name, func(t *testing.T) {
			if m, err := meta.ParseJSON([]byte(in)); err == nil {
				t.Fatalf("ParseJSON(%s) = %+v, want an error", in, m)
			}
		})
	}
}
