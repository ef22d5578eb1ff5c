// Package cli holds what the mycdnctl and mycdnd commands share: running a
// cobra command tree with signal handling, logging and exit codes.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
)

// Exit codes of both commands.
const (
	ExitOK      = 0
	ExitFailure = 1
	ExitUsage   = 2
)

// UsageError marks an error in how a command was called or configured; it
// exits with [ExitUsage].
type UsageError struct{ Err error }

func (e *UsageError) Error() string { return e.Err.Error() }
func (e *UsageError) Unwrap() error { return e.Err }

// Usagef returns a [*UsageError] with a formatted message.
func Usagef(format string, args ...any) error {
	return &UsageError{fmt.Errorf(format, args...)}
}

// Main runs root with the process's arguments, cancelling its context on
// SIGINT or SIGTERM, prints an error to stderr and returns the exit code.
func Main(root *cobra.Command) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return Run(ctx, root, os.Args[1:], os.Stderr)
}

// Run runs root with args and returns the exit code, printing any error to
// stderr. Flag and argument errors exit with [ExitUsage].
func Run(ctx context.Context, root *cobra.Command, args []string, stderr io.Writer) int {
	root.SilenceErrors = true
	root.SilenceUsage = true
	root.SetArgs(args)
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return &UsageError{fmt.Errorf("%w (see %s --help)", err, c.CommandPath())}
	})
	err := root.ExecuteContext(ctx)
	if err == nil {
		return ExitOK
	}
	fmt.Fprintf(stderr, "%s: %v\n", root.Name(), err)
	var usage *UsageError
	if errors.As(err, &usage) {
		return ExitUsage
	}
	return ExitFailure
}

// ExactArgs is cobra.ExactArgs whose error exits with [ExitUsage].
func ExactArgs(n int) cobra.PositionalArgs {
	return func(c *cobra.Command, args []string) error {
		if len(args) != n {
			return Usagef("%s takes %d argument(s), got %d (see --help)", c.CommandPath(), n, len(args))
		}
		return nil
	}
}

// RangeArgs is cobra.RangeArgs whose error exits with [ExitUsage].
func RangeArgs(lo, hi int) cobra.PositionalArgs {
	return func(c *cobra.Command, args []string) error {
		if len(args) < lo || len(args) > hi {
			return Usagef("%s takes %d to %d arguments, got %d (see --help)", c.CommandPath(), lo, hi, len(args))
		}
		return nil
	}
}

// NoArgs rejects any positional argument with [ExitUsage]; on a command with
// subcommands it names the unknown subcommand.
func NoArgs(c *cobra.Command, args []string) error {
	if len(args) > 0 {
		return Usagef("unknown command or argument %q for %s (see --help)", args[0], c.CommandPath())
	}
	return nil
}

// Group makes c a command that only holds subcommands: run alone it prints
// its help; with arguments it fails with a usage error.
func Group(c *cobra.Command) *cobra.Command {
	c.Args = NoArgs
	c.RunE = func(c *cobra.Command, _ []string) error { return c.Help() }
	return c
}

// NewLogger returns a text logger on w at the given level ("debug", "info",
// "warn" or "error").
func NewLogger(w io.Writer, level string) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, Usagef("bad log level %q: want debug, info, warn or error", level)
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: l})), nil
}
