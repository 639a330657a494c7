package main

import (
	"net"
	"os"

	"github.com/spf13/cobra"

	"github.com/watchparty/watchparty/internal/envflag"
	"github.com/watchparty/watchparty/internal/store"
)

// demoPartyID is the fixed id of the party `wpclient demo-party` upserts and
// `scripts/run.sh` advertises.
const demoPartyID = "11111111-1111-1111-1111-111111111111"

func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:           "wpclient",
		Short:         "Developer client for a local watchparty stack",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(newChatCmd(), newDemoPartyCmd(), newRowsCmd(), newPingCmd(), newTokenCmd())
	return root
}

// envOr returns the environment variable key, or def when it is unset or empty.
func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

// bindDatabaseURL gives cmd the binaries' --database-url flag and
// DATABASE_URL variable, checked before the command runs.
func bindDatabaseURL(cmd *cobra.Command, p *string) {
	finish := envflag.Command{Name: "wpclient " + cmd.Name(), Settings: store.Settings(p)}.Bind(cmd.Flags())
	cmd.PreRunE = func(*cobra.Command, []string) error { return finish() }
}

// defaultGatewayURL turns GATEWAY_ADDR (":8080", "0.0.0.0:8080", "host:8080")
// into the base URL a local client dials.
func defaultGatewayURL(scheme string) string {
	addr := envOr("GATEWAY_ADDR", ":8080")
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return scheme + "://" + addr
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "localhost"
	}
	return scheme + "://" + net.JoinHostPort(host, port)
}
