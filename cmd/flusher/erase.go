package main

import (
	"context"
	"fmt"
	"io"

	"github.com/google/uuid"
	"github.com/spf13/cobra"

	"github.com/watchparty/watchparty/internal/config"
	"github.com/watchparty/watchparty/internal/erase"
	"github.com/watchparty/watchparty/internal/store"
)

func newEraseUserCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "erase-user",
		Short: "Erase a person's chats, likes and logs from PostgreSQL, the live streams and wp:dlq",
		Long: "Erase a person's chats, likes and logs, in one party (--party) or in all: record the erasure\n" +
			"(the user's events appended until --in-flight-wait from now are never stored afterwards, not by a\n" +
			"flush in progress nor by a later replay-dlq), delete the rows in small batches (their moderation\n" +
			"actions, the chats they deleted and the parties they hosted stay, unattributed), delete the\n" +
			"entries from the live party streams and the events from dead-lettered batches, wait until\n" +
			"--in-flight-wait has passed and delete what was appended meanwhile, and print what was removed.\n" +
			"Running it again removes only what came since. Events the user sends later are kept.",
		Args: cobra.NoArgs,
	}
	var cfg config.EraseUser
	finish := config.EraseUserCmd(&cfg).Bind(cmd.Flags())
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		if err := finish(); err != nil {
			return err
		}
		req := erase.Request{UserID: cfg.User, Batch: cfg.Batch, InFlight: cfg.InFlight}
		if cfg.Party != "" {
			id, err := uuid.Parse(cfg.Party)
			if err != nil || id == uuid.Nil {
				return fmt.Errorf("--party %q is not a party id (a UUID)", cfg.Party)
			}
			req.Party = id
		}
		return eraseUser(cmd.Context(), cfg, req, cmd.OutOrStdout())
	}
	return cmd
}

// eraseUser runs the erasure and prints one line per place and a total.
func eraseUser(ctx context.Context, cfg config.EraseUser, req erase.Request, out io.Writer) error {
	rc, db, closeAll, err := connect(ctx, cfg.RedisURL, cfg.RedisCluster, cfg.DatabaseURL)
	if err != nil {
		return err
	}
	defer closeAll()
	rep, err := erase.Run(ctx, db, rc, req)
	total := int64(rep.StreamEntries + rep.Likes + rep.DLQ.Events + rep.DLQ.Changed + rep.DLQ.Elements)
	for _, t := range store.EventTables {
		fmt.Fprintf(out, "%s: %d rows deleted\n", t, rep.Rows.Deleted[t])
		total += rep.Rows.Deleted[t]
	}
	fmt.Fprintf(out, "unattributed: %d moderation actions, %d chats deleted as a moderator, %d parties hosted\n",
		rep.Rows.Actions, rep.Rows.Deletes, rep.Rows.Parties)
	total += rep.Rows.Actions + rep.Rows.Deletes + rep.Rows.Parties
	fmt.Fprintf(out, "streams: %d entries deleted, %d likes removed\n", rep.StreamEntries, rep.Likes)
	fmt.Fprintf(out, "wp:dlq: %d events removed, %d emptied batches removed, %d undecodable elements removed, "+
		"%d moderation actions unattributed\n", rep.DLQ.Events, rep.DLQ.Batches, rep.DLQ.Elements, rep.DLQ.Changed)
	if err != nil {
		return fmt.Errorf("erase %s: %w (run it again: every step is idempotent)", req.UserID, err)
	}
	scope := "every party"
	if req.Party != uuid.Nil {
		scope = "party " + req.Party.String()
	}
	fmt.Fprintf(out, "erased user %s in %s: %d removed in all; events appended until %s are never stored again\n",
		req.UserID, scope, total, rep.ErasedAt.UTC().Format("2006-01-02T15:04:05.000Z"))
	return nil
}
