package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/spf13/cobra"

	"github.com/mycdn/mycdn/cmd/internal/cli"
	"github.com/mycdn/mycdn/internal/config"
)

func newInitCmd() *cobra.Command {
	var force bool
	c := &cobra.Command{
		Use:   "init [PATH]",
		Short: "Write a commented starter configuration",
		Long: `init writes a commented configuration to PATH (default: $MYCDN_CONFIG, or
./config.toml). Its values match the servers that "mycdnd dev" starts, so it
works as it is for local use; edit the backends and the registry for a real
network. An existing file is kept unless --force is given.`,
		Args: cli.RangeArgs(0, 1),
		RunE: func(c *cobra.Command, args []string) error {
			path := config.DefaultClientPath()
			if len(args) == 1 {
				path = args[0]
			}
			flags := os.O_WRONLY | os.O_CREATE | os.O_EXCL
			if force {
				flags = os.O_WRONLY | os.O_CREATE | os.O_TRUNC
			}
			f, err := os.OpenFile(path, flags, 0o600)
			if errors.Is(err, fs.ErrExist) {
				return cli.Usagef("%s exists: keep it, or overwrite it with --force", path)
			}
			if err != nil {
				return err
			}
			if _, err := f.Write(config.StarterClient); err != nil {
				f.Close()
				return err
			}
			if err := f.Close(); err != nil {
				return err
			}
			fmt.Fprintf(c.ErrOrStderr(), "wrote %s\n", path)
			return nil
		},
	}
	c.Flags().BoolVar(&force, "force", false, "overwrite an existing file")
	return c
}
