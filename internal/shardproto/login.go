package shardproto

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"
)

// ChallengeTTL is how long a challenge may be answered with TOKEN.
const ChallengeTTL = time.Minute

// ErrBadSignature reports a login signature that does not verify.
var ErrBadSignature = errors.New("signature does not verify for this key and challenge")

// Challenge is the random value a server hands out for CHALLENGE.
type Challenge [32]byte

// NewChallenge returns a fresh random challenge.
func NewChallenge() Challenge {
	var c Challenge
	_, _ = rand.Read(c[:]) // crypto/rand.Read never fails
	return c
}

// String returns the challenge as the server sends it: 64 lower-case hex
// characters.
func (c Challenge) String() string { return hex.EncodeToString(c[:]) }

// ParsePublicKey parses an Ed25519 public key written as 64 hex characters.
func ParsePublicKey(s string) (ed25519.PublicKey, error) {
	b, err := decodeHex(s, ed25519.PublicKeySize)
	if err != nil {
		return nil, fmt.Errorf("ed25519 public key: %w", err)
	}
	return ed25519.PublicKey(b), nil
}

// ParsePrivateKey parses an Ed25519 private key written as its 32-byte seed
// in 64 hex characters, with an optional "0x", as the reference client's
// config.toml holds it.
func ParsePrivateKey(s string) (ed25519.PrivateKey, error) {
	seed, err := decodeHex(strings.TrimPrefix(s, "0x"), ed25519.SeedSize)
	if err != nil {
		return nil, fmt.Errorf("ed25519 private key: %w", err)
	}
	return ed25519.NewKeyFromSeed(seed), nil
}

// SignChallenge answers a challenge as the reference client does: it signs
// the hex-decoded challenge bytes with key and returns the arguments of
// TOKEN, the public key and the signature in lower-case hex.
func SignChallenge(key ed25519.PrivateKey, challenge string) (pubHex, sigHex string, err error) {
	if len(key) != ed25519.PrivateKeySize {
		return "", "", fmt.Errorf("ed25519 private key is %d bytes, want %d", len(key), ed25519.PrivateKeySize)
	}
	c, err := decodeHex(challenge, len(Challenge{}))
	if err != nil {
		return "", "", fmt.Errorf("challenge: %w", err)
	}
	pub := key.Public().(ed25519.PublicKey)
	return hex.EncodeToString(pub), hex.EncodeToString(ed25519.Sign(key, c)), nil
}

// VerifyLogin checks the arguments of TOKEN against the challenge c the
// server issued and returns the public key that logged in. The signature may
// cover the 32 challenge bytes or the 64 ASCII hex characters of c.
func VerifyLogin(c Challenge, pubHex, sigHex string) (ed25519.PublicKey, error) {
	pub, err := ParsePublicKey(pubHex)
	if err != nil {
		return nil, err
	}
	sig, err := decodeHex(sigHex, ed25519.SignatureSize)
	if err != nil {
		return nil, fmt.Errorf("signature: %w", err)
	}
	if ed25519.Verify(pub, c[:], sig) || ed25519.Verify(pub, []byte(c.String()), sig) {
		return pub, nil
	}
	return nil, ErrBadSignature
}

// decodeHex decodes s, which must be exactly 2*n hex characters.
func decodeHex(s string, n int) ([]byte, error) {
	if len(s) != 2*n {
		return nil, fmt.Errorf("want %d hex characters, got %d", 2*n, len(s))
	}
	b, err := hex.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("bad hex: %w", err)
	}
	return b, nil
}
