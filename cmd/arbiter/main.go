// Command arbiter is Arbiter's one binary: the decision server, the demo,
// and the marketer's, operator's and experiment owner's tools.
package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"syscall"

	"github.com/arbiterhq/arbiter/adapters/redisconn"
)

// Exit codes of every subcommand.
const (
	exitOK    = 0
	exitFail  = 1
	exitUsage = 2
)

// stdio is what a subcommand reads and writes; tests give their own.
type stdio struct {
	In  io.Reader
	Out io.Writer
	Err io.Writer
	// RedisLog routes go-redis's own log lines to the command's logger;
	// main installs it once for the process (nil in tests: go-redis keeps
	// its standard logger).
	RedisLog *redisconn.LogRouter
}

// useLogger sends go-redis's log lines to l.
func (s stdio) useLogger(l *slog.Logger) {
	if s.RedisLog != nil {
		s.RedisLog.Use(l)
	}
}

// command is one subcommand: its name as typed ("rules check"), a line of
// help, and the function that runs it with the arguments after its name.
type command struct {
	name    string
	summary string
	run     func(ctx context.Context, args []string, s stdio) int
}

func commands() []command {
	return []command{
		{"demo", "example rules, generated profiles, embedded Redis and NATS, serving on 127.0.0.1:8080", cmdDemo},
		{"serve", "serve decisions over HTTP", cmdServe},
		{"rules check", "compile and type-check a rules directory", cmdRulesCheck},
		{"rules test", "run the *_test.yaml rule tests of a rules directory", cmdRulesTest},
		{"rules schema", "print the JSON Schema of the rule files (for editors)", cmdRulesSchema},
		{"decide", "an offline decision with its explanation, as JSON", cmdDecide},
		{"profiles import", "import profiles from a JSONL file into Redis", cmdProfilesImport},
		{"profiles get", "show a stored profile and how the schema reads it", cmdProfilesGet},
		{"events tail", "follow decision and outcome events on NATS", cmdEventsTail},
		{"events export", "write the recorded events as JSON lines, the input of replay --events", cmdEventsExport},
		{"experiments report", "per-variant conversion, revenue and uplift of an experiment, or of the holdout", cmdExperimentsReport},
		{"experiments list", "the experiments, layers and holdout of a ruleset", cmdExperimentsList},
		{"learning reset", "delete the learning statistics of offers (all when none is named)", cmdLearningReset},
		{"replay", "decide recorded traffic again with candidate rules: what changes, and the estimated reward", cmdReplay},
		{"simulate", "the learning loop in one process: static, learning and oracle strategies against a truth file", cmdSimulate},
		{"version", "the module version and VCS commit of this binary", cmdVersion},
	}
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	redisLog := redisconn.NewLogRouter(nil)
	redisLog.Install()
	code := run(ctx, os.Args[1:], stdio{In: os.Stdin, Out: os.Stdout, Err: os.Stderr, RedisLog: redisLog})
	stop()
	os.Exit(code)
}

// run finds the subcommand named by the first one or two arguments and runs
// it. A group ("rules", "profiles", ...) without a subcommand lists its
// subcommands; "help CMD" prints CMD's help; an unknown command is a usage
// error.
func run(ctx context.Context, args []string, s stdio) int {
	cmds := commands()
	if c, ok := findCommand(cmds, args); ok {
		return runCommand(ctx, c, args[len(strings.Fields(c.name)):], s)
	}
	if len(args) == 0 {
		usage(s.Err, cmds)
		return exitUsage
	}
	switch args[0] {
	case "--version", "-version":
		return cmdVersion(ctx, nil, s)
	case "help", "-h", "--help", "-help":
		if len(args) == 1 {
			usage(s.Out, cmds)
			return exitOK
		}
		if c, ok := findCommand(cmds, args[1:]); ok {
			return c.run(ctx, []string{"--help"}, s)
		}
		if group := groupOf(cmds, args[1]); len(group) > 0 {
			groupUsage(s.Out, args[1], group)
			return exitOK
		}
		fmt.Fprintf(s.Err, "arbiter help: unknown command %q\n\n", strings.Join(args[1:], " "))
		usage(s.Err, cmds)
		return exitUsage
	}
	if group := groupOf(cmds, args[0]); len(group) > 0 {
		switch {
		case len(args) == 1:
			fmt.Fprintf(s.Err, "arbiter %s: name a subcommand\n\n", args[0])
		case args[1] == "-h" || args[1] == "--help" || args[1] == "-help" || args[1] == "help":
			groupUsage(s.Out, args[0], group)
			return exitOK
		default:
			fmt.Fprintf(s.Err, "arbiter %s: unknown subcommand %q\n\n", args[0], args[1])
		}
		groupUsage(s.Err, args[0], group)
		return exitUsage
	}
	fmt.Fprintf(s.Err, "arbiter: unknown command %q\n\n", strings.Join(args, " "))
	usage(s.Err, cmds)
	return exitUsage
}

// runCommand runs c. A panic in it is a failure (exit 1, with the panic
// and its stack on stderr), not Go's exit 2, which a script would read as
// a usage error.
func runCommand(ctx context.Context, c command, args []string, s stdio) (code int) {
	defer func() {
		if r := recover(); r != nil {
			fmt.Fprintf(s.Err, "arbiter %s: internal error (a bug in Arbiter, please report it): %v\n%s", c.name, r, debug.Stack())
			code = exitFail
		}
	}()
	return c.run(ctx, args, s)
}

// findCommand finds the command named by the first words of args.
func findCommand(cmds []command, args []string) (command, bool) {
	for _, c := range cmds {
		words := strings.Fields(c.name)
		if len(args) >= len(words) && strings.Join(args[:len(words)], " ") == c.name {
			return c, true
		}
	}
	return command{}, false
}

// groupOf lists the subcommands of a group ("rules": rules check, rules
// test, ...); none when name is not a group.
func groupOf(cmds []command, name string) []command {
	var out []command
	for _, c := range cmds {
		if first, _, two := strings.Cut(c.name, " "); two && first == name {
			out = append(out, c)
		}
	}
	return out
}

// groupUsage lists a group's subcommands.
func groupUsage(w io.Writer, name string, group []command) {
	fmt.Fprintf(w, "Usage: arbiter %s SUBCOMMAND [flags]   (arbiter %s SUBCOMMAND --help for its flags)\n", name, name)
	fmt.Fprintln(w, "\nSubcommands:")
	for _, c := range group {
		fmt.Fprintf(w, "  %-20s %s\n", c.name, c.summary)
	}
}

func usage(w io.Writer, cmds []command) {
	fmt.Fprintln(w, "Arbiter: real-time marketing decisions from rule files.")
	fmt.Fprintln(w, "\nUsage: arbiter COMMAND [flags]   (arbiter help COMMAND, or arbiter COMMAND --help, for a command's flags)")
	fmt.Fprintln(w, "\nCommands:")
	for _, c := range cmds {
		fmt.Fprintf(w, "  %-20s %s\n", c.name, c.summary)
	}
}
