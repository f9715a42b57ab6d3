package journal

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// openStore opens a journal in dir and closes it when the test ends (again is harmless).
func openStore(t *testing.T, dir string) *Store {
	t.Helper()
	s, err := Open(dir)
	if err != nil {
		t.Fatalf("Open(%s): %v", dir, err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func appendValue(s *Store, v string) (uint64, error) {
	var seq uint64
	err := s.Update(func(tx *Tx) error {
		var err error
		seq, err = tx.Append(func(uint64) ([]byte, error) { return []byte(v), nil })
		return err
	})
	return seq, err
}

// logOf is every log entry of the store in dir (opened, read and closed).
func logOf(t *testing.T, dir string) []string {
	t.Helper()
	s, err := Open(dir)
	if err != nil {
		t.Fatalf("open the restored store: %v", err)
	}
	defer s.Close()
	var got []string
	err = s.View(func(tx *Tx) error {
		return tx.Scan(0, func(seq uint64, v []byte) error {
			if want := fmt.Sprintf("entry %d", seq); string(v) != want {
				return fmt.Errorf("entry %d holds %q, want %q", seq, v, want)
			}
			got = append(got, string(v))
			return nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// TestBackupWhileWriting: backups taken over the socket while a writer appends hold
// every entry committed before the backup began, then nothing but a prefix of what
// followed: one consistent state. Once the server stops, the socket is gone and the
// backup is taken from the file.
func TestBackupWhileWriting(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir)
	stop := s.ServeBackups(nil)
	if fi, err := os.Lstat(filepath.Join(dir, SocketName)); err != nil || fi.Mode()&os.ModeSocket == 0 || fi.Mode().Perm() != 0o600 {
		t.Fatalf("socket: %v, %v; want a socket with mode 0600", fi, err)
	}

	var committed atomic.Uint64
	quit := make(chan struct{})
	var wg sync.WaitGroup
	var werr error
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 1; ; i++ {
			select {
			case <-quit:
				return
			default:
			}
			seq, err := appendValue(s, fmt.Sprintf("entry %d", i))
			if err != nil || seq != uint64(i) {
				werr = fmt.Errorf("append %d: seq %d, %v", i, seq, err)
				return
			}
			committed.Store(seq)
		}
	}()
	for committed.Load() < 20 {
		time.Sleep(time.Millisecond)
	}
	for i := range 5 {
		before := committed.Load()
		out := filepath.Join(t.TempDir(), "b")
		info, err := WriteBackup(context.Background(), dir, out)
		if err != nil {
			t.Fatalf("backup %d: %v", i, err)
		}
		after := committed.Load()
		if info.Source != SourceServer {
			t.Errorf("backup %d: source %q, want %q", i, info.Source, SourceServer)
		}
		if fi, err := os.Stat(out); err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("backup file: %v, %v; want mode 0600", fi, err)
		}
		rdir := filepath.Join(t.TempDir(), "restored")
		rinfo, err := Restore(out, rdir)
		if err != nil {
			t.Fatalf("restore %d: %v", i, err)
		}
		if rinfo != info {
			t.Errorf("restore %d read the header %+v, backup wrote %+v", i, rinfo, info)
		}
		got := logOf(t, rdir)
		if n := uint64(len(got)); n < before || n > after+1 || n != info.LastSeq {
			t.Errorf("backup %d holds entries 1..%d (header: %d); committed before it %d, after it %d", i, n, info.LastSeq, before, after)
		}
	}
	close(quit)
	wg.Wait()
	if werr != nil {
		t.Fatal(werr)
	}

	stop()
	if _, err := os.Lstat(filepath.Join(dir, SocketName)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("socket after stop: %v, want it removed", err)
	}
	s.Close()
	out := filepath.Join(t.TempDir(), "b")
	info, err := WriteBackup(context.Background(), dir, out)
	if err != nil {
		t.Fatal(err)
	}
	if info.Source != SourceStore || info.LastSeq != committed.Load() {
		t.Errorf("backup of the closed store: %+v; want source %q up to %d", info, SourceStore, committed.Load())
	}
	rdir := filepath.Join(t.TempDir(), "r")
	if _, err := Restore(out, rdir); err != nil {
		t.Fatal(err)
	}
	if n := uint64(len(logOf(t, rdir))); n != committed.Load() {
		t.Errorf("restored %d entries, want %d", n, committed.Load())
	}
}

// TestStaleSocket: a socket left by a server that was killed does not stop a backup of
// the closed store, and is replaced by the next server.
func TestStaleSocket(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir)
	appendValue(s, "entry 1")
	s.Close()
	sock := filepath.Join(dir, SocketName)
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: sock, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	ln.SetUnlinkOnClose(false)
	ln.Close() // as a kill -9 leaves it: the file, nobody listening

	info, err := WriteBackup(context.Background(), dir, filepath.Join(t.TempDir(), "b"))
	if err != nil || info.Source != SourceStore {
		t.Fatalf("backup beside a stale socket: %+v, %v; want one from the store", info, err)
	}

	s = openStore(t, dir)
	stop := s.ServeBackups(nil)
	defer stop()
	info, err = WriteBackup(context.Background(), dir, filepath.Join(t.TempDir(), "b"))
	if err != nil || info.Source != SourceServer || info.LastSeq != 1 {
		t.Fatalf("backup once the server replaced the stale socket: %+v, %v", info, err)
	}
}

// TestNoSocket: a store held by a server without a socket (here: a file in the socket's
// place) cannot be backed up, and WriteBackup says so after a bounded wait.
func TestNoSocket(t *testing.T) {
	defer func(d time.Duration) { lockedWait = d }(lockedWait)
	lockedWait = 500 * time.Millisecond
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, SocketName), []byte("not a socket"), 0o600); err != nil {
		t.Fatal(err)
	}
	s := openStore(t, dir)
	var logged bytes.Buffer
	stop := s.ServeBackups(newTestLogger(&logged))
	defer stop()
	if !strings.Contains(logged.String(), "is not a socket") {
		t.Errorf("log %q; want it to say the socket's place is taken", logged.String())
	}
	out := filepath.Join(t.TempDir(), "b")
	_, err := WriteBackup(context.Background(), dir, out)
	if !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), "does not answer") {
		t.Errorf("backup: %v; want ErrLocked saying the server does not answer", err)
	}
	if entries, _ := os.ReadDir(filepath.Dir(out)); len(entries) != 0 {
		t.Errorf("a failed backup left %v", entries)
	}
}

// TestBackupLongPath: a data directory whose socket path is too long for a socket
// address still serves backups (Linux: through /proc/self/fd).
func TestBackupLongPath(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the long-path fallback is Linux's")
	}
	dir := filepath.Join(t.TempDir(), strings.Repeat("d", 60), strings.Repeat("e", 60))
	s := openStore(t, dir)
	appendValue(s, "entry 1")
	stop := s.ServeBackups(nil)
	defer stop()
	info, err := WriteBackup(context.Background(), dir, filepath.Join(t.TempDir(), "b"))
	if err != nil || info.Source != SourceServer {
		t.Fatalf("backup: %+v, %v; want one from the server", info, err)
	}
}

// TestStopEndsStalledCopy: a client that asks for a backup and stops reading does not
// keep the server from stopping (nor its store from closing).
func TestStopEndsStalledCopy(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir)
	// Enough entries that the copy does not fit in the socket's buffers.
	err := s.Update(func(tx *Tx) error {
		for range 2000 {
			if _, err := tx.Append(func(uint64) ([]byte, error) { return bytes.Repeat([]byte("x"), 1000), nil }); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	stop := s.ServeBackups(nil)
	conn, err := net.Dial("unix", filepath.Join(dir, SocketName))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	io.WriteString(conn, socketRequest)
	if line, err := bufio.NewReader(conn).ReadString('\n'); err != nil || !strings.Contains(line, `"size"`) {
		t.Fatalf("reply %q, %v", line, err)
	}
	done := make(chan struct{})
	go func() {
		stop()
		s.Close()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("stop and Close still waiting for a stalled copy after 5s")
	}
}

// TestUnknownRequest: anything but the request is answered with an error line.
func TestUnknownRequest(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir)
	stop := s.ServeBackups(nil)
	defer stop()
	conn, err := net.Dial("unix", filepath.Join(dir, SocketName))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	io.WriteString(conn, "GET / HTTP/1.1\r\n")
	line, _ := bufio.NewReader(conn).ReadString('\n')
	if !strings.Contains(line, `"error"`) || !strings.Contains(line, "unknown request") {
		t.Errorf("reply %q; want an error naming the unknown request", line)
	}
}

// backupFile makes a store with a few entries and a backup of it; it returns the
// backup's path and bytes.
func backupFile(t *testing.T) (string, []byte) {
	t.Helper()
	dir := t.TempDir()
	s := openStore(t, dir)
	for i := 1; i <= 3; i++ {
		appendValue(s, fmt.Sprintf("entry %d", i))
	}
	s.Close()
	out := filepath.Join(t.TempDir(), "good.backup")
	if _, err := WriteBackup(context.Background(), dir, out); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return out, raw
}

// TestRestoreRefuses: each kind of bad backup or target is refused with its reason, and
// the target is left as it was found.
func TestRestoreRefuses(t *testing.T) {
	good, raw := backupFile(t)
	write := func(b []byte) string {
		p := filepath.Join(t.TempDir(), "bad.backup")
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	flipped := bytes.Clone(raw)
	flipped[HeaderSize+5000] ^= 0xff

	// A body bbolt cannot use, under a header whose checksum is right for it.
	garbage := bytes.Repeat([]byte("not a bbolt page "), 1000)
	info, err := readHeader(mustOpen(t, good), good)
	if err != nil {
		t.Fatal(err)
	}
	ginfo := info
	ginfo.Size = int64(len(garbage))
	ginfo.SHA256 = sha256Hex(garbage)
	gheader, _ := encodeHeader(ginfo)

	// A raw bbolt file that is not a journal, under a correct header.
	other := filepath.Join(t.TempDir(), "other.db")
	db, err := bolt.Open(other, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	db.Update(func(tx *bolt.Tx) error { _, err := tx.CreateBucket([]byte("something")); return err })
	db.Close()
	otherRaw, _ := os.ReadFile(other)
	oinfo := info
	oinfo.Size = int64(len(otherRaw))
	oinfo.SHA256 = sha256Hex(otherRaw)
	oheader, _ := encodeHeader(oinfo)

	notEmpty := t.TempDir()
	os.WriteFile(filepath.Join(notEmpty, "notes.txt"), []byte("x"), 0o600)
	aFile := write([]byte("a file"))

	tests := []struct {
		name, in, data string
		want           error
		wantMsg        string
	}{
		{"missing file", filepath.Join(t.TempDir(), "nope"), "", os.ErrNotExist, "no such file"},
		{"not empty", good, notEmpty, ErrNotEmpty, "notes.txt"},
		{"data is a file", good, aFile, nil, "is a file, not a directory"},
		{"not a backup", write([]byte("hello, world\n")), "", ErrBadBackup, "not an alliancehub backup"},
		{"raw store", other, "", ErrBadBackup, "not an alliancehub backup"},
		{"header only, cut", write(raw[:100]), "", ErrBadBackup, "truncated"},
		{"truncated", write(raw[:len(raw)-1000]), "", ErrBadBackup, "truncated"},
		{"extra bytes", write(append(bytes.Clone(raw), "more"...)), "", ErrBadBackup, "4 bytes follow"},
		{"flipped byte", write(flipped), "", ErrBadBackup, "SHA-256"},
		{"damaged header", write(append([]byte(backupMagic+"{\"size\":"), raw[len(backupMagic)+8:]...)), "", ErrBadBackup, "damaged header"},
		{"not bbolt", write(append(gheader, garbage...)), "", ErrBadBackup, "the store in it is damaged at offset 0"},
		{"not a journal", write(append(oheader, otherRaw...)), "", ErrBadBackup, "no alliancehub journal"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := tt.data
			if data == "" {
				data = filepath.Join(t.TempDir(), "data")
			}
			before := listing(t, data)
			_, err := Restore(tt.in, data)
			if err == nil || (tt.want != nil && !errors.Is(err, tt.want)) || !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("Restore: %v; want %v naming %q", err, tt.want, tt.wantMsg)
			}
			if after := listing(t, data); after != before {
				t.Errorf("target was %q before, %q after", before, after)
			}
		})
	}

	t.Run("lost+found is allowed", func(t *testing.T) {
		data := t.TempDir()
		os.Mkdir(filepath.Join(data, "lost+found"), 0o700)
		if _, err := Restore(good, data); err != nil {
			t.Fatal(err)
		}
		if got := logOf(t, data); len(got) != 3 {
			t.Errorf("restored %v", got)
		}
	})
}

func mustOpen(t *testing.T, p string) *os.File {
	t.Helper()
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

// listing names what is at p: "absent", "file", or the directory's entries.
func listing(t *testing.T, p string) string {
	t.Helper()
	fi, err := os.Stat(p)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return "absent"
	case err != nil:
		t.Fatal(err)
	case !fi.IsDir():
		return "file"
	}
	entries, err := os.ReadDir(p)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return "dir[" + strings.Join(names, ",") + "]"
}

func sha256Hex(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

func newTestLogger(w io.Writer) *slog.Logger {
	return slog.New(slog.NewTextHandler(&lockedWriter{w: w}, nil))
}

type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
