package store

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/nats-io/nats-server/v2/server"
)

// startServer starts a NATS server with JetStream inside the process, with
// no network listener, its files in dataDir/jetstream (the server adds the
// "jetstream") and every write synced to disk before it is acknowledged: an
// accepted asynchronous invocation must survive power loss, not only the
// death of the process.
func startServer(dataDir string, maxStore int64, log *slog.Logger) (*server.Server, error) {
	opts := &server.Options{
		ServerName:             "ember",
		DontListen:             true,
		JetStream:              true,
		StoreDir:               dataDir,
		JetStreamMaxMemory:     jsMaxMemory,
		JetStreamMaxStore:      maxStore,
		SyncAlways:             true,
		MaxPayload:             maxPayload,
		NoSigs:                 true,
		NoLog:                  true,
		DisableJetStreamBanner: true,
	}
	srv, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("embedded nats: %w", err)
	}
	debug := log.Enabled(context.Background(), slog.LevelDebug)
	srv.SetLoggerV2(serverLog{log: log}, debug, false, false)
	srv.Start()
	if !srv.ReadyForConnections(readyTimeout) {
		srv.Shutdown()
		srv.WaitForShutdown()
		return nil, fmt.Errorf("embedded nats: not ready after %s", readyTimeout)
	}
	return srv, nil
}

// serverLog passes the embedded server's log to ember's logger: its notices
// are debug lines for ember, its warnings and errors stay what they are.
type serverLog struct {
	log *slog.Logger
}

var _ server.Logger = serverLog{}

func (l serverLog) logf(level slog.Level, format string, v []any) {
	if !l.log.Enabled(context.Background(), level) {
		return
	}
	l.log.Log(context.Background(), level, fmt.Sprintf(format, v...), "component", "nats")
}

func (l serverLog) Noticef(format string, v ...any) { l.logf(slog.LevelDebug, format, v) }
func (l serverLog) Warnf(format string, v ...any)   { l.logf(slog.LevelWarn, format, v) }
func (l serverLog) Fatalf(format string, v ...any)  { l.logf(slog.LevelError, format, v) }
func (l serverLog) Errorf(format string, v ...any)  { l.logf(slog.LevelError, format, v) }
func (l serverLog) Debugf(format string, v ...any)  { l.logf(slog.LevelDebug, format, v) }
func (l serverLog) Tracef(format string, v ...any)  { l.logf(slog.LevelDebug-4, format, v) }
