package main

// Backup and restore, with the built binary: backups of a running hub and node taken
// while writes go on, restored into empty directories and served again; a node restored
// from before its last sync whose next edit shows as a conflict on the hub; and every
// way restore refuses.

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alliancehub/alliancehub/internal/journal"
	"github.com/google/go-cmp/cmp"
)

// backupCLI runs `alliancehub backup`, which must succeed, and returns what it printed.
func backupCLI(t *testing.T, data, out string) string {
	t.Helper()
	return cli(t, "backup", "--data", data, "--out", out)
}

// restored is a hub or node process started on a restored data directory.
type restored struct {
	url string
	p   *proc
}

// restoreCLI restores a backup into a new directory under the test's, which must
// succeed, and returns the directory.
func restoreCLI(t *testing.T, in, name string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), name)
	out := cli(t, "restore", "--in", in, "--data", dir)
	if !strings.HasPrefix(out, "restored "+in) {
		t.Errorf("restore printed %q", out)
	}
	return dir
}

func (c *cluster) startRestoredHub(data string) restored {
	c.t.Helper()
	addr := freeAddr(c.t)
	p := startProc(c.t, "restored hub", "hub", "--addr", addr, "--data", data, "--key", c.hubKey)
	p.waitReady(c.t, "http://"+addr)
	return restored{url: "http://" + addr, p: p}
}

// startRestoredNode starts a node on restored data, pointed at hubURL; it never syncs on
// its own during the test.
func (c *cluster) startRestoredNode(data, hubURL string) restored {
	c.t.Helper()
	addr := freeAddr(c.t)
	p := startProc(c.t, "restored node MI", "node", "--program", "MI", "--addr", addr, "--data", data,
		"--key", c.miKey, "--hub", hubURL, "--sync-at", c.syncAt, "--sync-catch-up=false")
	p.waitReady(c.t, "http://"+addr)
	return restored{url: "http://" + addr, p: p}
}

// nodeAlliances is every Alliance a node lists, by id.
func nodeAlliances(t *testing.T, nodeURL, tok string) map[string]map[string]any {
	t.Helper()
	out := map[string]map[string]any{}
	next := ""
	for range 1000 {
		var page struct {
			Items         []map[string]any `json:"items"`
			NextPageToken string           `json:"next_page_token"`
		}
		call(t, http.MethodGet, nodeURL+"/v1/alliances?limit=500&page_token="+url.QueryEscape(next), tok, nil, http.StatusOK, &page)
		for _, it := range page.Items {
			id, _ := it["id"].(string)
			out[id] = it
		}
		if next = page.NextPageToken; next == "" {
			return out
		}
	}
	t.Fatalf("%s/v1/alliances: more than 1000 pages", nodeURL)
	return nil
}

func byID(items []map[string]any) map[string]map[string]any {
	out := map[string]map[string]any{}
	for _, it := range items {
		id, _ := it["id"].(string)
		out[id] = it
	}
	return out
}

// checkBetween asserts a restored set of items (by id) holds every item of before,
// unchanged, and nothing that is not in after, unchanged: one state between the two.
func checkBetween(t *testing.T, what string, before, got, after map[string]map[string]any) {
	t.Helper()
	reported := 0
	report := func(format string, args ...any) {
		if reported++; reported <= 5 {
			t.Errorf(what+": "+format, args...)
		}
	}
	for id, b := range before {
		g, ok := got[id]
		if !ok {
			report("%s, there before the backup, is missing", id)
		} else if diff := cmp.Diff(b, g); diff != "" {
			report("%s differs from before the backup (-before +restored):\n%s", id, diff)
		}
	}
	for id, g := range got {
		a, ok := after[id]
		if !ok {
			report("%s was never there", id)
		} else if diff := cmp.Diff(a, g); diff != "" {
			report("%s differs from after the backup (-after +restored):\n%s", id, diff)
		}
	}
	if reported > 5 {
		t.Errorf("%s: %d differences in all", what, reported)
	}
	if len(got) < len(before) || len(got) > len(after) {
		t.Errorf("%s: %d items; %d before the backup, %d after", what, len(got), len(before), len(after))
	}
}

// writer creates MI Alliances on a node, and asks it to sync now and then, until
// stopped: the writes a backup runs alongside. It must not fail the test from its own
// goroutine, so it keeps its first error.
type writer struct {
	c    *cluster
	quit chan struct{}
	done chan struct{}

	mu     sync.Mutex
	acked  map[string]map[string]any // what the node answered 201 with, by id
	syncs  int
	err    error
	client *http.Client
}

func startWriter(c *cluster) *writer {
	w := &writer{c: c, quit: make(chan struct{}), done: make(chan struct{}), acked: map[string]map[string]any{},
		client: &http.Client{Timeout: httpTimeout}}
	go w.run()
	return w
}

func (w *writer) run() {
	defer close(w.done)
	for i := 1; ; i++ {
		select {
		case <-w.quit:
			return
		default:
		}
		body := map[string]any{
			"participants": []map[string]any{{"name": fmt.Sprintf("Michigan Roofing Contractors Local %d", i)}},
			"goals":        []map[string]any{{"category": outreachCode}},
			"signed_on":    fmt.Sprintf("2024-%02d-%02d", 1+i%12, 1+i%28),
		}
		var got map[string]any
		if err := w.do(http.MethodPost, "/v1/alliances", body, http.StatusCreated, &got); err != nil {
			w.fail(err)
			return
		}
		id, _ := got["id"].(string)
		w.mu.Lock()
		w.acked[id] = got
		w.mu.Unlock()
		if i%4 == 0 {
			if err := w.do(http.MethodPost, "/v1/sync", nil, http.StatusOK, nil); err != nil {
				w.fail(err)
				return
			}
			w.mu.Lock()
			w.syncs++
			w.mu.Unlock()
		}
	}
}

func (w *writer) do(method, path string, body any, want int, out any) error {
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, w.c.nodeURL+path, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+w.c.clerk)
	resp, err := w.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		return fmt.Errorf("%s %s: %d %s", method, path, resp.StatusCode, raw)
	}
	if out != nil {
		return json.Unmarshal(raw, out)
	}
	return nil
}

func (w *writer) fail(err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err == nil {
		w.err = err
	}
}

// snapshot is what the node has acknowledged so far.
func (w *writer) snapshot() (map[string]map[string]any, int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := make(map[string]map[string]any, len(w.acked))
	for k, v := range w.acked {
		out[k] = v
	}
	return out, w.syncs
}

// waitFor waits, bounded, until the writer has made n more Alliances and synced at
// least once more.
func (w *writer) waitFor(t *testing.T, n int) {
	t.Helper()
	start, syncs := w.snapshot()
	deadline := time.Now().Add(watchTimeout)
	for time.Now().Before(deadline) {
		now, s := w.snapshot()
		if len(now) >= len(start)+n && s > syncs {
			return
		}
		w.mu.Lock()
		err := w.err
		w.mu.Unlock()
		if err != nil {
			t.Fatalf("writer: %v", err)
		}
		time.Sleep(watchPoll)
	}
	t.Fatalf("writer: not %d more Alliances and a sync within %s", n, watchTimeout)
}

func (w *writer) stop(t *testing.T) {
	t.Helper()
	close(w.quit)
	select {
	case <-w.done:
	case <-time.After(watchTimeout):
		t.Fatalf("writer still running %s after it was stopped", watchTimeout)
	}
	if w.err != nil {
		t.Fatalf("writer: %v", w.err)
	}
}

// TestBackupRestoreWhileRunning: backups of the running hub and MI node, taken while the
// node takes new Alliances and syncs them, restore into empty directories; the servers
// started on them hold everything acknowledged before the backup, unchanged, and
// nothing that was not acknowledged by the end. Backups taken once the writes stop
// restore to exactly the live hub's roster and the live node's Alliances, replica and
// sync position. A node killed with -9 leaves a stale socket: the backup then copies the
// store itself, and the node started again serves backups on a new socket.
func TestBackupRestoreWhileRunning(t *testing.T) {
	c := startCluster(t)
	c.createMany(miParticipants)
	c.sync()

	w := startWriter(c)
	w.waitFor(t, 10)

	ackedBefore, _ := w.snapshot()
	hubBefore := byID(rosterItems(t, c.hubURL, c.analyst))
	replicaBefore := byID(rosterItems(t, c.nodeURL, c.clerk))
	dir := t.TempDir()
	hubBackup, nodeBackup := filepath.Join(dir, "hub.backup"), filepath.Join(dir, "mi.backup")
	for _, b := range []struct{ data, out string }{{c.hubData, hubBackup}, {c.nodeData, nodeBackup}} {
		out := backupCLI(t, b.data, b.out)
		if !strings.Contains(out, "from the running server") {
			t.Errorf("backup of %s printed %q; want it taken from the running server", b.data, out)
		}
		if fi, err := os.Stat(b.out); err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("backup file %s: %v, %v; want mode 0600", b.out, fi, err)
		}
	}
	w.waitFor(t, 5) // writes go on after the backup, too
	w.stop(t)
	ackedAfter, _ := w.snapshot()
	hubAfter := byID(rosterItems(t, c.hubURL, c.analyst))
	replicaAfter := byID(rosterItems(t, c.nodeURL, c.clerk))

	rh := c.startRestoredHub(restoreCLI(t, hubBackup, "hub-restored"))
	rn := c.startRestoredNode(restoreCLI(t, nodeBackup, "mi-restored"), rh.url)
	checkBetween(t, "restored hub roster", hubBefore, byID(rosterItems(t, rh.url, c.analyst)), hubAfter)
	checkBetween(t, "restored node replica", replicaBefore, byID(rosterItems(t, rn.url, c.clerk)), replicaAfter)
	got := nodeAlliances(t, rn.url, c.clerk)
	for id, a := range ackedBefore {
		var one map[string]any
		call(t, http.MethodGet, rn.url+"/v1/alliances/"+id, c.clerk, nil, http.StatusOK, &one)
		if diff := cmp.Diff(a, one); diff != "" {
			t.Errorf("restored node: %s differs from its 201 answer before the backup (-acknowledged +restored):\n%s", id, diff)
		}
	}
	for id, it := range got {
		if a, ok := ackedAfter[id]; ok && a["rev"] != it["rev"] {
			t.Errorf("restored node: %s at rev %v, acknowledged at %v", id, it["rev"], a["rev"])
		}
	}
	t.Logf("writer's Alliances: %d acknowledged before the backups, %d in the restored node, %d in all; hub roster %d before, %d after",
		len(ackedBefore), len(got)-len(miParticipants), len(ackedAfter), len(hubBefore), len(hubAfter))
	if n := len(got) - len(miParticipants); n < len(ackedBefore) || n > len(ackedAfter) {
		t.Errorf("restored node lists %d Alliances made by the writer; %d acknowledged before the backup, %d in all", n, len(ackedBefore), len(ackedAfter))
	}
	rh.p.kill(t)
	rn.p.kill(t)

	// Quiet: a backup now restores to exactly what the live servers serve.
	c.sync()
	hubBackup2, nodeBackup2 := filepath.Join(dir, "hub2.backup"), filepath.Join(dir, "mi2.backup")
	backupCLI(t, c.hubData, hubBackup2)
	backupCLI(t, c.nodeData, nodeBackup2)
	rh = c.startRestoredHub(restoreCLI(t, hubBackup2, "hub-restored-2"))
	nodeRestored := restoreCLI(t, nodeBackup2, "mi-restored-2")
	rn = c.startRestoredNode(nodeRestored, rh.url)
	liveRoster := rosterItems(t, c.hubURL, c.analyst)
	if diff := cmp.Diff(liveRoster, rosterItems(t, rh.url, c.analyst)); diff != "" {
		t.Errorf("restored hub roster differs from the live one (-live +restored):\n%s", diff)
	}
	if len(liveRoster) != len(miParticipants)+len(ackedAfter) {
		t.Errorf("live roster: %d items, want %d", len(liveRoster), len(miParticipants)+len(ackedAfter))
	}
	if diff := cmp.Diff(rosterItems(t, c.nodeURL, c.clerk), rosterItems(t, rn.url, c.clerk)); diff != "" {
		t.Errorf("restored node replica differs from the live one (-live +restored):\n%s", diff)
	}
	if diff := cmp.Diff(nodeAlliances(t, c.nodeURL, c.clerk), nodeAlliances(t, rn.url, c.clerk)); diff != "" {
		t.Errorf("restored node's Alliances differ from the live node's (-live +restored):\n%s", diff)
	}
	liveSt := nodeStatus(t, c.nodeURL, c.clerk)
	if st := nodeStatus(t, rn.url, c.clerk); st.Checkpoint != liveSt.Checkpoint || st.LastSeq != liveSt.LastSeq || st.PullCheckpoint != liveSt.PullCheckpoint {
		t.Errorf("restored node sync status %+v; live node %+v", st, liveSt)
	}
	rh.p.kill(t)
	rn.p.kill(t)

	// kill -9 leaves the socket behind; the backup copies the store instead.
	c.node.kill(t)
	if fi, err := os.Lstat(filepath.Join(c.nodeData, journal.SocketName)); err != nil || fi.Mode()&os.ModeSocket == 0 {
		t.Fatalf("after kill -9: %v, %v; want the stale socket left behind", fi, err)
	}
	nodeBackup3 := filepath.Join(dir, "mi3.backup")
	if out := backupCLI(t, c.nodeData, nodeBackup3); !strings.Contains(out, "no server was running") {
		t.Errorf("backup of the stopped node printed %q; want it taken from the store", out)
	}
	b2, _ := journal.ReadBackupInfo(nodeBackup2)
	b3, _ := journal.ReadBackupInfo(nodeBackup3)
	if b3.LastSeq != b2.LastSeq || b3.Source != journal.SourceStore {
		t.Errorf("backup of the stopped node: %+v; want source store, journal up to %d", b3, b2.LastSeq)
	}
	c.startNode()
	if out := backupCLI(t, c.nodeData, filepath.Join(dir, "mi4.backup")); !strings.Contains(out, "from the running server") {
		t.Errorf("backup after the restart printed %q; want it taken from the running server", out)
	}
}

// put replaces an Alliance on a node with If-Match and returns the answer.
func put(t *testing.T, nodeURL, tok, id, ifMatch string, body any) map[string]any {
	t.Helper()
	b, _ := json.Marshal(body)
	req, err := http.NewRequest(http.MethodPut, nodeURL+"/v1/alliances/"+id, bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("If-Match", `"`+ifMatch+`"`)
	resp, err := httpClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("PUT %s: %d %s", id, resp.StatusCode, raw)
	}
	var got map[string]any
	if err := json.Unmarshal(raw, &got); err != nil {
		t.Fatal(err)
	}
	return got
}

// TestRestoredNodeConflict: a node restored from a backup older than its last sync
// knows nothing of the edit it synced after the backup. Its next edit of that Alliance
// follows the old revision, and the hub keeps both: the sync counts a conflict, GET
// /v1/conflicts lists both branches with the field they differ in, and the roster
// flags the Alliance. Nothing the hub held is overwritten.
func TestRestoredNodeConflict(t *testing.T) {
	c := startCluster(t)
	a := c.create(miParticipants[0], "2024-05-14")
	c.sync()
	backup := filepath.Join(t.TempDir(), "mi.backup")
	backupCLI(t, c.nodeData, backup)

	edit := func(office, rev string) string {
		body := map[string]any{
			"office":       office,
			"participants": []map[string]any{{"name": miParticipants[0]}},
			"goals":        []map[string]any{{"category": outreachCode}},
			"signed_on":    "2024-05-14",
		}
		got := put(t, c.nodeURL, c.clerk, a.ID, rev, body)
		r, _ := got["rev"].(string)
		return r
	}
	synced := edit("Construction Safety and Health Division", a.Rev)
	if res := c.sync(); res.Accepted != 1 {
		t.Fatalf("sync of the edit: %+v, want 1 accepted", res)
	}

	// The node's disk is lost; it comes back from the backup, which predates the edit.
	c.node.kill(t)
	if err := os.RemoveAll(c.nodeData); err != nil {
		t.Fatal(err)
	}
	cli(t, "restore", "--in", backup, "--data", c.nodeData)
	c.startNode()
	var got map[string]any
	call(t, http.MethodGet, c.nodeURL+"/v1/alliances/"+a.ID, c.clerk, nil, http.StatusOK, &got)
	if got["rev"] != a.Rev {
		t.Fatalf("restored node holds %s at %v, want the backup's %s", a.ID, got["rev"], a.Rev)
	}

	again := edit("Consultation Education and Training Division", a.Rev)
	if again == synced {
		t.Fatal("the second edit has the first one's rev; the test needs two different edits")
	}
	res := c.sync()
	if res.Conflict != 1 || res.Accepted != 0 {
		t.Errorf("sync of the restored node's edit: %+v; want 1 conflict", res)
	}

	var conflicts struct {
		Items []struct {
			ID          string `json:"id"`
			WinningRev  string `json:"winning_rev"`
			Leaves      []struct{ Rev string }
			Differences []struct {
				Field  string         `json:"field"`
				Values map[string]any `json:"values"`
			} `json:"differences"`
		} `json:"items"`
		Total int `json:"total"`
	}
	call(t, http.MethodGet, c.hubURL+"/v1/conflicts", c.analyst, nil, http.StatusOK, &conflicts)
	if conflicts.Total != 1 || len(conflicts.Items) != 1 || conflicts.Items[0].ID != a.ID {
		t.Fatalf("hub conflicts: %+v; want %s listed", conflicts, a.ID)
	}
	cf := conflicts.Items[0]
	var leaves []string
	for _, l := range cf.Leaves {
		leaves = append(leaves, l.Rev)
	}
	if !sameSet(leaves, []string{synced, again}) {
		t.Errorf("conflict leaves %v; want the synced edit %s and the restored node's %s", leaves, synced, again)
	}
	offices := map[string]any{}
	for _, d := range cf.Differences {
		if d.Field == "office" {
			offices = d.Values
		}
	}
	want := map[string]any{synced: "Construction Safety and Health Division", again: "Consultation Education and Training Division"}
	if diff := cmp.Diff(want, offices); diff != "" {
		t.Errorf("conflict differences in office (-want +got):\n%s", diff)
	}
	for _, it := range rosterItems(t, c.hubURL, c.analyst) {
		if it["id"] == a.ID && it["conflict"] != true {
			t.Errorf("roster: %s conflict %v, want true", a.ID, it["conflict"])
		}
	}
	// The node sees it too, from what it pulled.
	var nodeConflicts struct {
		Total int `json:"total"`
	}
	call(t, http.MethodGet, c.nodeURL+"/v1/conflicts", c.clerk, nil, http.StatusOK, &nodeConflicts)
	if nodeConflicts.Total != 1 {
		t.Errorf("node GET /v1/conflicts: total %d, want 1", nodeConflicts.Total)
	}
}

func sameSet(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	m := map[string]int{}
	for _, s := range a {
		m[s]++
	}
	for _, s := range b {
		if m[s]--; m[s] < 0 {
			return false
		}
	}
	return true
}

// TestBackupRestoreRefusals: restore refuses a non-empty directory, a truncated or
// corrupted backup, a file that is no backup and a missing file, and backup refuses what
// it cannot do; each with one line on stderr and status 1 (failure) or 2 (usage), and
// the target directory left as it was.
func TestBackupRestoreRefusals(t *testing.T) {
	binary(t)
	// A small store, not served: backup copies the file itself.
	store := filepath.Join(t.TempDir(), "store")
	s, err := journal.Open(store)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 50 {
		err := s.Update(func(tx *journal.Tx) error {
			_, err := tx.Append(func(uint64) ([]byte, error) { return []byte(strings.Repeat("entry ", 10+i)), nil })
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	s.Close()
	dir := t.TempDir()
	good := filepath.Join(dir, "good.backup")
	if out := backupCLI(t, store, good); !strings.Contains(out, "journal up to sequence 50") {
		t.Errorf("backup printed %q", out)
	}
	raw, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	corrupted := bytes.Clone(raw)
	corrupted[len(corrupted)-100] ^= 0x01
	notEmpty := t.TempDir()
	if err := os.WriteFile(filepath.Join(notEmpty, "alliancehub.db"), []byte("someone's store"), 0o600); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name     string
		args     []string
		data     string // the target, checked unchanged; a new path when empty
		wantCode int
		wantErr  string
	}{
		{"restore: non-empty directory", []string{"restore", "--in", good}, notEmpty, 1, "not empty"},
		{"restore: truncated", []string{"restore", "--in", write("truncated.backup", raw[:len(raw)/2])}, "", 1, "truncated"},
		{"restore: corrupted", []string{"restore", "--in", write("corrupted.backup", corrupted)}, "", 1, "damaged: the SHA-256"},
		{"restore: not a backup", []string{"restore", "--in", write("notes.txt", []byte("meeting notes\n"))}, "", 1, "not an alliancehub backup"},
		{"restore: missing file", []string{"restore", "--in", filepath.Join(dir, "nope.backup")}, "", 2, "does not exist"},
		{"restore: no --in", []string{"restore"}, "", 2, "missing --in"},
		{"backup: missing data directory", []string{"backup", "--out", filepath.Join(dir, "x.backup")}, filepath.Join(dir, "no-such-dir"), 2, "does not exist"},
		{"backup: no store", []string{"backup", "--out", filepath.Join(dir, "x.backup")}, notEmpty + "-empty", 1, "no alliancehub store"},
		{"backup: out in the data directory", []string{"backup", "--out", filepath.Join(store, "copy")}, store, 2, "inside the data directory"},
	}
	if err := os.Mkdir(notEmpty+"-empty", 0o700); err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := tt.data
			if data == "" {
				data = filepath.Join(t.TempDir(), "data")
			}
			before := dirState(t, data)
			res := cliRun(t, "", nil, append(tt.args, "--data", data)...)
			if res.code != tt.wantCode {
				t.Errorf("exit %d, want %d; stderr: %s", res.code, tt.wantCode, res.stderr)
			}
			checkErrorLine(t, res, "alliancehub "+tt.args[0]+": ", tt.wantErr)
			if after := dirState(t, data); after != before {
				t.Errorf("--data %s was %s, is %s", data, before, after)
			}
		})
	}
	if _, err := os.Stat(filepath.Join(dir, "x.backup")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a refused backup left its output: %v", err)
	}

	// The good backup restores, once.
	target := filepath.Join(t.TempDir(), "restored")
	if out := cli(t, "restore", "--in", good, "--data", target); !strings.Contains(out, "journal up to sequence 50") {
		t.Errorf("restore printed %q", out)
	}
	if fi, err := os.Stat(target); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("restored data directory: %v, %v; want mode 0700", fi, err)
	}
	res := cliRun(t, "", nil, "restore", "--in", good, "--data", target)
	if res.code != 1 {
		t.Errorf("restore over a restored store: exit %d, want 1", res.code)
	}
	checkErrorLine(t, res, "alliancehub restore: ", "not empty")
}

// dirState describes what is at p, so a test can tell it was left alone.
func dirState(t *testing.T, p string) string {
	t.Helper()
	fi, err := os.Stat(p)
	if errors.Is(err, os.ErrNotExist) {
		return "absent"
	}
	if err != nil {
		t.Fatal(err)
	}
	if !fi.IsDir() {
		return fmt.Sprintf("a file of %d bytes", fi.Size())
	}
	entries, err := os.ReadDir(p)
	if err != nil {
		t.Fatal(err)
	}
	var parts []string
	for _, e := range entries {
		info, err := e.Info()
		if err != nil {
			t.Fatal(err)
		}
		parts = append(parts, fmt.Sprintf("%s(%d)", e.Name(), info.Size()))
	}
	return "[" + strings.Join(parts, " ") + "]"
}
