package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/alliancehub/alliancehub/internal/journal"
)

// runBackup copies a hub's or node's store to a file, through the running server's
// backup socket or, when no server runs, from the store's file (internal/journal).
func runBackup(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("backup", "backup --data DIR --out FILE", stderr)
	data := fs.String("data", "", "the hub's or node's data directory (the server may be running)")
	out := fs.String("out", "", "the backup file to write (replaced whole if it exists; mode 0600)")
	if err := parse(fs, args, "data", "out"); err != nil {
		return err
	}
	st, err := os.Stat(*data)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return usageError("--data %s does not exist", *data)
	case err != nil:
		return err
	case !st.IsDir():
		return usageError("--data %s is not a directory", *data)
	}
	if err := checkBackupOut(*data, *out); err != nil {
		return err
	}
	info, err := journal.WriteBackup(ctx, *data, *out)
	if err != nil {
		return err
	}
	from := "from the running server"
	if info.Source == journal.SourceStore {
		from = "from the store (no server was running)"
	}
	fmt.Fprintf(stdout, "backed up %s to %s %s: %d bytes, journal up to sequence %d, sha256 %s\n",
		*data, *out, from, info.Size, info.LastSeq, info.SHA256)
	return nil
}

// checkBackupOut refuses an --out that is a directory, is in a directory that does not
// exist, or lies inside the data directory (where it could replace the store itself).
func checkBackupOut(data, out string) error {
	if st, err := os.Stat(out); err == nil && st.IsDir() {
		return usageError("--out %s is a directory; name the backup file", out)
	}
	dir := filepath.Dir(out)
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		return usageError("--out %s: directory %s does not exist", out, dir)
	}
	realData, err1 := filepath.EvalSymlinks(data)
	realDir, err2 := filepath.EvalSymlinks(dir)
	if err1 != nil || err2 != nil {
		return nil // the write itself will say what is wrong
	}
	realData, _ = filepath.Abs(realData)
	realDir, _ = filepath.Abs(realDir)
	if realDir == realData || strings.HasPrefix(realDir, realData+string(filepath.Separator)) {
		return usageError("--out %s is inside the data directory %s; write the backup somewhere else", out, data)
	}
	return nil
}

// runRestore puts a backup into an empty data directory, after checking it whole.
func runRestore(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("restore", "restore --in FILE --data DIR", stderr)
	in := fs.String("in", "", "the backup file (from 'alliancehub backup')")
	data := fs.String("data", "", "the data directory to restore into: empty or not yet made; start the server on it afterwards")
	if err := parse(fs, args, "in", "data"); err != nil {
		return err
	}
	info, err := journal.Restore(*in, *data)
	switch {
	case errors.Is(err, os.ErrNotExist):
		if _, serr := os.Stat(*in); serr != nil {
			return usageError("backup file %s does not exist", *in)
		}
		return err
	case err != nil:
		return err
	}
	fmt.Fprintf(stdout, "restored %s (taken %s, %d bytes, journal up to sequence %d) into %s\n",
		*in, info.CreatedAt.Format("2006-01-02T15:04:05Z"), info.Size, info.LastSeq, *data)
	return nil
}
