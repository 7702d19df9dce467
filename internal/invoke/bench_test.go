package invoke

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/emberfn/ember/internal/store"
)

// resolveSetup returns an ember with function f, its version 1 and alias
// live, and the NATS server it reads.
func resolveSetup(tb testing.TB) (*ember, *server.Server) {
	tb.Helper()
	ctx := context.Background()
	srv := natsServer(tb, tb.TempDir(), -1)
	tb.Cleanup(func() {
		srv.Shutdown()
		srv.WaitForShutdown()
	})
	a := newEmber(tb, srv.ClientURL(), 0)
	f := createFunction(tb, a.store, "f", "none")
	f.LastPublished = 1
	f, err := a.store.UpdateFunction(ctx, f)
	if err != nil {
		tb.Fatal(err)
	}
	v := f.Latest
	v.Version = "1"
	if err := a.store.CreateVersion(ctx, v); err != nil {
		tb.Fatal(err)
	}
	if _, err := a.store.CreateAlias(ctx, store.Alias{FunctionName: "f", Name: "live", FunctionVersion: "1"}); err != nil {
		tb.Fatal(err)
	}
	return a, srv
}

// messagesIn counts the messages the NATS server has received from its
// clients.
func messagesIn(tb testing.TB, srv *server.Server) int64 {
	tb.Helper()
	v, err := srv.Varz(nil)
	if err != nil {
		tb.Fatal(err)
	}
	return v.InMsgs
}

// settledMessagesIn is messagesIn once the count holds still for 50 ms:
// the server adds a client's messages to its count after it has answered
// them.
func settledMessagesIn(tb testing.TB, srv *server.Server) int64 {
	tb.Helper()
	n := messagesIn(tb, srv)
	for range 20 {
		time.Sleep(50 * time.Millisecond)
		m := messagesIn(tb, srv)
		if m == n {
			break
		}
		n = m
	}
	return n
}

// A warm resolve sends nothing to NATS.
func TestResolveReadsNoStore(t *testing.T) {
	a, srv := resolveSetup(t)
	ctx := context.Background()
	before := settledMessagesIn(t, srv)
	for range 1000 {
		for _, q := range []string{"", "1", "live"} {
			if _, err := a.svc.Resolve(ctx, "f", q); err != nil {
				t.Fatal(err)
			}
		}
	}
	if n := settledMessagesIn(t, srv) - before; n > 2 {
		t.Errorf("3000 resolves sent NATS %d messages, want none", n)
	}
	// For comparison, reading the store sends a request per record.
	before = settledMessagesIn(t, srv)
	if _, err := a.svc.resolveFromStore(ctx, "f", "live"); err != nil {
		t.Fatal(err)
	}
	if n := settledMessagesIn(t, srv) - before; n < 3 {
		t.Errorf("a resolve from the store sent %d messages; the check above would not see a store read", n)
	}
}

// BenchmarkResolve resolves from the cache, and from the store as every
// invocation did before it; nats-msgs/op counts the messages sent to NATS.
func BenchmarkResolve(b *testing.B) {
	a, srv := resolveSetup(b)
	ctx := context.Background()
	for _, q := range []string{"", "1", "live"} {
		name := q
		if name == "" {
			name = "latest"
		}
		b.Run("cache/"+name, func(b *testing.B) {
			before := messagesIn(b, srv)
			for b.Loop() {
				if _, err := a.svc.Resolve(ctx, "f", q); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(messagesIn(b, srv)-before)/float64(b.N), "nats-msgs/op")
		})
		b.Run("store/"+name, func(b *testing.B) {
			before := messagesIn(b, srv)
			for b.Loop() {
				if _, err := a.svc.resolveFromStore(ctx, "f", q); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(messagesIn(b, srv)-before)/float64(b.N), "nats-msgs/op")
		})
	}
}
