package logstore

import (
	"bytes"
	"io"
	"unicode/utf8"
)

// maxMessage is the longest message of one event. CloudWatch Logs takes
// events of up to 256 KiB counting 26 bytes of overhead; a longer line
// becomes several events.
const maxMessage = 256<<10 - 26

// shareLimit is the largest Write whose events share one copy of it. A
// larger Write copies each line on its own, so that the few lines a group
// keeps of it do not hold the whole of it in memory.
const shareLimit = 64 << 10

// writer writes the lines given to it as events of one stream.
type writer struct {
	s             *Store
	group, stream string

	// g and st, guarded by s.mu, are the group and stream last written.
	g  *group
	st *stream
}

var _ io.Writer = (*writer)(nil)

// Writer returns an io.Writer whose lines become events of the stream of
// the group. Each Write is one or more lines, each ending in '\n' but the
// last, which may not. It never fails, never blocks on readers, and is safe
// for concurrent use.
func (s *Store) Writer(group, stream string) io.Writer {
	return &writer{s: s, group: group, stream: stream}
}

func (w *writer) Write(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	var shared string
	if len(p) <= shareLimit {
		shared = string(p)
	}
	s := w.s
	s.mu.Lock()
	defer s.mu.Unlock()
	if w.g == nil || w.g.gone {
		w.g, w.st = s.groupLocked(w.group), nil
	}
	if w.st == nil || w.st.gone {
		w.st = w.g.streamLocked(w.stream)
	}
	now := s.opts.Now()
	if now.Before(w.g.last) {
		now = w.g.last
	}
	var followers []*follower
	if len(s.follows) > 0 {
		followers = s.follows[w.group]
	}
	for start := 0; start < len(p); {
		end, next := len(p), len(p)
		if i := bytes.IndexByte(p[start:], '\n'); i >= 0 {
			end, next = start+i, start+i+1
		}
		for {
			cut := end
			if cut-start > maxMessage {
				cut = start + runeCut(p[start:end], maxMessage)
			}
			var msg string
			if shared != "" {
				msg = shared[start:cut]
			} else {
				msg = string(p[start:cut])
			}
			s.seq++
			ev := Event{Seq: s.seq, Time: now, Group: w.group, Stream: w.stream, Message: msg}
			s.appendLocked(w.g, w.st, ev)
			for _, f := range followers {
				f.pushLocked(ev)
			}
			start = cut
			if start >= end {
				break
			}
		}
		start = next
	}
	return len(p), nil
}

// runeCut returns where to cut b, longer than n, to keep at most n bytes
// without splitting a UTF-8 sequence.
func runeCut(b []byte, n int) int {
	for i := n; i > 0 && i > n-utf8.UTFMax; i-- {
		if utf8.RuneStart(b[i]) {
			return i
		}
	}
	return n
}
