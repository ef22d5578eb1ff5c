package shardserver

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/mycdn/mycdn/internal/shardproto"
	"github.com/mycdn/mycdn/internal/shardserver/store"
)

// command describes one command of the table.
type command struct {
	name  string
	arity int              // number of arguments with the name; negative: at least -arity
	need  shardproto.Right // right needed in the selected database; 0: none
	fn    func(c *conn, args [][]byte)
}

var commands = map[string]*command{}

func init() {
	for _, cmd := range []*command{
		{"PING", -1, 0, cmdPing},
		{"ECHO", 2, 0, func(c *conn, a [][]byte) { c.bulk(a[1]) }},
		{"QUIT", 1, 0, func(c *conn, _ [][]byte) { c.ok(); c.quit = true }},
		{"HELLO", -1, 0, func(c *conn, _ [][]byte) { c.errorf("NOPROTO this server speaks RESP2 only") }},
		{"CLIENT", -2, 0, cmdClient},
		{"COMMAND", -1, 0, cmdCommand},
		{"INFO", -1, 0, cmdInfo},
		{"SELECT", 2, 0, cmdSelect},
		{"AUTH", -2, 0, cmdAuth},
		{shardproto.CmdChallenge, 1, 0, cmdChallenge},
		{shardproto.CmdToken, 3, 0, cmdToken},
		{"GET", 2, shardproto.Read, cmdGet},
		{"MGET", -2, shardproto.Read, cmdMGet},
		{"SET", -3, shardproto.Write, cmdSet},
		{"SETEX", 4, shardproto.Write, cmdSetEx},
		{"EXISTS", -2, shardproto.Read, cmdExists},
		{"DEL", -2, shardproto.Write, cmdDel},
		{"STRLEN", 2, shardproto.Read, cmdStrlen},
		{"TTL", 2, shardproto.Read, func(c *conn, a [][]byte) { cmdTTL(c, a, time.Second) }},
		{"PTTL", 2, shardproto.Read, func(c *conn, a [][]byte) { cmdTTL(c, a, time.Millisecond) }},
		{shardproto.CmdDigest, 2, shardproto.Read, cmdDigest},
		{"DBSIZE", 1, shardproto.Read, cmdDBSize},
		{"SCAN", -2, shardproto.Read, cmdScan},
		{shardproto.CmdDBCreate, 3, 0, cmdDBCreate},
		{shardproto.CmdACLGrant, 4, 0, cmdACLGrant},
		{shardproto.CmdACLRevoke, 3, 0, cmdACLRevoke},
		{shardproto.CmdACLList, -1, 0, cmdACLList},
	} {
		commands[cmd.name] = cmd
	}
}

// dispatch runs one command and writes its reply.
func (c *conn) dispatch(args [][]byte) {
	var buf [16]byte
	name := upper(buf[:0], args[0])
	cmd := commands[string(name)]
	if cmd == nil {
		c.errorf("ERR unknown command '%s'", printable(args[0], 32))
		c.s.met.commands.WithLabelValues("unknown", "error").Inc()
		return
	}
	if (cmd.arity > 0 && len(args) != cmd.arity) || (cmd.arity < 0 && len(args) < -cmd.arity) {
		c.errorf("ERR wrong number of arguments for '%s' command", strings.ToLower(cmd.name))
		c.s.met.commands.WithLabelValues(cmd.name, "error").Inc()
		return
	}
	if cmd.need != 0 && !c.check(cmd.need) {
		c.s.met.commands.WithLabelValues(cmd.name, "error").Inc()
		return
	}
	start := time.Now()
	c.erred = false
	cmd.fn(c, args)
	c.s.met.seconds.WithLabelValues(cmd.name).Observe(time.Since(start).Seconds())
	result := "ok"
	if c.erred {
		result = "error"
	}
	c.s.met.commands.WithLabelValues(cmd.name, result).Inc()
}

// check replies with an error and returns false unless the connection may
// use want in its database.
func (c *conn) check(want shardproto.Right) bool {
	if _, ok := c.s.acl.mode(c.db); !ok {
		c.errorf("ERR database %d does not exist on this server", c.db)
		return false
	}
	return c.allowed(c.db, want)
}

// allowed is check for database db, without the existence test.
func (c *conn) allowed(db uint16, want shardproto.Right) bool {
	if c.s.acl.allowed(c.user, db, want) {
		return true
	}
	if c.user == nil {
		c.errorf("NOAUTH Authentication required.")
	} else {
		c.errorf("NOPERM this key has no %s right on database %d", want, db)
	}
	return false
}

func cmdPing(c *conn, a [][]byte) {
	switch len(a) {
	case 1:
		c.simple("PONG")
	case 2:
		c.bulk(a[1])
	default:
		c.errorf("ERR wrong number of arguments for 'ping' command")
	}
}

func cmdClient(c *conn, a [][]byte) {
	switch sub := string(upper(nil, a[1])); sub {
	case "SETNAME", "SETINFO":
		c.ok()
	case "GETNAME":
		c.null()
	case "ID":
		c.int(int64(c.id))
	default:
		c.errorf("ERR unknown subcommand '%s' of CLIENT", printable(a[1], 32))
	}
}

// cmdCommand answers COMMAND with empty lists, which redis-cli and client
// libraries accept.
func cmdCommand(c *conn, a [][]byte) {
	if len(a) > 1 && equalFold(a[1], "COUNT") {
		c.int(int64(len(commands)))
		return
	}
	c.array(0)
}

func cmdInfo(c *conn, _ [][]byte) {
	c.bulkString(fmt.Sprintf("# Server\r\nredis_version:7.0.0\r\nredis_mode:standalone\r\nmycdn_shard:1\r\n"+
		"uptime_in_seconds:%d\r\n\r\n# Clients\r\nconnected_clients:%d\r\nmaxclients:%d\r\n",
		int(time.Since(c.s.started).Seconds()), c.s.conns.Load(), c.s.opts.MaxConns))
}

func cmdSelect(c *conn, a [][]byte) {
	db, ok := parseDB(a[1])
	if !ok {
		c.errorf("ERR DB index is out of range")
		return
	}
	if _, exists := c.s.acl.mode(db); !exists {
		c.errorf("ERR DB index is out of range: database %d does not exist on this server", db)
		return
	}
	c.db = db
	c.scans = scans{}
	c.ok()
}

// cmdAuth logs the connection in with a session token or the admin secret.
// AUTH <username> <password> (redis-cli --user) ignores the username.
func cmdAuth(c *conn, a [][]byte) {
	if len(a) > 3 {
		c.errorf("ERR syntax error")
		return
	}
	pass := a[len(a)-1]
	if c.s.acl.checkSecret(pass) {
		c.user = &principal{admin: true}
		c.s.met.logins.WithLabelValues("secret", "ok").Inc()
		c.ok()
		return
	}
	tok, err := shardproto.ParseToken(string(pass))
	if err == nil {
		err = tok.Verify(c.s.tokenPub, time.Now())
	}
	if err != nil {
		c.s.met.logins.WithLabelValues("token", "fail").Inc()
		c.errorf("WRONGPASS invalid session token or secret: %v", err)
		return
	}
	c.user = c.s.acl.login(tok.User)
	c.s.met.logins.WithLabelValues("token", "ok").Inc()
	c.ok()
}

func cmdChallenge(c *conn, _ [][]byte) {
	ch := shardproto.NewChallenge()
	c.challenge, c.challengeAt = &ch, time.Now()
	c.bulkString(ch.String())
}

// cmdToken answers a signed challenge with a session token. It does not log
// the connection in: AUTH with the token does.
func cmdToken(c *conn, a [][]byte) {
	ch := c.challenge
	c.challenge = nil // single use, whatever happens
	if ch == nil || time.Since(c.challengeAt) > shardproto.ChallengeTTL {
		c.s.met.logins.WithLabelValues("challenge", "fail").Inc()
		c.errorf("ERR no valid challenge on this connection: send CHALLENGE and answer within %s", shardproto.ChallengeTTL)
		return
	}
	user, err := shardproto.VerifyLogin(*ch, string(a[1]), string(a[2]))
	if err != nil {
		c.s.met.logins.WithLabelValues("challenge", "fail").Inc()
		c.errorf("WRONGPASS %v", err)
		return
	}
	c.s.met.logins.WithLabelValues("challenge", "ok").Inc()
	c.bulkString(shardproto.IssueToken(c.s.tokenKey, user, time.Now().Add(c.s.opts.TokenTTL)))
}

func cmdGet(c *conn, a [][]byte) {
	v, err := c.s.store.Get(c.db, a[1])
	if errors.Is(err, store.ErrNotFound) {
		c.null()
		return
	}
	if err != nil {
		c.storeError("get", a[1], err)
		return
	}
	c.value(v)
}

func cmdMGet(c *conn, a [][]byte) {
	c.array(len(a) - 1)
	for _, k := range a[1:] {
		v, err := c.s.store.Get(c.db, k)
		if err != nil {
			if !errors.Is(err, store.ErrNotFound) {
				c.s.log.Warn("store", "op", "mget", "db", c.db, "key", hex.EncodeToString(k), "err", err)
			}
			c.null()
			continue
		}
		if c.value(v); c.fail != nil {
			return
		}
	}
}

// cmdSet is SET key value [NX|XX] [EX s|PX ms|EXAT s|PXAT ms].
func cmdSet(c *conn, a [][]byte) {
	var opts store.PutOptions
	for i := 3; i < len(a); i++ {
		switch opt := string(upper(nil, a[i])); opt {
		case "NX", "XX":
			if opts.IfAbsent || opts.IfPresent {
				c.errorf("ERR syntax error")
				return
			}
			opts.IfAbsent, opts.IfPresent = opt == "NX", opt == "XX"
		case "EX", "PX", "EXAT", "PXAT":
			if i+1 == len(a) || !opts.Expiry.IsZero() {
				c.errorf("ERR syntax error")
				return
			}
			i++
			exp, ok := expiry(opt, a[i])
			if !ok {
				c.errorf("ERR invalid expire time in 'set' command")
				return
			}
			opts.Expiry = exp
		default:
			c.errorf("ERR syntax error")
			return
		}
	}
	c.put(a[1], a[2], opts, false)
}

func cmdSetEx(c *conn, a [][]byte) {
	exp, ok := expiry("EX", a[2])
	if !ok {
		c.errorf("ERR invalid expire time in 'setex' command")
		return
	}
	c.put(a[1], a[3], store.PutOptions{Expiry: exp}, true)
}

func (c *conn) put(key, value []byte, opts store.PutOptions, setex bool) {
	if err := shardproto.CheckKey(key); err != nil {
		c.errorf("ERR %v", err)
		return
	}
	if int64(len(value)) > c.s.opts.MaxValue {
		c.errorf("ERR value of %d bytes is larger than the limit of %d bytes", len(value), c.s.opts.MaxValue)
		return
	}
	n := len(value)
	ok, err := c.s.store.Put(c.db, key, value, opts)
	switch {
	case err != nil:
		c.storeError("set", key, err)
	case ok:
		c.s.met.bytes.WithLabelValues("in").Add(float64(n))
		c.ok()
	case setex:
		c.ok()
	default:
		c.null()
	}
}

// expiry converts the argument of EX, PX, EXAT or PXAT to a time.
func expiry(opt string, arg []byte) (time.Time, bool) {
	n, err := shardproto.ParseInt(arg)
	if err != nil || n <= 0 || n > 1<<46 {
		return time.Time{}, false
	}
	switch opt {
	case "EX":
		return time.Now().Add(time.Duration(n) * time.Second), true
	case "PX":
		return time.Now().Add(time.Duration(n) * time.Millisecond), true
	case "EXAT":
		return time.Unix(n, 0), true
	default:
		return time.UnixMilli(n), true
	}
}

func cmdExists(c *conn, a [][]byte) {
	n := 0
	for _, k := range a[1:] {
		_, err := c.s.store.Stat(c.db, k)
		if err == nil {
			n++
		} else if !errors.Is(err, store.ErrNotFound) {
			c.storeError("exists", k, err)
			return
		}
	}
	c.int(int64(n))
}

func cmdDel(c *conn, a [][]byte) {
	n := 0
	for _, k := range a[1:] {
		ok, err := c.s.store.Delete(c.db, k)
		if err != nil {
			c.storeError("del", k, err)
			return
		}
		if ok {
			n++
		}
	}
	c.int(int64(n))
}

func cmdStrlen(c *conn, a [][]byte) {
	info, err := c.s.store.Stat(c.db, a[1])
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		c.storeError("strlen", a[1], err)
		return
	}
	c.int(info.Size)
}

func cmdTTL(c *conn, a [][]byte, unit time.Duration) {
	info, err := c.s.store.Stat(c.db, a[1])
	switch {
	case errors.Is(err, store.ErrNotFound):
		c.int(-2)
	case err != nil:
		c.storeError("ttl", a[1], err)
	case info.Expiry.IsZero():
		c.int(-1)
	default:
		left := time.Until(info.Expiry)
		c.int(int64((left + unit/2) / unit))
	}
}

// cmdDigest answers with the BLAKE3-256 of the value in hex, or nil, so that
// an uploader can check a shard without reading it back.
func cmdDigest(c *conn, a [][]byte) {
	info, err := c.s.store.Stat(c.db, a[1])
	switch {
	case errors.Is(err, store.ErrNotFound):
		c.null()
	case err != nil:
		c.storeError("digest", a[1], err)
	default:
		var h [2 * shardproto.DigestSize]byte
		hex.Encode(h[:], info.Digest[:])
		c.bulk(h[:])
	}
}

func cmdDBSize(c *conn, _ [][]byte) {
	n := 0
	if err := c.s.store.Scan(c.db, nil, func([]byte, store.Info) bool { n++; return true }); err != nil {
		c.storeError("dbsize", nil, err)
		return
	}
	c.int(int64(n))
}

func cmdDBCreate(c *conn, a [][]byte) {
	if c.user == nil || !c.user.admin {
		c.noAdmin()
		return
	}
	db, ok := parseDB(a[1])
	if !ok {
		c.errorf("ERR database must be a number from 0 to %d", shardproto.MaxDB)
		return
	}
	m, err := shardproto.ParseMode(string(a[2]))
	if err != nil {
		c.errorf("ERR %v", err)
		return
	}
	if err := c.s.acl.createDB(c.s.store, db, m); err != nil {
		c.errorf("ERR %v", err)
		return
	}
	c.ok()
}

func cmdACLGrant(c *conn, a [][]byte) {
	r, err := shardproto.ParseRight(string(a[3]))
	if err != nil {
		c.errorf("ERR %v", err)
		return
	}
	c.grant(a[1], a[2], r)
}

func cmdACLRevoke(c *conn, a [][]byte) { c.grant(a[1], a[2], 0) }

// grant is ACL.GRANT, or ACL.REVOKE when r is 0; it needs the admin right on
// the database.
func (c *conn) grant(dbArg, userArg []byte, r shardproto.Right) {
	db, ok := c.adminDB(dbArg)
	if !ok {
		return
	}
	user, err := shardproto.ParsePublicKey(string(userArg))
	if err != nil {
		c.errorf("ERR %v", err)
		return
	}
	if err := c.s.acl.grant(c.s.store, db, user, r); err != nil {
		c.errorf("ERR %v", err)
		return
	}
	c.ok()
}

// cmdACLList lists the access of one database (admin right on it) or of all
// (admins only), one line per entry.
func cmdACLList(c *conn, a [][]byte) {
	if len(a) > 2 {
		c.errorf("ERR wrong number of arguments for 'acl.list' command")
		return
	}
	var lines []string
	if len(a) == 1 {
		if c.user == nil || !c.user.admin {
			c.noAdmin()
			return
		}
		lines = c.s.acl.list(0, true)
	} else {
		db, ok := c.adminDB(a[1])
		if !ok {
			return
		}
		lines = c.s.acl.list(db, false)
	}
	c.array(len(lines))
	for _, l := range lines {
		c.bulkString(l)
	}
}

// adminDB parses a database argument of an admin command and checks that
// it exists and the connection has the admin right on it.
func (c *conn) adminDB(arg []byte) (uint16, bool) {
	db, ok := parseDB(arg)
	if !ok {
		c.errorf("ERR database must be a number from 0 to %d", shardproto.MaxDB)
		return 0, false
	}
	if _, ok := c.s.acl.mode(db); !ok {
		c.errorf("ERR database %d does not exist on this server", db)
		return 0, false
	}
	return db, c.allowed(db, shardproto.Admin)
}

func (c *conn) noAdmin() {
	if c.user == nil {
		c.errorf("NOAUTH Authentication required.")
		return
	}
	c.errorf("NOPERM this command needs a server admin")
}

func (c *conn) storeError(op string, key []byte, err error) {
	c.s.log.Error("store", "op", op, "db", c.db, "key", hex.EncodeToString(key), "err", err)
	c.errorf("ERR storage error on this server (its log has the details)")
}

func parseDB(b []byte) (uint16, bool) {
	n, err := strconv.ParseUint(string(b), 10, 16)
	return uint16(n), err == nil
}

// upper appends b in upper case to dst.
func upper(dst, b []byte) []byte {
	for _, ch := range b {
		if 'a' <= ch && ch <= 'z' {
			ch -= 'a' - 'A'
		}
		dst = append(dst, ch)
	}
	return dst
}

func equalFold(b []byte, s string) bool { return bytes.EqualFold(b, []byte(s)) }

// printable returns at most n bytes of b for an error message.
func printable(b []byte, n int) string {
	if len(b) > n {
		b = b[:n]
	}
	return strings.Map(func(r rune) rune {
		if r < ' ' || r > '~' {
			return '?'
		}
		return r
	}, string(b))
}
