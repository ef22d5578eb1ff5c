package registry

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/mycdn/mycdn/internal/xeddsa"
	"github.com/mycdn/mycdn/meta"
)

const (
	pubHex = "42a93869397fef6c30b43ae7b46ffcd691ec3ecca3b3a2fcd7d4aa80d5376f04"
	sigHex = "910862c8535c17bbb049d27812bd6c6beaa78a1ad82159fa8de183429b57092fa0e7e6013930094235dc5642a657c6bc653dfa9e0275d270ab11c402e0bd450f"
)

func TestParseAuth(t *testing.T) {
	good := "XEdDSA pub=" + pubHex + ", ts=1700000000, sig=" + sigHex
	for _, tc := range []struct {
		in   string
		want string // Auth.String of the result; "" for an error
	}{
		{"Bearer abc.DEF-123", "Bearer abc.DEF-123"},
		{"bearer  tok ", "Bearer tok"},
		{good, good},
		{"xeddsa sig=" + sigHex + ",ts=1700000000 ,  pub=" + pubHex, good},
		{"XEdDSA pub=" + pubHex + ", ts=0, sig=" + sigHex, "XEdDSA pub=" + pubHex + ", ts=0, sig=" + sigHex},
		{"", ""},
		{"Bearer", ""},
		{"Bearer two words", ""},
		{"Basic dXNlcjpwYXNz", ""},
		{"XEdDSA", ""},
		{"XEdDSA pub=" + pubHex + ", ts=1700000000", ""},
		{good + ", ts=1700000000", ""},
		{good + ", x=1", ""},
		{good + ",", ""},
		{"XEdDSA pub=" + pubHex[:62] + ", ts=1700000000, sig=" + sigHex, ""},
		{"XEdDSA pub=" + pubHex + "00, ts=1700000000, sig=" + sigHex, ""},
		{"XEdDSA pub=" + strings.Replace(pubHex, "4", "g", 1) + ", ts=1700000000, sig=" + sigHex, ""},
		{"XEdDSA pub=" + pubHex + ", ts=1700000000, sig=" + sigHex[:126], ""},
		{"XEdDSA pub=" + pubHex + ", ts=-5, sig=" + sigHex, ""},
		{"XEdDSA pub=" + pubHex + ", ts=+5, sig=" + sigHex, ""},
		{"XEdDSA pub=" + pubHex + ", ts=0170, sig=" + sigHex, ""},
		{"XEdDSA pub=" + pubHex + ", ts=1e9, sig=" + sigHex, ""},
		{"XEdDSA pub=" + pubHex + ", ts=99999999999999999999, sig=" + sigHex, ""},
		{"XEdDSA pub=\"" + pubHex + "\", ts=1700000000, sig=" + sigHex, ""},
		{"Bearer " + strings.Repeat("a", 2000), ""},
	} {
		a, err := ParseAuth(tc.in)
		if tc.want == "" {
			if err == nil || !errors.Is(err, ErrBadAuth) {
				t.Errorf("ParseAuth(%.60q) = %v, %v; want ErrBadAuth", tc.in, a.String(), err)
			}
			continue
		}
		if err != nil || a.String() != tc.want {
			t.Errorf("ParseAuth(%.60q) = %q, %v; want %q", tc.in, a.String(), err, tc.want)
		}
	}
}

func TestSignVerify(t *testing.T) {
	k := xeddsa.GenerateKey()
	body := meta.Hash{1, 2, 3}
	path := BlobPath(body)
	now := time.Unix(1700000000, 0)
	a := Sign(&k, "PUT", path, body, now)
	parsed, err := ParseAuth(a.String())
	if err != nil {
		t.Fatal(err)
	}
	if parsed != a || parsed.Time != now.Unix() || parsed.Pub != k.PublicKey() {
		t.Fatalf("parsed %+v, want %+v", parsed, a)
	}
	if !parsed.Verify("PUT", path, body) {
		t.Fatal("signature does not verify")
	}
	other := meta.Hash{9}
	for name, ok := range map[string]bool{
		"other method": parsed.Verify("POST", path, body),
		"other path":   parsed.Verify("PUT", BlobPath(other), body),
		"other body":   parsed.Verify("PUT", path, other),
		"other time":   (&Auth{Scheme: SchemeXEdDSA, Pub: a.Pub, Time: a.Time + 1, Sig: a.Sig}).Verify("PUT", path, body),
		"bearer":       (&Auth{Scheme: SchemeBearer, Pub: a.Pub, Time: a.Time, Sig: a.Sig}).Verify("PUT", path, body),
	} {
		if ok {
			t.Errorf("%s: signature verifies", name)
		}
	}
}

func TestSignedMessage(t *testing.T) {
	h, _ := meta.ParseHash("000102030405060708090a0b0c0d0e0f")
	got := string(SignedMessage("POST", "/api/v1/metadata", h, 1700000000))
	want := "mycdn-registry-v1\nPOST\n/api/v1/metadata\n000102030405060708090a0b0c0d0e0f\n1700000000"
	if got != want {
		t.Fatalf("SignedMessage = %q, want %q", got, want)
	}
}

// FuzzParseAuth checks that ParseAuth never panics and that what it accepts
// prints as a header that parses back to the same value.
func FuzzParseAuth(f *testing.F) {
	for _, s := range []string{
		"Bearer tok",
		"XEdDSA pub=" + pubHex + ", ts=1700000000, sig=" + sigHex,
		"xeddsa ts=1,sig=" + sigHex + ",pub=" + pubHex,
		"XEdDSA pub=, ts=, sig=",
		"XEdDSA ,,,",
		"Basic x",
		"",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		a, err := ParseAuth(s)
		if err != nil {
			if !errors.Is(err, ErrBadAuth) {
				t.Fatalf("error %v does not match ErrBadAuth", err)
			}
			return
		}
		b, err := ParseAuth(a.String())
		if err != nil || b != a {
			t.Fatalf("%q parsed to %+v, whose String %q parses to %+v, %v", s, a, a.String(), b, err)
		}
	})
}
