package shardproto_test

import (
	"crypto/ed25519"
	"encoding/hex"
	"errors"
	"strings"
	"testing"

	"github.com/mycdn/mycdn/internal/shardproto"
)

func testKey(b byte) ed25519.PrivateKey {
	return ed25519.NewKeyFromSeed([]byte(strings.Repeat(string(rune('a'+b)), 32)))
}

func TestLogin(t *testing.T) {
	key := testKey(0)
	c := shardproto.NewChallenge()
	if len(c.String()) != 64 || c.String() != strings.ToLower(c.String()) {
		t.Fatalf("challenge %q: want 64 lower-case hex characters", c)
	}
	if c == shardproto.NewChallenge() {
		t.Fatal("two challenges are equal")
	}
	pubHex, sigHex, err := shardproto.SignChallenge(key, c.String())
	if err != nil {
		t.Fatal(err)
	}
	pub, err := shardproto.VerifyLogin(c, pubHex, sigHex)
	if err != nil {
		t.Fatal(err)
	}
	if !pub.Equal(key.Public()) {
		t.Fatal("VerifyLogin returned another key")
	}
	// The reference signs the decoded bytes; check that is what we sign.
	sig, _ := hex.DecodeString(sigHex)
	if !ed25519.Verify(pub, c[:], sig) {
		t.Fatal("signature is not over the hex-decoded challenge bytes")
	}
	// A signature over the ASCII hex is accepted too.
	ascii := hex.EncodeToString(ed25519.Sign(key, []byte(c.String())))
	if _, err := shardproto.VerifyLogin(c, pubHex, ascii); err != nil {
		t.Fatalf("signature over ASCII challenge: %v", err)
	}

	otherPub := hex.EncodeToString(testKey(1).Public().(ed25519.PublicKey))
	for name, tc := range map[string]struct {
		c        shardproto.Challenge
		pub, sig string
	}{
		"other challenge": {shardproto.NewChallenge(), pubHex, sigHex},
		"other key":       {c, otherPub, sigHex},
		"flipped sig":     {c, pubHex, flipHex(sigHex)},
	} {
		if _, err := shardproto.VerifyLogin(tc.c, tc.pub, tc.sig); !errors.Is(err, shardproto.ErrBadSignature) {
			t.Errorf("%s: got %v, want ErrBadSignature", name, err)
		}
	}
	for name, tc := range map[string]struct{ pub, sig string }{
		"short pub":  {pubHex[:62], sigHex},
		"bad hex":    {"zz" + pubHex[2:], sigHex},
		"short sig":  {pubHex, sigHex[:126]},
		"empty":      {"", ""},
		"sig as pub": {sigHex, pubHex},
	} {
		if _, err := shardproto.VerifyLogin(c, tc.pub, tc.sig); err == nil || errors.Is(err, shardproto.ErrBadSignature) {
			t.Errorf("%s: got %v, want a format error", name, err)
		}
	}
	if _, _, err := shardproto.SignChallenge(key, "abc"); err == nil {
		t.Error("SignChallenge accepted a short challenge")
	}
	if _, _, err := shardproto.SignChallenge(key[:10], c.String()); err == nil {
		t.Error("SignChallenge accepted a short key")
	}
}

func TestParsePrivateKey(t *testing.T) {
	key := testKey(2)
	seed := hex.EncodeToString(key.Seed())
	for _, s := range []string{seed, "0x" + seed, strings.ToUpper(seed)} {
		got, err := shardproto.ParsePrivateKey(s)
		if err != nil || !got.Equal(key) {
			t.Errorf("ParsePrivateKey(%q) = %v", s, err)
		}
	}
	for _, s := range []string{"", seed[:62], seed + "00", "0X" + seed, "g" + seed[1:], hex.EncodeToString(key)} {
		if _, err := shardproto.ParsePrivateKey(s); err == nil {
			t.Errorf("ParsePrivateKey(%q) accepted", s)
		}
	}
}

func TestModeRight(t *testing.T) {
	for _, m := range []shardproto.Mode{shardproto.Private, shardproto.PublicRead, shardproto.PublicRW} {
		got, err := shardproto.ParseMode(m.String())
		if err != nil || got != m {
			t.Errorf("mode %v: round trip gave %v, %v", m, got, err)
		}
	}
	if _, err := shardproto.ParseMode("public"); err == nil {
		t.Error(`ParseMode("public") accepted`)
	}
	for _, r := range []shardproto.Right{shardproto.Read, shardproto.Write, shardproto.Admin} {
		var got shardproto.Right
		if err := got.UnmarshalText([]byte(r.String())); err != nil || got != r {
			t.Errorf("right %v: round trip gave %v, %v", r, got, err)
		}
	}
	if !shardproto.Admin.Includes(shardproto.Write) || !shardproto.Write.Includes(shardproto.Read) || shardproto.Read.Includes(shardproto.Write) {
		t.Error("rights are not ordered read < write < admin")
	}
	if err := shardproto.CheckKey(nil); !errors.Is(err, shardproto.ErrBadKey) {
		t.Errorf("CheckKey(nil) = %v", err)
	}
	if err := shardproto.CheckKey(make([]byte, shardproto.MaxKeyLen+1)); !errors.Is(err, shardproto.ErrBadKey) {
		t.Errorf("CheckKey(long) = %v", err)
	}
	if err := shardproto.CheckKey(make([]byte, 16)); err != nil {
		t.Errorf("CheckKey(16 bytes) = %v", err)
	}
}

// flipHex changes the first hex digit of s.
func flipHex(s string) string {
	if s[0] == '0' {
		return "1" + s[1:]
	}
	return "0" + s[1:]
}
