package shardserver

import (
	"crypto/ed25519"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"slices"
	"sync"

	"github.com/mycdn/mycdn/internal/shardproto"
	"github.com/mycdn/mycdn/internal/shardserver/store"
)

// Access says who may do what. The zero value has no databases.
type Access struct {
	// Databases maps database numbers to their modes.
	Databases map[uint16]shardproto.Mode
	// DefaultMode, if set, is the mode of every database not listed in
	// Databases; otherwise such databases do not exist.
	DefaultMode shardproto.Mode
	// Admins may do anything in every database, including DB.CREATE.
	Admins []ed25519.PublicKey
	// Grants give keys rights in databases.
	Grants []Grant
	// AdminSecret, if set, logs a connection in as an admin with
	// AUTH <secret>.
	AdminSecret string
	// LoopbackOnly refuses clients that do not connect from a loopback
	// address: the development default.
	LoopbackOnly bool
}

// DevAccess is the access of a shard store started without configuration:
// every database is public-rw, for clients on loopback only.
func DevAccess() Access {
	return Access{DefaultMode: shardproto.PublicRW, LoopbackOnly: true}
}

// Grant gives User a right in database DB.
type Grant struct {
	DB    uint16
	User  ed25519.PublicKey
	Right shardproto.Right
}

// principal is who a connection is logged in as.
type principal struct {
	user  ed25519.PublicKey // nil when logged in with the admin secret
	admin bool              // admin of every database
}

// acl is the live access state: the configured Access plus the databases
// and grants made at run time with the admin commands, which the store
// keeps.
type acl struct {
	secret       []byte
	defaultMode  shardproto.Mode
	loopbackOnly bool
	admins       map[string]bool

	mu     sync.RWMutex
	dbs    map[uint16]dbEntry
	grants map[uint16]map[string]grantEntry // by string(pubkey)
}

type dbEntry struct {
	mode       shardproto.Mode
	configured bool
}

type grantEntry struct {
	right      shardproto.Right
	configured bool
}

func newACL(a Access, st *store.Store) (*acl, error) {
	l := &acl{
		defaultMode:  a.DefaultMode,
		loopbackOnly: a.LoopbackOnly,
		admins:       map[string]bool{},
		dbs:          map[uint16]dbEntry{},
		grants:       map[uint16]map[string]grantEntry{},
	}
	if a.AdminSecret != "" {
		l.secret = []byte(a.AdminSecret)
	}
	for _, k := range a.Admins {
		if len(k) != ed25519.PublicKeySize {
			return nil, fmt.Errorf("admin key of %d bytes", len(k))
		}
		l.admins[string(k)] = true
	}
	for db, m := range a.Databases {
		if _, err := shardproto.ParseMode(m.String()); err != nil {
			return nil, fmt.Errorf("database %d: %w", db, err)
		}
		l.dbs[db] = dbEntry{m, true}
	}
	for _, g := range a.Grants {
		if len(g.User) != ed25519.PublicKeySize || g.Right < shardproto.Read || g.Right > shardproto.Admin {
			return nil, fmt.Errorf("bad grant on database %d", g.DB)
		}
		l.setGrant(g.DB, g.User, grantEntry{g.Right, true})
	}
	dbs, err := st.Databases()
	if err != nil {
		return nil, err
	}
	for db, m := range dbs {
		if _, ok := l.dbs[db]; !ok {
			l.dbs[db] = dbEntry{mode: m}
		}
	}
	grants, err := st.Grants()
	if err != nil {
		return nil, err
	}
	for _, g := range grants {
		if _, ok := l.grants[g.DB][string(g.User)]; !ok {
			l.setGrant(g.DB, g.User, grantEntry{right: g.Right})
		}
	}
	return l, nil
}

func (l *acl) setGrant(db uint16, user ed25519.PublicKey, g grantEntry) {
	m := l.grants[db]
	if m == nil {
		m = map[string]grantEntry{}
		l.grants[db] = m
	}
	m[string(user)] = g
}

// mode returns the mode of database db, and false if it does not exist.
func (l *acl) mode(db uint16) (shardproto.Mode, bool) {
	l.mu.RLock()
	e, ok := l.dbs[db]
	l.mu.RUnlock()
	if ok {
		return e.mode, true
	}
	return l.defaultMode, l.defaultMode != 0
}

// right returns what p may do in db beyond what the mode allows anyone; 0
// for nothing.
func (l *acl) right(p *principal, db uint16) shardproto.Right {
	if p == nil {
		return 0
	}
	if p.admin {
		return shardproto.Admin
	}
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.grants[db][string(p.user)].right
}

// allowed reports whether p (nil: not logged in) may use want in db.
func (l *acl) allowed(p *principal, db uint16, want shardproto.Right) bool {
	m, ok := l.mode(db)
	if !ok {
		return p != nil && p.admin
	}
	switch {
	case m == shardproto.PublicRW && want <= shardproto.Write:
		return true
	case m == shardproto.PublicRead && want == shardproto.Read:
		return true
	}
	return l.right(p, db).Includes(want)
}

// login returns the principal of a public key that logged in.
func (l *acl) login(user ed25519.PublicKey) *principal {
	return &principal{user: user, admin: l.admins[string(user)]}
}

// checkSecret reports whether s is the admin secret.
func (l *acl) checkSecret(s []byte) bool {
	return l.secret != nil && subtle.ConstantTimeCompare(s, l.secret) == 1
}

// createDB makes database db with mode m.
func (l *acl) createDB(st *store.Store, db uint16, m shardproto.Mode) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, ok := l.dbs[db]; ok {
		return fmt.Errorf("database %d exists", db)
	}
	if err := st.PutDatabase(db, m); err != nil {
		return err
	}
	l.dbs[db] = dbEntry{mode: m}
	return nil
}

// grant gives user right r in db; r == 0 revokes.
func (l *acl) grant(st *store.Store, db uint16, user ed25519.PublicKey, r shardproto.Right) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if g, ok := l.grants[db][string(user)]; ok && g.configured {
		return fmt.Errorf("the grant of this key on database %d is set in the configuration file; change it there", db)
	}
	if r == 0 {
		if err := st.DeleteGrant(db, user); err != nil {
			return err
		}
		delete(l.grants[db], string(user))
		return nil
	}
	if err := st.PutGrant(store.Grant{DB: db, User: user, Right: r}); err != nil {
		return err
	}
	l.setGrant(db, user, grantEntry{right: r})
	return nil
}

// list returns the lines of ACL.LIST: databases, then grants, then admins,
// for database db or (all) every one.
func (l *acl) list(db uint16, all bool) []string {
	l.mu.RLock()
	defer l.mu.RUnlock()
	source := func(configured bool) string {
		if configured {
			return "config"
		}
		return "runtime"
	}
	var out []string
	if l.defaultMode != 0 && all {
		out = append(out, "default "+l.defaultMode.String())
	}
	dbs := make([]uint16, 0, len(l.dbs))
	for d := range l.dbs {
		if all || d == db {
			dbs = append(dbs, d)
		}
	}
	slices.Sort(dbs)
	for _, d := range dbs {
		e := l.dbs[d]
		out = append(out, fmt.Sprintf("db %d %s %s", d, e.mode, source(e.configured)))
	}
	var grants []string
	for d, m := range l.grants {
		if !all && d != db {
			continue
		}
		for u, g := range m {
			grants = append(grants, fmt.Sprintf("grant %d %s %s %s", d, hex.EncodeToString([]byte(u)), g.right, source(g.configured)))
		}
	}
	slices.Sort(grants)
	out = append(out, grants...)
	if all {
		var admins []string
		for u := range l.admins {
			admins = append(admins, "admin "+hex.EncodeToString([]byte(u))+" config")
		}
		slices.Sort(admins)
		out = append(out, admins...)
	}
	return out
}
