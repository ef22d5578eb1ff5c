package shardserver_test

import (
	"crypto/ed25519"
	"strings"
	"testing"
	"time"

	"github.com/mycdn/mycdn/internal/shardproto"
	"github.com/mycdn/mycdn/internal/shardserver"
	"github.com/mycdn/mycdn/internal/testenv"
)

const adminSecret = "an-admin-secret-for-tests"

var (
	serverKey = key(1)
	adminKey  = key(2)
	writerKey = key(3)
	readerKey = key(4)
	stranger  = key(5)
)

// accessOptions: database 1 public-read, 2 private, 3 public-rw; writer may
// write 1 and 2, reader may read 2; adminKey is a server admin.
func accessOptions() shardserver.Options {
	return shardserver.Options{
		TokenKey: serverKey,
		Access: shardserver.Access{
			Databases: map[uint16]shardproto.Mode{1: shardproto.PublicRead, 2: shardproto.Private, 3: shardproto.PublicRW},
			Admins:    []ed25519.PublicKey{pub(adminKey)},
			Grants: []shardserver.Grant{
				{DB: 1, User: pub(writerKey), Right: shardproto.Write},
				{DB: 2, User: pub(writerKey), Right: shardproto.Write},
				{DB: 2, User: pub(readerKey), Right: shardproto.Read},
			},
			AdminSecret: adminSecret,
		},
	}
}

func TestModes(t *testing.T) {
	s := testenv.StartShard(t, testenv.ShardOptions{Server: accessOptions()})
	anon := dial(t, s.Addr)
	for _, tc := range []struct{ cmd, want string }{
		{"SELECT 0", "-ERR DB index is out of range: database 0 does not exist on this server"},
		{"GET k", "-ERR database 0 does not exist on this server"},
		{"SELECT 1", "+OK"},
		{"GET k", "$nil"}, // public-read: reads need no login
		{"EXISTS k", ":0"},
		{"SET k v", "-NOAUTH Authentication required."},
		{"DEL k", "-NOAUTH Authentication required."},
		{"SELECT 2", "+OK"},
		{"GET k", "-NOAUTH Authentication required."}, // private
		{"DIGEST k", "-NOAUTH Authentication required."},
		{"SELECT 3", "+OK"},
		{"SET k v", "+OK"}, // public-rw
		{"GET k", "$v"},
		{"DB.CREATE 9 private", "-NOAUTH Authentication required."},
		{"ACL.LIST", "-NOAUTH Authentication required."},
	} {
		if got := anon.do(strings.Fields(tc.cmd)...); got != tc.want {
			t.Errorf("anonymous %s: %s, want %s", tc.cmd, got, tc.want)
		}
	}

	w := dial(t, s.Addr)
	w.login(writerKey)
	r := dial(t, s.Addr)
	r.login(readerKey)
	x := dial(t, s.Addr)
	x.login(stranger)
	for _, tc := range []struct {
		who  *raw
		name string
		cmd  string
		want string
	}{
		{w, "writer", "SELECT 1", "+OK"},
		{w, "writer", "SET k public", "+OK"},
		{w, "writer", "SELECT 2", "+OK"},
		{w, "writer", "SET k private", "+OK"},
		{w, "writer", "GET k", "$private"}, // write includes read
		{w, "writer", "ACL.GRANT 2 " + pubHex(stranger) + " read", "-NOPERM this key has no admin right on database 2"},
		{r, "reader", "SELECT 2", "+OK"},
		{r, "reader", "GET k", "$private"},
		{r, "reader", "SET k x", "-NOPERM this key has no write right on database 2"},
		{r, "reader", "SELECT 1", "+OK"},
		{r, "reader", "GET k", "$public"},
		{r, "reader", "SET k x", "-NOPERM this key has no write right on database 1"},
		{x, "stranger", "SELECT 2", "+OK"},
		{x, "stranger", "GET k", "-NOPERM this key has no read right on database 2"},
		{x, "stranger", "SELECT 1", "+OK"},
		{x, "stranger", "GET k", "$public"},
		{x, "stranger", "DB.CREATE 9 private", "-NOPERM this command needs a server admin"},
	} {
		if got := tc.who.do(strings.Fields(tc.cmd)...); got != tc.want {
			t.Errorf("%s %s: %s, want %s", tc.name, tc.cmd, got, tc.want)
		}
	}
	if got := anon.do("SELECT", "1"); got != "+OK" {
		t.Fatal(got)
	}
	if got := anon.do("GET", "k"); got != "$public" {
		t.Errorf("anonymous read of public-read value: %s", got)
	}
}

func TestLoginFailures(t *testing.T) {
	s := testenv.StartShard(t, testenv.ShardOptions{Server: accessOptions()})
	c := dial(t, s.Addr)
	if got := c.do("TOKEN", pubHex(writerKey), strings.Repeat("00", 64)); !strings.HasPrefix(got, "-ERR no valid challenge") {
		t.Errorf("TOKEN without CHALLENGE: %s", got)
	}
	// A signature by another key than the one named.
	ch := strings.TrimPrefix(c.do("CHALLENGE"), "$")
	_, sig, _ := shardproto.SignChallenge(stranger, ch)
	if got := c.do("TOKEN", pubHex(writerKey), sig); !strings.HasPrefix(got, "-WRONGPASS signature does not verify") {
		t.Errorf("wrong key's signature: %s", got)
	}
	// Challenges are single use, even after a failure.
	pubH, sig, _ := shardproto.SignChallenge(writerKey, ch)
	if got := c.do("TOKEN", pubH, sig); !strings.HasPrefix(got, "-ERR no valid challenge") {
		t.Errorf("reused challenge: %s", got)
	}
	if got := c.do("TOKEN", "abc", "def"); !strings.HasPrefix(got, "-ERR no valid challenge") {
		t.Errorf("garbage TOKEN: %s", got)
	}
	c.do("CHALLENGE")
	if got := c.do("TOKEN", "abc", "def"); !strings.HasPrefix(got, "-WRONGPASS ed25519 public key") {
		t.Errorf("malformed TOKEN: %s", got)
	}
	for name, tok := range map[string]string{
		"garbage":   "not-a-token",
		"expired":   shardproto.IssueToken(serverKey, pub(writerKey), time.Now().Add(-time.Second)),
		"forged":    shardproto.IssueToken(stranger, pub(writerKey), time.Now().Add(time.Hour)),
		"bad admin": adminSecret + "x",
	} {
		got := c.do("AUTH", tok)
		if !strings.HasPrefix(got, "-WRONGPASS") {
			t.Errorf("AUTH with %s token: %s", name, got)
		}
		if name == "expired" && !strings.Contains(got, "expired") {
			t.Errorf("expired token: %s does not say so", got)
		}
	}
	// Still not logged in after the failures.
	c.do("SELECT", "2")
	if got := c.do("GET", "k"); got != "-NOAUTH Authentication required." {
		t.Errorf("after failed logins: %s", got)
	}
	// A signature over the ASCII challenge is accepted as well.
	ch = strings.TrimPrefix(c.do("CHALLENGE"), "$")
	asciiSig := ed25519.Sign(writerKey, []byte(ch))
	tok := c.do("TOKEN", pubHex(writerKey), strings.ToLower(hexString(asciiSig)))
	if !strings.HasPrefix(tok, "$mst1.") {
		t.Errorf("ASCII-signed challenge: %s", tok)
	}
	// TOKEN alone does not log in; AUTH with the token does. redis-cli
	// --user sends a username too.
	if got := c.do("GET", "k"); got != "-NOAUTH Authentication required." {
		t.Errorf("after TOKEN: %s", got)
	}
	if got := c.do("AUTH", "default", strings.TrimPrefix(tok, "$")); got != "+OK" {
		t.Errorf("AUTH default <token>: %s", got)
	}
	if got := c.do("GET", "k"); got != "$nil" {
		t.Errorf("after AUTH: %s", got)
	}
	// A token of a configured token key works on another connection, and on
	// another server that shares the key.
	other := testenv.StartShard(t, testenv.ShardOptions{Server: accessOptions()})
	o := dial(t, other.Addr)
	if got := o.do("AUTH", strings.TrimPrefix(tok, "$")); got != "+OK" {
		t.Errorf("token on a server with the same token key: %s", got)
	}
}

func TestAdmin(t *testing.T) {
	s := testenv.StartShard(t, testenv.ShardOptions{Server: accessOptions()})
	a := dial(t, s.Addr)
	a.login(adminKey)
	sec := dial(t, s.Addr)
	if got := sec.do("AUTH", adminSecret); got != "+OK" {
		t.Fatalf("AUTH secret: %s", got)
	}
	x := dial(t, s.Addr)
	x.login(stranger)
	x.do("SELECT", "1")
	for _, tc := range []struct {
		who  *raw
		cmd  string
		want string
	}{
		{a, "DB.CREATE 7 private", "+OK"},
		{a, "DB.CREATE 7 private", "-ERR database 7 exists"},
		{a, "DB.CREATE 1 private", "-ERR database 1 exists"},
		{sec, "DB.CREATE 8 public-read", "+OK"},
		{a, "DB.CREATE 9 secret", `-ERR unknown database mode "secret": want private, public-read or public-rw`},
		{a, "DB.CREATE 70000 private", "-ERR database must be a number from 0 to 65535"},
		{a, "ACL.GRANT 7 " + pubHex(stranger) + " admin", "+OK"},
		{a, "ACL.GRANT 7 " + pubHex(stranger) + " root", `-ERR unknown right "root": want read, write or admin`},
		{a, "ACL.GRANT 7 abcd write", "-ERR ed25519 public key: want 64 hex characters, got 4"},
		{a, "ACL.GRANT 6 " + pubHex(stranger) + " write", "-ERR database 6 does not exist on this server"},
		{a, "ACL.GRANT 2 " + pubHex(readerKey) + " write", "-ERR the grant of this key on database 2 is set in the configuration file; change it there"},
		// The stranger is now admin of 7: it may grant there, write there,
		// but not elsewhere.
		{x, "SELECT 7", "+OK"},
		{x, "SET k v", "+OK"},
		{x, "ACL.GRANT 7 " + pubHex(readerKey) + " write", "+OK"},
		{x, "ACL.GRANT 8 " + pubHex(readerKey) + " write", "-NOPERM this key has no admin right on database 8"},
		{x, "ACL.LIST 7", "*[db 7 private runtime grant 7 " + pubHex(readerKey) + " write runtime grant 7 " + pubHex(stranger) + " admin runtime]"},
		{x, "ACL.LIST", "-NOPERM this command needs a server admin"},
		{a, "ACL.REVOKE 7 " + pubHex(stranger), "+OK"},
		// Revocation takes effect on the stranger's open connection at once.
		{x, "SET k v2", "-NOPERM this key has no write right on database 7"},
		{x, "GET k", "-NOPERM this key has no read right on database 7"},
		{a, "ACL.REVOKE 2 " + pubHex(writerKey), "-ERR the grant of this key on database 2 is set in the configuration file; change it there"},
	} {
		if got := tc.who.do(strings.Fields(tc.cmd)...); got != tc.want {
			t.Errorf("%s: %s\nwant %s", tc.cmd, got, tc.want)
		}
	}
	all := a.do("ACL.LIST")
	for _, want := range []string{"db 1 public-read config", "db 7 private runtime", "db 8 public-read runtime",
		"grant 2 " + pubHex(writerKey) + " write config", "admin " + pubHex(adminKey) + " config"} {
		if !strings.Contains(all, want) {
			t.Errorf("ACL.LIST lacks %q:\n%s", want, all)
		}
	}
}

func hexString(b []byte) string {
	const digits = "0123456789abcdef"
	out := make([]byte, 0, 2*len(b))
	for _, c := range b {
		out = append(out, digits[c>>4], digits[c&15])
	}
	return string(out)
}
