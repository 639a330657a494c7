// Command gateway serves watch-party viewers over WebSockets: it appends
// their events to Redis streams and fans the streams out to every viewer.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/watchparty/watchparty/internal/config"
	"github.com/watchparty/watchparty/internal/gateway"
	"github.com/watchparty/watchparty/internal/logging"
	"github.com/watchparty/watchparty/internal/rdb"
	"github.com/watchparty/watchparty/internal/store"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	if err := newRootCmd().ExecuteContext(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "gateway:", err)
		os.Exit(1)
	}
}

func newRootCmd() *cobra.Command {
	var cfg gateway.Config
	cmd := &cobra.Command{
		Use:           "gateway",
		Short:         "Serve watch-party viewers over WebSockets",
		Args:          cobra.NoArgs,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	finish := config.Gateway(&cfg).Bind(cmd.Flags())
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		if err := finish(); err != nil {
			return err
		}
		return run(cmd.Context(), cfg)
	}
	return cmd
}

func run(ctx context.Context, cfg gateway.Config) error {
	log, err := logging.New(os.Stderr, cfg.LogFormat, cfg.LogLevel)
	if err != nil {
		return err
	}
	if cfg.DevAuth {
		log.Warn("DEV AUTH IS ON: anyone can connect as any user with ?user=<id>; never use this in production")
	}
	rc, err := rdb.Open(cfg.RedisURL, cfg.RedisCluster)
	if err != nil {
		return err
	}
	defer rc.Close()
	// Redis may still be starting: nothing here waits for it. Each part
	// retries until it answers, and /readyz says when events can be stored.
	go rdb.WarnIfEvicting(ctx, rc, log)
	db, err := store.Open(ctx, cfg.DatabaseURL)
	if err != nil {
		return err
	}
	defer db.Close()
	g, err := gateway.New(cfg, rc, db, log)
	if err != nil {
		return err
	}
	return g.Run(ctx)
}
