package logging

import "github.com/watchparty/watchparty/internal/envflag"

// Settings declares LOG_FORMAT and LOG_LEVEL, bound to format and level,
// the arguments of New. Every command that logs declares them with it.
func Settings(format, level *string) []envflag.Setting {
	return []envflag.Setting{
		envflag.String{P: format, Env: "LOG_FORMAT", Flag: "log-format", Default: "json",
			Help: "log format: json or text", Doc: "`json` or `text`", Check: CheckFormat},
		envflag.String{P: level, Env: "LOG_LEVEL", Flag: "log-level", Default: "info",
			Help: "log level: debug, info, warn, error", Doc: "`debug`, `info`, `warn` or `error`", Check: CheckLevel},
	}
}
