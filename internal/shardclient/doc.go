// Package shardclient is the client of one shard store: our own server, a
// Hero Redis server, or a stock Redis server. Upload, fetch and the gateway
// keep one [Client] per backend.
//
// A Client keeps a pool of connections, each logged in once when it is
// opened, as the reference client (mycdnctl) logs in: with no [Auth] it only
// selects the database; with a session token it sends AUTH <token>; with an
// Ed25519 key it asks for a CHALLENGE, signs it, exchanges the signature for
// a session token with TOKEN and sends AUTH with that token. Then SELECT.
//
// Every call takes a context: its deadline, or the client's IOTimeout when
// that comes first, bounds the whole call, and cancelling the context
// abandons the call at once, even against a server that stopped answering.
// Values are read straight into the caller's buffer ([Client.Get] appends to
// dst), so a caller that reuses its buffers reads without allocating.
//
//	c, err := shardclient.New(shardclient.Options{Addr: "10.0.0.1:6380", DB: 7,
//		Auth: shardclient.Auth{Key: key}})
//	...
//	defer c.Close()
//	if err := c.Set(ctx, shardKey, shard); err != nil { ... }
//	buf, err = c.Get(ctx, shardKey, buf[:0])
//	if errors.Is(err, shardclient.ErrNotFound) { ... }
package shardclient
