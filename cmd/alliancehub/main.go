// Command alliancehub runs the federal hub, a program's node, or a demo of both, and
// holds the tools operators use with them: keygen, enroll, token, sync, import, roster,
// verify, backup and restore.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	_ "time/tzdata" // program time zones work on machines without a zoneinfo database
)

// command is one subcommand.
type command struct {
	name    string
	summary string
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

var commands = []command{
	{"demo", "start a hub and the FED, MI and NV nodes with sample Alliances, synced", runDemo},
	{"keygen", "write a new Ed25519 private JWK (0600) and print its public JWK", runKeygen},
	{"hub", "run the federal hub", runHub},
	{"node", "run a program's node", runNode},
	{"enroll", "register a program and its public key with the hub (admin)", runEnroll},
	{"token", "mint a bearer token signed by a key", runToken},
	{"sync", "make a node sync with the hub now and print the outcome counts", runSync},
	{"rotate-key", "make a node replace its key, announced to the hub with the old one", runRotateKey},
	{"revoke-key", "revoke a program's key at the hub (admin)", runRevokeKey},
	{"import", "create Alliances on a node from a CSV file", runImport},
	{"roster", "query the national roster", runRoster},
	{"verify", "verify an exported bundle or a signed record offline and say who signed it", runVerify},
	{"backup", "copy a hub's or node's store to a file, while it runs", runBackup},
	{"restore", "put a backup into an empty data directory", runRestore},
	{"bench", "generate signed data and measure a hub: ingest, queries, export, start-up, sync, many programs (load test)", runBench},
	{"healthcheck", "exit 0 if the server at --addr on this machine is ready (for container health checks)", runHealthcheck},
}

// errUsage marks a command-line mistake: exit status 2.
var errUsage = errors.New("usage")

// usageError is a command-line mistake with a message.
func usageError(format string, args ...any) error {
	return fmt.Errorf("%w: %s", errUsage, fmt.Sprintf(format, args...))
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run executes one command line and returns the exit status: 0 success, 1 failure,
// 2 usage error (CONTRACT.md).
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stderr)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	for _, c := range commands {
		if c.name != args[0] {
			continue
		}
		err := c.run(ctx, args[1:], stdout, stderr)
		switch {
		case err == nil:
			return 0
		case errors.Is(err, flag.ErrHelp):
			return 0
		case errors.Is(err, errUsage):
			// One line (CONTRACT.md): the mistake, then where help is.
			msg := strings.TrimPrefix(err.Error(), errUsage.Error()+": ")
			fmt.Fprintf(stderr, "alliancehub %s: %s (run 'alliancehub %s -h' for help)\n", c.name, msg, c.name)
			return 2
		default:
			fmt.Fprintf(stderr, "alliancehub %s: %v\n", c.name, err)
			return 1
		}
	}
	fmt.Fprintf(stderr, "alliancehub: unknown command %q\n", args[0])
	usage(stderr)
	return 2
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "Usage: alliancehub <command> [flags]")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Commands:")
	for _, c := range commands {
		fmt.Fprintf(w, "  %-11s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Every flag may also be set as ALLIANCEHUB_<FLAG> (upper case, - as _);")
	fmt.Fprintln(w, "hub and node also read KEY = VALUE lines from --config FILE (ALLIANCEHUB_CONFIG).")
	fmt.Fprintln(w, "A flag given on the command line wins, then the variable, then the file.")
	fmt.Fprintln(w, "Run 'alliancehub <command> -h' for a command's flags.")
}

// newFlags makes a subcommand's flag set that reports errors instead of exiting.
func newFlags(name, synopsis string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		also := "also ALLIANCEHUB_<FLAG>"
		if fs.Lookup(configFlagName) != nil {
			also += ", or KEY = VALUE in the --config file"
		}
		fmt.Fprintf(stderr, "Usage: alliancehub %s\n\nFlags (%s):\n", synopsis, also)
		fs.PrintDefaults()
	}
	return fs
}

// parse parses args, then fills every flag not given on the command line from its
// ALLIANCEHUB_<FLAG> environment variable (and, for a command with --config, from that
// file: config.go), and checks the required flags.
func parse(fs *flag.FlagSet, args []string, required ...string) error {
	_, err := parseFlags(fs, args, required...)
	return err
}
