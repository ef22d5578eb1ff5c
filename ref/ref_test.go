package ref_test

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/mycdn/mycdn/internal/vectors"
	"github.com/mycdn/mycdn/meta"
	"github.com/mycdn/mycdn/ref"
)

func TestReferenceVectors(t *testing.T) {
	v := vectors.LoadMCDN(t)
	var valid, invalid int
	for _, tc := range v.ReferenceParsing {
		t.Run(tc.Ref, func(t *testing.T) {
			r, err := ref.Parse(tc.Ref)
			if !tc.Valid {
				invalid++
				if err == nil || !errors.Is(err, ref.ErrInvalid) {
					t.Fatalf("Parse = %+v, %v; want ErrInvalid (%s)", r, err, tc.Why)
				}
				return
			}
			valid++
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if !bytes.Equal(r.Lookup[:], tc.EncryptedHash) || !bytes.Equal(r.Key[:], tc.PlaintextHash) {
				t.Fatalf("Parse = %+v, want lookup %x key %x", r, tc.EncryptedHash, tc.PlaintextHash)
			}
			wantPrefix := ""
			if tc.Prefix != nil {
				wantPrefix = *tc.Prefix
			}
			if r.Prefix != wantPrefix || r.Path != "" {
				t.Fatalf("prefix %q path %q, want prefix %q", r.Prefix, r.Path, wantPrefix)
			}
			if s := r.String(); s != tc.Ref {
				t.Fatalf("String = %q, want %q", s, tc.Ref)
			}
		})
	}
	if valid == 0 || invalid == 0 {
		t.Fatalf("vectors had %d valid and %d invalid cases", valid, invalid)
	}
}

func TestEncryptionVectorRefs(t *testing.T) {
	v := vectors.LoadMCDN(t)
	for _, tc := range v.MetadataEncrypted {
		r := ref.Ref{Lookup: meta.Hash(tc.EncryptedHash), Key: meta.Hash(tc.PlaintextHash)}
		if r.String() != tc.Ref {
			t.Errorf("%s: String = %q, want %q", tc.Name, r, tc.Ref)
		}
		r.Prefix = "mycelium-cdn/meta/"
		if r.String() != tc.RefWithPrefix {
			t.Errorf("%s: String = %q, want %q", tc.Name, r, tc.RefWithPrefix)
		}
	}
}

const (
	lookup = "9b8107773177d48205481f0212da174c"
	key    = "bba8b861662aabf83a2ac2f6ed85b41a"
)

func TestGatewayForms(t *testing.T) {
	want := ref.Ref{Lookup: must(meta.ParseHash(lookup)), Key: must(meta.ParseHash(key))}
	cases := []struct {
		in   string
		path string
	}{
		{"http://" + lookup + ".cdn.example/?key=" + key, ""},
		{"https://" + lookup + ".cdn.example:8443/?key=" + key, ""},
		{"https://" + lookup + ".localhost/css/site.css?key=" + key + "&utm=x", "css/site.css"},
		{"http://127.0.0.1:8080/" + lookup + "/" + key + "/", ""},
		{"http://127.0.0.1:8080/" + lookup + "/" + key, ""},
		{"https://gw.example/" + lookup + "/" + key + "/docs/a%20b.html", "docs/a b.html"},
		{"holo://" + strings.ToUpper(lookup) + "?key=" + key, ""},
	}
	for _, tc := range cases {
		r, err := ref.Parse(tc.in)
		if err != nil {
			t.Errorf("Parse(%q): %v", tc.in, err)
			continue
		}
		w := want
		w.Path = tc.path
		if r != w {
			t.Errorf("Parse(%q) = %+v, want %+v", tc.in, r, w)
		}
	}
	bad := []string{
		"http://" + lookup + ".cdn.example/",                  // no key
		"http://" + lookup + ".cdn.example/?key=" + key[:30],  // short key
		"http://" + lookup[:30] + ".cdn.example/?key=" + key,  // short lookup label is not a host form
		"http://gw.example/" + lookup + "/",                   // path form without key
		"http://gw.example/" + lookup + "/" + key[:31] + "x/", // bad key hex
		"holo://" + lookup + "/index.html?key=" + key,         // holo takes no path
		"holo://" + lookup + "?key=" + key + "&key=" + key,    // key twice
		"holo://" + lookup + "?key=" + key + "&other=1",       // unknown parameter
		"holo://" + lookup + ":80?key=" + key,                 // port
		"holo://" + lookup + "?key=" + key + "#frag",          // fragment
		"ftp://" + lookup + "?key=" + key,                     // scheme
		"",                                                    // empty
		"holo://%zz?key=" + key,                               // bad escape
		"http://" + lookup + ".cdn.example/?key=" + key + "%", // bad query escape
	}
	for _, in := range bad {
		if r, err := ref.Parse(in); !errors.Is(err, ref.ErrInvalid) {
			t.Errorf("Parse(%q) = %+v, %v; want ErrInvalid", in, r, err)
		}
	}
}

func TestURLs(t *testing.T) {
	r := ref.Ref{Lookup: must(meta.ParseHash(lookup)), Key: must(meta.ParseHash(key)), Path: "docs/a b.html"}
	pathURL := r.PathURL("http://127.0.0.1:8080/")
	if want := "http://127.0.0.1:8080/" + lookup + "/" + key + "/docs/a%20b.html"; pathURL != want {
		t.Errorf("PathURL = %q, want %q", pathURL, want)
	}
	hostURL := r.HostURL("https", "cdn.example")
	if want := "https://" + lookup + ".cdn.example/docs/a%20b.html?key=" + key; hostURL != want {
		t.Errorf("HostURL = %q, want %q", hostURL, want)
	}
	for _, u := range []string{pathURL, hostURL} {
		if back, err := ref.Parse(u); err != nil || back != r {
			t.Errorf("Parse(%q) = %+v, %v; want %+v", u, back, err, r)
		}
	}
}

func FuzzParse(f *testing.F) {
	v := vectors.LoadMCDN(f)
	for _, tc := range v.ReferenceParsing {
		f.Add(tc.Ref)
	}
	f.Add("http://" + lookup + ".cdn.example/x?key=" + key)
	f.Add("http://gw/" + lookup + "/" + key + "/a/b")
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ref.Parse(s)
		if err != nil {
			if !errors.Is(err, ref.ErrInvalid) {
				t.Fatalf("error %v does not wrap ErrInvalid", err)
			}
			return
		}
		// Every accepted reference formats to forms that parse back to it.
		holo := r
		holo.Path = ""
		if back, err := ref.Parse(holo.String()); err != nil || back != holo {
			t.Fatalf("holo round trip of %q: %+v, %v", s, back, err)
		}
		web := r
		web.Prefix = ""
		if back, err := ref.Parse(web.PathURL("http://gw")); err != nil || back.Lookup != r.Lookup || back.Key != r.Key {
			t.Fatalf("path URL round trip of %q: %+v, %v", s, back, err)
		}
	})
}

func ExampleParse() {
	r, err := ref.Parse("holo://9b8107773177d48205481f0212da174c?key=bba8b861662aabf83a2ac2f6ed85b41a")
	if err != nil {
		panic(err)
	}
	fmt.Println(r.Lookup)
	fmt.Println(r.PathURL("http://127.0.0.1:8080"))
	// Output:
	// 9b8107773177d48205481f0212da174c
	// http://127.0.0.1:8080/9b8107773177d48205481f0212da174c/bba8b861662aabf83a2ac2f6ed85b41a/
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
