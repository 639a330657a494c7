// Command wpclient is a small developer client for a local watchparty stack: it
// chats over the gateway's WebSocket, creates a demo party, prints stored chat
// rows, mints dev tokens and waits for Redis, PostgreSQL or an HTTP endpoint.
//
// It is a development tool, not part of the deployed system.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/watchparty/watchparty/internal/rdb"
)

func main() {
	rdb.SilenceClientLogs() // ping reports its errors itself
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := newRootCmd().ExecuteContext(ctx)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "wpclient:", err)
		os.Exit(1)
	}
}
