package dlq

import "github.com/watchparty/watchparty/internal/envflag"

// ReplaySettings declares the flags of `flusher replay-dlq`, bound to opts
// (Limit, Party and DryRun; the command checks the party id).
func ReplaySettings(opts *ReplayOptions) []envflag.Setting {
	return []envflag.Setting{
		envflag.Int{P: &opts.Limit, Flag: "limit", Bound: envflag.NonNegative,
			Help: "replay at most N batches (0: all)", Doc: "replay at most N batches (`0`: all)"},
		envflag.String{P: &opts.Party, Flag: "party",
			Help: "replay only the batches of this party id"},
		envflag.Bool{P: &opts.DryRun, Flag: "dry-run",
			Help: "print what would be replayed and change nothing"},
	}
}

// ListSettings declares the flag of `flusher dlq list`, bound to limit: the
// most batches listed from the head, 0 for all.
func ListSettings(limit *int) []envflag.Setting {
	return []envflag.Setting{envflag.Int{P: limit, Flag: "limit", Bound: envflag.NonNegative,
		Help: "list at most N batches from the head (0: all)",
		Doc:  "list at most N batches from the head (`0`: all)"}}
}
