package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/sync/errgroup"

	"github.com/watchparty/watchparty/internal/config"
	"github.com/watchparty/watchparty/internal/flusher"
	"github.com/watchparty/watchparty/internal/health"
	"github.com/watchparty/watchparty/internal/lifecycle"
	"github.com/watchparty/watchparty/internal/logging"
	"github.com/watchparty/watchparty/internal/rdb"
	"github.com/watchparty/watchparty/internal/store"
)

func newRunCmd() *cobra.Command {
	var cfg flusher.Config
	var once bool
	cmd := &cobra.Command{
		Use:   "run",
		Short: "Consume party streams and flush them to PostgreSQL until SIGTERM",
		Args:  cobra.NoArgs,
	}
	finish := config.FlusherRun(&cfg, &once).Bind(cmd.Flags())
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		if err := finish(); err != nil {
			return err
		}
		return run(cmd.Context(), cfg, once)
	}
	return cmd
}

func run(ctx context.Context, cfg flusher.Config, once bool) error {
	log, err := logging.New(os.Stderr, cfg.LogFormat, cfg.LogLevel)
	if err != nil {
		return err
	}
	rc, db, closeAll, err := connect(ctx, cfg.RedisURL, cfg.RedisCluster, cfg.DatabaseURL)
	if err != nil {
		return err
	}
	defer closeAll()
	go rdb.WarnIfEvicting(ctx, rc, log)
	metrics := flusher.NewMetrics()
	f, err := flusher.New(cfg, rc, db, metrics, log)
	if err != nil {
		return err
	}
	if once {
		rep, err := f.FlushOnce(ctx)
		log.Info("flush once done", "parties", rep.Parties, "events", rep.Events, "failed", rep.Failed)
		if err != nil && flusher.Unlogged(err) == nil {
			// Each failure was logged where it happened.
			return fmt.Errorf("%d of %d party flushes failed", rep.Failed, rep.Parties)
		}
		return err
	}
	probes := health.NewProbes(map[string]health.Check{
		"redis":    func(ctx context.Context) error { return rc.Ping(ctx).Err() },
		"postgres": func(ctx context.Context) error { return db.Ping(ctx) },
		"writes":   f.Ready,
	})
	var pruner lifecycle.Pruner
	if cfg.LogRetention > 0 || cfg.ChatRetention > 0 {
		pruner = lifecycle.NewRetention(db, map[string]time.Duration{
			"watch_party_logs": cfg.LogRetention, "watch_party_chats": cfg.ChatRetention}, metrics.RetentionDeleted, log)
	}
	sched := lifecycle.New(lifecycle.Config{Name: cfg.ConsumerName, Interval: cfg.SchedulerInterval,
		LeaseTTL: cfg.LeaseTTL, SampleInterval: cfg.ViewerSampleInterval},
		rc, store.NewParties(db), f, metrics.SchedulerLeader, pruner, log)
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return serveProbes(gctx, cfg.MetricsAddr, probes, metrics, log) })
	// Redis may still be starting: the probes answer (not ready) meanwhile,
	// and the flushing and scheduling loops start once Redis answers, so
	// their first cycle works instead of backing off from failures.
	g.Go(func() error {
		err := rdb.Retry(gctx, log, "connecting at start-up", func(ctx context.Context) error {
			ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			defer cancel()
			return rc.Ping(ctx).Err()
		})
		if err != nil {
			return nil // stopped before Redis answered
		}
		g.Go(func() error { return f.Run(gctx) })
		g.Go(func() error { return sched.Run(gctx) })
		return nil
	})
	err = g.Wait()
	log.Info("flusher stopped")
	return err
}

// serveProbes serves /healthz, /readyz and /metrics until ctx ends.
func serveProbes(ctx context.Context, addr string, probes *health.Probes, m *flusher.Metrics, log *slog.Logger) error {
	mux := http.NewServeMux()
	probes.Register(mux, m.Registry)
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen on FLUSHER_METRICS_ADDR %q: %w", addr, err)
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		probes.Drain()
		sctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	log.Info("flusher probes listening", "addr", ln.Addr().String())
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
