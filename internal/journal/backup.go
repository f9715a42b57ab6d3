package journal

// Backups.
//
// A backup is a consistent copy of a store: the bytes of one bbolt read transaction
// (tx.WriteTo), so it holds exactly what was committed when the transaction began,
// and writers go on meanwhile (they wait only if the file must grow while a copy is
// being sent).
//
// A running server holds the store's exclusive file lock, so no other process may open
// the file. The server therefore answers backup requests on a Unix socket in its data
// directory (SocketName, mode 0600, only for the user it runs as), made at start
// (ServeBackups) and removed at shutdown; a socket left by a server that was killed is
// stale and replaced at the next start. WriteBackup, what `alliancehub backup` runs,
// asks the server there, and opens the file itself (read-only, with a shared lock) when
// no server runs.
//
// A backup file is a 512-byte header, then the store's bytes. The header is the line
// "alliancehub-backup 1", a JSON object (BackupInfo: size and SHA-256 of the store's
// bytes, when and where it was taken), spaces, and a newline, so `head -c 512 FILE`
// shows it. Restore checks the header, the size, the checksum, and that bbolt opens the
// store and its consistency check passes, before it puts the store into place.

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"syscall"
	"time"

	bolt "go.etcd.io/bbolt"
)

// SocketName is the running server's backup socket inside its data directory.
const SocketName = "alliancehub.sock"

// HeaderSize is the length of a backup file's header; the store's bytes follow it.
const HeaderSize = 512

const (
	backupMagic   = "alliancehub-backup 1\n" // first line of a backup file
	socketRequest = "alliancehub-backup 1\n" // what a client sends on the socket

	// SourceServer and SourceStore say where a backup was copied from: the running
	// server (over its socket) or the store's file (no server was running).
	SourceServer = "server"
	SourceStore  = "store"
)

// Bounds on the backup conversation; a stalled peer is cut off rather than holding a
// read transaction open for ever.
const (
	socketIdle      = 30 * time.Second // longest pause between reads or writes of a copy
	requestTimeout  = 10 * time.Second // a client has this long to send its request
	dialTimeout     = 2 * time.Second
	lockedPoll      = 200 * time.Millisecond
	maxSocketPath   = 100 // sun_path is 104 bytes on BSDs, 108 on Linux, with the final NUL
	maxReplyLine    = 4096
	maxCheckReports = 3 // consistency problems quoted in an error
)

// lockedWait is how long WriteBackup waits for the socket of a server that holds the
// store (one that is starting has the lock a moment before its socket).
var lockedWait = 10 * time.Second

var (
	// ErrNoStore means a data directory holds no store.
	ErrNoStore = errors.New("no alliancehub store")
	// ErrNotEmpty means Restore was pointed at a data directory that holds something.
	ErrNotEmpty = errors.New("data directory is not empty")
	// ErrBadBackup means a file is not a backup, or is damaged.
	ErrBadBackup = errors.New("not a usable backup")
)

// BackupInfo is what a backup's header says of it.
type BackupInfo struct {
	CreatedAt time.Time `json:"created_at"`
	Size      int64     `json:"size"`     // bytes of the store after the header
	SHA256    string    `json:"sha256"`   // lower-case hex SHA-256 of those bytes
	LastSeq   uint64    `json:"last_seq"` // the journal's last sequence number in the copy
	Source    string    `json:"source"`   // SourceServer or SourceStore
	DataDir   string    `json:"data_dir,omitempty"`
}

// socketReply is the server's first line on the socket: the size of the copy that
// follows, or why there is none.
type socketReply struct {
	Size    int64  `json:"size,omitempty"`
	LastSeq uint64 `json:"last_seq,omitempty"`
	Error   string `json:"error,omitempty"`
}

func lastSeqOf(tx *bolt.Tx) uint64 {
	if b := tx.Bucket([]byte(logBucket)); b != nil {
		return b.Sequence()
	}
	return 0
}

// ---------------------------------------------------------------------------
// The server's side.

type backupServer struct {
	store *Store
	ln    *net.UnixListener
	path  string
	made  os.FileInfo // the socket file this server made: removed at stop only if still it
	log   *slog.Logger

	mu     sync.Mutex
	conns  map[net.Conn]struct{}
	closed bool
	wg     sync.WaitGroup
}

// ServeBackups answers backup requests on DIR/alliancehub.sock, DIR being the store's
// directory, until the returned stop is called; stop closes the socket, ends copies in
// progress, waits for them and removes the socket file. Call stop before Close.
//
// A socket file already there is stale (this process holds the store's lock, so the
// server that made it has gone) and is replaced. If the socket cannot be made the
// server runs without it: ServeBackups logs why and returns a stop that does nothing,
// and `alliancehub backup` then says it cannot reach the server.
func (s *Store) ServeBackups(log *slog.Logger) (stop func()) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	dir := filepath.Dir(s.db.Path())
	path := filepath.Join(dir, SocketName)
	ln, made, err := listenSocket(dir, path)
	if err != nil {
		log.Warn("no backup socket: 'alliancehub backup' cannot copy this store while the server runs", "socket", path, "err", err)
		return func() {}
	}
	bs := &backupServer{store: s, ln: ln, path: path, made: made, log: log, conns: map[net.Conn]struct{}{}}
	bs.wg.Add(1)
	go bs.accept()
	if abs, err := filepath.Abs(path); err == nil {
		bs.path = abs // for the log; the socket itself is reached by path
	}
	log.Info("backup socket ready", "socket", bs.path)
	return sync.OnceFunc(bs.stop)
}

// listenSocket makes the socket at path (in dir), readable and writable by this user only.
func listenSocket(dir, path string) (*net.UnixListener, os.FileInfo, error) {
	if fi, err := os.Lstat(path); err == nil {
		if fi.Mode()&os.ModeSocket == 0 {
			return nil, nil, fmt.Errorf("%s exists and is not a socket; move it out of the data directory", path)
		}
		if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
			return nil, nil, fmt.Errorf("removing the stale socket: %w", err)
		}
	}
	addr, release, err := socketAddr(dir, path)
	if err != nil {
		return nil, nil, err
	}
	defer release()
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: addr, Net: "unix"})
	if err != nil {
		return nil, nil, err
	}
	ln.SetUnlinkOnClose(false) // stop removes it, by its real path and only if it is still ours
	fail := func(err error) (*net.UnixListener, os.FileInfo, error) {
		ln.Close()
		os.Remove(path)
		return nil, nil, err
	}
	// The socket was made with the process's umask; a connecting peer of another user is
	// refused by checkPeer as well, so the moment before this chmod is no opening.
	if err := os.Chmod(path, 0o600); err != nil {
		return fail(err)
	}
	made, err := os.Lstat(path)
	if err != nil {
		return fail(err)
	}
	return ln, made, nil
}

// socketAddr is the address to bind or dial for the socket at path in dir. A path too
// long for a socket address is reached on Linux through the directory's descriptor
// (/proc/self/fd/N/alliancehub.sock); release closes that descriptor once the bind or
// connect is done.
func socketAddr(dir, path string) (addr string, release func(), err error) {
	if len(path) <= maxSocketPath {
		return path, func() {}, nil
	}
	if runtime.GOOS == "linux" {
		d, err := os.Open(dir)
		if err != nil {
			return "", nil, err
		}
		addr := fmt.Sprintf("/proc/self/fd/%d/%s", d.Fd(), SocketName)
		if len(addr) <= maxSocketPath {
			if _, err := os.Stat(filepath.Dir(addr)); err == nil {
				return addr, func() { d.Close() }, nil
			}
		}
		d.Close()
	}
	return "", nil, fmt.Errorf("the path %s is too long for a Unix socket (%d bytes, at most %d): use a shorter data directory", path, len(path), maxSocketPath)
}

func (bs *backupServer) accept() {
	defer bs.wg.Done()
	for {
		conn, err := bs.ln.AcceptUnix()
		if err != nil {
			bs.mu.Lock()
			closed := bs.closed
			bs.mu.Unlock()
			if !closed {
				bs.log.Error("backup socket stopped accepting", "socket", bs.path, "err", err)
			}
			return
		}
		bs.mu.Lock()
		if bs.closed {
			bs.mu.Unlock()
			conn.Close()
			return
		}
		bs.conns[conn] = struct{}{}
		bs.wg.Add(1)
		bs.mu.Unlock()
		go func() {
			defer bs.wg.Done()
			bs.serve(conn)
			bs.mu.Lock()
			delete(bs.conns, conn)
			bs.mu.Unlock()
		}()
	}
}

func (bs *backupServer) stop() {
	bs.mu.Lock()
	bs.closed = true
	bs.ln.Close()
	for c := range bs.conns {
		c.Close() // a copy in progress fails at its next write and ends its transaction
	}
	bs.mu.Unlock()
	bs.wg.Wait()
	if fi, err := os.Lstat(bs.path); err == nil && os.SameFile(fi, bs.made) {
		os.Remove(bs.path)
	}
}

// serve answers one connection: a request line, then the reply line and the copy.
func (bs *backupServer) serve(conn *net.UnixConn) {
	defer conn.Close()
	reply := func(r socketReply) error {
		b, _ := json.Marshal(r)
		conn.SetWriteDeadline(time.Now().Add(socketIdle))
		_, err := conn.Write(append(b, '\n'))
		return err
	}
	if err := checkPeer(conn); err != nil {
		bs.log.Warn("backup refused", "err", err)
		reply(socketReply{Error: err.Error()})
		return
	}
	conn.SetReadDeadline(time.Now().Add(requestTimeout))
	req, err := bufio.NewReader(io.LimitReader(conn, int64(len(socketRequest)))).ReadString('\n')
	if err != nil || req != socketRequest {
		reply(socketReply{Error: fmt.Sprintf("unknown request %q: this server speaks %q", strings.TrimSpace(req), strings.TrimSpace(socketRequest))})
		return
	}
	conn.SetReadDeadline(time.Time{})
	start := time.Now()
	var size int64
	var seq uint64
	// Store.View refuses a store whose last commit may not be durable: its copy could
	// hold a write that was never acknowledged.
	replied := false
	err = bs.store.View(func(t *Tx) error {
		size, seq = t.tx.Size(), lastSeqOf(t.tx)
		replied = true
		if err := reply(socketReply{Size: size, LastSeq: seq}); err != nil {
			return err
		}
		_, err := t.tx.WriteTo(&idleWriter{conn: conn})
		return err
	})
	if err != nil && !replied {
		reply(socketReply{Error: err.Error()})
	}
	if err != nil {
		bs.log.Warn("backup not completed", "socket", bs.path, "err", err)
		return
	}
	bs.log.Info("backup sent", "bytes", size, "last_seq", seq, "duration", time.Since(start).Round(time.Millisecond))
}

// idleWriter writes to a connection, cutting it off when the reader stops reading.
type idleWriter struct{ conn net.Conn }

func (w *idleWriter) Write(p []byte) (int, error) {
	w.conn.SetWriteDeadline(time.Now().Add(socketIdle))
	return w.conn.Write(p)
}

// idleReader reads from a connection, giving up when the writer stops sending.
type idleReader struct{ conn net.Conn }

func (r *idleReader) Read(p []byte) (int, error) {
	r.conn.SetReadDeadline(time.Now().Add(socketIdle))
	return r.conn.Read(p)
}

// ---------------------------------------------------------------------------
// Taking a backup.

// WriteBackup copies the store in dataDir to the file out: from the running server over
// its socket, or from the store's file when no server runs. out is written whole or not
// at all (a temporary file beside it, flushed to disk, then renamed over it), mode 0600.
func WriteBackup(ctx context.Context, dataDir, out string) (BackupInfo, error) {
	dbPath := filepath.Join(dataDir, FileName)
	if _, err := os.Stat(dbPath); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return BackupInfo{}, fmt.Errorf("%w in %s (no %s): is it the hub's or a node's data directory?", ErrNoStore, dataDir, FileName)
		}
		return BackupInfo{}, err
	}
	outDir := filepath.Dir(out)
	tmp, err := os.CreateTemp(outDir, "."+filepath.Base(out)+".tmp-*")
	if err != nil {
		return BackupInfo{}, err
	}
	done := false
	defer func() {
		if !done {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if err := tmp.Chmod(0o600); err != nil {
		return BackupInfo{}, err
	}
	if _, err := tmp.Write(make([]byte, HeaderSize)); err != nil { // the header, once known
		return BackupInfo{}, err
	}
	h := sha256.New()
	body := &countWriter{w: io.MultiWriter(tmp, h)}
	info, err := copyStore(ctx, dataDir, body)
	if err != nil {
		return BackupInfo{}, err
	}
	if body.n != info.Size {
		return BackupInfo{}, fmt.Errorf("copied %d bytes of a %d-byte store", body.n, info.Size)
	}
	info.CreatedAt = time.Now().UTC().Truncate(time.Second)
	info.SHA256 = hex.EncodeToString(h.Sum(nil))
	if abs, err := filepath.Abs(dataDir); err == nil {
		info.DataDir = abs
	}
	header, err := encodeHeader(info)
	if err != nil {
		return BackupInfo{}, err
	}
	if _, err := tmp.WriteAt(header, 0); err != nil {
		return BackupInfo{}, err
	}
	if err := tmp.Sync(); err != nil {
		return BackupInfo{}, err
	}
	if err := tmp.Close(); err != nil {
		return BackupInfo{}, err
	}
	if err := os.Rename(tmp.Name(), out); err != nil {
		return BackupInfo{}, err
	}
	done = true
	return info, syncDir(outDir)
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// copyStore writes the store's bytes to w and says what it copied (Size, LastSeq,
// Source). A server that holds the store but has no socket yet (it is starting) is
// waited for, a little.
func copyStore(ctx context.Context, dataDir string, w io.Writer) (BackupInfo, error) {
	sock := filepath.Join(dataDir, SocketName)
	deadline := time.Now().Add(lockedWait)
	for {
		info, connected, err := fromSocket(ctx, dataDir, sock, w)
		if connected || err != nil {
			return info, err
		}
		info, err = fromFile(ctx, filepath.Join(dataDir, FileName), w)
		if !errors.Is(err, bolt.ErrTimeout) {
			return info, err
		}
		if time.Now().After(deadline) {
			return BackupInfo{}, fmt.Errorf("%w: the server using it does not answer on %s (an alliancehub without backups, or it could not make the socket: see its log); stop it to back up the store", ErrLocked, sock)
		}
		select {
		case <-ctx.Done():
			return BackupInfo{}, ctx.Err()
		case <-time.After(lockedPoll):
		}
	}
}

// fromSocket asks the running server for a copy. connected is false, with a nil error,
// when no server answers on the socket (none, or a stale socket): then the caller may
// open the file itself.
func fromSocket(ctx context.Context, dir, sock string, w io.Writer) (info BackupInfo, connected bool, err error) {
	if _, err := os.Lstat(sock); err != nil {
		return BackupInfo{}, false, nil
	}
	addr, release, err := socketAddr(dir, sock)
	if err != nil {
		return BackupInfo{}, false, nil // no server could have made it either
	}
	d := net.Dialer{Timeout: dialTimeout}
	c, err := d.DialContext(ctx, "unix", addr)
	release()
	switch {
	case errors.Is(err, os.ErrPermission):
		return BackupInfo{}, false, fmt.Errorf("the running server's socket %s: %w (run the backup as the user the server runs as)", sock, err)
	case err != nil:
		if ctx.Err() != nil {
			return BackupInfo{}, false, ctx.Err()
		}
		return BackupInfo{}, false, nil // stale socket: nobody listens
	}
	conn := c.(*net.UnixConn)
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	fail := func(format string, args ...any) (BackupInfo, bool, error) {
		if ctx.Err() != nil {
			return BackupInfo{}, true, ctx.Err()
		}
		return BackupInfo{}, true, fmt.Errorf("copy from the running server: "+format, args...)
	}
	conn.SetWriteDeadline(time.Now().Add(socketIdle))
	if _, err := io.WriteString(conn, socketRequest); err != nil {
		return fail("%v", err)
	}
	br := bufio.NewReader(&idleReader{conn: conn})
	line, err := br.ReadSlice('\n')
	if err != nil {
		return fail("no answer: %v", err)
	}
	if len(line) > maxReplyLine {
		return fail("answer too long")
	}
	var r socketReply
	if err := json.Unmarshal(line, &r); err != nil {
		return fail("unreadable answer %q", strings.TrimSpace(string(line)))
	}
	if r.Error != "" {
		return fail("the server refused: %s", r.Error)
	}
	if r.Size <= 0 {
		return fail("the server announced %d bytes", r.Size)
	}
	n, err := io.CopyN(w, br, r.Size)
	if err != nil {
		return fail("got %d of %d bytes: %v", n, r.Size, err)
	}
	return BackupInfo{Size: r.Size, LastSeq: r.LastSeq, Source: SourceServer}, true, nil
}

// fromFile copies the store's file when no server runs, holding a shared lock on it
// meanwhile (a server cannot start until the copy is done). bolt.ErrTimeout means a
// server holds the file.
func fromFile(ctx context.Context, dbPath string, w io.Writer) (BackupInfo, error) {
	db, err := bolt.Open(dbPath, 0o600, &bolt.Options{ReadOnly: true, Timeout: lockedPoll})
	if err != nil {
		if errors.Is(err, bolt.ErrTimeout) {
			return BackupInfo{}, err
		}
		return BackupInfo{}, fmt.Errorf("open %s: %w", dbPath, err)
	}
	defer db.Close()
	info := BackupInfo{Source: SourceStore}
	err = db.View(func(tx *bolt.Tx) error {
		info.Size, info.LastSeq = tx.Size(), lastSeqOf(tx)
		_, err := tx.WriteTo(ctxWriter{ctx, w})
		return err
	})
	return info, err
}

type ctxWriter struct {
	ctx context.Context
	w   io.Writer
}

func (c ctxWriter) Write(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.w.Write(p)
}

func encodeHeader(info BackupInfo) ([]byte, error) {
	b, err := json.Marshal(info)
	if err != nil {
		return nil, err
	}
	if len(backupMagic)+len(b)+1 > HeaderSize {
		info.DataDir = "" // only a very long path can make it not fit
		if b, err = json.Marshal(info); err != nil {
			return nil, err
		}
	}
	h := make([]byte, 0, HeaderSize)
	h = append(h, backupMagic...)
	h = append(h, b...)
	for len(h) < HeaderSize-1 {
		h = append(h, ' ')
	}
	return append(h, '\n'), nil
}

// ReadBackupInfo reads and checks a backup file's header (not yet its checksum).
func ReadBackupInfo(path string) (BackupInfo, error) {
	f, err := os.Open(path)
	if err != nil {
		return BackupInfo{}, err
	}
	defer f.Close()
	return readHeader(f, path)
}

func readHeader(f *os.File, path string) (BackupInfo, error) {
	st, err := f.Stat()
	if err != nil {
		return BackupInfo{}, err
	}
	if st.IsDir() {
		return BackupInfo{}, fmt.Errorf("%w: %s is a directory", ErrBadBackup, path)
	}
	h := make([]byte, HeaderSize)
	n, err := io.ReadFull(f, h)
	if n < len(backupMagic) || string(h[:len(backupMagic)]) != backupMagic {
		return BackupInfo{}, fmt.Errorf("%w: %s is not an alliancehub backup (it does not start with %q)", ErrBadBackup, path, strings.TrimSpace(backupMagic))
	}
	if err != nil {
		return BackupInfo{}, fmt.Errorf("%w: %s is truncated: %d bytes, shorter than a backup's header", ErrBadBackup, path, st.Size())
	}
	var info BackupInfo
	dec := json.NewDecoder(strings.NewReader(strings.TrimRight(string(h[len(backupMagic):]), " \n")))
	if err := dec.Decode(&info); err != nil || info.Size <= 0 || len(info.SHA256) != 2*sha256.Size {
		return BackupInfo{}, fmt.Errorf("%w: %s has a damaged header", ErrBadBackup, path)
	}
	switch body := st.Size() - HeaderSize; {
	case body < info.Size:
		return BackupInfo{}, fmt.Errorf("%w: %s is truncated: its header promises %d bytes of store, it holds %d", ErrBadBackup, path, info.Size, body)
	case body > info.Size:
		return BackupInfo{}, fmt.Errorf("%w: %s is damaged: %d bytes follow the store its header describes", ErrBadBackup, path, body-info.Size)
	}
	return info, nil
}

// ---------------------------------------------------------------------------
// Restoring one.

// Restore checks the backup file in and puts the store it holds into dataDir, which
// must be empty (or absent: it is made, mode 0700). Nothing is written to dataDir
// unless the backup passes every check: its header, size and SHA-256, and bbolt's
// consistency check of the store with the journal's log in it. The store appears in
// one step (a verified temporary file linked into place), so a crash leaves either no
// store or the whole one. A `lost+found` directory (a fresh file system) is allowed.
func Restore(in, dataDir string) (BackupInfo, error) {
	f, err := os.Open(in)
	if err != nil {
		return BackupInfo{}, err
	}
	defer f.Close()
	info, err := readHeader(f, in)
	if err != nil {
		return BackupInfo{}, err
	}
	created, err := claimEmptyDir(dataDir)
	if err != nil {
		return BackupInfo{}, err
	}
	tmp, err := os.CreateTemp(dataDir, ".restore-*")
	if err != nil {
		return BackupInfo{}, err
	}
	done := false
	defer func() {
		if !done {
			tmp.Close()
			os.Remove(tmp.Name())
			if created {
				os.Remove(dataDir) // only if it is still empty
			}
		}
	}()
	if err := tmp.Chmod(0o600); err != nil {
		return BackupInfo{}, err
	}
	h := sha256.New()
	if _, err := io.Copy(io.MultiWriter(tmp, h), io.NewSectionReader(f, HeaderSize, info.Size)); err != nil {
		return BackupInfo{}, fmt.Errorf("read %s: %w", in, err)
	}
	if got := hexSum(h); got != info.SHA256 {
		return BackupInfo{}, fmt.Errorf("%w: %s is damaged: the SHA-256 of its store is %s, its header says %s", ErrBadBackup, in, got[:12], info.SHA256[:12])
	}
	if err := tmp.Sync(); err != nil {
		return BackupInfo{}, err
	}
	if err := tmp.Close(); err != nil {
		return BackupInfo{}, err
	}
	seq, err := VerifyStore(tmp.Name())
	if err != nil {
		return BackupInfo{}, fmt.Errorf("%s: %w", in, err)
	}
	if seq != info.LastSeq {
		return BackupInfo{}, fmt.Errorf("%w: %s is damaged: its journal ends at sequence %d, its header says %d", ErrBadBackup, in, seq, info.LastSeq)
	}
	final := filepath.Join(dataDir, FileName)
	// A link never replaces a file, should one have appeared since the directory was
	// found empty; a file system without links gets a rename after one more look.
	if err := os.Link(tmp.Name(), final); err != nil {
		if errors.Is(err, os.ErrExist) {
			return BackupInfo{}, fmt.Errorf("%w: %s appeared during the restore", ErrNotEmpty, final)
		}
		if _, serr := os.Lstat(final); serr == nil {
			return BackupInfo{}, fmt.Errorf("%w: %s appeared during the restore", ErrNotEmpty, final)
		}
		if err := os.Rename(tmp.Name(), final); err != nil {
			return BackupInfo{}, err
		}
	} else {
		os.Remove(tmp.Name())
	}
	done = true
	if err := syncDir(dataDir); err != nil {
		return info, err
	}
	if created {
		return info, syncDir(filepath.Dir(filepath.Clean(dataDir)))
	}
	return info, nil
}

func hexSum(h hash.Hash) string { return hex.EncodeToString(h.Sum(nil)) }

// claimEmptyDir makes dir (0700) if it does not exist, or checks that it is empty.
// created says it was made here.
func claimEmptyDir(dir string) (created bool, err error) {
	entries, err := os.ReadDir(dir)
	switch {
	case errors.Is(err, os.ErrNotExist):
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return false, fmt.Errorf("data directory: %w", err)
		}
		return true, nil
	case errors.Is(err, syscall.ENOTDIR):
		return false, fmt.Errorf("data directory %s is a file, not a directory", dir)
	case err != nil:
		return false, fmt.Errorf("data directory: %w", err)
	}
	var names []string
	for _, e := range entries {
		if e.Name() != "lost+found" {
			names = append(names, e.Name())
		}
	}
	if len(names) > 0 {
		more := ""
		if len(names) > 3 {
			names, more = names[:3], fmt.Sprintf(" and %d more", len(names)-3)
		}
		return false, fmt.Errorf("%w: %s holds %s%s; restore only into an empty or new directory, so that nothing is overwritten", ErrNotEmpty, dir, strings.Join(names, ", "), more)
	}
	return false, nil
}

// VerifyStore checks the store file at path: the journal's Check (pages and value
// checksums) and bbolt's consistency check pass, and it holds the journal's log. It answers the log's last sequence number.
func VerifyStore(path string) (lastSeq uint64, err error) {
	// The journal's own check first: it reads the file with plain reads, page by page and
	// value by value (checksums), so damage is named rather than met in bbolt's map.
	if err := Check(path); err != nil {
		var ce *CorruptError
		if !errors.As(err, &ce) {
			return 0, err
		}
		where := ""
		if ce.Offset >= 0 {
			where = fmt.Sprintf(" at offset %d of the store", ce.Offset)
		}
		more := ""
		if ce.Total > 1 {
			more = fmt.Sprintf(" (and %d more problem(s))", ce.Total-1)
		}
		return 0, fmt.Errorf("%w: the store in it is damaged%s: %s%s", ErrBadBackup, where, ce.Problem, more)
	}
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil { // bbolt panics on some damaged pages
			err = fmt.Errorf("%w: the store is damaged: %v", ErrBadBackup, r)
		}
	}()
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: time.Second})
	if err != nil {
		return 0, fmt.Errorf("%w: not a store bbolt can open: %v", ErrBadBackup, err)
	}
	defer db.Close()
	err = db.View(func(tx *bolt.Tx) error {
		var problems []string
		count := 0
		for e := range tx.Check() { // drained whole, so its goroutine ends
			if count++; count <= maxCheckReports {
				problems = append(problems, e.Error())
			}
		}
		if count > 0 {
			return fmt.Errorf("%w: the store fails bbolt's consistency check (%d problem(s)): %s", ErrBadBackup, count, strings.Join(problems, "; "))
		}
		b := tx.Bucket([]byte(logBucket))
		if b == nil {
			return fmt.Errorf("%w: the store holds no alliancehub journal (no %q bucket)", ErrBadBackup, logBucket)
		}
		lastSeq = b.Sequence()
		return nil
	})
	return lastSeq, err
}

// syncDir flushes a directory, so a file just renamed or linked into it stays after a
// crash.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, syscall.EINVAL) { // some file systems cannot
		return err
	}
	return nil
}
