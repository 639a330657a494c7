package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/spf13/cobra"
)

// upsertDemoParty makes the party ONGOING until a day from now, creating it if needed.
const upsertDemoParty = `
INSERT INTO watch_parties (id, title, video_url, host_user_id, start_time, end_time, status)
VALUES ($1, $2, $3, $4, now(), now() + interval '1 day', 'ONGOING')
ON CONFLICT (id) DO UPDATE
SET status = 'ONGOING', end_time = now() + interval '1 day', finished_at = NULL, updated_at = now()`

func newDemoPartyCmd() *cobra.Command {
	var dbURL, id, title, videoURL, host string
	cmd := &cobra.Command{
		Use:   "demo-party",
		Short: "Create (or reopen) an ONGOING demo party in PostgreSQL and print its id",
		Long: `Upsert an ONGOING party ending a day from now, directly in watch_parties.
Run "flusher migrate" first. Running it again reopens the same party.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withDB(cmd.Context(), dbURL, func(conn *pgx.Conn) error {
				if _, err := conn.Exec(cmd.Context(), upsertDemoParty, id, title, videoURL, host); err != nil {
					return fmt.Errorf("upsert party %s: %w", id, err)
				}
				fmt.Fprintln(cmd.OutOrStdout(), id)
				return nil
			})
		},
	}
	f := cmd.Flags()
	bindDatabaseURL(cmd, &dbURL)
	f.StringVar(&id, "id", demoPartyID, "party id (a UUID)")
	f.StringVar(&title, "title", "Demo party", "party title")
	f.StringVar(&videoURL, "video-url", "https://example.com/video.mp4", "video URL")
	f.StringVar(&host, "host", "alice", "host user id (only the host plays, pauses and seeks)")
	return cmd
}

func newRowsCmd() *cobra.Command {
	var dbURL, party string
	var limit int
	cmd := &cobra.Command{
		Use:   "rows",
		Short: "Print a party's chat rows as flushed to PostgreSQL (user, body, created_at)",
		Long: `Print the newest chat rows of a party from watch_party_chats, oldest first,
then a count of its likes, log rows and viewer samples. Rows appear only after
the flusher's next flush (WATCH_PARTY_FLUSH_INTERVAL).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withDB(cmd.Context(), dbURL, func(conn *pgx.Conn) error {
				if err := printChats(cmd.Context(), cmd.OutOrStdout(), conn, party, limit); err != nil {
					return err
				}
				return printCounts(cmd.Context(), conn, party)
			})
		},
	}
	f := cmd.Flags()
	bindDatabaseURL(cmd, &dbURL)
	f.StringVar(&party, "party", demoPartyID, "party id")
	f.IntVar(&limit, "limit", 100, "print at most this many (the newest) chat rows")
	return cmd
}

func withDB(ctx context.Context, dbURL string, fn func(*pgx.Conn) error) error {
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		return fmt.Errorf("connect to PostgreSQL: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	return fn(conn)
}

type chatRow struct {
	user, body string
	createdAt  time.Time
}

func printChats(ctx context.Context, out io.Writer, conn *pgx.Conn, party string, limit int) error {
	rows, err := conn.Query(ctx, `
SELECT user_id, body, created_at FROM watch_party_chats
WHERE party_id = $1 ORDER BY created_at DESC, event_id DESC LIMIT $2`, party, limit)
	if err != nil {
		return fmt.Errorf("query chats of %s: %w", party, err)
	}
	var chats []chatRow
	for rows.Next() {
		var r chatRow
		if err := rows.Scan(&r.user, &r.body, &r.createdAt); err != nil {
			return fmt.Errorf("scan chat row: %w", err)
		}
		chats = append(chats, r)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("query chats of %s: %w", party, err)
	}
	w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "USER\tBODY\tCREATED_AT")
	for i := len(chats) - 1; i >= 0; i-- {
		r := chats[i]
		fmt.Fprintf(w, "%s\t%s\t%s\n", r.user, escape(r.body), r.createdAt.UTC().Format("2006-01-02T15:04:05.000Z07:00"))
	}
	return w.Flush()
}

// printCounts reports on stderr how many other event rows the party has.
func printCounts(ctx context.Context, conn *pgx.Conn, party string) error {
	var chats, likes, logs, samples int64
	err := conn.QueryRow(ctx, `
SELECT (SELECT count(*) FROM watch_party_chats WHERE party_id = $1),
       (SELECT count(*) FROM watch_party_likes WHERE party_id = $1),
       (SELECT count(*) FROM watch_party_logs WHERE party_id = $1),
       (SELECT count(*) FROM watch_party_viewer_counts WHERE party_id = $1)`, party).
		Scan(&chats, &likes, &logs, &samples)
	if err != nil {
		return fmt.Errorf("count rows of %s: %w", party, err)
	}
	fmt.Fprintf(os.Stderr, "party %s: %d chats, %d likes, %d log rows (join/leave/play/pause/seek), %d viewer samples\n",
		party, chats, likes, logs, samples)
	return nil
}

// escape keeps a chat body on one table line.
func escape(s string) string {
	return strings.NewReplacer("\\", `\\`, "\n", `\n`, "\t", `\t`, "\r", `\r`).Replace(s)
}
