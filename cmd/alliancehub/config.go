package main

// Where a command's flags come from: the command line, ALLIANCEHUB_<FLAG> environment
// variables, and, for the servers (hub, node), a configuration file named by --config
// or ALLIANCEHUB_CONFIG. For each flag the first of these that sets it wins:
//
//	command line  >  ALLIANCEHUB_<FLAG>  >  config file  >  the flag's default
//
// The file holds the flags themselves, one per line (docs/OPERATIONS.md, Configuration):
//
//	# /etc/alliancehub/node-MI.conf: the MIOSHA node
//	program = MI
//	addr    = 127.0.0.1:8401
//	sync-at = 01:30
//
// A key is a flag's name without its dashes; its value is the rest of the line after the
// first '=', spaces trimmed, read exactly as the flag reads it on the command line. A value
// may be written as a double-quoted Go string ("...") to hold a '#' or spaces at its ends.
// Blank lines and lines whose first non-space character is '#' are ignored; a comment
// after a value is refused rather than silently made part of it. Each key appears once,
// "config" not at all. Anything the file gets wrong stops the command with one line
// naming the file, the line and the key (exit status 2), before a server touches its
// data directory.

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"
)

const (
	flagEnvPrefix  = "ALLIANCEHUB_" // flags from the environment (CONTRACT.md)
	configFlagName = "config"       // the flag naming a configuration file
)

// envName is the environment variable of a flag: ALLIANCEHUB_ and the flag's name in
// upper case with '-' as '_' (--sync-at is ALLIANCEHUB_SYNC_AT).
func envName(flagName string) string {
	return flagEnvPrefix + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// addConfigFlag gives a command --config FILE (and so ALLIANCEHUB_CONFIG).
func addConfigFlag(fs *flag.FlagSet) {
	fs.String(configFlagName, "", "configuration file of KEY = VALUE lines, a flag's name and its value each (docs/OPERATIONS.md); flags and ALLIANCEHUB_* variables override it")
}

// origin is where a flag's value came from; the zero origin is the command line or the
// default.
type origin struct {
	env  string // the environment variable, if from there
	file string // the configuration file, if from there ...
	line int    // ... and the line in it
}

// origins holds the origin of each flag set from the environment or a configuration
// file, so that a value the command cannot use is reported where the operator wrote it.
type origins map[string]origin

// badValue is the usage error for a flag value the command cannot use: name's value,
// as shown (quoted if need be), and the problem, said where the value was written.
func (o origins) badValue(name, shown, problem string) error {
	switch src := o[name]; {
	case src.file != "":
		return usageError("%s:%d: %s = %s: %s", src.file, src.line, name, shown, problem)
	case src.env != "":
		return usageError("--%s %s (from %s): %s", name, shown, src.env, problem)
	default:
		return usageError("--%s %s: %s", name, shown, problem)
	}
}

// parseFlags parses args; fills every flag not given on the command line from its
// ALLIANCEHUB_<FLAG> variable, then, when the flag set has --config and it is set, from
// that file; and checks the required flags. It says where each value came from.
func parseFlags(fs *flag.FlagSet, args []string, required ...string) (origins, error) {
	// The flag package prints its error and the whole usage on a mistake; print the
	// usage only when it was asked for, and the mistake as one line (see run).
	printUsage, out := fs.Usage, fs.Output()
	fs.Usage = func() {}
	fs.SetOutput(io.Discard)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fs.SetOutput(out) // the usage lists the flags there
			printUsage()
			return nil, err
		}
		return nil, usageError("%v", err)
	}
	if fs.NArg() > 0 {
		return nil, usageError("unexpected argument %q", fs.Arg(0))
	}
	src := origins{}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		env := envName(f.Name)
		v, ok := os.LookupEnv(env)
		if !ok || set[f.Name] || err != nil {
			return
		}
		if serr := fs.Set(f.Name, v); serr != nil {
			err = usageError("%s=%q: %s", env, v, valueProblem(f, serr))
			return
		}
		set[f.Name] = true
		src[f.Name] = origin{env: env}
	})
	if err != nil {
		return nil, err
	}
	if cf := fs.Lookup(configFlagName); cf != nil && cf.Value.String() != "" {
		if err := readConfig(fs, cf.Value.String(), set, src); err != nil {
			return nil, err
		}
	}
	var missing []string
	for _, r := range required {
		if f := fs.Lookup(r); f != nil && f.Value.String() == "" {
			missing = append(missing, "--"+r)
		}
	}
	if len(missing) > 0 {
		sort.Strings(missing)
		return nil, usageError("missing %s", strings.Join(missing, ", "))
	}
	return src, nil
}

// readConfig sets from the configuration file at path every flag that set does not
// hold yet, and records their origin in src. The whole file is checked, also the lines
// whose flag the command line or the environment overrides.
func readConfig(fs *flag.FlagSet, path string, set map[string]bool, src origins) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return usageError("config file: %v", err)
	}
	first := map[string]int{} // key -> the line it was first given on
	for i, raw := range strings.Split(string(data), "\n") {
		at := fmt.Sprintf("%s:%d", path, i+1)
		line := strings.TrimSpace(raw)
		if line == "" || line[0] == '#' {
			continue
		}
		key, value, ok := strings.Cut(line, "=")
		key, value = strings.TrimSpace(key), strings.TrimSpace(value)
		if !ok || key == "" {
			return usageError("%s: want KEY = VALUE, not %q", at, line)
		}
		if strings.HasPrefix(key, "-") {
			return usageError("%s: key %q: write the flag's name without dashes (%s = ...)", at, key, strings.TrimLeft(key, "-"))
		}
		if key == configFlagName {
			return usageError("%s: key %q: a configuration file cannot name another", at, key)
		}
		f := fs.Lookup(key)
		if f == nil {
			return usageError("%s: unknown key %q (alliancehub %s takes: %s)", at, key, fs.Name(), strings.Join(configKeys(fs), ", "))
		}
		if prev, dup := first[key]; dup {
			return usageError("%s: key %q again (first on line %d)", at, key, prev)
		}
		first[key] = i + 1
		value, err := configValue(value)
		if err != nil {
			return usageError("%s: %s: %v", at, key, err)
		}
		if set[key] { // the command line or the environment wins
			if err := checkValue(f, value); err != nil {
				return usageError("%s: %s = %q: %s", at, key, value, valueProblem(f, err))
			}
			continue
		}
		if err := fs.Set(key, value); err != nil {
			return usageError("%s: %s = %q: %s", at, key, value, valueProblem(f, err))
		}
		src[key] = origin{file: path, line: i + 1}
	}
	return nil
}

// configValue reads a value as written after '=': a double-quoted Go string, or the
// text as it is, which may not be empty nor end in a comment.
func configValue(v string) (string, error) {
	if strings.HasPrefix(v, `"`) {
		s, err := strconv.Unquote(v)
		if err != nil {
			return "", fmt.Errorf("bad quoted value %s (want one double-quoted string, nothing after it)", v)
		}
		return s, nil
	}
	if v == "" {
		return "", errors.New("no value (leave the line out for the default)")
	}
	if strings.Contains(v, " #") || strings.Contains(v, "\t#") {
		return "", fmt.Errorf("value %q holds a comment: put comments on lines of their own (or quote a value that has a '#')", v)
	}
	return v, nil
}

// configKeys are the keys a configuration file may set for fs's command.
func configKeys(fs *flag.FlagSet) []string {
	var keys []string
	fs.VisitAll(func(f *flag.Flag) {
		if f.Name != configFlagName {
			keys = append(keys, f.Name)
		}
	})
	return keys
}

// checkValue reports whether f would take v, without setting it: the typed flags are
// checked, a text flag takes any text.
func checkValue(f *flag.Flag, v string) error {
	g, ok := f.Value.(flag.Getter)
	if !ok {
		return nil
	}
	var err error
	switch g.Get().(type) {
	case bool:
		_, err = strconv.ParseBool(v)
	case int, int64:
		_, err = strconv.ParseInt(v, 0, 64)
	case uint, uint64:
		_, err = strconv.ParseUint(v, 0, 64)
	case float64:
		_, err = strconv.ParseFloat(v, 64)
	case time.Duration:
		_, err = time.ParseDuration(v)
	}
	return err
}

// valueProblem says what a flag wants, for a value it refused.
func valueProblem(f *flag.Flag, err error) string {
	if strings.Contains(err.Error(), "out of range") {
		return "out of range"
	}
	if g, ok := f.Value.(flag.Getter); ok {
		switch g.Get().(type) {
		case bool:
			return "want true or false"
		case int, int64, uint, uint64:
			return "want a whole number"
		case float64:
			return "want a number"
		case time.Duration:
			return "want a duration such as 90s, 30m or 6h"
		}
	}
	return err.Error()
}
