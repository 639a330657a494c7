// Package logging builds the structured logger both binaries use.
package logging

import (
	"fmt"
	"io"
	"log/slog"
	"strings"
)

// New returns a logger writing to w in format "json" or "text" at level
// "debug", "info", "warn" or "error".
func New(w io.Writer, format, level string) (*slog.Logger, error) {
	lv, err := parseLevel(level)
	if err != nil {
		return nil, fmt.Errorf("LOG_LEVEL %w", err)
	}
	opts := &slog.HandlerOptions{Level: lv}
	switch strings.ToLower(format) {
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	default:
		return nil, fmt.Errorf("LOG_FORMAT %w", CheckFormat(format))
	}
}

// CheckFormat returns an error unless format is "json" or "text".
func CheckFormat(format string) error {
	switch strings.ToLower(format) {
	case "json", "text":
		return nil
	}
	return fmt.Errorf("%q: want json or text", format)
}

// CheckLevel returns an error unless level is "debug", "info", "warn" or
// "error".
func CheckLevel(level string) error {
	_, err := parseLevel(level)
	return err
}

func parseLevel(level string) (slog.Level, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return 0, fmt.Errorf("%q: want debug, info, warn or error", level)
	}
	return lv, nil
}
