package runtimeapi

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emberfn/ember/internal/invocation"
)

// The operations of a fuzz program. Each is one byte, followed by its
// arguments: bytes, and strings as a length byte and the bytes.
const (
	opNext       = iota // GET /next
	opNextGiveUp        // GET /next that gives up: ms
	opInvoke            // Invoke: payload, flags (bit 0: close a stream unread; bits 1-2: timeout)
	opAwaitInit         // AwaitInit
	opAwaitNext         // AwaitNext
	opReset             // Reset
	opResponse          // POST /{id}/response: id, mode, content type, body
	opStream            // chunked POST /{id}/response: id, flags (bit 0: no streaming mode), n, n chunks, trailer, type, body
	opError             // POST /{id}/error: id, type, content type, body
	opInitError         // POST /init/error: type, content type, body
	opRaw               // any method on any path: method, path kind, path, body
	opSettle            // wait for the calls under way to finish, briefly
	numOps
)

const (
	maxFuzzOps     = 40
	maxFuzzRunning = 8
	// fuzzWait is the timeout of a program's environment-side calls, and
	// how long it waits at most for a call to get going.
	fuzzWait = 20 * time.Millisecond
)

// FuzzRuntimeAPI plays programs of runtime-side HTTP calls and
// environment-side calls against one Server on a real listener. Whatever
// the program, the server must not panic, must answer with the Runtime
// API's statuses and error bodies, must stay in a valid state, must never
// hand one event to two /next calls, and must leave no goroutine behind.
func FuzzRuntimeAPI(f *testing.F) {
	for _, p := range fuzzSeeds() {
		f.Add([]byte(p))
	}
	f.Fuzz(func(t *testing.T, program []byte) {
		before := runtime.NumGoroutine()
		r := startFuzzRun(t)
		r.play(program)
		r.stop()
		checkGoroutines(t, before)
	})
}

// fuzzProgram assembles a seed program.
type fuzzProgram []byte

func (p fuzzProgram) op(code byte, args ...any) fuzzProgram {
	p = append(p, code)
	for _, a := range args {
		switch a := a.(type) {
		case int:
			p = append(p, byte(a))
		case string:
			p = append(p, byte(len(a)))
			p = append(p, a...)
		default:
			panic(fmt.Sprintf("fuzz program argument %T", a))
		}
	}
	return p
}

// Id selectors of a program.
const (
	idDelivered = 0 // the id the last /next got
	idInvoked   = 1 // the id of the last Invoke
	idGiven     = 2 // a string of the program
)

func fuzzSeeds() []fuzzProgram {
	var p fuzzProgram
	return []fuzzProgram{
		// An invocation answered in full, then the next /next.
		p.op(opNext).op(opAwaitInit).op(opInvoke, `{"a":1}`, 0).op(opSettle).
			op(opResponse, idDelivered, 0, 1, `"ok"`).op(opAwaitNext).op(opNext).op(opSettle),
		// A function error.
		p.op(opNext).op(opAwaitInit).op(opInvoke, `{}`, 0).op(opSettle).
			op(opError, idDelivered, "Function.Oops", 2, `{"errorMessage":"oops","errorCause":{}}`).
			op(opAwaitNext).op(opNext).op(opSettle),
		// An init error, then a runtime that goes on regardless.
		p.op(opInitError, "Runtime.NoSuchHandler", 0, `{"errorMessage":"no handler"}`).op(opAwaitInit).
			op(opNext).op(opSettle),
		// A stream that fails mid-way.
		p.op(opNext).op(opAwaitInit).op(opInvoke, `{}`, 0).op(opSettle).
			op(opStream, idDelivered, 0, 2, "data: 1\n", "data: 2\n", 1, "Function.Late", `{"errorMessage":"late"}`).
			op(opSettle).op(opNext).op(opSettle),
		// An aws-lambda-go-style chunked buffered answer, and a stream
		// closed by its reader.
		p.op(opNext).op(opAwaitInit).op(opInvoke, `{}`, 0).op(opSettle).
			op(opStream, idDelivered, 1, 2, "hello ", "world", 0, "", "").op(opNext).op(opSettle).
			op(opInvoke, `{}`, 1).op(opSettle).op(opStream, idDelivered, 0, 1, "unread", 0, "", "").op(opSettle),
		// An event handed over before the runtime's /next.
		p.op(opNextGiveUp, 1).op(opSettle).op(opInvoke, `{"pending":true}`, 6).op(opSettle).
			op(opNext).op(opSettle).op(opResponse, idDelivered, 0, 0, `"late"`).op(opSettle),
		// A reset in the middle of an invocation.
		p.op(opNext).op(opAwaitInit).op(opInvoke, `{}`, 0).op(opSettle).op(opReset).
			op(opResponse, idDelivered, 0, 0, `"stale"`).op(opNext).op(opAwaitInit).op(opSettle),
		// Wrong ids, wrong modes, wrong paths.
		p.op(opNext).op(opInvoke, `{}`, 0).op(opSettle).
			op(opResponse, idGiven, "nope", 0, 0, `"x"`).
			op(opRaw, 0, 0, "nope", "").op(opRaw, 1, 0, "invocation/next", "{}").
			op(opResponse, idDelivered, 3, "buffered", 0, `"x"`).
			op(opError, idInvoked, "", 3, "text/plain", "plain words").op(opSettle),
		// Two /next calls at once.
		p.op(opNext).op(opNext).op(opInvoke, `{}`, 0).op(opSettle).
			op(opResponse, idDelivered, 0, 0, `"one"`).op(opNext).op(opSettle),
	}
}

// fuzzInput reads a program's bytes; past the end it reads zeros.
type fuzzInput struct{ b []byte }

func (in *fuzzInput) empty() bool { return len(in.b) == 0 }

func (in *fuzzInput) byte() byte {
	if len(in.b) == 0 {
		return 0
	}
	c := in.b[0]
	in.b = in.b[1:]
	return c
}

func (in *fuzzInput) str() string {
	n := min(int(in.byte())%64, len(in.b))
	s := string(in.b[:n])
	in.b = in.b[n:]
	return s
}

// fuzzRun is one program played against one server.
type fuzzRun struct {
	t      *testing.T
	s      *Server
	origin string
	client *http.Client
	logs   *lockedBuffer
	served chan error
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	// finished gets a value when an asynchronous call ends.
	finished chan struct{}
	stopped  sync.Once
	// wedged is set when the server stopped answering; stop then leaves
	// it as it is.
	wedged bool

	mu            sync.Mutex
	running       int
	invokes       int
	invoked       map[string][]byte // the payload of each Invoke, by request id
	delivered     map[string]int    // how many /next calls got each request id
	lastDelivered string
	lastInvoked   string
	posted        [][]byte // every body a runtime posted
	answers       []invocation.Response
	streamed      [][]byte // what the readers of streams read
}

func startFuzzRun(t *testing.T) *fuzzRun {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s, logs := newLoggedServer()
	ctx, cancel := context.WithCancel(context.Background())
	r := &fuzzRun{
		t:      t,
		s:      s,
		origin: "http://" + l.Addr().String(),
		client: &http.Client{
			Transport:     &http.Transport{},
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
		logs:      logs,
		served:    make(chan error, 1),
		ctx:       ctx,
		cancel:    cancel,
		finished:  make(chan struct{}, 1),
		invoked:   map[string][]byte{},
		delivered: map[string]int{},
	}
	go func() { r.served <- r.s.Serve(l) }()
	t.Cleanup(r.stop)
	return r
}

func (r *fuzzRun) play(program []byte) {
	in := &fuzzInput{b: program}
	for i := 0; i < maxFuzzOps && !in.empty(); i++ {
		r.mu.Lock()
		busy := r.running >= maxFuzzRunning
		r.mu.Unlock()
		if busy {
			r.settle()
		}
		r.step(in)
		r.checkState()
	}
	r.settle()
	r.checkState()
}

func (r *fuzzRun) step(in *fuzzInput) {
	switch in.byte() % numOps {
	case opNext:
		r.await(r.async(func() { r.next(r.ctx) }), r.nextWaits, fuzzWait)
	case opNextGiveUp:
		d := time.Duration(in.byte()%8+1) * time.Millisecond
		r.await(r.async(func() {
			ctx, cancel := context.WithTimeout(r.ctx, d)
			defer cancel()
			r.next(ctx)
		}), r.nextWaits, fuzzWait)
	case opInvoke:
		payload, flags := in.str(), in.byte()
		r.mu.Lock()
		id := "req-" + strconv.Itoa(r.invokes)
		r.invokes++
		r.invoked[id] = []byte(payload)
		r.lastInvoked = id
		r.mu.Unlock()
		timeout := time.Duration(flags>>1&3+1) * fuzzWait
		invoked := func() bool {
			r.s.mu.Lock()
			defer r.s.mu.Unlock()
			return r.s.cur != nil && r.s.cur.req.ID == id
		}
		r.await(r.async(func() { r.invoke(id, []byte(payload), flags&1 != 0, timeout) }), invoked, fuzzWait)
	case opAwaitInit:
		r.await(r.async(func() {
			ctx, cancel := context.WithTimeout(r.ctx, fuzzWait)
			defer cancel()
			err := r.s.AwaitInit(ctx)
			var initErr *InitError
			switch {
			case err == nil, errors.Is(err, ErrClosed), ctx.Err() != nil:
			case errors.As(err, &initErr):
				if initErr.Type == "" || !json.Valid(initErr.Body) {
					r.t.Errorf("init error of type %q with body %q", initErr.Type, initErr.Body)
				}
			default:
				r.t.Errorf("AwaitInit: %v", err)
			}
		}), nil, fuzzWait/4)
	case opAwaitNext:
		r.await(r.async(func() {
			ctx, cancel := context.WithTimeout(r.ctx, fuzzWait)
			defer cancel()
			r.s.AwaitNext(ctx) // any outcome will do
		}), nil, fuzzWait/4)
	case opReset:
		r.s.Reset()
	case opResponse:
		id, mode, ct, body := r.id(in), r.mode(in), r.contentType(in), in.str()
		h := http.Header{}
		setHeader(h, "Lambda-Runtime-Function-Response-Mode", mode)
		setHeader(h, "Content-Type", ct)
		r.post("/2018-06-01/runtime/invocation/"+id+"/response", h, body)
	case opStream:
		r.stream(in)
	case opError:
		id, typ, ct, body := r.id(in), in.str(), r.contentType(in), in.str()
		h := http.Header{}
		setHeader(h, "Lambda-Runtime-Function-Error-Type", typ)
		setHeader(h, "Content-Type", ct)
		r.post("/2018-06-01/runtime/invocation/"+id+"/error", h, body)
	case opInitError:
		typ, ct, body := in.str(), r.contentType(in), in.str()
		h := http.Header{}
		setHeader(h, "Lambda-Runtime-Function-Error-Type", typ)
		setHeader(h, "Content-Type", ct)
		r.post("/2018-06-01/runtime/init/error", h, body)
	case opRaw:
		r.raw(in)
	case opSettle:
		r.settle()
	}
}

// id reads an id selector and returns the request id it names, escaped
// for a path.
func (r *fuzzRun) id(in *fuzzInput) string {
	r.mu.Lock()
	delivered, invoked := r.lastDelivered, r.lastInvoked
	r.mu.Unlock()
	var id string
	switch in.byte() % 3 {
	case idDelivered:
		id = delivered
	case idInvoked:
		id = invoked
	case idGiven:
		return escapeSegment(in.str())
	}
	if id == "" {
		id = "no-such-request"
	}
	return escapeSegment(id)
}

// escapeSegment escapes s as one segment of a path; the empty string
// stays empty, as a runtime with an empty id would send it.
func escapeSegment(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("-._~", c) >= 0 {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

func (r *fuzzRun) mode(in *fuzzInput) string {
	switch in.byte() % 4 {
	case 1:
		return "streaming"
	case 2:
		return "Streaming"
	case 3:
		return in.str()
	}
	return ""
}

func (r *fuzzRun) contentType(in *fuzzInput) string {
	switch in.byte() % 4 {
	case 1:
		return "application/json"
	case 2:
		return errorCauseType
	case 3:
		return in.str()
	}
	return ""
}

// setHeader sets k to v made a valid header value; an empty v sets nothing.
func setHeader(h http.Header, k, v string) {
	v = headerValue(v)
	if v != "" {
		h.Set(k, v)
	}
}

// headerValue keeps the bytes of s that may stand in a header value, so
// that the client sends what the fuzzer meant rather than refusing it.
func headerValue(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r > 0x7e {
			return -1
		}
		return r
	}, s)
}

// async runs f in a goroutine that stop waits for. The channel it returns
// is closed when f returns.
func (r *fuzzRun) async(f func()) <-chan struct{} {
	r.mu.Lock()
	r.running++
	r.mu.Unlock()
	r.wg.Add(1)
	done := make(chan struct{})
	go func() {
		defer r.wg.Done()
		defer close(done)
		defer func() {
			r.mu.Lock()
			r.running--
			r.mu.Unlock()
			select {
			case r.finished <- struct{}{}:
			default:
			}
		}()
		f()
	}()
	return done
}

// await lets a call started with async get going before the program goes
// on: it waits until the call is done, or parked holds (the call is
// waiting in the server), or bound has passed.
func (r *fuzzRun) await(done <-chan struct{}, parked func() bool, bound time.Duration) {
	deadline := time.Now().Add(bound)
	for time.Now().Before(deadline) {
		select {
		case <-done:
			return
		case <-time.After(100 * time.Microsecond):
		}
		if parked != nil && parked() {
			return
		}
	}
}

// nextWaits says whether a /next call waits in the server for an event.
func (r *fuzzRun) nextWaits() bool {
	r.s.mu.Lock()
	defer r.s.mu.Unlock()
	return r.s.waiter != nil
}

// settle waits until no call is under way, or none has ended for a
// moment, or fuzzWait has passed.
func (r *fuzzRun) settle() {
	deadline := time.NewTimer(fuzzWait)
	defer deadline.Stop()
	for {
		r.mu.Lock()
		running := r.running
		r.mu.Unlock()
		if running == 0 {
			return
		}
		select {
		case <-r.finished:
		case <-time.After(time.Millisecond):
			return
		case <-deadline.C:
			return
		}
	}
}

func (r *fuzzRun) next(ctx context.Context) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, r.origin+"/2018-06-01/runtime/invocation/next", nil)
	if err != nil {
		r.t.Errorf("new request: %v", err)
		return
	}
	r.check(req, r.send(req))
}

func (r *fuzzRun) invoke(id string, payload []byte, closeStream bool, timeout time.Duration) {
	ctx, cancel := context.WithTimeout(r.ctx, timeout)
	defer cancel()
	resp, err := r.s.Invoke(ctx, &invocation.Request{ID: id, Payload: payload, Deadline: time.Now().Add(timeout)})
	if err != nil {
		return // refused in this state, timed out, or closed
	}
	if resp.Stream != nil {
		var got []byte
		if !closeStream {
			got, err = io.ReadAll(resp.Stream)
		}
		resp.Stream.Close()
		if fe := resp.Stream.Err(); fe != nil && (fe.Type == "" || !json.Valid(fe.Body)) {
			r.t.Errorf("stream of %s ended with error type %q and body %q", id, fe.Type, fe.Body)
		}
		if err != nil {
			return // the runtime's stream broke off
		}
		r.mu.Lock()
		r.streamed = append(r.streamed, got)
		r.mu.Unlock()
		return
	}
	if resp.FunctionError != "" && (resp.ErrorType == "" || !json.Valid(resp.Payload)) {
		r.t.Errorf("function error of %s with type %q and body %q", id, resp.ErrorType, resp.Payload)
	}
	r.mu.Lock()
	r.answers = append(r.answers, resp)
	r.mu.Unlock()
}

// post posts body to path in the background.
func (r *fuzzRun) post(path string, h http.Header, body string) {
	r.mu.Lock()
	r.posted = append(r.posted, []byte(body))
	r.mu.Unlock()
	r.await(r.async(func() {
		req, err := http.NewRequestWithContext(r.ctx, http.MethodPost, r.origin+path, strings.NewReader(body))
		if err != nil {
			r.t.Errorf("new request: %v", err)
			return
		}
		req.Header = h
		r.check(req, r.send(req))
	}), nil, fuzzWait)
}

// stream posts a chunked response, with the streaming mode or without as
// aws-lambda-go does, and error trailers when the program says so.
func (r *fuzzRun) stream(in *fuzzInput) {
	id, flags := r.id(in), in.byte()
	chunks := make([]string, in.byte()%4)
	for i := range chunks {
		chunks[i] = in.str()
	}
	trailer, typ, body := in.byte()%3, in.str(), in.str()
	values := http.Header{}
	switch trailer {
	case 1:
		setHeader(values, "Lambda-Runtime-Function-Error-Type", typ)
		values.Set("Lambda-Runtime-Function-Error-Body", base64.StdEncoding.EncodeToString([]byte(body)))
	case 2:
		setHeader(values, "Lambda-Runtime-Function-Error-Type", typ)
		setHeader(values, "Lambda-Runtime-Function-Error-Body", body)
	}
	r.mu.Lock()
	r.posted = append(r.posted, []byte(strings.Join(chunks, "")))
	r.mu.Unlock()
	r.await(r.async(func() {
		b := &chunkBody{chunks: chunks, trailer: http.Header{
			"Lambda-Runtime-Function-Error-Type": nil,
			"Lambda-Runtime-Function-Error-Body": nil,
		}, values: values}
		req, err := http.NewRequestWithContext(r.ctx, http.MethodPost, r.origin+"/2018-06-01/runtime/invocation/"+id+"/response", b)
		if err != nil {
			r.t.Errorf("new request: %v", err)
			return
		}
		req.ContentLength = -1
		req.Trailer = b.trailer
		if flags&1 == 0 {
			req.Header.Set("Lambda-Runtime-Function-Response-Mode", "streaming")
		}
		r.check(req, r.send(req))
	}), nil, fuzzWait)
}

// chunkBody yields one chunk a read and, at its end, fills in the
// trailers. The client reads it and sends the trailers in one goroutine.
type chunkBody struct {
	chunks  []string
	trailer http.Header
	values  http.Header
}

func (b *chunkBody) Read(p []byte) (int, error) {
	for len(b.chunks) > 0 && b.chunks[0] == "" {
		b.chunks = b.chunks[1:]
	}
	if len(b.chunks) == 0 {
		for k, v := range b.values {
			b.trailer[k] = v
		}
		return 0, io.EOF
	}
	n := copy(p, b.chunks[0])
	b.chunks[0] = b.chunks[0][n:]
	return n, nil
}

// raw calls any method on any path.
func (r *fuzzRun) raw(in *fuzzInput) {
	methods := []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodDelete,
		http.MethodHead, http.MethodOptions, http.MethodPatch}
	m := in.byte() % byte(len(methods)+1)
	method := ""
	if int(m) < len(methods) {
		method = methods[m]
	} else {
		method = in.str()
	}
	prefix := "/2018-06-01/runtime/"
	if in.byte()%2 == 1 {
		prefix = "/"
	}
	path, body := prefix+in.str(), in.str()
	req, err := http.NewRequestWithContext(r.ctx, method, r.origin, strings.NewReader(body))
	if err != nil {
		return // not a method the client sends
	}
	req.URL.Path = path
	r.mu.Lock()
	r.posted = append(r.posted, []byte(body))
	r.mu.Unlock()
	r.await(r.async(func() { r.check(req, r.send(req)) }), nil, fuzzWait)
}

func (r *fuzzRun) send(req *http.Request) reply {
	resp, err := r.client.Do(req)
	if err != nil {
		return reply{err: err}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return reply{status: resp.StatusCode, header: resp.Header, body: b, err: err}
}

// check holds a reply to the Runtime API's rules.
func (r *fuzzRun) check(req *http.Request, rep reply) {
	t := r.t
	if rep.err != nil {
		return // given up by the client, or cut by the server's Close
	}
	call := req.Method + " " + req.URL.EscapedPath()
	switch rep.status {
	case 200, 202, 400, 403, 404, 405, 413, 500:
	default:
		t.Errorf("%s: status %d, body %q, Location %q", call, rep.status, rep.body, rep.header.Get("Location"))
		return
	}
	head := req.Method == http.MethodHead // answered without a body
	if rep.status >= 400 && !head {
		if err := checkErrorBody(rep.body); err != nil {
			t.Errorf("%s: status %d: %v", call, rep.status, err)
		}
	}
	if rep.status == 202 && !head && string(rep.body) != `{"status":"OK"}`+"\n" {
		t.Errorf("%s: 202 with body %q", call, rep.body)
	}
	id := rep.header.Get("Lambda-Runtime-Aws-Request-Id")
	if rep.status != 200 || id == "" {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	payload, ok := r.invoked[id]
	switch {
	case !ok:
		t.Errorf("%s: got an event of request id %q that was never invoked", call, id)
	case !head && !bytes.Equal(rep.body, payload):
		t.Errorf("%s: event %s carries %q, the invocation %q", call, id, rep.body, payload)
	}
	r.delivered[id]++
	if r.delivered[id] > 1 {
		t.Errorf("%s: event %s handed to %d /next calls", call, id, r.delivered[id])
	}
	r.lastDelivered = id
}

// checkState checks that the server is in a valid state and answers.
func (r *fuzzRun) checkState() {
	got := make(chan State, 1)
	go func() { got <- r.s.State() }()
	select {
	case st := <-got:
		if st < StateInit || st > StateClosed {
			r.t.Errorf("state %s", st)
		}
		if st == StateClosed {
			r.t.Errorf("state Closed before Close")
		}
	case <-time.After(testTimeout):
		r.wedged = true
		r.t.Fatalf("the server holds its lock: deadlock\n%s", allStacks())
	}
}

// stop closes the server, waits for every call under way and checks what
// the environment got.
func (r *fuzzRun) stop() {
	r.stopped.Do(func() {
		if r.wedged {
			return
		}
		t := r.t
		r.cancel()
		if err := r.s.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
		done := make(chan struct{})
		go func() {
			r.wg.Wait()
			close(done)
		}()
		select {
		case <-done:
		case <-time.After(testTimeout):
			t.Fatalf("calls still under way after Close\n%s", allStacks())
		}
		r.client.Transport.(*http.Transport).CloseIdleConnections()
		if err := <-r.served; err != nil {
			t.Errorf("serve: %v", err)
		}
		checkLogs(t, r.logs)

		for _, a := range r.answers {
			if a.FunctionError != "" || r.wasPosted(a.Payload, false) {
				continue
			}
			t.Errorf("Invoke returned %q, which no runtime posted", a.Payload)
		}
		for _, got := range r.streamed {
			if !r.wasPosted(got, true) {
				t.Errorf("a stream's reader read %q, which no runtime posted", got)
			}
		}
	})
}

// wasPosted says whether a runtime posted b, or b and more when prefix.
func (r *fuzzRun) wasPosted(b []byte, prefix bool) bool {
	for _, p := range r.posted {
		if bytes.Equal(p, b) || prefix && bytes.HasPrefix(p, b) {
			return true
		}
	}
	return false
}

// checkGoroutines waits until no more goroutines run than before.
func checkGoroutines(t *testing.T, before int) {
	t.Helper()
	deadline := time.Now().Add(testTimeout)
	for runtime.NumGoroutine() > before {
		if time.Now().After(deadline) {
			t.Fatalf("%d goroutines left behind\n%s", runtime.NumGoroutine()-before, allStacks())
		}
		time.Sleep(time.Millisecond)
	}
}

func allStacks() []byte {
	buf := make([]byte, 1<<20)
	return buf[:runtime.Stack(buf, true)]
}
