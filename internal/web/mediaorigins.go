package web

import (
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strings"
)

// originForm is an origin as a Content-Security-Policy source may name
// it, and nothing more: scheme, host, optional port. No wildcard, path,
// quote, semicolon or space can reach the policy through it.
var originForm = regexp.MustCompile(`^https?://(\[[0-9a-f:.]+\]|[a-z0-9]([a-z0-9.-]*[a-z0-9])?)(:[0-9]{1,5})?$`)

// ParseMediaOrigins reads WATCH_PARTY_MEDIA_ORIGINS: comma-separated
// origins such as https://cdn.example.com or http://127.0.0.1:8081 (a
// trailing slash is dropped, letters are lowered). It refuses anything else
// and names every bad entry; an empty list is none.
func ParseMediaOrigins(list string) ([]string, error) {
	var out []string
	var errs []error
	for _, item := range strings.Split(list, ",") {
		o := strings.ToLower(strings.TrimRight(strings.TrimSpace(item), "/"))
		if o == "" {
			continue
		}
		u, err := url.Parse(o)
		if err != nil || !originForm.MatchString(o) || u.Host == "" {
			errs = append(errs, fmt.Errorf("%q is not an origin like https://cdn.example.com "+
				"(http or https, a host, an optional port; no path or wildcard)", strings.TrimSpace(item)))
			continue
		}
		out = append(out, o)
	}
	return out, errors.Join(errs...)
}
