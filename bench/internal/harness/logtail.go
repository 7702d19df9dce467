package harness

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"time"
)

// LogTail reads a log file that a child keeps writing, a stretch at a
// time: each read gives the whole lines written since the last one.
type LogTail struct {
	Path string
	// off is where the next read starts: after the last whole line read.
	off int64
}

// Lines returns the whole lines written since the last call.
func (l *LogTail) Lines() ([]byte, error) {
	f, err := os.Open(l.Path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if _, err := f.Seek(l.off, io.SeekStart); err != nil {
		return nil, fmt.Errorf("read %s: %w", l.Path, err)
	}
	b, err := io.ReadAll(f)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", l.Path, err)
	}
	end := bytes.LastIndexByte(b, '\n')
	if end < 0 {
		return nil, nil
	}
	b = b[:end+1]
	l.off += int64(len(b))
	return b, nil
}

// Await reads new lines, each handed to count, every 10 ms until done
// says so, wait has passed or ctx ends.
func (l *LogTail) Await(ctx context.Context, wait time.Duration, count func(lines []byte) error, done func() bool) error {
	deadline := time.Now().Add(wait)
	for {
		b, err := l.Lines()
		if err == nil && len(b) > 0 {
			err = count(b)
		}
		if err != nil || done() || time.Now().After(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
}
