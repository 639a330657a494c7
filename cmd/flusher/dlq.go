package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/google/uuid"
	"github.com/spf13/cobra"

	"github.com/watchparty/watchparty/internal/config"
	"github.com/watchparty/watchparty/internal/dlq"
	"github.com/watchparty/watchparty/internal/event"
	"github.com/watchparty/watchparty/internal/logging"
	"github.com/watchparty/watchparty/internal/rdb"
	"github.com/watchparty/watchparty/internal/store"
)

func newReplayDLQCmd() *cobra.Command {
	var opts dlq.ReplayOptions
	cmd := &cobra.Command{
		Use:   "replay-dlq",
		Short: "Write dead-lettered batches to PostgreSQL, removing each from wp:dlq after its commit",
		Long: "Write dead-lettered batches to PostgreSQL, oldest first, removing each from wp:dlq after its commit.\n" +
			"A batch that fails again stays in wp:dlq with its attempts, error and sqlstate updated, and the\n" +
			"command exits non-zero. Several replays may run at once: none writes a batch another holds.",
		Args: cobra.NoArgs,
	}
	var cfg config.DLQ
	finish := config.ReplayDLQ(&cfg, &opts).Bind(cmd.Flags())
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		if err := finish(); err != nil {
			return err
		}
		if opts.Party != "" {
			id, err := uuid.Parse(opts.Party)
			if err != nil {
				return fmt.Errorf("--party %q is not a party id (a UUID)", opts.Party)
			}
			opts.Party = id.String()
		}
		return replayDLQ(cmd.Context(), cfg, opts, cmd.OutOrStdout(), cmd.ErrOrStderr())
	}
	return cmd
}

// replayDLQ runs one replay, prints a line per batch and the counts, and
// fails when any batch failed again.
func replayDLQ(ctx context.Context, cfg config.DLQ, opts dlq.ReplayOptions, out, logOut io.Writer) error {
	log, err := logging.New(logOut, cfg.LogFormat, cfg.LogLevel)
	if err != nil {
		return err
	}
	rc, db, closeAll, err := connect(ctx, cfg.RedisURL, cfg.RedisCluster, cfg.DatabaseURL)
	if err != nil {
		return err
	}
	defer closeAll()
	opts.Log = log
	rep, err := dlq.Replay(ctx, rc, store.NewWriter(db).WriteReplayed, opts)
	for _, r := range rep.Results {
		fmt.Fprintln(out, resultLine(r))
	}
	fmt.Fprintf(out, "replayed=%d failed=%d left=%d\n", rep.Replayed, rep.Failed, rep.Left)
	if err != nil {
		return err
	}
	if rep.Failed > 0 {
		return fmt.Errorf("%d dlq batch(es) failed again and stay in %s", rep.Failed, dlq.Key)
	}
	return nil
}

func resultLine(r dlq.Result) string {
	what := "replayed"
	switch {
	case r.DryRun && r.Err == nil:
		what = "would replay"
	case r.Err != nil:
		what = "failed"
	}
	line := fmt.Sprintf("%s index=%d party=%s events=%d", what, r.Index, r.PartyID, r.Events)
	if r.Err != nil {
		line += fmt.Sprintf(" sqlstate=%s error=%s", r.SQLState, oneLine(r.Err.Error()))
	}
	return line
}

func newDLQCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "dlq",
		Short: "Inspect the dead-letter list wp:dlq",
		Args:  cobra.NoArgs,
	}
	cmd.AddCommand(newDLQListCmd(), newDLQShowCmd())
	return cmd
}

func newDLQListCmd() *cobra.Command {
	var cfg config.DLQ
	var limit int
	cmd := &cobra.Command{
		Use:   "list",
		Short: "One tab-separated line per batch: index, party, events, sqlstate, attempts, failed_at, error",
		Args:  cobra.NoArgs,
	}
	finish := config.DLQList(&cfg, &limit).Bind(cmd.Flags())
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		if err := finish(); err != nil {
			return err
		}
		return withRedis(cfg, func(rc rdb.Client) error {
			items, err := dlq.List(cmd.Context(), rc, limit)
			for _, it := range items {
				fmt.Fprintln(cmd.OutOrStdout(), listLine(it))
			}
			return err
		})
	}
	return cmd
}

func listLine(it dlq.Indexed) string {
	if it.Err != nil {
		return fmt.Sprintf("%d\t\t0\t\t0\t\t%s", it.Index, oneLine("not a dlq batch: "+it.Err.Error()))
	}
	b := it.Batch
	return fmt.Sprintf("%d\t%s\t%d\t%s\t%d\t%s\t%s", it.Index, b.PartyID, b.Len(), b.SQLState,
		b.Attempts, event.FormatTime(b.FailedAt), oneLine(b.Error))
}

func newDLQShowCmd() *cobra.Command {
	var cfg config.DLQ
	cmd := &cobra.Command{
		Use:   "show INDEX",
		Short: "Print the batch at INDEX (0 is the oldest) as JSON",
		Args:  cobra.ExactArgs(1),
	}
	finish := config.DLQShow(&cfg).Bind(cmd.Flags())
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if err := finish(); err != nil {
			return err
		}
		index, err := strconv.Atoi(args[0])
		if err != nil || index < 0 {
			return fmt.Errorf("INDEX %q is not an index: want 0 or more", args[0])
		}
		return withRedis(cfg, func(rc rdb.Client) error {
			return showBatch(cmd.Context(), rc, index, cmd.OutOrStdout())
		})
	}
	return cmd
}

// showBatch prints the element at index as stored, indented.
func showBatch(ctx context.Context, rc rdb.Client, index int, out io.Writer) error {
	_, raw, err := dlq.Show(ctx, rc, index)
	if errors.Is(err, dlq.ErrNotFound) {
		n, lerr := dlq.Len(ctx, rc)
		switch {
		case lerr != nil:
			return err
		case n == 0:
			return fmt.Errorf("no batch at index %d: %s is empty", index, dlq.Key)
		}
		return fmt.Errorf("no batch at index %d: %s holds %d (indexes 0 to %d)", index, dlq.Key, n, n-1)
	}
	if raw == "" {
		return err
	}
	var pretty bytes.Buffer
	if json.Indent(&pretty, []byte(raw), "", "  ") != nil {
		pretty.Reset()
		pretty.WriteString(raw)
	}
	fmt.Fprintln(out, pretty.String())
	return err // a decode error still fails the command after the element is shown
}

func withRedis(cfg config.DLQ, fn func(rdb.Client) error) error {
	rc, err := rdb.Open(cfg.RedisURL, cfg.RedisCluster)
	if err != nil {
		return err
	}
	defer rc.Close()
	return fn(rc)
}

var lineBreaks = strings.NewReplacer("\r\n", " ", "\n", " ", "\r", " ", "\t", " ")

// oneLine keeps an error on one line of a tab-separated listing.
func oneLine(s string) string { return lineBreaks.Replace(s) }
