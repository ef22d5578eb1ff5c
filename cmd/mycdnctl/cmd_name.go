package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/netip"
	"strings"

	"github.com/spf13/cobra"

	"github.com/mycdn/mycdn/cmd/internal/cli"
	"github.com/mycdn/mycdn/internal/config"
	"github.com/mycdn/mycdn/internal/names"
	"github.com/mycdn/mycdn/internal/registryclient"
	"github.com/mycdn/mycdn/internal/xeddsa"
	"github.com/mycdn/mycdn/ref"
)

// nameOptions are the flags of the name commands.
type nameOptions struct {
	config  string
	keyFile string
	json    bool
	edit    struct{ addWriters, removeWriters, addAdmins, removeAdmins []string }
}

func newNameCmd() *cobra.Command {
	var opts nameOptions
	c := cli.Group(&cobra.Command{
		Use:   "name",
		Short: "Point stable names at references that change",
		Long: `name manages names in the registry: stable names, such as "site", that point
at a reference and can be pointed at a new one, so a site republished under a
name keeps its URL (<name>.<domain>, or /name/<name>/ on a gateway).

Every change is signed with an X25519 identity (see "mycdnctl keygen"): the
key in --key-file, or [metadata] writer_x25519_sk_hex in the configuration.
The identity that creates a name is its admin. Admins may change the value,
delete the name and change who may write it; writers may change the value.
Identities are named by their Mycelium addresses, in IPv6 text form.

A name is 1 to 63 characters of a-z, 0-9 and '-', neither first nor last '-',
and not 32 hexadecimal characters. A deleted name keeps its access list: only
its admins may set it again.`,
	})
	c.PersistentFlags().StringVarP(&opts.config, "config", "c", config.DefaultClientPath(), "configuration file ($"+config.ClientPathEnv+")")
	c.AddCommand(newNameSetCmd(&opts), newNameGetCmd(&opts), newNameRmCmd(&opts), newNameACLCmd(&opts))
	return c
}

func addKeyFlag(c *cobra.Command, opts *nameOptions) {
	c.Flags().StringVar(&opts.keyFile, "key-file", "", "sign with the key in this file (mode 0600; default: [metadata] writer_x25519_sk_hex)")
}

func newNameSetCmd(opts *nameOptions) *cobra.Command {
	c := &cobra.Command{
		Use:   "set NAME REF",
		Short: "Point a name at a reference, creating the name if needed",
		Long: `set points NAME at REF, a reference in any of its forms (holo://, or a
gateway URL without a path inside the object). A new name is created with the
signer as its only admin; on a registry that is not open, creating a name
takes a key among its writers or its token from the configuration.`,
		Example: `  mycdnctl name set site holo://3f1c...?key=9a0b...
  mycdnctl name set --key-file alice.key site http://127.0.0.1:8080/3f1c.../9a0b.../`,
		Args: cli.ExactArgs(2),
		RunE: func(c *cobra.Command, args []string) error {
			r, err := ref.Parse(args[1])
			if err != nil {
				return &cli.UsageError{Err: err}
			}
			if r.Path != "" {
				return cli.Usagef("reference %q has a path inside its object (%q): a name points at the object itself", args[1], r.Path)
			}
			return runNameChange(c, opts, args[0], func(ctx context.Context, reg *registryclient.Client, k *xeddsa.PrivateKey) (names.State, error) {
				return reg.SetName(ctx, k, args[0], r)
			})
		},
	}
	addKeyFlag(c, opts)
	return c
}

func newNameRmCmd(opts *nameOptions) *cobra.Command {
	c := &cobra.Command{
		Use:   "rm NAME",
		Short: "Delete a name",
		Long: `rm deletes NAME, which then resolves to nothing. The registry keeps its access
list and its nonce, so only its admins may set it again and no change signed
before can be replayed. Only admins may delete a name.`,
		Args: cli.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			return runNameChange(c, opts, args[0], func(ctx context.Context, reg *registryclient.Client, k *xeddsa.PrivateKey) (names.State, error) {
				return reg.DeleteName(ctx, k, args[0])
			})
		},
	}
	addKeyFlag(c, opts)
	return c
}

func newNameACLCmd(opts *nameOptions) *cobra.Command {
	c := &cobra.Command{
		Use:   "acl NAME [--add-writer ADDR] [--remove-writer ADDR] [--add-admin ADDR] [--remove-admin ADDR]",
		Short: "Change who may write a name",
		Long: `acl changes the access list of NAME: removals first, then additions, each flag
repeatable. ADDR is a Mycelium address in IPv6 text form, as "mycdnctl keygen"
prints it. Only admins may change the access list, which keeps at least one
admin; to hand a name over, add the new admin, who then removes the old one.`,
		Example: `  mycdnctl name acl site --add-writer 5a3:1b2c:...
  mycdnctl name acl --key-file bob.key site --remove-admin 4f1:...`,
		Args: cli.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			var e names.Edit
			for _, l := range []struct {
				flag string
				in   []string
				out  *[]netip.Addr
			}{
				{"--add-writer", opts.edit.addWriters, &e.AddWriters},
				{"--remove-writer", opts.edit.removeWriters, &e.RemoveWriters},
				{"--add-admin", opts.edit.addAdmins, &e.AddAdmins},
				{"--remove-admin", opts.edit.removeAdmins, &e.RemoveAdmins},
			} {
				for _, s := range l.in {
					p, err := netip.ParseAddr(s)
					if err == nil {
						err = names.CheckPrincipal(p)
					}
					if err != nil {
						return cli.Usagef("%s %q: want a Mycelium address in IPv6 text form, as mycdnctl keygen prints it (%v)", l.flag, s, err)
					}
					*l.out = append(*l.out, p)
				}
			}
			if e.Empty() {
				return cli.Usagef("nothing to change: give --add-writer, --remove-writer, --add-admin or --remove-admin (see --help)")
			}
			return runNameChange(c, opts, args[0], func(ctx context.Context, reg *registryclient.Client, k *xeddsa.PrivateKey) (names.State, error) {
				return reg.EditNameACL(ctx, k, args[0], e)
			})
		},
	}
	addKeyFlag(c, opts)
	f := c.Flags()
	f.StringArrayVar(&opts.edit.addWriters, "add-writer", nil, "let ADDR write the name")
	f.StringArrayVar(&opts.edit.removeWriters, "remove-writer", nil, "take ADDR off the writers")
	f.StringArrayVar(&opts.edit.addAdmins, "add-admin", nil, "make ADDR an admin")
	f.StringArrayVar(&opts.edit.removeAdmins, "remove-admin", nil, "take ADDR off the admins")
	return c
}

func newNameGetCmd(opts *nameOptions) *cobra.Command {
	c := &cobra.Command{
		Use:   "get NAME",
		Short: "Print a name's reference, access list and nonce",
		Long: `get prints the state of NAME: the reference it points at, whether it is
deleted, its nonce, its writers and admins, and its last change. --json prints
the registry's JSON state. A name never set is an error.`,
		Args: cli.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			if err := names.Check(args[0]); err != nil {
				return &cli.UsageError{Err: err}
			}
			_, reg, err := nameRegistry(opts)
			if err != nil {
				return err
			}
			defer reg.Close()
			st, err := reg.Name(c.Context(), args[0])
			if err != nil {
				return err
			}
			return printState(c.OutOrStdout(), st, opts.json)
		},
	}
	c.Flags().BoolVar(&opts.json, "json", false, "print the state as JSON")
	return c
}

// runNameChange checks name, loads the configuration and the key, makes
// the change with change and prints the name's new state.
func runNameChange(c *cobra.Command, opts *nameOptions, name string,
	change func(context.Context, *registryclient.Client, *xeddsa.PrivateKey) (names.State, error)) error {
	if err := names.Check(name); err != nil {
		return &cli.UsageError{Err: err}
	}
	cfg, reg, err := nameRegistry(opts)
	if err != nil {
		return err
	}
	defer reg.Close()
	k, err := signingKey(opts, cfg)
	if err != nil {
		return err
	}
	st, err := change(c.Context(), reg, k)
	if err != nil {
		return err
	}
	return printState(c.OutOrStdout(), st, false)
}

// nameRegistry loads the configuration and returns a client of its
// registry.
func nameRegistry(opts *nameOptions) (*config.Client, *registryclient.Client, error) {
	cfg, err := config.LoadClient(opts.config)
	if err != nil {
		return nil, nil, &cli.UsageError{Err: err}
	}
	if cfg.Metadata.URL == "" {
		return nil, nil, cli.Usagef(`config %s: no registry: set [metadata] kind = "registry" and url = "http://host:port"`, opts.config)
	}
	reg, err := newRegistryClient(cfg)
	if err != nil {
		return nil, nil, &cli.UsageError{Err: err}
	}
	return cfg, reg, nil
}

// signingKey returns the key of --key-file, else the configuration's.
func signingKey(opts *nameOptions, cfg *config.Client) (*xeddsa.PrivateKey, error) {
	if opts.keyFile != "" {
		return readKeyFile(opts.keyFile)
	}
	if sk := cfg.Metadata.WriterX25519SKHex; sk != "" {
		k, err := xeddsa.ParsePrivateKey(strings.TrimSpace(sk))
		if err != nil {
			return nil, cli.Usagef("config %s: metadata.writer_x25519_sk_hex: %v", opts.config, err)
		}
		return &k, nil
	}
	return nil, cli.Usagef("no key to sign with: give --key-file FILE (made by \"mycdnctl keygen\") or set [metadata] writer_x25519_sk_hex in %s", opts.config)
}

// printState prints a name's state as text or as the registry's JSON.
func printState(w io.Writer, st names.State, asJSON bool) error {
	if asJSON {
		b, err := json.Marshal(st)
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(w, "%s\n", b)
		return err
	}
	value := st.Value
	if st.Deleted {
		value = "(deleted)"
	}
	list := func(l []netip.Addr) string {
		if len(l) == 0 {
			return "none"
		}
		s := make([]string, len(l))
		for i, p := range l {
			s[i] = p.String()
		}
		return strings.Join(s, ", ")
	}
	_, err := fmt.Fprintf(w, "name:    %s\nvalue:   %s\nnonce:   %d\nwriters: %s\nadmins:  %s\nlast:    %s by %v\n",
		st.Name, value, st.Nonce, list(st.ACL.Write), list(st.ACL.Admin), st.Op, st.Pub.Address())
	return err
}
