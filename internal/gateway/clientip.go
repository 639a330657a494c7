package gateway

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// ParseCIDRs parses a comma-separated list of CIDRs or single addresses
// (WATCH_PARTY_TRUSTED_PROXIES); an empty list trusts nobody.
func ParseCIDRs(list string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, raw := range strings.Split(list, ",") {
		raw = strings.TrimSpace(raw)
		if raw == "" {
			continue
		}
		if !strings.Contains(raw, "/") {
			a, err := netip.ParseAddr(raw)
			if err != nil {
				return nil, fmt.Errorf("%q is not a CIDR such as 10.0.0.0/8 or an address", raw)
			}
			out = append(out, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
			continue
		}
		p, err := netip.ParsePrefix(raw)
		if err != nil {
			return nil, fmt.Errorf("%q is not a CIDR such as 10.0.0.0/8 or an address", raw)
		}
		if p.Addr().Is4In6() {
			p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

// clientAddr is the address a request comes from: RemoteAddr, unless that
// is a trusted proxy; then X-Forwarded-For is read from the right (the hop
// nearest to us) and the first address that is not a trusted proxy is the
// client. A malformed entry stops the walk: the hop that wrote it is taken
// as the client, so a client cannot pick its own address by forging the
// header. When every hop is trusted, the leftmost address is the client.
func clientAddr(r *http.Request, trusted []netip.Prefix) netip.Addr {
	remote := remoteAddr(r.RemoteAddr)
	if !isTrusted(remote, trusted) {
		return remote
	}
	hops := forwardedFor(r.Header.Values("X-Forwarded-For"))
	client := remote
	for i := len(hops) - 1; i >= 0; i-- {
		a, err := netip.ParseAddr(hops[i])
		if err != nil {
			return client
		}
		client = a.Unmap()
		if !isTrusted(client, trusted) {
			return client
		}
	}
	return client
}

// addrGroup is the address under which the per-address limits count a
// client at a: an IPv4 address is itself, an IPv6 address counts as its
// prefix of bits (a /64 by default: one host usually holds a whole /64,
// and could otherwise take a fresh address for every join).
func addrGroup(a netip.Addr, bits int) netip.Addr {
	if !a.Is6() || bits <= 0 || bits >= 128 {
		return a
	}
	p, err := a.Prefix(bits)
	if err != nil {
		return a
	}
	return p.Addr()
}

func remoteAddr(hostport string) netip.Addr {
	host, _, err := net.SplitHostPort(hostport)
	if err != nil {
		host = hostport
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Addr{}
	}
	return a.Unmap()
}

func isTrusted(a netip.Addr, trusted []netip.Prefix) bool {
	if !a.IsValid() {
		return false
	}
	for _, p := range trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// forwardedFor splits every X-Forwarded-For header into its hops, in
// order; entries may be bracketed IPv6 or carry a port.
func forwardedFor(values []string) []string {
	var hops []string
	for _, v := range values {
		for _, h := range strings.Split(v, ",") {
			h = strings.TrimSpace(h)
			if host, _, err := net.SplitHostPort(h); err == nil {
				h = host
			}
			hops = append(hops, strings.Trim(h, "[]"))
		}
	}
	return hops
}
