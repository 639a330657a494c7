// Command flusher moves watch-party events from Redis streams into
// PostgreSQL, and applies the schema.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	if err := newRootCmd().ExecuteContext(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "flusher:", err)
		os.Exit(1)
	}
}

func newRootCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:           "flusher",
		Short:         "Flush watch-party events from Redis streams into PostgreSQL",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	cmd.AddCommand(newRunCmd(), newMigrateCmd(), newReplayDLQCmd(), newDLQCmd(), newEraseUserCmd())
	return cmd
}
