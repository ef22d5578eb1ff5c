package shardproto_test

import (
	"crypto/ed25519"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/mycdn/mycdn/internal/shardproto"
)

func TestToken(t *testing.T) {
	server, user := testKey(5), testKey(6)
	serverPub := server.Public().(ed25519.PublicKey)
	userPub := user.Public().(ed25519.PublicKey)
	now := time.Unix(1_800_000_000, 0)
	text := shardproto.IssueToken(server, userPub, now.Add(time.Hour))
	if len(text) > shardproto.MaxTokenLen || !strings.HasPrefix(text, "mst1.") {
		t.Fatalf("token %q: bad form", text)
	}
	tok, err := shardproto.ParseToken(text)
	if err != nil {
		t.Fatal(err)
	}
	if !tok.User.Equal(userPub) || !tok.Expiry.Equal(now.Add(time.Hour)) {
		t.Fatalf("parsed %x %v", tok.User, tok.Expiry)
	}
	if err := tok.Verify(serverPub, now); err != nil {
		t.Fatal(err)
	}
	if err := tok.Verify(serverPub, now.Add(time.Hour)); !errors.Is(err, shardproto.ErrTokenExpired) {
		t.Errorf("at expiry: %v, want ErrTokenExpired", err)
	}
	if err := tok.Verify(userPub, now); !errors.Is(err, shardproto.ErrTokenSignature) {
		t.Errorf("other server key: %v, want ErrTokenSignature", err)
	}

	// Changing any part breaks the signature or the form.
	parts := strings.Split(text, ".")
	other := shardproto.IssueToken(server, testKey(7).Public().(ed25519.PublicKey), now.Add(time.Hour))
	for name, s := range map[string]string{
		"later expiry": strings.Join([]string{parts[0], parts[1], "1900000000", parts[3]}, "."),
		"other user":   strings.Join([]string{parts[0], strings.Split(other, ".")[1], parts[2], parts[3]}, "."),
		"flipped sig":  strings.Join([]string{parts[0], parts[1], parts[2], flipHex(parts[3])}, "."),
	} {
		tok, err := shardproto.ParseToken(s)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if err := tok.Verify(serverPub, now); !errors.Is(err, shardproto.ErrTokenSignature) {
			t.Errorf("%s: %v, want ErrTokenSignature", name, err)
		}
	}
	for name, s := range map[string]string{
		"empty":         "",
		"no prefix":     strings.TrimPrefix(text, "mst1."),
		"v2":            "mst2." + strings.TrimPrefix(text, "mst1."),
		"plus expiry":   strings.Join([]string{parts[0], parts[1], "+" + parts[2], parts[3]}, "."),
		"zero-led":      strings.Join([]string{parts[0], parts[1], "0" + parts[2], parts[3]}, "."),
		"extra part":    text + ".00",
		"short user":    strings.Join([]string{parts[0], parts[1][2:], parts[2], parts[3]}, "."),
		"huge expiry":   strings.Join([]string{parts[0], parts[1], "99999999999999999999", parts[3]}, "."),
		"too long":      text + strings.Repeat("0", 300),
		"secret string": "hunter2",
	} {
		if _, err := shardproto.ParseToken(s); !errors.Is(err, shardproto.ErrTokenMalformed) {
			t.Errorf("%s: %v, want ErrTokenMalformed", name, err)
		}
	}
}

// FuzzParseToken checks that parsing never panics and that every token it
// accepts prints back to the same text.
func FuzzParseToken(f *testing.F) {
	server := testKey(5)
	f.Add(shardproto.IssueToken(server, testKey(6).Public().(ed25519.PublicKey), time.Unix(1_800_000_000, 0)))
	f.Add(shardproto.IssueToken(server, testKey(6).Public().(ed25519.PublicKey), time.Unix(0, 0)))
	f.Add("mst1...")
	f.Add("mst1." + strings.Repeat("0", 64) + ".1." + strings.Repeat("0", 128))
	f.Add("")
	f.Fuzz(func(t *testing.T, s string) {
		tok, err := shardproto.ParseToken(s)
		if err != nil {
			return
		}
		if len(tok.User) != ed25519.PublicKeySize {
			t.Fatalf("accepted user key of %d bytes", len(tok.User))
		}
		_ = tok.Verify(server.Public().(ed25519.PublicKey), time.Unix(0, 0))
	})
}
