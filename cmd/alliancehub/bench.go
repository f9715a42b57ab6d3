package main

// alliancehub bench: the load command of issue 7. It generates signed data at a given
// scale, runs the scenarios against real servers on loopback (or a running hub), measures
// the raw Ed25519 verification rate in the same run, and prints each figure with its
// target and its ratio to the target.

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"runtime"
	"runtime/pprof"
	"slices"
	"strings"
	"time"
)

// benchScenarios are the scenarios in the order they run.
var benchScenarios = []string{"ingest", "query", "export", "startup", "sync", "federation"}

// benchOptions are the command's flags.
type benchOptions struct {
	scenarios        []string
	records          int
	programs         int
	syncRecords      int
	syncChange       float64
	clients          int
	duration         time.Duration
	verifyTime       time.Duration
	fedPrograms      int
	fedBatches       int
	fedBatchRecords  int
	dataDir          string
	hubURL, hubToken string
	jsonOut          bool
	seed             uint64
	linkEvery        int
	writePrograms    string
	batchRecords     int
	cpuProfile       string
}

func runBench(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("bench", "bench [--scenarios LIST] [--records N] [--programs N] [--clients N] [--duration DUR] [--data DIR] [--json] [--hub URL --token TOKEN]", stderr)
	scen := fs.String("scenarios", "all", "comma-separated: "+strings.Join(benchScenarios, ", ")+", or all")
	o := benchOptions{}
	fs.IntVar(&o.records, "records", 100_000, "records on the hub for ingest, query, export and start-up (Alliances, about one in ten a report)")
	fs.IntVar(&o.programs, "programs", 8, "programs pushing at once in ingest: FED, MI, NV, then generated ones (P0001, ...)")
	fs.IntVar(&o.syncRecords, "sync-records", 0, "records the node holds in the sync scenario (default: --records)")
	fs.Float64Var(&o.syncChange, "sync-change", 0.01, "share of the node's records changed for the incremental sync")
	fs.IntVar(&o.clients, "clients", 16, "concurrent HTTP clients in the query scenario")
	fs.DurationVar(&o.duration, "duration", 10*time.Second, "how long the query scenario runs (after a warm-up of a tenth of it)")
	fs.DurationVar(&o.verifyTime, "verify-time", 2*time.Second, "how long each raw Ed25519 measurement runs (one core, then all cores)")
	fs.IntVar(&o.fedPrograms, "federation-programs", 1000, "programs syncing at once in the federation scenario")
	fs.IntVar(&o.fedBatches, "federation-batches", 3, "batches each program pushes in the federation scenario")
	fs.IntVar(&o.fedBatchRecords, "federation-batch-records", 10, "records in each federation batch")
	fs.StringVar(&o.dataDir, "data", "", "directory for generated data and the servers' stores (default: a temporary one, removed at exit)")
	fs.StringVar(&o.hubURL, "hub", "", "run against this running hub instead of one started here (start-up is then skipped)")
	fs.StringVar(&o.hubToken, "token", "", "with --hub: an admin token signed by that hub's key (to enroll the bench's program keys)")
	fs.BoolVar(&o.jsonOut, "json", false, "print the report as one JSON object")
	fs.Uint64Var(&o.seed, "seed", 1, "seed of the generated content (ids are random)")
	fs.IntVar(&o.linkEvery, "link-every", 200, "every Nth Alliance of each ingest program shares a partner with the others, so some link across programs; 0: none")
	fs.StringVar(&o.writePrograms, "write-programs", "", "only write the generated program definitions the bench needs (for --programs and --federation-programs) to FILE, for a hub started with --programs FILE, and exit")
	fs.StringVar(&o.cpuProfile, "cpuprofile", "", "write a CPU profile of each scenario's measured part (not of data generation) to PREFIX-SCENARIO.pprof, for go tool pprof; an in-process hub's work is in it")
	fs.IntVar(&o.batchRecords, "batch-records", 500, "at most this many records in one ingest push batch (1 to 500; also at most 1 MiB of records)")
	if err := parse(fs, args); err != nil {
		return err
	}
	var err error
	if o.scenarios, err = parseScenarios(*scen); err != nil {
		return err
	}
	if err := o.check(); err != nil {
		return err
	}
	if o.writePrograms != "" {
		n := max(o.programs-len(builtinPrograms), o.fedPrograms)
		if err := writeBenchPrograms(o.writePrograms, n); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "wrote %d program definitions (%s to %s) to %s\n", n, benchProgramCode(1), benchProgramCode(n), o.writePrograms)
		return nil
	}
	if o.dataDir == "" {
		if o.dataDir, err = os.MkdirTemp("", "alliancehub-bench-"); err != nil {
			return err
		}
		defer os.RemoveAll(o.dataDir)
	} else if err := os.MkdirAll(o.dataDir, 0o755); err != nil {
		return err
	}
	b := &bench{opt: o, stdout: stdout, stderr: stderr,
		log: slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelError}))}
	b.report = newBenchReport(o)
	if !o.jsonOut {
		b.printHeader()
	}
	runErr := b.run(ctx)
	if runErr != nil {
		b.report.Failure = runErr.Error()
	}
	if o.jsonOut {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(b.report); err != nil {
			return err
		}
	} else {
		b.printFooter()
	}
	switch {
	case runErr != nil:
		return runErr
	case b.report.Errors > 0:
		return fmt.Errorf("%d error(s) in the scenarios (the report lists them)", b.report.Errors)
	}
	return nil
}

// builtinPrograms are the programs every hub knows; ingest takes them first.
var builtinPrograms = []string{"FED", "MI", "NV"}

func parseScenarios(s string) ([]string, error) {
	if strings.TrimSpace(s) == "all" {
		return benchScenarios, nil
	}
	var out []string
	for _, name := range strings.Split(s, ",") {
		name = strings.TrimSpace(name)
		if name == "" {
			continue
		}
		if !slices.Contains(benchScenarios, name) {
			return nil, usageError("--scenarios: %q is not one of %s, all", name, strings.Join(benchScenarios, ", "))
		}
		if !slices.Contains(out, name) {
			out = append(out, name)
		}
	}
	if len(out) == 0 {
		return nil, usageError("--scenarios: name at least one of %s, or all", strings.Join(benchScenarios, ", "))
	}
	// Run in the fixed order, whatever the order given.
	slices.SortFunc(out, func(a, b string) int { return slices.Index(benchScenarios, a) - slices.Index(benchScenarios, b) })
	return out, nil
}

func (o *benchOptions) check() error {
	switch {
	case o.records < 1:
		return usageError("--records must be at least 1")
	case o.programs < 1 || o.programs-len(builtinPrograms) > maxBenchPrograms:
		return usageError("--programs must be 1 to %d", maxBenchPrograms+len(builtinPrograms))
	case o.records < o.programs:
		return usageError("--records (%d) must be at least --programs (%d)", o.records, o.programs)
	case o.syncRecords < 0:
		return usageError("--sync-records must not be negative")
	case o.syncChange <= 0 || o.syncChange > 1:
		return usageError("--sync-change must be more than 0 and at most 1")
	case o.clients < 1:
		return usageError("--clients must be at least 1")
	case o.duration <= 0 || o.verifyTime <= 0:
		return usageError("--duration and --verify-time must be positive")
	case o.fedPrograms < 1 || o.fedPrograms > maxBenchPrograms:
		return usageError("--federation-programs must be 1 to %d", maxBenchPrograms)
	case o.fedBatches < 1 || o.fedBatchRecords < 1 || o.fedBatchRecords > 500:
		return usageError("--federation-batches must be at least 1 and --federation-batch-records 1 to 500")
	case o.batchRecords < 1 || o.batchRecords > 500:
		return usageError("--batch-records must be 1 to 500")
	case o.linkEvery < 0:
		return usageError("--link-every must not be negative")
	case (o.hubURL == "") != (o.hubToken == ""):
		return usageError("--hub and --token go together: a running hub and an admin token for it")
	}
	if o.syncRecords == 0 {
		o.syncRecords = o.records
	}
	return nil
}

// bench is one run of the command.
type bench struct {
	opt    benchOptions
	stdout io.Writer
	stderr io.Writer
	log    *slog.Logger
	report *benchReport

	verified             bool       // the raw Ed25519 rate is measured
	verifyOne, verifyAll verifyRate // on one core, on all
}

// benchReport is what the command prints: with --json exactly this object.
type benchReport struct {
	Machine   benchMachine   `json:"machine"`
	Settings  map[string]any `json:"settings"`
	Generated []benchGenStep `json:"generated"`
	Figures   []benchFigure  `json:"figures"`
	Skipped   []benchSkip    `json:"skipped,omitempty"`
	Errors    int            `json:"errors"`
	// ErrorSamples are the first errors met, for a look without the logs.
	ErrorSamples []string `json:"error_samples,omitempty"`
	Notes        []string `json:"notes,omitempty"`
	Failure      string   `json:"failure,omitempty"` // the run stopped early
}

type benchMachine struct {
	CPUs       int     `json:"cpus"`
	GOMAXPROCS int     `json:"gomaxprocs"`
	Go         string  `json:"go"`
	OSArch     string  `json:"os_arch"`
	CPUModel   string  `json:"cpu_model,omitempty"`
	LoadAvg    string  `json:"load_average_at_start,omitempty"`
	MemoryGiB  float64 `json:"memory_gib,omitempty"`
	Hub        string  `json:"hub"` // "in-process" or the URL
}

// benchGenStep is data made before a scenario, not counted in its figures.
type benchGenStep struct {
	Scenario  string  `json:"scenario"`
	What      string  `json:"what"`
	Records   int     `json:"records"`
	Seconds   float64 `json:"seconds"`
	PerSecond float64 `json:"per_second"`
}

type benchSkip struct {
	Scenario string `json:"scenario"`
	Reason   string `json:"reason"`
}

// benchFigure is one measured figure, with its target where the issue sets one.
type benchFigure struct {
	Scenario string  `json:"scenario"`
	Name     string  `json:"name"`
	Value    float64 `json:"value"`
	Unit     string  `json:"unit"`
	// Target is the target as text ("< 2 ms"); TargetOp and TargetValue the same as data.
	// Ratio is Value / TargetValue; Met says whether the target is met.
	Target      string  `json:"target,omitempty"`
	TargetOp    string  `json:"target_op,omitempty"`
	TargetValue float64 `json:"target_value,omitempty"`
	Ratio       float64 `json:"ratio,omitempty"`
	Met         *bool   `json:"met,omitempty"`
	Note        string  `json:"note,omitempty"`
}

func newBenchReport(o benchOptions) *benchReport {
	r := &benchReport{
		Machine: benchMachine{CPUs: runtime.NumCPU(), GOMAXPROCS: runtime.GOMAXPROCS(0), Go: runtime.Version(),
			OSArch: runtime.GOOS + "/" + runtime.GOARCH, CPUModel: cpuModel(), LoadAvg: loadAvg(), MemoryGiB: memoryGiB(), Hub: "in-process"},
		Settings: map[string]any{
			"scenarios": o.scenarios, "records": o.records, "programs": o.programs, "sync_records": o.syncRecords,
			"sync_change": o.syncChange, "clients": o.clients, "duration": o.duration.String(),
			"verify_time": o.verifyTime.String(), "federation_programs": o.fedPrograms,
			"federation_batches": o.fedBatches, "federation_batch_records": o.fedBatchRecords,
			"seed": o.seed, "link_every": o.linkEvery, "batch_records": o.batchRecords,
		},
		Generated: []benchGenStep{},
		Figures:   []benchFigure{},
	}
	if o.hubURL != "" {
		r.Machine.Hub = o.hubURL
	}
	return r
}

// figure adds a figure without a target.
func (b *bench) figure(scenario, name string, value float64, unit, note string) {
	b.add(benchFigure{Scenario: scenario, Name: name, Value: value, Unit: unit, Note: note})
}

// target adds a figure with a target: op is "<", "<=", ">" or ">=", or "=" for a count
// that must be exactly the target.
func (b *bench) target(scenario, name string, value float64, unit, op string, target float64, targetText, note string) {
	f := benchFigure{Scenario: scenario, Name: name, Value: value, Unit: unit, TargetOp: op, TargetValue: target, Note: note}
	if targetText == "" {
		targetText = op + " " + fmtValue(target, unit)
	}
	f.Target = targetText
	if target != 0 {
		f.Ratio = value / target
	}
	var met bool
	switch op {
	case "<":
		met = value < target
	case "<=":
		met = value <= target
	case ">":
		met = value > target
	case ">=":
		met = value >= target
	case "=":
		met = value == target
	}
	f.Met = &met
	b.add(f)
}

func (b *bench) add(f benchFigure) {
	// JSON has no NaN or infinity: a figure that could not be computed (nothing was
	// timed) is 0, and says so.
	for _, v := range []*float64{&f.Value, &f.Ratio} {
		if math.IsNaN(*v) || math.IsInf(*v, 0) {
			*v = 0
			f.Met = nil
			f.Note = strings.TrimSpace("not measurable in this run; " + f.Note)
		}
	}
	b.report.Figures = append(b.report.Figures, f)
	if !b.opt.jsonOut {
		b.printFigure(f)
	}
}

// fail counts errors of a scenario and keeps the first few.
func (b *bench) fail(scenario string, errs ...string) {
	b.report.Errors += len(errs)
	for _, e := range errs {
		if len(b.report.ErrorSamples) < 20 {
			b.report.ErrorSamples = append(b.report.ErrorSamples, scenario+": "+e)
		}
	}
}

func (b *bench) skip(scenario, reason string) {
	b.report.Skipped = append(b.report.Skipped, benchSkip{Scenario: scenario, Reason: reason})
	if !b.opt.jsonOut {
		fmt.Fprintf(b.stdout, "%-10s skipped: %s\n", scenario, reason)
	}
}

func (b *bench) note(format string, args ...any) {
	b.report.Notes = append(b.report.Notes, fmt.Sprintf(format, args...))
}

// generated records data made for a scenario (not measured).
func (b *bench) generated(scenario, what string, records int, d time.Duration) {
	s := benchGenStep{Scenario: scenario, What: what, Records: records, Seconds: d.Seconds(), PerSecond: float64(records) / d.Seconds()}
	b.report.Generated = append(b.report.Generated, s)
	if !b.opt.jsonOut {
		fmt.Fprintf(b.stdout, "%-10s prepared: %s: %s in %.1f s (%s/s; not counted in the figures)\n",
			scenario, what, fmtCount(float64(records)), s.Seconds, fmtCount(s.PerSecond))
	}
}

// profile starts a CPU profile of a scenario's measured part, with --cpuprofile, and
// returns what stops it.
func (b *bench) profile(scenario string) (stop func()) {
	if b.opt.cpuProfile == "" {
		return func() {}
	}
	path := b.opt.cpuProfile + "-" + scenario + ".pprof"
	f, err := os.Create(path)
	if err == nil {
		err = pprof.StartCPUProfile(f)
	}
	if err != nil {
		b.note("CPU profile %s: %v", path, err)
		if f != nil {
			f.Close()
		}
		return func() {}
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
		b.progress("CPU profile of %s in %s", scenario, path)
	}
}

// progress says what the run is doing, on stderr.
func (b *bench) progress(format string, args ...any) {
	fmt.Fprintf(b.stderr, "bench: "+format+"\n", args...)
}

func (b *bench) selected(s string) bool { return slices.Contains(b.opt.scenarios, s) }

func (b *bench) printHeader() {
	m := b.report.Machine
	fmt.Fprintf(b.stdout, "alliancehub bench: %s records, %d programs; scenarios %s\n",
		fmtCount(float64(b.opt.records)), b.opt.programs, strings.Join(b.opt.scenarios, ", "))
	fmt.Fprintf(b.stdout, "machine: %d CPUs (GOMAXPROCS %d) %s, %.0f GiB, %s %s; load average at start %s; hub %s\n",
		m.CPUs, m.GOMAXPROCS, m.CPUModel, m.MemoryGiB, m.Go, m.OSArch, m.LoadAvg, m.Hub)
	fmt.Fprintln(b.stdout, "figures are lower bounds when other work shares the CPUs; ratio is value / target")
	fmt.Fprintln(b.stdout)
}

func (b *bench) printFigure(f benchFigure) {
	target, ratio, met := "", "", ""
	if f.Target != "" {
		target = "target " + f.Target
		if f.Ratio != 0 {
			ratio = fmt.Sprintf("ratio %.2f", f.Ratio)
		}
		met = "MISSED"
		if f.Met != nil && *f.Met {
			met = "met"
		}
	}
	line := fmt.Sprintf("%-10s %-48s %18s  %-28s %-11s %-6s", f.Scenario, f.Name, fmtValue(f.Value, f.Unit), target, ratio, met)
	if f.Note != "" {
		line += " " + f.Note
	}
	fmt.Fprintln(b.stdout, strings.TrimRight(line, " "))
}

func (b *bench) printFooter() {
	fmt.Fprintln(b.stdout)
	for _, n := range b.report.Notes {
		fmt.Fprintf(b.stdout, "note: %s\n", n)
	}
	for _, e := range b.report.ErrorSamples {
		fmt.Fprintf(b.stdout, "error: %s\n", e)
	}
	if b.report.Failure != "" {
		fmt.Fprintf(b.stdout, "stopped: %s\n", b.report.Failure)
	}
	fmt.Fprintf(b.stdout, "errors: %d\n", b.report.Errors)
}

// fmtValue writes a value with its unit, readable at any size.
func fmtValue(v float64, unit string) string {
	switch unit {
	case "ms", "s", "µs", "ratio", "index", "MiB", "cores":
		switch {
		case v == 0:
			return "0 " + unit
		case math.Abs(v) >= 100:
			return fmt.Sprintf("%.0f %s", v, unit)
		case math.Abs(v) >= 10:
			return fmt.Sprintf("%.1f %s", v, unit)
		case math.Abs(v) >= 1:
			return fmt.Sprintf("%.2f %s", v, unit)
		}
		return fmt.Sprintf("%.3f %s", v, unit)
	}
	return fmtCount(v) + " " + unit
}

// fmtCount writes a number with thousands separators (12,345).
func fmtCount(v float64) string {
	neg := v < 0
	s := fmt.Sprintf("%.0f", math.Abs(v))
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	if neg {
		return "-" + s
	}
	return s
}

// cpuModel is the processor's name, where the system says (Linux).
func cpuModel() string {
	data, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return ""
	}
	for _, line := range strings.Split(string(data), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

func loadAvg() string {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(data))
	if len(f) < 3 {
		return ""
	}
	return strings.Join(f[:3], " ")
}

func memoryGiB() float64 {
	data, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0
	}
	var kb float64
	for _, line := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(line, "MemTotal:") {
			fmt.Sscanf(strings.TrimPrefix(line, "MemTotal:"), "%f", &kb)
		}
	}
	return math.Round(kb/1024/1024*10) / 10
}
