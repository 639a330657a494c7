package main

import (
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/watchparty/watchparty/internal/auth"
)

func newTokenCmd() *cobra.Command {
	var secret, user, name string
	var ttl time.Duration
	cmd := &cobra.Command{
		Use:   "token",
		Short: "Print an HS256 viewer token (sub, exp, optional name) for a gateway without dev auth",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if secret == "" {
				return errors.New("no secret: set WATCH_PARTY_AUTH_SECRET or give --secret")
			}
			if user == "" {
				return errors.New("--user is required")
			}
			now := time.Now()
			signed, err := auth.Issue(secret, user, name, now, now.Add(ttl))
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), signed)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&secret, "secret", envOr("WATCH_PARTY_AUTH_SECRET", ""), "HS256 secret (default from WATCH_PARTY_AUTH_SECRET)")
	f.StringVar(&user, "user", "", "user id (the token's sub)")
	f.StringVar(&name, "name", "", "display name (optional)")
	f.DurationVar(&ttl, "ttl", 24*time.Hour, "time until the token expires")
	return cmd
}
